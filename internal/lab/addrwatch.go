//go:build linux

package lab

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// AddrEvent is one host gaining or losing the watched address.
type AddrEvent struct {
	At   time.Time // when the watch received the kernel's event
	Host string
	Held bool // gained (true) or lost (false)
}

// AddrWatch records when hosts gain and lose one address, from the
// kernel's address events (RTM_NEWADDR, RTM_DELADDR). One netlink socket in
// the lab's switch namespace hears every host's namespace
// (NETLINK_LISTEN_ALL_NSID; the veths gave each host an id there), so the
// events arrive in the order the kernel made the changes (address changes
// are serialised under its RTNL lock). Each is stamped as it is read, late
// by the reader's wake-up (tens of microseconds on an idle machine): a
// stretch's length is that approximate, its kind (no holder, two) exact.
// Sampling `ip addr` every few milliseconds would miss a hand-over's
// overlap or gap entirely (both are usually under a millisecond) and,
// reading the hosts one after the other, could invent one.
//
// Close it before its lab.
type AddrWatch struct {
	addr  netip.Addr
	fd    int
	hosts map[int32]string // nsid in the switch namespace → host name
	done  chan struct{}
	wg    sync.WaitGroup

	mu     sync.Mutex
	events []AddrEvent
	held   map[string]bool
	errs   []error
}

// watchPoll bounds how long the reader blocks before it checks for Close.
const watchPoll = 50 * time.Millisecond

// WatchAddr starts watching a on hosts, which must belong to one lab. A
// host that holds it already gets an event stamped when the watch looked.
func WatchAddr(a netip.Addr, hosts ...*Host) (*AddrWatch, error) {
	if len(hosts) == 0 {
		return nil, errors.New("lab: watch: no hosts")
	}
	l := hosts[0].lab
	w := &AddrWatch{addr: a, fd: -1, hosts: map[int32]string{}, done: make(chan struct{}), held: map[string]bool{}}
	nl, err := l.sw.handle()
	if err != nil {
		return nil, err
	}
	for _, h := range hosts {
		if h.lab != l {
			return nil, fmt.Errorf("lab: watch: host %s is not in the lab of %s", h.Name, hosts[0].Name)
		}
		fd, err := netns.GetFromName(h.NS)
		if err != nil {
			return nil, fmt.Errorf("lab: watch: %s: %w", h.Name, err)
		}
		id, err := nl.GetNetNsIdByFd(int(fd))
		fd.Close()
		if err != nil || id < 0 {
			return nil, fmt.Errorf("lab: watch: %s has no namespace id in the switch namespace (%d): %v", h.Name, id, err)
		}
		w.hosts[int32(id)] = h.Name
	}
	if nsErr := l.sw.do(func() { w.fd, err = listenAllNS() }); nsErr != nil {
		return nil, nsErr
	}
	if err != nil {
		return nil, fmt.Errorf("lab: watch %v: %w", a, err)
	}
	w.wg.Go(w.read)
	// What the hosts hold now; an event that raced with this is the same
	// change and is dropped as a repeat.
	for _, h := range hosts {
		if h.HasAddr(a) {
			w.record(time.Now(), h.Name, true)
		}
	}
	return w, nil
}

// listenAllNS opens a netlink socket, in the calling thread's namespace, on
// IPv4 address events of every namespace that has an id in it.
func listenAllNS() (int, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return -1, err
	}
	tv := unix.NsecToTimeval(watchPoll.Nanoseconds())
	if err = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err == nil {
		err = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_LISTEN_ALL_NSID, 1)
	}
	if err == nil {
		err = unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1 << (unix.RTNLGRP_IPV4_IFADDR - 1)})
	}
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func (w *AddrWatch) read() {
	buf := make([]byte, 1<<16)
	oob := make([]byte, unix.CmsgSpace(4))
	for {
		select {
		case <-w.done:
			return
		default:
		}
		n, oobn, _, _, err := unix.Recvmsg(w.fd, buf, oob, 0)
		at := time.Now()
		switch {
		case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			// ENOBUFS: events were lost; the record cannot be trusted.
			w.fail(fmt.Errorf("lab: watch %v: %w", w.addr, err))
			if !errors.Is(err, unix.ENOBUFS) {
				return
			}
			continue
		}
		host, ok := w.hosts[nsid(oob[:oobn])]
		if !ok {
			continue // another namespace of the lab, or our own
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			w.fail(fmt.Errorf("lab: watch %v: %w", w.addr, err))
			continue
		}
		for _, m := range msgs {
			if m.Header.Type != unix.RTM_NEWADDR && m.Header.Type != unix.RTM_DELADDR {
				continue
			}
			if a, ok := ifaLocal(m.Data); ok && a == w.addr {
				w.record(at, host, m.Header.Type == unix.RTM_NEWADDR)
			}
		}
	}
}

// nsid is the namespace id a NETLINK_LISTEN_ALL_NSID socket puts on each
// message; -1 when there is none (our own namespace).
func nsid(oob []byte) int32 {
	cmsgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return -1
	}
	for _, c := range cmsgs {
		if c.Header.Level == unix.SOL_NETLINK && c.Header.Type == unix.NETLINK_LISTEN_ALL_NSID && len(c.Data) >= 4 {
			return int32(binary.NativeEndian.Uint32(c.Data))
		}
	}
	return -1
}

// ifaLocal is the address of an RTM_NEWADDR or RTM_DELADDR message:
// IFA_LOCAL, or IFA_ADDRESS without it.
func ifaLocal(b []byte) (netip.Addr, bool) {
	if len(b) < unix.SizeofIfAddrmsg {
		return netip.Addr{}, false
	}
	attrs, err := nl.ParseRouteAttr(b[unix.SizeofIfAddrmsg:])
	if err != nil {
		return netip.Addr{}, false
	}
	var local, addr netip.Addr
	for _, at := range attrs {
		switch at.Attr.Type {
		case unix.IFA_LOCAL:
			local, _ = netip.AddrFromSlice(at.Value)
		case unix.IFA_ADDRESS:
			addr, _ = netip.AddrFromSlice(at.Value)
		}
	}
	if local.IsValid() {
		return local, true
	}
	return addr, addr.IsValid()
}

// record adds an event, unless it repeats the host's state.
func (w *AddrWatch) record(at time.Time, host string, held bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.held[host] == held {
		return
	}
	w.held[host] = held
	w.events = append(w.events, AddrEvent{At: at, Host: host, Held: held})
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
	if w.fd >= 0 {
		unix.Close(w.fd)
		w.fd = -1
	}
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
// far.
func (w *AddrWatch) Holders() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for h, ok := range w.held {
		if ok {
			out = append(out, h)
		}
	}
	slices.Sort(out)
	return out
}
