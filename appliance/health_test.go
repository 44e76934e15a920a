package appliance

import (
	"net/netip"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/proxypair/proxypair/appliance/config"
)

func startHealthNode(t *testing.T, l *lan, addr string, cfg config.VRRP) (*testNode, *fakeHealth) {
	t.Helper()
	h := newFakeHealth()
	n := startNodeEnv(t, l, addr, cfg, func(e *env) { e.health = h })
	return n, h
}

// TestUnhealthyMasterResigns: HAProxy failing on the master hands the VIP to
// the healthy peer after Skew_Time, not Master_Down, and it stays there.
func TestUnhealthyMasterResigns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &lan{}
		a, ha := startHealthNode(t, l, "198.18.0.1", seedVRRP(200))
		b, _ := startHealthNode(t, l, "198.18.0.2", seedVRRP(100))
		time.Sleep(10 * time.Second)
		synctest.Wait()
		sent := len(a.conn.adverts())

		failed := time.Now()
		ha.set(false, "haproxy socket: connection refused")
		synctest.Wait()
		st := a.status(t)
		if st.State != "BACKUP" || st.EffectivePriority != 1 || a.vips.String() != "eth1 " {
			t.Fatalf("a after HAProxy failed: %s prio %d, %q", st.State, st.EffectivePriority, a.vips)
		}
		zeros := 0
		for _, ad := range a.conn.adverts()[sent:] {
			if ad.adv.Priority == 0 {
				zeros++
			}
		}
		if zeros != 3 {
			t.Errorf("resign sent %d priority-0 adverts, want 3", zeros)
		}
		if h := st.Health; h == nil || h.Healthy || h.Reason != "haproxy socket: connection refused" {
			t.Errorf("a's health status: %+v", h)
		}
		if got := a.notify.messages(); got[len(got)-1] != "STATUS=BACKUP prio 1 haproxy DOWN: haproxy socket: connection refused" {
			t.Errorf("sd_notify status: %q", got[len(got)-1])
		}

		time.Sleep(time.Second)
		synctest.Wait()
		if b.state(t) != "MASTER" {
			t.Fatalf("b: %s", b.state(t))
		}
		if got, want := b.lastChange(t).Sub(failed), 609375*time.Microsecond; got != want {
			t.Errorf("hand-over took %v, want Skew_Time %v", got, want)
		}
		// No flapping back: a (priority 1) stays backup.
		time.Sleep(30 * time.Second)
		synctest.Wait()
		if a.state(t) != "BACKUP" || b.state(t) != "MASTER" {
			t.Errorf("after 30 s: a %s, b %s", a.state(t), b.state(t))
		}

		// HAProxy is back: a's priority returns and it preempts.
		ha.set(true, "")
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if a.state(t) != "MASTER" || b.state(t) != "BACKUP" || a.status(t).EffectivePriority != 200 {
			t.Errorf("after recovery: a %s prio %d, b %s", a.state(t), a.status(t).EffectivePriority, b.state(t))
		}
	})
}

// TestUnhealthyAloneStaysMaster: with no peer to take over, the resigned
// node becomes master again after Master_Down and stays (no flapping).
func TestUnhealthyAloneStaysMaster(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, ha := startHealthNode(t, &lan{}, "198.18.0.1", seedVRRP(200))
		time.Sleep(5 * time.Second)
		synctest.Wait()
		ha.set(false, "backend be_app: 0/2 servers UP (need 1)")
		time.Sleep(time.Minute)
		synctest.Wait()
		var states []string
		for _, tr := range a.status(t).Transitions {
			states = append(states, tr.To+"/"+tr.Reason)
		}
		want := []string{"BACKUP/startup", "MASTER/master_down", "BACKUP/unhealthy", "MASTER/master_down"}
		if !slices.Equal(states, want) {
			t.Errorf("transitions %v, want %v", states, want)
		}
		if a.vips.String() != "eth1 198.18.0.100/24" {
			t.Errorf("VIP: %q", a.vips)
		}
	})
}

// TestBothUnhealthyOneMaster: with HAProxy down on both, exactly one keeps
// the VIP.
func TestBothUnhealthyOneMaster(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &lan{}
		a, ha := startHealthNode(t, l, "198.18.0.1", seedVRRP(200))
		b, hb := startHealthNode(t, l, "198.18.0.2", seedVRRP(100))
		time.Sleep(10 * time.Second)
		hb.set(false, "down")
		time.Sleep(time.Second)
		ha.set(false, "down")
		// Let the hand-over settle, then every sample must show one master
		// holding the VIP.
		time.Sleep(10 * time.Second)
		for range 30 {
			synctest.Wait()
			masters, held := 0, 0
			for _, n := range []*testNode{a, b} {
				if n.state(t) == "MASTER" {
					masters++
				}
				if n.vips.String() != "eth1 " {
					held++
				}
			}
			if masters != 1 || held != 1 {
				t.Fatalf("both unhealthy: %d masters, VIP on %d nodes", masters, held)
			}
			time.Sleep(time.Second)
		}
	})
}

// TestUnhealthyBackupOnlyLowersPriority: a backup going unhealthy changes
// its priority, nothing else.
func TestUnhealthyBackupOnlyLowersPriority(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &lan{}
		a, _ := startHealthNode(t, l, "198.18.0.1", seedVRRP(200))
		b, hb := startHealthNode(t, l, "198.18.0.2", seedVRRP(100))
		time.Sleep(10 * time.Second)
		hb.set(false, "down")
		synctest.Wait()
		if st := b.status(t); st.State != "BACKUP" || st.EffectivePriority != 1 {
			t.Errorf("b: %s prio %d", st.State, st.EffectivePriority)
		}
		if a.state(t) != "MASTER" {
			t.Errorf("a: %s", a.state(t))
		}
	})
}

// TestUnhealthyMasterOfAPairHandsOverAtOnce: with one unicast peer (a
// pair), the backup takes over the moment the unhealthy master's
// priority-0 advert arrives, not Skew_Time later.
func TestUnhealthyMasterOfAPairHandsOverAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &lan{}
		cfgA, cfgB := seedVRRP(200), seedVRRP(100)
		cfgA.UnicastPeers = []netip.Addr{netip.MustParseAddr("198.18.0.2")}
		cfgB.UnicastPeers = []netip.Addr{netip.MustParseAddr("198.18.0.1")}
		a, ha := startHealthNode(t, l, "198.18.0.1", cfgA)
		b, _ := startHealthNode(t, l, "198.18.0.2", cfgB)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		failed := time.Now()
		ha.set(false, "haproxy socket: connection refused")
		synctest.Wait()
		if b.state(t) != "MASTER" || b.vips.String() != "eth1 198.18.0.100/24" {
			t.Fatalf("b right after a resigned: %s %q", b.state(t), b.vips)
		}
		if got := b.lastChange(t).Sub(failed); got != 0 {
			t.Errorf("b took over %v after a's verdict, want at once", got)
		}
		if a.state(t) != "BACKUP" || a.vips.String() != "eth1 " {
			t.Errorf("a: %s %q", a.state(t), a.vips)
		}
		// Each leg is stamped, in order, for the bench.
		r := a.status(t).LastResign
		if r == nil || r.Handled.IsZero() || r.Prio0Sent.Before(r.Handled) || r.Prio0Sent.IsZero() {
			t.Errorf("a's resign timing: %+v", r)
		}
		tk := b.status(t).LastTakeover
		if tk == nil || tk.Reason != "peer_resigned" || tk.AdvertSent.Before(tk.Trigger) || tk.VIPAdded.Before(tk.Trigger) ||
			tk.FirstARP.Before(tk.VIPAdded) || tk.VIPAdded.IsZero() || tk.FirstARP.IsZero() {
			t.Errorf("b's takeover timing: %+v", tk)
		}
	})
}
