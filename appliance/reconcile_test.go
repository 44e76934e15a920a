package appliance

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/proxypair/proxypair/appliance/config"
	"github.com/proxypair/proxypair/appliance/control"
	"github.com/proxypair/proxypair/appliance/ifwatch"
	"github.com/proxypair/proxypair/appliance/netio"
	"github.com/proxypair/proxypair/appliance/vip"
	"github.com/proxypair/proxypair/appliance/vrrp"
)

// Tests of the effects that must stay true: the VIPs on the interface,
// the ARPs, the sockets and the cloud claim, with fakes that fail on
// demand. Each one failed on the executor that fired effects once and
// believed them.

var vip101 = netip.MustParsePrefix("198.18.0.101/24")

// failing returns a fault that fails the first n calls with err (n < 0:
// every call) for the VIPs in only (all when empty).
func failing(n int, err error, only ...netip.Prefix) func(netip.Prefix) error {
	var mu sync.Mutex
	return func(p netip.Prefix) error {
		mu.Lock()
		defer mu.Unlock()
		if len(only) > 0 && !slices.Contains(only, p) {
			return nil
		}
		if n == 0 {
			return nil
		}
		n--
		return err
	}
}

// arpsFor counts the gratuitous ARPs sent for a.
func (f *fakeARP) arpsFor(a netip.Addr) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, x := range f.addrs {
		if x == a {
			n++
		}
	}
	return n
}

func countPrio0(ads []sentAdvert) int {
	n := 0
	for _, a := range ads {
		if a.adv.Priority == 0 {
			n++
		}
	}
	return n
}

// TestVIPAddFailsTransiently: an add that fails a few times (ENOBUFS from
// a busy netlink) is retried; the master keeps the pair, and no ARP goes
// out before the VIP is held.
func TestVIPAddFailsTransiently(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &lan{}
		var added time.Time
		a := startNodeEnv(t, l, "198.18.0.1", seedVRRP(200), func(e *env) {
			fail := failing(3, syscall.ENOBUFS)
			f := e.addrs.(*fakeAddrs)
			f.failAdd = func(p netip.Prefix) error {
				if err := fail(p); err != nil {
					return err
				}
				added = time.Now()
				return nil
			}
		})
		time.Sleep(5 * time.Second)
		synctest.Wait()
		st := a.status(t)
		if st.State != "MASTER" || a.vips.String() != "eth1 198.18.0.100/24" || st.VIPProblem != "" {
			t.Fatalf("after transient add failures: %s, %q, problem %q", st.State, a.vips, st.VIPProblem)
		}
		if n := a.vips.addCount(); n < 4 {
			t.Errorf("%d adds, want the failed ones retried", n)
		}
		a.arp.mu.Lock()
		first := a.arp.sent[0]
		a.arp.mu.Unlock()
		if first.Before(added) {
			t.Errorf("a gratuitous ARP at %v, before the VIP was added at %v", first, added)
		}
	})
}

// TestVIPAddFailsForGood: a master that cannot add its VIP (no permission)
// gives the pair to its peer with priority-0 adverts, sends no ARP for an
// address it does not hold, says so, and takes the pair back by itself once
// the add works again.
func TestVIPAddFailsForGood(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &lan{}
		b := startNode(t, l, "198.18.0.2", seedVRRP(100))
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if b.state(t) != "MASTER" {
			t.Fatalf("b alone: %s", b.state(t))
		}
		var broken = true
		var mu sync.Mutex
		a := startNodeEnv(t, l, "198.18.0.1", seedVRRP(200), func(e *env) {
			e.addrs.(*fakeAddrs).failAdd = func(netip.Prefix) error {
				mu.Lock()
				defer mu.Unlock()
				if broken {
					return syscall.EPERM
				}
				return nil
			}
		})
		// a preempts b (Master_Down after b's lower adverts), fails to add,
		// and resigns at once.
		time.Sleep(5 * time.Second)
		synctest.Wait()
		st := a.status(t)
		if st.State != "BACKUP" || b.state(t) != "MASTER" {
			t.Fatalf("after a failed to add: a %s, b %s; want b serving", st.State, b.state(t))
		}
		if got := countPrio0(a.conn.adverts()); got != 3 {
			t.Errorf("a sent %d priority-0 adverts, want 3", got)
		}
		if n := a.arp.count(); n != 0 {
			t.Errorf("a sent %d gratuitous ARPs for a VIP it never held", n)
		}
		if st.PreemptHeldUntil.IsZero() {
			t.Errorf("status does not say preemption is held off")
		}
		if tr := st.Transitions; tr[len(tr)-1].Reason != "vips_failed" {
			t.Errorf("last transition %+v, want vips_failed", tr[len(tr)-1])
		}
		if got := a.log.count("cannot hold the VIPs: handing the pair to the peer", "vips_failed"); got != 1 {
			t.Errorf("%d log lines for the resign, want 1", got)
		}
		if msgs := a.notify.messages(); !slices.ContainsFunc(msgs, func(m string) bool {
			return strings.Contains(m, "BACKUP") && strings.Contains(m, "not held: operation not permitted")
		}) {
			t.Errorf("STATUS= never said the VIPs were not held: %v", msgs)
		}
		// It stays out while held off, and does not flap.
		time.Sleep(4 * time.Second)
		synctest.Wait()
		if a.state(t) != "BACKUP" || b.state(t) != "MASTER" {
			t.Fatalf("during the hold: a %s, b %s", a.state(t), b.state(t))
		}
		// The add works again: after the hold a preempts and keeps it.
		mu.Lock()
		broken = false
		mu.Unlock()
		time.Sleep(fsmHold + 5*time.Second)
		synctest.Wait()
		if a.state(t) != "MASTER" || a.vips.String() != "eth1 198.18.0.100/24" || b.vips.String() != "eth1 " {
			t.Fatalf("after the add works again: a %s %q, b %s %q", a.state(t), a.vips, b.state(t), b.vips)
		}
		if st := a.status(t); st.VIPProblem != "" || !st.PreemptHeldUntil.IsZero() {
			t.Errorf("status after recovery: problem %q, held until %v", st.VIPProblem, st.PreemptHeldUntil)
		}
	})
}

// fsmHold is the first VIPs-failed hold.
const fsmHold = 10 * time.Second

// TestVIPAddFailsPartially: with two VIPs, one that keeps failing (not a
// permanent error) resigns the master after the bound; the ARPs covered
// only the VIP that was held.
func TestVIPAddFailsPartially(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &lan{}
		cfg := withVIPs(seedVRRP(200), []netip.Prefix{vip100, vip101})
		b := startNode(t, l, "198.18.0.2", withVIPs(seedVRRP(100), cfg.VirtualIPs))
		a := startNodeEnv(t, l, "198.18.0.1", cfg, func(e *env) {
			e.addrs.(*fakeAddrs).failAdd = failing(-1, syscall.ENOBUFS, vip101)
		})
		time.Sleep(3*time.Second + 218750*time.Microsecond) // a's Master_Down
		synctest.Wait()
		if a.state(t) != "MASTER" {
			t.Fatalf("a: %s", a.state(t))
		}
		if st := a.status(t); !slices.Equal(st.VIPsHeld, []string{"198.18.0.100/24"}) || !strings.Contains(st.VIPProblem, "198.18.0.101/24") {
			t.Errorf("a's status with one VIP failing: held %v, problem %q", st.VIPsHeld, st.VIPProblem)
		}
		// The bound (1 s), then b's Skew_Time (0.61 s).
		time.Sleep(holdBound + 700*time.Millisecond)
		synctest.Wait()
		if a.state(t) != "BACKUP" || b.state(t) != "MASTER" {
			t.Fatalf("one VIP failing for more than the bound: a %s, b %s; want b serving", a.state(t), b.state(t))
		}
		if n := a.arp.arpsFor(vip101.Addr()); n != 0 {
			t.Errorf("%d ARPs for the VIP a never held", n)
		}
		if n := a.arp.arpsFor(vip100.Addr()); n == 0 {
			t.Errorf("no ARP for the VIP a held")
		}
		if a.vips.String() != "eth1 " {
			t.Errorf("a kept %q after resigning", a.vips)
		}
	})
}

// TestVIPDeleteFails: a backup whose delete fails keeps trying (and says
// so) until the VIP is gone: it must not sit next to the new master.
func TestVIPDeleteFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := electedPair(t)
		a.vips.set(func(f *fakeAddrs) { f.failDel = failing(5, syscall.EBUSY) })
		cfg := seedVRRP(250)
		b.reconfigure(t, cfg) // b preempts a after its Master_Down
		time.Sleep(3100 * time.Millisecond)
		synctest.Wait()
		if a.state(t) != "BACKUP" || b.state(t) != "MASTER" {
			t.Fatalf("a %s, b %s", a.state(t), b.state(t))
		}
		if st := a.status(t); !strings.Contains(st.VIPProblem, "still on the interface") {
			t.Errorf("a's status while its deletes fail: problem %q", st.VIPProblem)
		}
		time.Sleep(3 * time.Second) // the retries' backoff
		synctest.Wait()
		if a.vips.String() != "eth1 " {
			t.Errorf("a still holds %q after its deletes failed 5 times", a.vips)
		}
		if st := a.status(t); st.VIPProblem != "" {
			t.Errorf("a's problem after the delete worked: %q", st.VIPProblem)
		}
	})
}

// TestInterruptedListIsNotNothing: while the address dump keeps failing
// (interrupted by other changes), a node that must drop its VIP still
// deletes it, and one that must hold it still adds it.
func TestInterruptedListIsNotNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := electedPair(t)
		errIntr := errors.New("vip: listing addresses of eth1: results may be incomplete or inconsistent")
		for _, n := range []*testNode{a, b} {
			n.vips.set(func(f *fakeAddrs) { f.failList = func() error { return errIntr } })
		}
		b.reconfigure(t, seedVRRP(250)) // b preempts a
		time.Sleep(4 * time.Second)
		synctest.Wait()
		if a.state(t) != "BACKUP" || b.state(t) != "MASTER" {
			t.Fatalf("a %s, b %s", a.state(t), b.state(t))
		}
		if a.vips.String() != "eth1 " || b.vips.String() != "eth1 198.18.0.100/24" {
			t.Errorf("with every dump failing: a %q, b %q; want the VIP on b only", a.vips, b.vips)
		}
	})
}

// TestVIPRemovedBehindItsBack: `ip addr del` (or networkd, or a DHCP
// renewal) on the master: the VIP comes back and is announced again; the
// master does not carry on advertising without it.
func TestVIPRemovedBehindItsBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := electedPair(t)
		arps := a.arp.count()
		a.vips.remove(vip100)
		synctest.Wait()
		if a.vips.String() != "eth1 198.18.0.100/24" {
			t.Fatalf("after removal behind its back: %q", a.vips)
		}
		if a.arp.count() <= arps {
			t.Errorf("no gratuitous ARP after re-adding the VIP")
		}
		if got := a.log.count("a VIP is missing from the interface; adding it", ""); got != 1 {
			t.Errorf("%d log lines for the re-add, want 1", got)
		}
		if a.state(t) != "MASTER" || b.state(t) != "BACKUP" {
			t.Errorf("a %s, b %s", a.state(t), b.state(t))
		}
		// Without the address event, the periodic check finds it too.
		a.vips.set(func(f *fakeAddrs) {
			f.addrs = slices.DeleteFunc(f.addrs, func(x vip.Addr) bool { return x.Prefix == vip100 })
		})
		time.Sleep(resyncEvery)
		synctest.Wait()
		if a.vips.String() != "eth1 198.18.0.100/24" {
			t.Fatalf("the periodic check did not restore the VIP: %q", a.vips)
		}
	})
}

// TestForeignAddressIsNotOurs: an address equal to a VIP that someone else
// put on a backup's interface is never removed by it (only our label is).
func TestForeignAddressIsNotOurs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, b := electedPair(t)
		b.vips.put(vip101, "eth1")
		time.Sleep(resyncEvery)
		synctest.Wait()
		b.vips.mu.Lock()
		has := slices.ContainsFunc(b.vips.addrs, func(x vip.Addr) bool { return x.Prefix == vip101 })
		b.vips.mu.Unlock()
		if !has {
			t.Error("the backup removed an address it did not put there")
		}
	})
}

// TestInterfaceRecreated: eth1 deleted and created again (NIC detach and
// attach): the node goes to FAULT, opens new sockets on the new interface,
// announces from the new MAC, and is a working router again without a
// restart.
func TestInterfaceRecreated(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &lan{}
		a := startNode(t, l, "198.18.0.1", seedVRRP(200))
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if a.state(t) != "MASTER" {
			t.Fatalf("a: %s", a.state(t))
		}
		// The kernel drops the interface's addresses with it.
		a.conn.setUp(false)
		a.vips.remove(vip100)
		a.watch.set(ifwatch.Link{})
		synctest.Wait()
		if st := a.status(t); st.State != "FAULT" || st.Link != "missing" {
			t.Fatalf("interface gone: %s, link %s", st.State, st.Link)
		}
		arps := a.arp.count()
		a.watch.set(ifwatch.Link{Exists: true, Index: 9, Up: true, MAC: net.HardwareAddr{2, 0, 0, 0, 0, 9}})
		synctest.Wait()
		if len(a.conns) != 2 {
			t.Fatalf("%d sockets opened, want a second one on the new interface", len(a.conns))
		}
		if a.arp.opened() < 2 {
			t.Errorf("the ARP socket was not opened again on the new interface")
		}
		// A b appears: the new sockets must hear it and talk to it.
		b := startNode(t, l, "198.18.0.2", seedVRRP(100))
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if a.state(t) != "MASTER" || b.state(t) != "BACKUP" || a.vips.String() != "eth1 198.18.0.100/24" {
			t.Fatalf("after re-creation: a %s %q, b %s", a.state(t), a.vips, b.state(t))
		}
		if a.arp.count() <= arps {
			t.Error("no gratuitous ARP from the new interface")
		}
		if len(a.conns[1].adverts()) == 0 || b.status(t).Master != "198.18.0.1" {
			t.Errorf("the new sockets are mute: %d adverts, b's master %q", len(a.conns[1].adverts()), b.status(t).Master)
		}
	})
}

// stalledConn is a socket whose reader never gets to run (CPU starvation,
// a VM pause): packets wait in the kernel queue, reachable only by TryRead.
type stalledConn struct {
	*fakeConn
	mu    sync.Mutex
	queue []netio.Packet
}

func (s *stalledConn) Read([]byte) (netio.Packet, error) {
	<-s.closed
	return netio.Packet{}, net.ErrClosed
}

func (s *stalledConn) TryRead([]byte) (netio.Packet, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 {
		return netio.Packet{}, false
	}
	p := s.queue[0]
	s.queue = s.queue[1:]
	p.At = time.Now()
	return p, true
}

func (s *stalledConn) queueAdvert(from netip.Addr, prio uint8) {
	adv := vrrp.Advertisement{Version: vrrp.Version2, Type: vrrp.TypeAdvertisement, VRID: 51, Priority: prio,
		AuthType: vrrp.AuthSimple, Interval: time.Second, Addresses: []netip.Addr{vip100.Addr()}}
	copy(adv.AuthData[:], "pass1234")
	payload, _ := adv.Marshal(from, vrrp.MulticastGroup, vrrp.PseudoHeader)
	s.mu.Lock()
	s.queue = append(s.queue, netio.Packet{Packet: vrrp.Packet{Src: from, Dst: vrrp.MulticastGroup, TTL: 255, Payload: payload}})
	s.mu.Unlock()
}

// TestStalledBackupHearsQueuedAdverts: a backup whose loop stalled past
// Master_Down while the master's adverts waited for it handles those
// adverts before the expired timer: no spurious takeover.
func TestStalledBackupHearsQueuedAdverts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var sc *stalledConn
		b := startNodeEnv(t, nil, "198.18.0.2", seedVRRP(100), func(e *env) {
			e.openConn = func(bool) (Conn, error) {
				sc = &stalledConn{fakeConn: newFakeConn(nil, netip.MustParseAddr("198.18.0.2"))}
				return sc, nil
			}
		})
		synctest.Wait()
		master := netip.MustParseAddr("198.18.0.1")
		for range 3 {
			time.Sleep(time.Second)
			sc.queueAdvert(master, 200) // arrives, but the reader is starved
		}
		time.Sleep(700 * time.Millisecond) // past Master_Down (3.61 s) with 3 adverts waiting
		synctest.Wait()
		st := b.status(t)
		if st.State != "BACKUP" || st.Master != "198.18.0.1" {
			t.Fatalf("after the stall: %s, master %q; want BACKUP under the waiting master", st.State, st.Master)
		}
		for _, tr := range st.Transitions {
			if tr.To == "MASTER" {
				t.Fatalf("spurious takeover: %+v", st.Transitions)
			}
		}
	})
}

// TestOneWayLossIsBounded: a master that hears a lower-priority master
// which cannot hear it (an asymmetric firewall) answers each advert, but
// announces, claims and logs at a bounded rate, not per packet.
func TestOneWayLossIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &lan{}
		cfgA, cfgB := seedVRRP(200), seedVRRP(100)
		ca := &fakeClaimer{}
		a := startNodeWith(t, l, "198.18.0.1", cfgA, ca)
		time.Sleep(5 * time.Second)
		b := startNode(t, l, "198.18.0.2", cfgB)
		b.conn.setDeaf(true)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if a.state(t) != "MASTER" || b.state(t) != "MASTER" {
			t.Fatalf("one-way loss: a %s, b %s; want both MASTER", a.state(t), b.state(t))
		}
		arps, calls := a.arp.count(), ca.counts
		claims, _ := calls()
		ca.mu.Lock()
		verifies := ca.verifies
		ca.mu.Unlock()
		span := 60 * time.Second
		time.Sleep(span)
		synctest.Wait()
		heals := int(span/(5*time.Second)) + 1
		if got, most := a.arp.count()-arps, heals*2*cfgA.GARP.Repeat; got > most {
			t.Errorf("%d ARPs in %v of one-way loss, want at most %d (one announce per 5 s)", got, span, most)
		}
		if c, _ := calls(); c != claims {
			t.Errorf("%d new claims during one-way loss, want none (the claim stands)", c-claims)
		}
		ca.mu.Lock()
		v := ca.verifies - verifies
		ca.mu.Unlock()
		if v > heals+2 || v == 0 {
			t.Errorf("%d routing checks in %v, want 1..%d", v, span, heals+2)
		}
		// Healed: b hears a again and steps down, yielding the VIP until
		// a's third advert (a's ARPs are rate-limited within the episode).
		b.conn.setDeaf(false)
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if a.state(t) != "MASTER" || b.state(t) != "BACKUP" || b.vips.String() != "eth1 " {
			t.Errorf("after healing: a %s, b %s %q", a.state(t), b.state(t), b.vips)
		}
	})
}

// TestClaimRetriedAndReverified: while master, a failed claim is retried
// (never "failed" for good), and a VIP the cloud routes elsewhere is
// claimed again at the next check.
func TestClaimRetriedAndReverified(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ca := &fakeClaimer{fail: errors.New("ncp: the server-role keys were refreshed 2 times and are still rejected")}
		a := startNodeWith(t, &lan{}, "198.18.0.1", seedVRRP(200), ca)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if c := a.status(t).Cloud; c.State != control.ClaimRetrying || c.Error == "" || c.NextTry.IsZero() {
			t.Fatalf("after a failed claim: %+v", c)
		}
		ca.set(func(f *fakeClaimer) { f.fail = nil })
		time.Sleep(claimRetryFirst + time.Second)
		synctest.Wait()
		if c := a.status(t).Cloud; c.State != control.ClaimClaimed || c.Claims != 1 {
			t.Fatalf("after the API works again: %+v", c)
		}
		// The peer's late request moves the VIP: the next check claims it back.
		ca.set(func(f *fakeClaimer) { f.moved = []netip.Addr{vip100.Addr()} })
		calls, _ := ca.counts()
		time.Sleep(verifyEvery + time.Second)
		synctest.Wait()
		if c, _ := ca.counts(); c != calls+1 {
			t.Errorf("claims after the VIP moved: %d more, want 1", c-calls)
		}
		if c := a.status(t).Cloud; c.State != control.ClaimClaimed || c.Claims != 2 || c.LastVerify.IsZero() {
			t.Errorf("after reclaiming: %+v", c)
		}
	})
}

// TestStatusMakesNoSystemCall: a status request is answered from what the
// loop knows: no address dump (a slow rtnl must not stall the adverts).
func TestStatusMakesNoSystemCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, _ := electedPair(t)
		var lists int
		a.vips.set(func(f *fakeAddrs) {
			f.failList = func() error { lists++; return nil }
		})
		for range 100 {
			a.status(t)
		}
		a.vips.mu.Lock()
		n := lists
		a.vips.mu.Unlock()
		if n != 0 {
			t.Errorf("100 status requests listed the addresses %d times", n)
		}
	})
}

// TestStatusLineIsBounded: a huge unhealthy reason (thousands of failing
// backends) still gives systemd a STATUS= it accepts.
func TestStatusLineIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, h := startHealthNode(t, &lan{}, "198.18.0.1", seedVRRP(200))
		synctest.Wait()
		h.set(false, strings.Repeat("backend be_x: 0/4 servers UP (need 1); ", 2000))
		synctest.Wait()
		msgs := a.notify.messages()
		last := msgs[len(msgs)-1]
		if !strings.HasPrefix(last, "STATUS=BACKUP prio 1 haproxy DOWN: backend be_x") || len(last) > len("STATUS=")+maxStatusLine {
			t.Errorf("STATUS= of %d bytes: %.80q…", len(last), last)
		}
	})
}

// TestReloadWhileUnhealthy: a reload on an unhealthy master (alone) keeps
// advertising the lowered priority; the next advert never carries the
// healthy one.
func TestReloadWhileUnhealthy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, h := startHealthNode(t, &lan{}, "198.18.0.1", seedVRRP(200))
		h.set(false, "haproxy socket: connection refused")
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if st := a.status(t); st.State != "MASTER" || st.EffectivePriority != 1 {
			t.Fatalf("unhealthy and alone: %s prio %d", st.State, st.EffectivePriority)
		}
		sent := len(a.conn.adverts())
		a.reconfigure(t, seedVRRP(220))
		time.Sleep(3 * time.Second)
		synctest.Wait()
		for _, ad := range a.conn.adverts()[sent:] {
			if ad.adv.Priority != 1 {
				t.Fatalf("an advert with priority %d after the reload, want 1 while unhealthy", ad.adv.Priority)
			}
		}
		if st := a.status(t); st.ConfiguredPriority != 220 || st.EffectivePriority != 1 {
			t.Errorf("after the reload: configured %d, effective %d", st.ConfiguredPriority, st.EffectivePriority)
		}
	})
}

// TestReloadChangesVIPs: a reload that swaps a VIP on the master adds and
// announces the new one, drops the old one, and peers keep accepting the
// adverts once they reload too.
func TestReloadChangesVIPs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := electedPair(t)
		next := []netip.Prefix{vip101}
		a.reconfigure(t, withVIPs(seedVRRP(200), next))
		b.reconfigure(t, withVIPs(seedVRRP(100), next))
		synctest.Wait()
		drops := b.status(t).Drops["address_set"] // a's advert of the new set, before b reloaded
		if a.vips.String() != "eth1 198.18.0.101/24" {
			t.Fatalf("a's VIPs after the reload: %q", a.vips)
		}
		if a.arp.arpsFor(vip101.Addr()) == 0 {
			t.Error("the new VIP was not announced")
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if a.state(t) != "MASTER" || b.state(t) != "BACKUP" || b.status(t).Drops["address_set"] != drops || b.vips.String() != "eth1 " {
			t.Errorf("after both reloaded: a %s, b %s (drops %v, %q)", a.state(t), b.state(t), b.status(t).Drops, b.vips)
		}
	})
}

// TestNodeReload drives the whole reload path (Load, the schema's plan,
// validation, the instance) as SIGHUP does: live changes apply in place; a
// new identity restarts the instance inside the process (for Run to start
// the next one), without telling systemd the daemon stops.
func TestNodeReload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, _ := electedPair(t)
		cur := &config.Config{VRRP: seedVRRP(200), Control: config.Control{Socket: "/run/a.sock", StateDir: "/var/lib/proxypair"}, Log: config.Log{Level: "info", Format: "text"},
			Health: config.Health{Weight: -254}}
		var next config.Config
		n := &node{inst: a.in, cfg: cur, o: Options{Log: a.in.log, Notifier: nopNotifier{}, Load: func() (*config.Config, []config.Problem, error) {
			c := next
			return &c, nil, nil
		}}}
		n.stopInst = a.stop
		next = *cur
		next.VRRP = seedVRRP(150)
		next.VRRP.VirtualIPs = []netip.Prefix{vip100, vip101}
		n.reload(context.Background())
		synctest.Wait()
		st := a.status(t)
		if st.ConfiguredPriority != 150 || len(st.VIPs) != 2 || st.State != "MASTER" {
			t.Fatalf("after the reload: %s priority %d, VIPs %v", st.State, st.ConfiguredPriority, st.VIPs)
		}
		if a.vips.String() != "eth1 198.18.0.100/24 198.18.0.101/24" {
			t.Errorf("addresses after the reload: %q", a.vips)
		}
		if n.takeRestart() != nil {
			t.Error("a live reload asked for a restart")
		}
		// A new identity: the instance stops for Run to start the next.
		next.VRRP.Interface = "eth7"
		n.reload(context.Background())
		synctest.Wait()
		if err := <-a.done; err != nil {
			t.Fatalf("the instance's run: %v", err)
		}
		a.done <- nil
		if c := n.takeRestart(); c == nil || c.VRRP.Interface != "eth7" || c.VRRP.Priority != 150 {
			t.Fatalf("restart asked for %+v", c)
		}
		if slices.Contains(a.notify.messages(), "STOPPING=1") {
			t.Error("a restart inside the process told systemd the daemon stops")
		}
	})
}
