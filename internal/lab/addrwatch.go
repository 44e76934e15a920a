//go:build linux

package lab

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// AddrEvent is one host gaining or losing the watched address.
type AddrEvent struct {
	At   time.Time // when the watch received the kernel's event
	Host string
	Held bool // gained (true) or lost (false)
}

// AddrWatch records when hosts gain and lose one address, from the
// kernel's address events (RTM_NEWADDR, RTM_DELADDR) in each host's
// namespace, stamped as they arrive. Sampling `ip addr` every few
// milliseconds would miss a hand-over's overlap or gap entirely (both are
// usually well under a millisecond) and, reading the hosts one after the
// other, could even invent one; the events see every change, each within
// the scheduling delay of the watching goroutine (tens of microseconds on
// an idle machine, more under load: a stretch shorter than that may be
// mismeasured, never missed).
//
// Close it before its lab: its sockets keep the namespaces alive.
type AddrWatch struct {
	addr netip.Addr
	done chan struct{}
	wg   sync.WaitGroup

	mu     sync.Mutex
	events []AddrEvent
	errs   []error
}

// WatchAddr starts watching a on hosts. A host that holds it already gets
// an event from the watch's first dump of its addresses.
func WatchAddr(a netip.Addr, hosts ...*Host) (*AddrWatch, error) {
	w := &AddrWatch{addr: a, done: make(chan struct{})}
	for _, h := range hosts {
		if err := w.watch(h); err != nil {
			return nil, errors.Join(err, w.Close())
		}
	}
	return w, nil
}

func (w *AddrWatch) watch(h *Host) error {
	fd, err := netns.GetFromName(h.NS)
	if err != nil {
		return fmt.Errorf("lab: watch %v on %s: %w", w.addr, h.Name, err)
	}
	defer fd.Close() // the socket is made in the namespace and keeps it
	ch := make(chan netlink.AddrUpdate, 64)
	opts := netlink.AddrSubscribeOptions{
		Namespace:    &fd,
		ListExisting: true,
		ErrorCallback: func(err error) {
			select {
			case <-w.done: // Close ends the subscription with an error
			default:
				w.fail(fmt.Errorf("lab: watch %v on %s: %w", w.addr, h.Name, err))
			}
		},
	}
	if err := netlink.AddrSubscribeWithOptions(ch, w.done, opts); err != nil {
		return fmt.Errorf("lab: watch %v on %s: %w", w.addr, h.Name, err)
	}
	w.wg.Go(func() {
		held := false
		for u := range ch { // closed when the subscription ends
			at := time.Now()
			a, ok := netip.AddrFromSlice(u.LinkAddress.IP.To4())
			if !ok || a != w.addr || u.NewAddr == held {
				continue
			}
			held = u.NewAddr
			w.mu.Lock()
			w.events = append(w.events, AddrEvent{At: at, Host: h.Name, Held: held})
			w.mu.Unlock()
		}
	})
	return nil
}

func (w *AddrWatch) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.errs = append(w.errs, err)
}

// Close stops watching; the error joins every failure of the watch (a
// lost event, such as ENOBUFS, makes its record untrustworthy).
func (w *AddrWatch) Close() error {
	select {
	case <-w.done:
	default:
		close(w.done)
	}
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return errors.Join(w.errs...)
}

// Events returns what the watch has recorded so far, in order.
func (w *AddrWatch) Events() []AddrEvent {
	w.mu.Lock()
	defer w.mu.Unlock()
	ev := slices.Clone(w.events)
	slices.SortStableFunc(ev, func(a, b AddrEvent) int { return a.At.Compare(b.At) })
	return ev
}

// Coverage is how the address was held during a span of time.
type Coverage struct {
	// LongestGap is the longest stretch during which no host held it;
	// Gaps counts such stretches.
	LongestGap time.Duration
	Gaps       int
	// LongestOverlap is the longest stretch during which two or more
	// hosts held it; Overlaps counts such stretches.
	LongestOverlap time.Duration
	Overlaps       int
	// Changes counts the events in the span.
	Changes int
	// Holders are the hosts holding it at the end of the span.
	Holders []string
}

func (c Coverage) String() string {
	return fmt.Sprintf("%d changes; %d gaps, longest %v; %d overlaps, longest %v; held by %v at the end",
		c.Changes, c.Gaps, c.LongestGap, c.Overlaps, c.LongestOverlap, c.Holders)
}

// Coverage summarises [from, to] from the events recorded so far. Give
// it a from after the watch has seen each host's state (WatchAddr's
// dump): before that, nobody counts as holding the address.
func (w *AddrWatch) Coverage(from, to time.Time) Coverage {
	var c Coverage
	held := map[string]bool{}
	cls, since := 0, from // the current stretch: its class and start
	closeStretch := func(at time.Time) {
		d := at.Sub(since)
		if d <= 0 {
			return
		}
		switch cls {
		case 0:
			c.Gaps++
			c.LongestGap = max(c.LongestGap, d)
		case 2:
			c.Overlaps++
			c.LongestOverlap = max(c.LongestOverlap, d)
		}
	}
	for _, e := range w.Events() {
		if e.At.After(to) {
			break
		}
		if held[e.Host] == e.Held {
			continue
		}
		held[e.Host] = e.Held
		if !e.At.Before(from) {
			c.Changes++
		}
		n := 0
		for _, h := range held {
			if h {
				n++
			}
		}
		if class(n) == cls {
			continue
		}
		if e.At.After(from) {
			closeStretch(e.At)
			since = e.At
		}
		cls = class(n)
	}
	closeStretch(to)
	for h, ok := range held {
		if ok {
			c.Holders = append(c.Holders, h)
		}
	}
	slices.Sort(c.Holders)
	return c
}

// class sorts holder counts into none (0), one (1) and several (2).
func class(n int) int { return min(n, 2) }

// Holders names the hosts holding the address by the events recorded so
// far: after WatchAddr, poll it until the dump has come in.
func (w *AddrWatch) Holders() []string {
	held := map[string]bool{}
	for _, e := range w.Events() {
		held[e.Host] = e.Held
	}
	var out []string
	for h, ok := range held {
		if ok {
			out = append(out, h)
		}
	}
	slices.Sort(out)
	return out
}
