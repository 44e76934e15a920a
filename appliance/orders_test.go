package appliance

import (
	"context"
	"errors"
	"log/slog"
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
	"github.com/proxypair/proxypair/appliance/ifwatch"
)

// Tests of unusual orders of events around the instance loop: calls,
// link changes and reports that arrive while it stops or after it ended.

// TestCallAfterStop: a status request (or a reload) that reaches the
// instance after its loop ended gets an error at once. It must not wait for
// its own context: a control-socket request's ends only when the client
// gives up, and the server's shutdown waits for it (up to 2 s).
func TestCallAfterStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, _ := electedPair(t)
		a.stopAndWait(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		res := make(chan error, 1)
		go func() { res <- a.in.call(ctx, func(time.Time) {}) }()
		synctest.Wait()
		select {
		case err := <-res:
			if err == nil {
				t.Error("a call after the loop ended reported success")
			}
		default:
			t.Fatal("a call after the loop ended blocks until its context ends")
		}
	})
}

// TestStartFailureClosesSockets: when start-up fails after the VRRP
// sockets were opened (the timerfd cannot be created: EMFILE), run closes
// them and tells systemd nothing: no READY=1 for a daemon that exits.
func TestStartFailureClosesSockets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := startNodeEnv(t, &lan{}, "198.18.0.1", seedVRRP(200), func(e *env) {
			e.newTimer = func() (timer, error) { return nil, errors.New("timerfd_create: too many open files") }
		})
		err := <-n.done
		n.done <- err // for the cleanup
		if err == nil {
			t.Fatal("run succeeded without its timer")
		}
		for _, c := range n.conns {
			select {
			case <-c.closed:
			default:
				t.Error("run failed and left its VRRP sockets open")
				c.Close() // let the reader end, so the bubble can
			}
		}
		if msgs := n.notify.messages(); slices.Contains(msgs, "READY=1") {
			t.Errorf("run failed after telling systemd it was ready: %v", msgs)
		}
	})
}

// TestInterfaceGoneHoldsNothing: an interface that does not exist holds no
// VIP of ours. While it is gone the keeper neither retries nor warns, and a
// stop finishes at once instead of waiting out finishWait and blaming VIPs
// that cannot be there.
func TestInterfaceGoneHoldsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := startNode(t, &lan{}, "198.18.0.1", seedVRRP(200))
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if a.state(t) != "MASTER" {
			t.Fatalf("alone: %s", a.state(t))
		}
		a.conn.setUp(false)
		a.vips.setGone(true)
		a.watch.set(ifwatch.Link{})
		synctest.Wait()
		// The keeper may have tried to put the VIP back before the loop
		// heard that the interface is gone: one warning then is fair.
		const warning = "VIPs: the interface does not match; retrying"
		warned := a.log.count(warning, "")
		time.Sleep(time.Minute)
		synctest.Wait()
		if st := a.status(t); st.State != "FAULT" || st.VIPProblem != "" {
			t.Fatalf("interface gone: %s, problem %q", st.State, st.VIPProblem)
		}
		if n := a.log.count(warning, "") - warned; n != 0 {
			t.Errorf("%d warnings in FAULT about the VIPs of an interface that does not exist", n)
		}
		start := time.Now()
		a.stopAndWait(t)
		if d := time.Since(start); d != 0 {
			t.Errorf("the stop took %v with no interface (and no VIP) left", d)
		}
		if n := a.log.count("stopping with VIPs of ours still on the interface; `proxypair cleanup` (ExecStopPost) removes them", ""); n != 0 {
			t.Errorf("the stop blamed VIPs on an interface that does not exist")
		}
	})
}

// TestReopenRetriesOnce: while the sockets cannot be opened on a
// re-created interface, one retry runs, whatever number of link events
// come meanwhile (a carrier flapping): each one must not start a retry
// loop of its own. The failure is logged at a bounded rate.
func TestReopenRetriesOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var (
			mu     sync.Mutex
			opens  int
			broken bool
		)
		a := startNodeEnv(t, &lan{}, "198.18.0.1", seedVRRP(200), func(e *env) {
			open := e.openConn
			e.openConn = func(m bool) (Conn, error) {
				mu.Lock()
				defer mu.Unlock()
				opens++
				if broken {
					return nil, syscall.ENODEV
				}
				return open(m)
			}
		})
		synctest.Wait()
		mu.Lock()
		broken = true
		mu.Unlock()
		l := ifwatch.Link{Exists: true, Index: 9, Up: true, MAC: net.HardwareAddr{2, 0, 0, 0, 0, 9}}
		a.watch.set(l)
		for range 6 { // ends up
			l.Up = !l.Up
			a.watch.set(l)
		}
		synctest.Wait()
		mu.Lock()
		before := opens
		mu.Unlock()
		span := 20 * time.Second
		time.Sleep(span)
		synctest.Wait()
		mu.Lock()
		n := opens - before
		mu.Unlock()
		if most := int(span/reopenRetry) + 1; n > most {
			t.Errorf("%d attempts to open the sockets in %v, want at most %d (one retry per %v)", n, span, most, reopenRetry)
		}
		if got, most := a.log.count("opening the VRRP sockets failed; retrying", ""), int(span/logEvery)+2; got > most {
			t.Errorf("%d log lines for the failing reopen in %v, want at most %d", got, span, most)
		}
		// It works again: one set of sockets, a working router.
		mu.Lock()
		broken = false
		mu.Unlock()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if st := a.status(t); st.State != "MASTER" || st.Link != "up" {
			t.Errorf("after the sockets open again: %s, link %s", st.State, st.Link)
		}
	})
}

// TestVIPsFailedAloneDoesNotFlap: a node alone that cannot add its VIP (no
// permission) resigns, and with no peer to take over its Master_Down_Timer
// makes it master again. It must not fail, resign and take over again at
// every Master_Down_Interval (at 10 ms adverts, 30 times a second, with an
// error line, two state changes and a STATUS= each time): the hold that
// keeps it from preempting a peer also spaces its own attempts.
func TestVIPsFailedAloneDoesNotFlap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := seedVRRP(200)
		cfg.Version, cfg.AuthPass, cfg.AdvertInterval = 3, "", 10*time.Millisecond
		a := startNodeEnv(t, &lan{}, "198.18.0.1", cfg, func(e *env) {
			e.addrs.(*fakeAddrs).failAdd = failing(-1, syscall.EPERM)
		})
		span := time.Minute
		time.Sleep(span)
		synctest.Wait()
		// Holds of 10 s, 20 s, 40 s: at most 3 attempts in a minute.
		if got := a.log.count("cannot hold the VIPs: handing the pair to the peer", "vips_failed"); got > 4 {
			t.Errorf("%d resigns in %v alone with a VIP it cannot add, want at most 4", got, span)
		}
		if st := a.status(t); st.State != "BACKUP" || st.PreemptHeldUntil.IsZero() {
			t.Errorf("alone, failing: %s, held until %v", st.State, st.PreemptHeldUntil)
		}
	})
}

// TestReloadRefusesOwnSourceAsPeer: a reload that lists this node's own
// advert source as a unicast peer is refused whole, as start-up refuses it
// (the node would talk to itself and never hear its real peer), and none of
// it is applied: not even the log level.
func TestReloadRefusesOwnSourceAsPeer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, _ := electedPair(t)
		cur := &config.Config{VRRP: seedVRRP(200), Control: config.Control{Socket: "/run/a.sock", StateDir: "/var/lib/proxypair"}, Log: config.Log{Level: "info", Format: "text"},
			Health: config.Health{Weight: -254}}
		var level slog.LevelVar
		next := *cur
		next.VRRP = seedVRRP(150)
		next.VRRP.UnicastPeers = []netip.Addr{netip.MustParseAddr("198.18.0.1")} // a's own source
		next.Log.Level = "debug"
		n := &node{inst: a.in, cfg: cur, o: Options{Log: a.in.log, Level: &level, Notifier: nopNotifier{},
			Load: func() (*config.Config, []config.Problem, error) { return &next, nil, nil }}}
		n.reload(context.Background())
		synctest.Wait()
		if st := a.status(t); st.ConfiguredPriority != 200 || len(st.Peers) != 0 {
			t.Errorf("a reload naming our own source as the peer was applied: priority %d, peers %v", st.ConfiguredPriority, st.Peers)
		}
		if level.Level() != slog.LevelInfo {
			t.Errorf("a refused reload changed the log level to %v", level.Level())
		}
		if n.cfg != cur {
			t.Errorf("a refused reload replaced the running config")
		}
	})
}

// TestARPSocketOpenRetried: the gratuitous-ARP socket fails to open once,
// at a takeover (ENOBUFS). The open is retried and the VIP announced: one
// failed open must not silence the node's ARPs until the interface
// changes.
func TestARPSocketOpenRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := electedPair(t)
		b.arp.mu.Lock()
		b.arp.failOpens = 1
		b.arp.mu.Unlock()
		a.stopAndWait(t) // b takes over; its first open fails
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if b.state(t) != "MASTER" {
			t.Fatalf("b: %s", b.state(t))
		}
		if n := b.arp.arpsFor(vip100.Addr()); n == 0 {
			t.Errorf("b took over and sent no gratuitous ARP for the VIP after one failed open of the ARP socket")
		}
	})
}

// TestForeignVIPOnBackupIsReported: someone puts a VIP on the backup's
// interface by hand (or networkd from an old config). The backup must not
// remove it (it is not ours), but two hosts now answer for the VIP: the
// status and the log must say so, as they do on the master.
func TestForeignVIPOnBackupIsReported(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, b := electedPair(t)
		b.vips.put(vip100, "eth1")
		synctest.Wait()
		if st := b.status(t); st.State != "BACKUP" || !strings.Contains(st.VIPProblem, "198.18.0.100/24") {
			t.Errorf("a backup with the VIP put there by someone else: %s, problem %q", st.State, st.VIPProblem)
		}
		if !slices.ContainsFunc(b.notify.messages(), func(m string) bool { return strings.Contains(m, "not put there by proxypair") }) {
			t.Errorf("STATUS= never said the VIP is on the backup: %v", b.notify.messages())
		}
	})
}
