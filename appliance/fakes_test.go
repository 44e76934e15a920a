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
	"syscall"
	"time"

	"github.com/proxypair/proxypair/appliance/cloud/ncp"
	"github.com/proxypair/proxypair/appliance/control"
	"github.com/proxypair/proxypair/appliance/ifwatch"
	"github.com/proxypair/proxypair/appliance/netio"
	"github.com/proxypair/proxypair/appliance/vip"
	"github.com/proxypair/proxypair/appliance/vrrp"
	"github.com/proxypair/proxypair/healthcheck"
)

// Fakes of the OS adapters, for running instances in a synctest bubble.

// lan is an in-memory Ethernet segment: what one conn sends, every other
// attached conn receives (multicast) or the addressed one (unicast).
type lan struct {
	mu       sync.Mutex
	conns    []*fakeConn
	watchers []*fakeARPWatch
}

// garp delivers a gratuitous ARP from one node's ARP to every other node's
// watcher.
func (l *lan) garp(from *fakeARP, a netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, w := range l.watchers {
		if w.owner == from {
			continue
		}
		select {
		case w.ch <- a:
		default:
		}
	}
}

// fakeARPWatch is a node's watcher of the LAN's gratuitous ARPs.
type fakeARPWatch struct {
	owner  *fakeARP
	ch     chan netip.Addr
	closed chan struct{}
	once   sync.Once
}

// watchARP is env.watchARP for a node whose ARPs are arp.
func (l *lan) watchARP(arp *fakeARP) func() (ARPWatch, error) {
	return func() (ARPWatch, error) {
		w := &fakeARPWatch{owner: arp, ch: make(chan netip.Addr, 64), closed: make(chan struct{})}
		l.mu.Lock()
		l.watchers = append(l.watchers, w)
		l.mu.Unlock()
		return w, nil
	}
}

func (w *fakeARPWatch) Next(vips []netip.Addr) (netip.Addr, error) {
	for {
		select {
		case a := <-w.ch:
			if slices.Contains(vips, a) {
				return a, nil
			}
		case <-w.closed:
			return netip.Addr{}, net.ErrClosed
		}
	}
}

func (w *fakeARPWatch) Close() error {
	w.once.Do(func() { close(w.closed) })
	return nil
}

func (l *lan) deliver(from *fakeConn, payload []byte, dst netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !from.up {
		return
	}
	for _, c := range l.conns {
		if c == from || !c.up || c.deaf || (dst != vrrp.MulticastGroup && dst != c.src) {
			continue
		}
		c.inject(netio.Packet{
			Packet: vrrp.Packet{Src: from.src, Dst: dst, TTL: vrrp.TTL, Payload: slices.Clone(payload)},
		})
	}
}

// fakeConn is a Conn on a lan. Sent adverts are recorded.
type fakeConn struct {
	lan  *lan
	src  netip.Addr
	up   bool // guarded by lan.mu
	deaf bool // hears nothing, still sends (one-way loss); guarded by lan.mu

	in     chan netio.Packet
	closed chan struct{}
	once   sync.Once

	mu   sync.Mutex
	sent []sentAdvert
}

type sentAdvert struct {
	dst netip.Addr
	adv *vrrp.Advertisement
	at  time.Time
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

func (c *fakeConn) TryRead([]byte) (netio.Packet, bool) {
	select {
	case p := <-c.in:
		return p, true
	default:
		return netio.Packet{}, false
	}
}

func (c *fakeConn) Send(payload []byte, dst netip.Addr) error {
	adv, err := vrrp.Parse(payload)
	if err != nil {
		return fmt.Errorf("fake: sent an unparseable advert: %w", err)
	}
	c.mu.Lock()
	c.sent = append(c.sent, sentAdvert{dst, adv, time.Now()})
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

func (c *fakeConn) setDeaf(deaf bool) {
	c.lan.mu.Lock()
	c.deaf = deaf
	c.lan.mu.Unlock()
}

func (c *fakeConn) setUp(up bool) {
	c.lan.mu.Lock()
	c.up = up
	c.lan.mu.Unlock()
}

// fakeAddrs is the interface's address table. Its own address and
// others' can be put there, addresses can vanish behind the daemon's back,
// and every operation can be made to fail, once or for good.
type fakeAddrs struct {
	mu       sync.Mutex
	label    string
	addrs    []vip.Addr
	log      []string // "add 198.18.0.100/24", "del ..."
	onAddrs  func()   // the watcher's hint, set by fakeWatch
	failAdd  func(netip.Prefix) error
	failDel  func(netip.Prefix) error
	failList func() error
	adds     int
	gone     bool // the interface does not exist (vip.ErrNoInterface)
}

func newFakeAddrs(label string) *fakeAddrs { return &fakeAddrs{label: label} }

func (f *fakeAddrs) Add(p netip.Prefix) error {
	f.mu.Lock()
	f.adds++
	if f.gone {
		f.mu.Unlock()
		return errNoEth1
	}
	if f.failAdd != nil {
		if err := f.failAdd(p); err != nil {
			f.mu.Unlock()
			return err
		}
	}
	changed := !slices.ContainsFunc(f.addrs, func(a vip.Addr) bool { return a.Prefix == p })
	if changed {
		f.addrs = append(f.addrs, vip.Addr{Prefix: p, Label: f.label})
		f.log = append(f.log, "add "+p.String())
	}
	f.mu.Unlock()
	if changed {
		f.hint()
	}
	return nil
}

func (f *fakeAddrs) Delete(p netip.Prefix) error {
	f.mu.Lock()
	if f.gone {
		f.mu.Unlock()
		return nil // as vip.Manager: a missing interface holds nothing
	}
	if f.failDel != nil {
		if err := f.failDel(p); err != nil {
			f.mu.Unlock()
			return err
		}
	}
	n := len(f.addrs)
	f.addrs = slices.DeleteFunc(f.addrs, func(a vip.Addr) bool {
		if a.Prefix == p && a.Label == f.label {
			f.log = append(f.log, "del "+p.String())
			return true
		}
		return false
	})
	changed := len(f.addrs) != n
	f.mu.Unlock()
	if changed {
		f.hint()
	}
	return nil
}

func (f *fakeAddrs) List() ([]vip.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gone {
		return nil, errNoEth1
	}
	if f.failList != nil {
		if err := f.failList(); err != nil {
			return nil, err
		}
	}
	return slices.Clone(f.addrs), nil
}

// errNoEth1 is what vip.Manager says when eth1 does not exist.
var errNoEth1 = fmt.Errorf("%w: eth1", vip.ErrNoInterface)

// setGone deletes the interface (with its addresses, as the kernel does)
// or creates it again, empty.
func (f *fakeAddrs) setGone(gone bool) {
	f.mu.Lock()
	f.gone = gone
	f.addrs = nil
	f.mu.Unlock()
	f.hint()
}

// put adds an address as someone else would (another label).
func (f *fakeAddrs) put(p netip.Prefix, label string) {
	f.mu.Lock()
	f.addrs = append(f.addrs, vip.Addr{Prefix: p, Label: label})
	f.mu.Unlock()
	f.hint()
}

// remove deletes an address behind the daemon's back (ip addr del).
func (f *fakeAddrs) remove(p netip.Prefix) {
	f.mu.Lock()
	f.addrs = slices.DeleteFunc(f.addrs, func(a vip.Addr) bool { return a.Prefix == p })
	f.mu.Unlock()
	f.hint()
}

func (f *fakeAddrs) hint() {
	f.mu.Lock()
	h := f.onAddrs
	f.mu.Unlock()
	if h != nil {
		h()
	}
}

func (f *fakeAddrs) set(fn func(f *fakeAddrs)) {
	f.mu.Lock()
	fn(f)
	f.mu.Unlock()
}

func (f *fakeAddrs) addCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.adds
}

// String renders the VIPs (our label's addresses) like `ip -br addr show
// eth1` would list them.
func (f *fakeAddrs) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var s []string
	for _, a := range f.addrs {
		if a.Label == f.label {
			s = append(s, a.Prefix.String())
		}
	}
	return "eth1 " + strings.Join(s, " ")
}

// fakeARP records gratuitous ARPs with their (virtual) send times, and
// which opening of the socket (the MAC) each came from.
type fakeARP struct {
	lan   *lan // nil: ARPs go nowhere
	mu    sync.Mutex
	sent  []time.Time
	addrs []netip.Addr
	opens int
	fail  error
	// failOpens fails that many opens from now on (ENOBUFS, the interface
	// down for a moment).
	failOpens int
}

// open is env.openARP.
func (f *fakeARP) open() (ARP, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opens++
	if f.failOpens > 0 {
		f.failOpens--
		return nil, fmt.Errorf("garp: opening packet socket on eth1: %w", syscall.ENOBUFS)
	}
	return arpHandle{f}, nil
}

type arpHandle struct{ f *fakeARP }

func (h arpHandle) Send(a netip.Addr) error {
	h.f.mu.Lock()
	if h.f.fail != nil {
		h.f.mu.Unlock()
		return h.f.fail
	}
	h.f.sent = append(h.f.sent, time.Now())
	h.f.addrs = append(h.f.addrs, a)
	h.f.mu.Unlock()
	if h.f.lan != nil {
		h.f.lan.garp(h.f, a)
	}
	return nil
}

func (arpHandle) Close() error { return nil }

func (f *fakeARP) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.sent)
}

func (f *fakeARP) opened() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.opens
}

// fakeWatch is the interface watcher: the test sets the link's state.
type fakeWatch struct {
	mu     sync.Mutex
	link   ifwatch.Link
	onLink func(ifwatch.Link)
	addrs  *fakeAddrs
}

func newFakeWatch(up bool, addrs *fakeAddrs) *fakeWatch {
	return &fakeWatch{link: ifwatch.Link{Exists: true, Index: 3, Up: up, MAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}}, addrs: addrs}
}

func (w *fakeWatch) watch(_ context.Context, onLink func(ifwatch.Link), onAddrs func()) (ifwatch.Link, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.onLink = onLink
	w.addrs.mu.Lock()
	w.addrs.onAddrs = onAddrs
	w.addrs.mu.Unlock()
	return w.link, nil
}

// set changes the link and tells the daemon, as ifwatch does.
func (w *fakeWatch) set(l ifwatch.Link) {
	w.mu.Lock()
	w.link = l
	on := w.onLink
	w.mu.Unlock()
	on(l)
}

func (w *fakeWatch) setUp(up bool) {
	w.mu.Lock()
	l := w.link
	w.mu.Unlock()
	l.Up = up
	w.set(l)
}

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

// levels returns the level of every record with msg, in order.
func (l *logRecorder) levels(msg string) []slog.Level {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []slog.Level
	for _, r := range l.records {
		if r.Message == msg {
			out = append(out, r.Level)
		}
	}
	return out
}

// fakeClaimer records claims; with block set, a claim waits until
// cancelled (an API that is down); fail makes claims fail; moved makes
// Verify report those VIPs routed elsewhere.
type fakeClaimer struct {
	mu        sync.Mutex
	block     bool
	fail      error
	moved     []netip.Addr
	calls     int
	verifies  int
	cancelled int
}

func (f *fakeClaimer) Claim(ctx context.Context, vips []netip.Addr) (ncp.ClaimResult, error) {
	f.mu.Lock()
	f.calls++
	block, fail := f.block, f.fail
	f.mu.Unlock()
	if fail != nil {
		time.Sleep(100 * time.Millisecond)
		return ncp.ClaimResult{Attempts: 1}, fail
	}
	if !block {
		time.Sleep(300 * time.Millisecond) // the API's latency, in virtual time
		f.mu.Lock()
		f.moved = slices.DeleteFunc(f.moved, func(a netip.Addr) bool { return slices.Contains(vips, a) })
		f.mu.Unlock()
		return ncp.ClaimResult{Attempts: 1, Latency: 300 * time.Millisecond}, nil
	}
	<-ctx.Done()
	f.mu.Lock()
	f.cancelled++
	f.mu.Unlock()
	return ncp.ClaimResult{Attempts: 7}, ctx.Err()
}

func (f *fakeClaimer) Verify(ctx context.Context, vips []netip.Addr) (ncp.VerifyResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.verifies++
	var r ncp.VerifyResult
	for _, v := range vips {
		if slices.Contains(f.moved, v) {
			r.Missing = append(r.Missing, v)
		} else {
			r.Held = append(r.Held, v)
		}
	}
	return r, nil
}

func (f *fakeClaimer) counts() (calls, cancelled int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls, f.cancelled
}

func (f *fakeClaimer) set(fn func(f *fakeClaimer)) {
	f.mu.Lock()
	fn(f)
	f.mu.Unlock()
}

// fakeHealth is a health tracker the test drives.
type fakeHealth struct{ ch chan healthcheck.Event }

func newFakeHealth() *fakeHealth { return &fakeHealth{ch: make(chan healthcheck.Event)} }

func (f *fakeHealth) Events() <-chan healthcheck.Event { return f.ch }
func (f *fakeHealth) Checks() []control.HealthCheck {
	return []control.HealthCheck{{Name: "socket", OK: true}}
}
func (f *fakeHealth) set(healthy bool, reason string) {
	f.ch <- healthcheck.Event{Healthy: healthy, Reason: reason}
}
