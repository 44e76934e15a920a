package appliance

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/proxypair/proxypair/appliance/control"
	"github.com/proxypair/proxypair/appliance/netio"
	"github.com/proxypair/proxypair/appliance/vrrp"
)

// Fakes of the OS adapters, for running instances in a synctest bubble.

// lan is an in-memory Ethernet segment: what one conn sends, every other
// attached conn receives (multicast) or the addressed one (unicast).
type lan struct {
	mu    sync.Mutex
	conns []*fakeConn
}

func (l *lan) deliver(from *fakeConn, payload []byte, dst netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !from.up {
		return
	}
	for _, c := range l.conns {
		if c == from || !c.up || (dst != vrrp.MulticastGroup && dst != c.src) {
			continue
		}
		c.inject(netio.Packet{
			Packet: vrrp.Packet{Src: from.src, Dst: dst, TTL: vrrp.TTL, Payload: slices.Clone(payload)},
		})
	}
}

// fakeConn is a Conn on a lan. Sent adverts are recorded.
type fakeConn struct {
	lan *lan
	src netip.Addr
	up  bool // guarded by lan.mu

	in     chan netio.Packet
	closed chan struct{}
	once   sync.Once

	mu   sync.Mutex
	sent []sentAdvert
}

type sentAdvert struct {
	dst netip.Addr
	adv *vrrp.Advertisement
}

func newFakeConn(l *lan, src netip.Addr) *fakeConn {
	c := &fakeConn{lan: l, src: src, up: true, in: make(chan netio.Packet, 64), closed: make(chan struct{})}
	if l != nil {
		l.mu.Lock()
		l.conns = append(l.conns, c)
		l.mu.Unlock()
	}
	return c
}

func (c *fakeConn) inject(p netio.Packet) {
	p.At = time.Now()
	select {
	case c.in <- p:
	case <-c.closed:
	}
}

func (c *fakeConn) Read([]byte) (netio.Packet, error) {
	select {
	case p := <-c.in:
		return p, nil
	case <-c.closed:
		return netio.Packet{}, net.ErrClosed
	}
}

func (c *fakeConn) Send(payload []byte, dst netip.Addr) error {
	adv, err := vrrp.Parse(payload)
	if err != nil {
		return fmt.Errorf("fake: sent an unparseable advert: %w", err)
	}
	c.mu.Lock()
	c.sent = append(c.sent, sentAdvert{dst, adv})
	c.mu.Unlock()
	if c.lan != nil {
		c.lan.deliver(c, payload, dst)
	}
	return nil
}

func (c *fakeConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

func (c *fakeConn) adverts() []sentAdvert {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.sent)
}

func (c *fakeConn) setUp(up bool) {
	c.lan.mu.Lock()
	c.up = up
	c.lan.mu.Unlock()
}

// fakeVIPs records the interface's addresses and renders them like
// `ip -br addr` for comparisons.
type fakeVIPs struct {
	mu    sync.Mutex
	addrs []netip.Prefix
	log   []string // "add 198.18.0.100/24", "del ..."
}

func (f *fakeVIPs) Add(vips []netip.Prefix) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range vips {
		if !slices.Contains(f.addrs, p) {
			f.addrs = append(f.addrs, p)
			f.log = append(f.log, "add "+p.String())
		}
	}
	return nil
}

func (f *fakeVIPs) Delete(vips []netip.Prefix) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.addrs = slices.DeleteFunc(f.addrs, func(p netip.Prefix) bool {
		for _, v := range vips {
			if v.Addr() == p.Addr() {
				f.log = append(f.log, "del "+p.String())
				return true
			}
		}
		return false
	})
	return nil
}

func (f *fakeVIPs) Held(vips []netip.Prefix) ([]netip.Prefix, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []netip.Prefix
	for _, v := range vips {
		if slices.Contains(f.addrs, v) {
			out = append(out, v)
		}
	}
	return out, nil
}

// String renders the addresses like `ip -br addr show eth1`.
func (f *fakeVIPs) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := make([]string, len(f.addrs))
	for i, p := range f.addrs {
		s[i] = p.String()
	}
	return "eth1 " + strings.Join(s, " ")
}

// fakeARP records gratuitous ARPs with their (virtual) send times.
type fakeARP struct {
	mu   sync.Mutex
	sent []time.Time
}

func (f *fakeARP) Send(netip.Addr) error {
	f.mu.Lock()
	f.sent = append(f.sent, time.Now())
	f.mu.Unlock()
	return nil
}

func (f *fakeARP) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.sent)
}

// fakeLinks is a link whose state the test flips.
type fakeLinks struct {
	up bool
	ch chan bool
}

func (f *fakeLinks) Watch(context.Context) (bool, <-chan bool, error) { return f.up, f.ch, nil }

// fakeNotifier records sd_notify messages.
type fakeNotifier struct {
	mu   sync.Mutex
	msgs []string
}

func (f *fakeNotifier) add(s string) error {
	f.mu.Lock()
	f.msgs = append(f.msgs, s)
	f.mu.Unlock()
	return nil
}
func (f *fakeNotifier) Ready() error                            { return f.add("READY=1") }
func (f *fakeNotifier) Reloading() error                        { return f.add("RELOADING=1") }
func (f *fakeNotifier) Stopping() error                         { return f.add("STOPPING=1") }
func (f *fakeNotifier) Status(s string) error                   { return f.add("STATUS=" + s) }
func (f *fakeNotifier) Watchdog() error                         { return f.add("WATCHDOG=1") }
func (f *fakeNotifier) WatchdogInterval() (time.Duration, bool) { return time.Second, true }

func (f *fakeNotifier) messages() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.msgs)
}

// logRecorder is a slog handler that keeps records for assertions.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.records = append(l.records, r.Clone())
	l.mu.Unlock()
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// count returns how many records have msg and, if reason is set, that reason.
func (l *logRecorder) count(msg, reason string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.records {
		if r.Message != msg {
			continue
		}
		if reason == "" {
			n++
			continue
		}
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "reason" && a.Value.String() == reason {
				n++
				return false
			}
			return true
		})
	}
	return n
}

// fakeClaimer records claims; with block set, a claim waits until cancelled
// (an API that is down).
type fakeClaimer struct {
	mu        sync.Mutex
	block     bool
	calls     int
	cancelled int
}

func (f *fakeClaimer) Claim(ctx context.Context, vips []netip.Addr) (ClaimResult, error) {
	f.mu.Lock()
	f.calls++
	block := f.block
	f.mu.Unlock()
	if !block {
		time.Sleep(300 * time.Millisecond) // the API's latency, in virtual time
		return ClaimResult{Attempts: 1, Latency: 300 * time.Millisecond}, nil
	}
	<-ctx.Done()
	f.mu.Lock()
	f.cancelled++
	f.mu.Unlock()
	return ClaimResult{Attempts: 7}, ctx.Err()
}

func (f *fakeClaimer) counts() (calls, cancelled int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls, f.cancelled
}

// fakeHealth is a health tracker the test drives.
type fakeHealth struct{ ch chan HealthEvent }

func newFakeHealth() *fakeHealth { return &fakeHealth{ch: make(chan HealthEvent)} }

func (f *fakeHealth) Events() <-chan HealthEvent { return f.ch }
func (f *fakeHealth) Checks() []control.HealthCheck {
	return []control.HealthCheck{{Name: "socket", OK: true}}
}
func (f *fakeHealth) set(healthy bool, reason string) {
	f.ch <- HealthEvent{Healthy: healthy, Reason: reason}
}
