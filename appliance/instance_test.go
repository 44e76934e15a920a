package appliance

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/proxypair/proxypair/appliance/config"
	"github.com/proxypair/proxypair/appliance/control"
	"github.com/proxypair/proxypair/appliance/netio"
	"github.com/proxypair/proxypair/appliance/vrrp"
)

var vip100 = netip.MustParsePrefix("198.18.0.100/24")

// seedVRRP is the seed's keepalived settings (v2, PASS, VRID 51, 1 s).
func seedVRRP(prio int) config.VRRP {
	return config.VRRP{
		Interface:      "eth1",
		VRID:           51,
		Priority:       prio,
		Version:        2,
		AdvertInterval: time.Second,
		Preempt:        true,
		AuthPass:       "pass1234",
		VirtualIPs:     []netip.Prefix{vip100},
		V3Checksum:     config.ChecksumPseudoHeader,
		GARP:           config.GARP{Repeat: 5, Delay: 5 * time.Second},
	}
}

type testNode struct {
	in     *instance
	conn   *fakeConn // the first sockets; see conns
	conns  []*fakeConn
	vips   *fakeAddrs
	arp    *fakeARP
	watch  *fakeWatch
	notify *fakeNotifier
	log    *logRecorder
	stop   context.CancelFunc
	done   chan error
}

// testLabel is the VIPs' label in these tests (eth1, VRID 51).
const testLabel = "eth1:pp51"

// startNode runs an instance on l with address addr. Call inside a bubble.
func startNode(t *testing.T, l *lan, addr string, cfg config.VRRP) *testNode {
	t.Helper()
	return startNodeWith(t, l, addr, cfg, nil)
}

// electedPair starts the seed's pair on a fake LAN, a (priority 200) and b
// (100), and lets 10 s of bubble time pass: a is master by then.
func electedPair(t *testing.T) (a, b *testNode) {
	l := &lan{}
	a = startNode(t, l, "198.18.0.1", seedVRRP(200))
	b = startNode(t, l, "198.18.0.2", seedVRRP(100))
	time.Sleep(10 * time.Second)
	synctest.Wait()
	return a, b
}

// startNodeWith is startNode with a cloud claimer.
func startNodeWith(t *testing.T, l *lan, addr string, cfg config.VRRP, claimer Claimer) *testNode {
	t.Helper()
	return startNodeEnv(t, l, addr, cfg, func(e *env) {
		if claimer != nil {
			e.claimer, e.provider = claimer, "fake"
		}
	})
}

// startNodeEnv is startNode with changes to the instance's environment.
func startNodeEnv(t *testing.T, l *lan, addr string, cfg config.VRRP, change func(*env)) *testNode {
	t.Helper()
	src := netip.MustParseAddr(addr)
	n := &testNode{
		conn:   newFakeConn(l, src),
		vips:   newFakeAddrs(testLabel),
		arp:    &fakeARP{},
		notify: &fakeNotifier{},
		log:    &logRecorder{},
		done:   make(chan error, 1),
	}
	n.watch = newFakeWatch(true, n.vips)
	e := env{
		src: src,
		openConn: func(bool) (Conn, error) {
			// The first sockets are n.conn; the interface re-created gets new ones.
			c := n.conn
			if len(n.conns) > 0 {
				c = newFakeConn(l, src)
			}
			n.conns = append(n.conns, c)
			return c, nil
		},
		addrs: n.vips, label: testLabel, openARP: n.arp.open, watch: n.watch.watch, notifier: n.notify,
	}
	if l != nil {
		n.arp.lan = l
		e.watchARP = l.watchARP(n.arp)
	}
	if change != nil {
		change(&e)
	}
	in, err := newInstance(cfg, -254, e, slog.New(n.log))
	if err != nil {
		t.Fatal(err)
	}
	n.in = in
	ctx, cancel := context.WithCancel(context.Background())
	n.stop = cancel
	go func() { n.done <- in.run(ctx, func() { n.notify.Ready() }) }()
	t.Cleanup(func() {
		cancel()
		<-n.done
	})
	return n
}

// status asks the instance goroutine for its snapshot, as the control
// socket does.
func (n *testNode) status(t *testing.T) control.Instance {
	t.Helper()
	var st control.Instance
	if err := n.in.call(context.Background(), func(now time.Time) { st = n.in.snapshot(now) }); err != nil {
		t.Fatal(err)
	}
	return st
}

func (n *testNode) state(t *testing.T) string { return n.status(t).State }

// reconfigure applies cfg as a reload does.
func (n *testNode) reconfigure(t *testing.T, cfg config.VRRP) {
	t.Helper()
	var err error
	if cerr := n.in.call(context.Background(), func(now time.Time) { err = n.in.reconfigure(now, cfg, -254) }); cerr != nil {
		t.Fatal(cerr)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// lastChange is when the instance last changed state.
func (n *testNode) lastChange(t *testing.T) time.Time {
	t.Helper()
	tr := n.status(t).Transitions
	if len(tr) == 0 {
		t.Fatal("no transitions")
	}
	return tr[len(tr)-1].At
}

// stopAndWait stops the node gracefully and waits for run to return.
func (n *testNode) stopAndWait(t *testing.T) {
	t.Helper()
	n.stop()
	if err := <-n.done; err != nil {
		t.Fatalf("run: %v", err)
	}
	n.done <- nil // for the cleanup
}

func TestSingleNodeBecomesMaster(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		n := startNode(t, &lan{}, "198.18.0.1", seedVRRP(200))
		synctest.Wait()
		if got := n.state(t); got != "BACKUP" {
			t.Fatalf("at start: %s, want BACKUP (RFC: Initialize → Backup)", got)
		}
		if got := n.notify.messages(); !slices.Contains(got, "READY=1") || !slices.Contains(got, "STATUS=BACKUP prio 200") {
			t.Errorf("notify at start: %v", got)
		}

		// v2, priority 200: Master_Down = 3 s + (256-200)/256 s.
		time.Sleep(3*time.Second + 218750*time.Microsecond)
		synctest.Wait()
		if got := n.state(t); got != "MASTER" {
			t.Fatalf("after Master_Down: %s", got)
		}
		if got, want := n.lastChange(t).Sub(start), 3218750*time.Microsecond; got != want {
			t.Errorf("became master after %v, want exactly %v", got, want)
		}
		if got := n.vips.String(); got != "eth1 198.18.0.100/24" {
			t.Errorf("addresses: %q", got)
		}
		ads := n.conn.adverts()
		if len(ads) != 1 || ads[0].adv.Priority != 200 || ads[0].dst != vrrp.MulticastGroup || ads[0].adv.AuthData != [8]byte{'p', 'a', 's', 's', '1', '2', '3', '4'} {
			t.Fatalf("adverts on takeover: %+v", ads)
		}
		if got := n.arp.count(); got != 5 {
			t.Errorf("gratuitous ARPs on takeover: %d, want 5", got)
		}

		time.Sleep(5 * time.Second)
		synctest.Wait()
		if got := n.arp.count(); got != 10 {
			t.Errorf("gratuitous ARPs 5 s later: %d, want 10", got)
		}
		if got := len(n.conn.adverts()); got != 6 {
			t.Errorf("adverts after 5 s as master: %d, want 6 (one a second)", got)
		}

		// Graceful stop: STOPPING=1, one priority-0 advert, then no VIP.
		n.stopAndWait(t)
		if got := n.notify.messages(); !slices.Contains(got, "STOPPING=1") {
			t.Errorf("no STOPPING=1 at shutdown: %v", got)
		}
		ads = n.conn.adverts()
		if last := ads[len(ads)-1].adv; last.Priority != 0 {
			t.Errorf("last advert priority %d, want 0", last.Priority)
		}
		if got := n.vips.String(); got != "eth1 " {
			t.Errorf("VIPs after stop: %q", got)
		}
	})
}

func TestElectionFailoverPreemption(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := electedPair(t)
		if sa, sb := a.state(t), b.state(t); sa != "MASTER" || sb != "BACKUP" {
			t.Fatalf("election: a %s, b %s", sa, sb)
		}
		if a.vips.String() != "eth1 198.18.0.100/24" || b.vips.String() != "eth1 " {
			t.Fatalf("VIP on exactly one node: a %q, b %q", a.vips, b.vips)
		}
		if st := b.status(t); st.Master != "198.18.0.1" {
			t.Errorf("b's master = %q", st.Master)
		}

		// a's link goes down: a → FAULT without the VIP; b takes over.
		down := time.Now()
		a.conn.setUp(false)
		a.watch.setUp(false)
		synctest.Wait()
		if got := a.state(t); got != "FAULT" || a.vips.String() != "eth1 " {
			t.Fatalf("a after link down: %s, %q", got, a.vips)
		}
		time.Sleep(4 * time.Second)
		synctest.Wait()
		if got := b.state(t); got != "MASTER" {
			t.Fatalf("b after a's link went down: %s", got)
		}
		// b's timer started at a's last advert, at most 1 s before down.
		if took := b.lastChange(t).Sub(down); took > 3609375*time.Microsecond || took < 2609375*time.Microsecond {
			t.Errorf("b took over %v after the link went down, want Master_Down (3.609375 s) minus < 1 s", took)
		}

		// The link returns: a preempts the lower-priority b.
		a.conn.setUp(true)
		a.watch.setUp(true)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if sa, sb := a.state(t), b.state(t); sa != "MASTER" || sb != "BACKUP" {
			t.Fatalf("after link up: a %s, b %s", sa, sb)
		}
		if b.vips.String() != "eth1 " {
			t.Errorf("b kept the VIP: %q", b.vips)
		}
		reasons := []string{}
		for _, tr := range a.status(t).Transitions {
			reasons = append(reasons, tr.To+"/"+tr.Reason)
		}
		want := []string{"BACKUP/startup", "MASTER/master_down", "FAULT/link_down", "BACKUP/link_up", "MASTER/preempt_lower_priority"}
		if len(reasons) != len(want) {
			t.Fatalf("a's transitions %v, want %v", reasons, want)
		}
		for i := range want {
			if reasons[i] != want[i] {
				t.Fatalf("a's transitions %v, want %v", reasons, want)
			}
		}
	})
}

func TestNoPreemptKeepsMaster(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &lan{}
		b := startNode(t, l, "198.18.0.2", seedVRRP(100))
		time.Sleep(5 * time.Second)
		cfg := seedVRRP(200)
		cfg.Preempt = false
		a := startNode(t, l, "198.18.0.1", cfg)
		time.Sleep(20 * time.Second)
		synctest.Wait()
		if sa, sb := a.state(t), b.state(t); sa != "BACKUP" || sb != "MASTER" {
			t.Fatalf("preempt false: a %s, b %s; want the running master kept", sa, sb)
		}
	})
}

func TestGracefulStopHandsOverAfterSkew(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := electedPair(t)
		stopped := time.Now()
		a.stopAndWait(t)
		time.Sleep(time.Second)
		synctest.Wait()
		if got := b.state(t); got != "MASTER" {
			t.Fatalf("b after a stopped: %s", got)
		}
		// Skew_Time for priority 100 = 156/256 s.
		if got, want := b.lastChange(t).Sub(stopped), 609375*time.Microsecond; got != want {
			t.Errorf("hand-over took %v, want Skew_Time %v", got, want)
		}
		if tr := b.status(t).Transitions; tr[len(tr)-1].Reason != "peer_resigned" {
			t.Errorf("reason %q", tr[len(tr)-1].Reason)
		}
	})
}

// TestBadPacketsChangeNothing: a flood of adverts that fail a check leaves
// the state alone, is counted per reason, and logs a line per reason per
// period, not per packet.
func TestBadPacketsChangeNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := electedPair(t)

		good := vrrp.Advertisement{
			Version: vrrp.Version2, Type: vrrp.TypeAdvertisement, VRID: 51, Priority: 254,
			AuthType: vrrp.AuthSimple, Interval: time.Second, Addresses: []netip.Addr{vip100.Addr()},
		}
		copy(good.AuthData[:], "pass1234")
		evil := netip.MustParseAddr("198.18.0.9")
		for _, tc := range []struct {
			reason string
			mutate func(*vrrp.Advertisement)
			src    netip.Addr
		}{
			{"password", func(a *vrrp.Advertisement) { copy(a.AuthData[:], "wrongpw!") }, evil},
			{"vrid", func(a *vrrp.Advertisement) { a.VRID = 52 }, evil},
			{"interval", func(a *vrrp.Advertisement) { a.Interval = 2 * time.Second }, evil},
			{"address_set", func(a *vrrp.Advertisement) { a.Addresses = []netip.Addr{netip.MustParseAddr("198.18.0.101")} }, evil},
			{"own_address", func(*vrrp.Advertisement) {}, b.conn.src},
		} {
			adv := good
			tc.mutate(&adv)
			payload, err := adv.Marshal(tc.src, vrrp.MulticastGroup, vrrp.PseudoHeader)
			if err != nil {
				t.Fatal(err)
			}
			for range 500 {
				b.conn.inject(netio.Packet{Packet: vrrp.Packet{Src: tc.src, Dst: vrrp.MulticastGroup, TTL: 255, Payload: payload}})
			}
			synctest.Wait()
			st := b.status(t)
			if st.State != "BACKUP" || st.Master != "198.18.0.1" {
				t.Fatalf("%s flood changed b: %s, master %s", tc.reason, st.State, st.Master)
			}
			if got := st.Drops[tc.reason]; got != 500 {
				t.Errorf("drops[%s] = %d, want 500", tc.reason, got)
			}
			msg := "dropped VRRP packet"
			if tc.reason == "vrid" {
				msg = "ignoring VRRP of another virtual router"
			}
			if got := b.log.count(msg, tc.reason); got != 1 {
				t.Errorf("%s: %d log lines for 500 drops in one period, want 1", tc.reason, got)
			}
		}
		if a.state(t) != "MASTER" || b.vips.String() != "eth1 " {
			t.Errorf("bad packets moved the VIP: a %s, b %q", a.state(t), b.vips)
		}
		// What b knows of each router it hears: the master's adverts, and
		// the evil one's drops by reason (our own reflections are not a
		// peer).
		heard := map[string]control.Peer{}
		for _, p := range b.status(t).Heard {
			heard[p.Address] = p
		}
		if p := heard["198.18.0.1"]; p.Priority != 200 || p.Adverts == 0 || len(p.Drops) != 0 {
			t.Errorf("b's view of the master: %+v", p)
		}
		if p := heard["198.18.0.9"]; p.Adverts != 0 || p.Drops["password"] != 500 || p.Drops["vrid"] != 500 {
			t.Errorf("b's view of the evil router: %+v", p)
		}
		if _, ok := heard["198.18.0.2"]; ok || len(heard) != 2 {
			t.Errorf("b heard %v", heard)
		}

		// The next period logs again, with the count of the suppressed ones.
		time.Sleep(logEvery)
		payload, _ := func() ([]byte, error) {
			adv := good
			copy(adv.AuthData[:], "wrongpw!")
			return adv.Marshal(evil, vrrp.MulticastGroup, vrrp.PseudoHeader)
		}()
		b.conn.inject(netio.Packet{Packet: vrrp.Packet{Src: evil, Dst: vrrp.MulticastGroup, TTL: 255, Payload: payload}})
		synctest.Wait()
		if got := b.log.count("dropped VRRP packet", "password"); got != 2 {
			t.Errorf("password log lines after a period: %d, want 2", got)
		}
		// Another virtual router on the link is normal: it is said once
		// (info), then only at debug level, never as a warning.
		vrid := func() []byte {
			adv := good
			adv.VRID = 52
			p, _ := adv.Marshal(evil, vrrp.MulticastGroup, vrrp.PseudoHeader)
			return p
		}()
		b.conn.inject(netio.Packet{Packet: vrrp.Packet{Src: evil, Dst: vrrp.MulticastGroup, TTL: 255, Payload: vrid}})
		synctest.Wait()
		if got := b.log.levels("ignoring VRRP of another virtual router"); !slices.Equal(got, []slog.Level{slog.LevelInfo, slog.LevelDebug}) {
			t.Errorf("levels of the foreign-VRID lines: %v, want one INFO then DEBUG", got)
		}
	})
}

func TestUnicastAcceptsOnlyPeers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &lan{}
		cfgA, cfgB := seedVRRP(200), seedVRRP(100)
		cfgA.UnicastPeers = []netip.Addr{netip.MustParseAddr("198.18.0.2")}
		cfgB.UnicastPeers = []netip.Addr{netip.MustParseAddr("198.18.0.1")}
		a := startNode(t, l, "198.18.0.1", cfgA)
		b := startNode(t, l, "198.18.0.2", cfgB)
		stranger := newFakeConn(l, netip.MustParseAddr("198.18.0.3"))
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if a.state(t) != "MASTER" || b.state(t) != "BACKUP" {
			t.Fatalf("unicast election: a %s, b %s", a.state(t), b.state(t))
		}
		for _, ad := range a.conn.adverts() {
			if ad.dst != netip.MustParseAddr("198.18.0.2") {
				t.Fatalf("unicast advert sent to %v", ad.dst)
			}
		}
		adv := vrrp.Advertisement{Version: vrrp.Version2, Type: vrrp.TypeAdvertisement, VRID: 51, Priority: 254,
			AuthType: vrrp.AuthSimple, Interval: time.Second, Addresses: []netip.Addr{vip100.Addr()}}
		copy(adv.AuthData[:], "pass1234")
		payload, _ := adv.Marshal(stranger.src, b.conn.src, vrrp.PseudoHeader)
		stranger.Send(payload, b.conn.src)
		synctest.Wait()
		st := b.status(t)
		if st.Drops["unknown_peer"] != 1 || st.Master != "198.18.0.1" {
			t.Errorf("advert from an unlisted peer: drops %v, master %s", st.Drops, st.Master)
		}
	})
}

func TestWatchdogPingsFromLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := startNode(t, &lan{}, "198.18.0.1", seedVRRP(200))
		time.Sleep(10*time.Second + time.Millisecond)
		synctest.Wait()
		pings := 0
		for _, m := range n.notify.messages() {
			if m == "WATCHDOG=1" {
				pings++
			}
		}
		// WatchdogInterval 1 s → a ping every second.
		if pings != 10 {
			t.Errorf("%d watchdog pings in 10 s, want 10", pings)
		}
	})
}

func TestReconfigure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := electedPair(t)

		// Raise b above a: b preempts after Master_Down.
		cfg := seedVRRP(250)
		b.reconfigure(t, cfg)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if a.state(t) != "BACKUP" || b.state(t) != "MASTER" {
			t.Fatalf("after raising b's priority: a %s, b %s", a.state(t), b.state(t))
		}

		// A second VIP on the master appears at once.
		cfg.VirtualIPs = append(cfg.VirtualIPs, netip.MustParsePrefix("198.18.0.101/24"))
		a.reconfigure(t, withVIPs(seedVRRP(200), cfg.VirtualIPs))
		b.reconfigure(t, cfg)
		synctest.Wait()
		if got := b.vips.String(); got != "eth1 198.18.0.100/24 198.18.0.101/24" {
			t.Errorf("b's addresses after adding a VIP: %q", got)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if a.state(t) != "BACKUP" || b.state(t) != "MASTER" || len(a.status(t).Drops) != 0 {
			t.Errorf("after both reloaded: a %s (drops %v), b %s", a.state(t), a.status(t).Drops, b.state(t))
		}
	})
}

func withVIPs(c config.VRRP, vips []netip.Prefix) config.VRRP {
	c.VirtualIPs = vips
	return c
}

// TestStartsInFaultWhenLinkDown: a node whose link is down at start-up waits
// in FAULT and never claims the VIP.
func TestStartsInFaultWhenLinkDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := startNodeEnv(t, &lan{}, "198.18.0.1", seedVRRP(200), func(e *env) {
			w := newFakeWatch(false, e.addrs.(*fakeAddrs))
			e.watch = w.watch
		})
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if st := n.status(t); st.State != "FAULT" || st.Link != "down" || n.vips.String() != "eth1 " {
			t.Errorf("link down at start: %s (link %s), %q", st.State, st.Link, n.vips)
		}
		if got := n.status(t).Transitions; len(got) != 1 || got[0].From != "INIT" || got[0].To != "FAULT" {
			t.Errorf("transitions %+v, want only INIT → FAULT", got)
		}
	})
}

// TestCloudClaimOnTakeover: the new master claims the VIPs once through the
// cloud API, and status reports it.
func TestCloudClaimOnTakeover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &lan{}
		ca, cb := &fakeClaimer{}, &fakeClaimer{}
		a := startNodeWith(t, l, "198.18.0.1", seedVRRP(200), ca)
		b := startNodeWith(t, l, "198.18.0.2", seedVRRP(100), cb)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if calls, _ := ca.counts(); calls != 1 {
			t.Errorf("master a claimed %d times, want 1", calls)
		}
		if calls, _ := cb.counts(); calls != 0 {
			t.Errorf("backup b claimed %d times, want 0", calls)
		}
		if c := a.status(t).Cloud; c == nil || c.State != control.ClaimClaimed || c.Attempts != 1 || time.Duration(c.Latency) != 300*time.Millisecond {
			t.Errorf("a's cloud status: %+v", c)
		}

		a.stopAndWait(t)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if calls, _ := cb.counts(); calls != 1 || b.state(t) != "MASTER" {
			t.Errorf("after a stopped: b %s, claimed %d times, want MASTER and 1", b.state(t), calls)
		}
	})
}

// TestCloudAPIDownDoesNotSlowVRRP: a claim that never finishes neither delays
// adverts nor outlives mastership.
func TestCloudAPIDownDoesNotSlowVRRP(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &lan{}
		ca := &fakeClaimer{block: true}
		a := startNodeWith(t, l, "198.18.0.1", seedVRRP(200), ca)
		time.Sleep(3*time.Second + 218750*time.Microsecond) // Master_Down for priority 200
		synctest.Wait()
		if a.state(t) != "MASTER" {
			t.Fatalf("a: %s", a.state(t))
		}
		sent := len(a.conn.adverts())
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if got := len(a.conn.adverts()) - sent; got != 10 {
			t.Errorf("%d adverts in 10 s while the API hangs, want 10", got)
		}
		if c := a.status(t).Cloud; c.State != control.ClaimClaiming {
			t.Errorf("cloud state %q, want claiming", c.State)
		}

		// A higher-priority peer takes over: the hanging claim is cancelled.
		b := startNode(t, l, "198.18.0.2", seedVRRP(250))
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if a.state(t) != "BACKUP" || b.state(t) != "MASTER" {
			t.Fatalf("a %s, b %s", a.state(t), b.state(t))
		}
		if calls, cancelled := ca.counts(); calls != 1 || cancelled != 1 {
			t.Errorf("claims %d, cancelled %d; want 1 and 1", calls, cancelled)
		}
		if c := a.status(t).Cloud; c.State != control.ClaimCancelled {
			t.Errorf("cloud state after leaving master %q", c.State)
		}
	})
}

// floodConn is a Conn with n packets ready to read at once, then nothing.
type floodConn struct {
	*fakeConn
	p netio.Packet
	n *int
}

func (f floodConn) Read(b []byte) (netio.Packet, error) {
	if *f.n == 0 {
		return f.fakeConn.Read(b) // blocks until closed
	}
	*f.n--
	select {
	case <-f.closed:
		return netio.Packet{}, net.ErrClosed
	default:
		f.p.At = time.Now()
		return f.p, nil
	}
}

// TestStopDuringFlood: a graceful stop completes while packets keep coming
// (the reader must not wait forever on a loop that stopped reading).
func TestStopDuringFlood(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		adv := vrrp.Advertisement{Version: vrrp.Version2, Type: vrrp.TypeAdvertisement, VRID: 52, Priority: 200,
			AuthType: vrrp.AuthSimple, Interval: time.Second, Addresses: []netip.Addr{vip100.Addr()}}
		evil := netip.MustParseAddr("198.18.0.9")
		payload, _ := adv.Marshal(evil, vrrp.MulticastGroup, vrrp.PseudoHeader)
		left := 10000 // read only by the reader goroutine
		n := startNodeEnv(t, &lan{}, "198.18.0.2", seedVRRP(100), func(e *env) {
			open := e.openConn
			e.openConn = func(m bool) (Conn, error) {
				c, err := open(m)
				return floodConn{fakeConn: c.(*fakeConn), n: &left,
					p: netio.Packet{Packet: vrrp.Packet{Src: evil, Dst: vrrp.MulticastGroup, TTL: 255, Payload: payload}}}, err
			}
		})
		n.stopAndWait(t) // synctest reports a deadlock if this never returns
	})
}

// TestGracefulStopMakeBeforeBreak: a stopping master keeps the VIP until the
// peer has taken over, then drops it; alone, it drops it after the wait.
func TestGracefulStopMakeBeforeBreak(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := electedPair(t)

		a.stop()
		synctest.Wait()
		if a.vips.String() != "eth1 198.18.0.100/24" || b.state(t) != "BACKUP" {
			t.Fatalf("right after the priority-0 advert: a %q, b %s; want a still serving", a.vips, b.state(t))
		}
		time.Sleep(609375 * time.Microsecond) // b's Skew_Time
		synctest.Wait()
		if b.state(t) != "MASTER" || a.vips.String() != "eth1 " {
			t.Fatalf("after b's takeover: b %s, a %q; want a's VIP gone", b.state(t), a.vips)
		}
		if err := <-a.done; err != nil {
			t.Fatal(err)
		}
		a.done <- nil

		// b is alone now: it waits for a taker, then drops the VIP anyway.
		start := time.Now()
		b.stopAndWait(t)
		if waited := time.Since(start); waited != 1100*time.Millisecond {
			t.Errorf("alone, b kept the VIP %v, want handOverWait (1.1 s at v2)", waited)
		}
		if b.vips.String() != "eth1 " {
			t.Errorf("b's VIP after stopping alone: %q", b.vips)
		}
	})
}

// TestPreemptedMasterYields: a master preempted by a higher priority keeps
// its VIPs, silently, until the new master holds them. Here the new
// master's gratuitous ARPs cannot go out (its ARP socket will not open), so
// the proof is its third advert, two intervals after the first (keepalived
// 1.3.9 adds the VIPs only then); before it the old master still serves,
// and from the preemption on it sends no ARP of its own (one would take
// the clients back).
func TestPreemptedMasterYields(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &lan{}
		b := startNode(t, l, "198.18.0.2", seedVRRP(100))
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if got := b.state(t); got != "MASTER" {
			t.Fatalf("b alone: %s", got)
		}
		noARP := func() (ARP, error) {
			return nil, fmt.Errorf("garp: opening packet socket on eth1: %w", syscall.ENOBUFS)
		}
		a := startNodeEnv(t, l, "198.18.0.1", seedVRRP(200), func(e *env) { e.openARP = noARP })
		// a discards b's lower priority and takes over at its Master_Down.
		time.Sleep(3300 * time.Millisecond)
		synctest.Wait()
		if a.state(t) != "MASTER" || b.state(t) != "BACKUP" {
			t.Fatalf("after a's Master_Down: a %s, b %s", a.state(t), b.state(t))
		}
		preempted := b.lastChange(t)
		arps := b.arp.count()
		if b.vips.String() != "eth1 198.18.0.100/24" {
			t.Fatalf("b dropped the VIP at the preemption: %q", b.vips)
		}
		time.Sleep(preempted.Add(1999 * time.Millisecond).Sub(time.Now()))
		synctest.Wait()
		if b.vips.String() != "eth1 198.18.0.100/24" {
			t.Errorf("b dropped the VIP before a's third advert: %q", b.vips)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if b.vips.String() != "eth1 " {
			t.Errorf("b still holds the VIP after a's third advert: %q", b.vips)
		}
		if got := b.arp.count(); got != arps {
			t.Errorf("b sent %d gratuitous ARPs after it was preempted", got-arps)
		}
		if st := b.status(t); st.State != "BACKUP" || st.Master != "198.18.0.1" {
			t.Errorf("b: %s, master %q", st.State, st.Master)
		}
	})
}

// TestHandoverEndsOnPeersARP: a planned hand-over keeps the VIP until the
// peer announces it — its gratuitous ARP right after it takes over — not
// until its second advert one interval later.
func TestHandoverEndsOnPeersARP(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := electedPair(t)
		if err := a.in.call(context.Background(), func(now time.Time) {
			a.in.setMaintenance(now, &control.Maintenance{Since: now})
		}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if a.state(t) != "HANDOVER" || a.vips.String() != "eth1 198.18.0.100/24" {
			t.Fatalf("a right after the hand-over began: %s, %q", a.state(t), a.vips)
		}
		time.Sleep(609375*time.Microsecond + time.Millisecond) // b's Skew_Time
		synctest.Wait()
		if b.state(t) != "MASTER" {
			t.Fatalf("b: %s", b.state(t))
		}
		if a.state(t) != "BACKUP" || a.vips.String() != "eth1 " {
			t.Errorf("a 1 ms after b took over and announced the VIP: %s, %q; want BACKUP without it", a.state(t), a.vips)
		}
	})
}

// TestYieldingBackupLeavesTheCloudClaim: a preempted master keeps its VIPs
// on the interface while it yields, but it is no longer master: its cloud
// claim stops at the preemption. Here its periodic verify falls in the
// yield, after the new master has claimed the VIP: it must not claim the
// VIP back (the route would then point at a node about to drop it).
func TestYieldingBackupLeavesTheCloudClaim(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &lan{}
		cb := &fakeClaimer{}
		b := startNodeWith(t, l, "198.18.0.2", seedVRRP(100), cb)
		// b alone: master at its Master_Down (3.609 s), claimed 300 ms
		// later, verified 5 s after that (8.909 s).
		time.Sleep(5400 * time.Millisecond)
		noARP := func() (ARP, error) {
			return nil, fmt.Errorf("garp: opening packet socket on eth1: %w", syscall.ENOBUFS)
		}
		// a preempts at its Master_Down, 8.619 s; without its ARPs b
		// yields until a's third advert, 10.619 s.
		a := startNodeEnv(t, l, "198.18.0.1", seedVRRP(200), func(e *env) { e.openARP = noARP })
		time.Sleep(3300 * time.Millisecond)
		synctest.Wait()
		if a.state(t) != "MASTER" || b.state(t) != "BACKUP" || b.vips.String() != "eth1 198.18.0.100/24" {
			t.Fatalf("a %s, b %s holding %q; want a yield", a.state(t), b.state(t), b.vips)
		}
		cb.set(func(f *fakeClaimer) { f.moved = []netip.Addr{vip100.Addr()} }) // a claimed it
		// Past b's verify, still in the yield.
		time.Sleep(400 * time.Millisecond)
		synctest.Wait()
		if calls, _ := cb.counts(); calls != 1 {
			t.Errorf("b claimed %d times, want only its mastership's claim", calls)
		}
		if c := b.status(t).Cloud; c == nil || c.State == control.ClaimClaimed || c.State == control.ClaimClaiming {
			t.Errorf("b's cloud status while it yields: %+v", c)
		}
	})
}

// TestOldARPEndsNoLaterHandOver: a peer's gratuitous ARP that ended one
// hand-over does not end the next. b preempts a (its ARP ends a's yield),
// resigns 10 ms later (a takes the VIP back at once, as a pair), and a is
// stopped 10 ms after that: b's ARP, 20 ms old, is no answer to this stop
// (b is not taking over: it hears nothing now), so a keeps the VIP for the
// hand-over wait, not dropping it with nobody to take it.
func TestOldARPEndsNoLaterHandOver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &lan{}
		pair := func(prio int) config.VRRP { c := seedVRRP(prio); c.Pair = true; return c }
		a := startNode(t, l, "198.18.0.1", pair(100))
		time.Sleep(5 * time.Second)
		synctest.Wait()
		b, hb := startHealthNode(t, l, "198.18.0.2", pair(200))
		time.Sleep(3218750 * time.Microsecond) // b preempts at its Master_Down
		synctest.Wait()
		if a.state(t) != "BACKUP" || b.state(t) != "MASTER" || a.vips.String() != "eth1 " {
			t.Fatalf("after b's preemption: a %s holding %q, b %s", a.state(t), a.vips, b.state(t))
		}
		time.Sleep(b.lastChange(t).Add(10 * time.Millisecond).Sub(time.Now()))
		b.conn.setDeaf(true)
		hb.set(false, "haproxy down")
		synctest.Wait()
		if a.state(t) != "MASTER" {
			t.Fatalf("a after b resigned: %s", a.state(t))
		}
		time.Sleep(10 * time.Millisecond)
		a.stop()
		synctest.Wait()
		if a.vips.String() != "eth1 198.18.0.100/24" {
			t.Errorf("a dropped the VIP at once on an old ARP of b's, with nobody taking it: %q", a.vips)
		}
		if err := <-a.done; err != nil {
			t.Fatal(err)
		}
		a.done <- nil
	})
}
