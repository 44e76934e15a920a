//go:build linux

package e2e

import (
	"maps"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/proxypair/proxypair/internal/lab"
)

// keepalivedPeer is a keepalived release the interop suite pairs proxypair
// with, and the settings it runs them with.
type keepalivedPeer struct {
	version  string // the release StartKeepalived must report; names the subtests
	binary   string // "" = keepalived on PATH
	settings []settings
}

// TestKeepalivedInterop pairs proxypair with a real keepalived, each way
// round: Debian 12's 2.2.7 with the seed's settings (v2, PASS, VRID 51,
// 1 s), v3, and v3 unicast (what an NCP VPC pair uses); Ubuntu 18.04's 1.3.9
// (what users migrate from, one node at a time) with the seed's settings,
// multicast and unicast. Each pair goes through every phase in turn.
func TestKeepalivedInterop(t *testing.T) {
	t.Parallel()
	ka139, err := lab.PeerBinary(lab.Keepalived139)
	if err != nil {
		t.Fatal(err)
	}
	seedV2Unicast := seedV2
	seedV2Unicast.unicast = true
	for _, p := range []keepalivedPeer{
		{version: "2.2.7", settings: []settings{
			seedV2,
			{version: 3, interval: 500 * time.Millisecond},
			{version: 3, interval: 500 * time.Millisecond, unicast: true},
		}},
		{version: "1.3.9", binary: ka139, settings: []settings{seedV2, seedV2Unicast}},
	} {
		for _, s := range p.settings {
			for _, keepalivedMaster := range []bool{true, false} {
				role := "proxypair-master"
				if keepalivedMaster {
					role = "keepalived-master"
				}
				t.Run("keepalived-"+p.version+"/"+s.String()+"/"+role, func(t *testing.T) {
					t.Parallel()
					interop(t, p, s, keepalivedMaster)
				})
			}
		}
	}
}

// interop runs one pair through every phase, on one set-up: host a has
// priority 200, b 100, and one of them runs keepalived, the other proxypair.
//
//  1. Exactly one holds the VIP in steady state, and proxypair drops none
//     of keepalived's adverts.
//  2. a's link goes down: b takes over. It comes back: a preempts.
//  3. a stops gracefully and hands the VIP to b: keepalived to proxypair
//     (by its priority-0 advert) or proxypair to keepalived.
//
// keepalived 1.3.9's timings differ from 2.2.7's but fit the same bounds
// (masterDown allows 4 intervals + 2 s): it adds the VIP one advert
// interval after the advert that announces it as master, and as a backup
// it answers a lower priority master's advert at once (2.2.7, like RFC
// 3768, waits for Master_Down) but adds the VIP two intervals later. So
// whenever proxypair hands the VIP to 1.3.9 (its graceful stop, or 1.3.9
// preempting it), nobody holds the VIP for one or two intervals. On the
// wire the two send the same bytes (appliance/vrrp's goldens).
func interop(t *testing.T, p keepalivedPeer, s settings, keepalivedMaster bool) {
	_, a, b := newPair(t) // a has priority 200, b 100
	var (
		ka  *lab.Keepalived
		np  *node
		err error
	)
	if keepalivedMaster {
		cfg := s.keepalived(200, addrB)
		cfg.Binary = p.binary
		ka, err = a.StartKeepalived(cfg)
		np = startProxypair(t, b, s.yaml(100, addrA, ""))
	} else {
		np = startProxypair(t, a, s.yaml(200, addrB, ""))
		cfg := s.keepalived(100, addrA)
		cfg.Binary = p.binary
		ka, err = b.StartKeepalived(cfg)
	}
	if err != nil {
		t.Fatal(err)
	}
	if ka.Version != p.version {
		t.Fatalf("keepalived %s runs, the subtest is for %s (Debian 12's is on PATH; scripts/deps.sh installs it)",
			ka.Version, p.version)
	}
	noDrops := func(phase string) {
		t.Helper()
		st := np.status()
		if slices.ContainsFunc(slices.Collect(maps.Values(st.Drops)), func(n uint64) bool { return n > 0 }) {
			t.Errorf("%s: proxypair dropped keepalived %s's adverts: %v", phase, ka.Version, st.Drops)
		}
	}

	// 1. One holder.
	waitHolder(t, a, 2*s.masterDown(), a, b)
	steady(t, a, 3*s.interval+time.Second, a, b)
	noDrops("steady state")

	// 2. Takeover on link down, preemption back.
	setLink(t, a, false)
	waitHolder(t, b, s.masterDown(), a, b)
	gap := sampleHolders(a, b)
	setLink(t, a, true)
	waitHolder(t, a, 2*s.masterDown(), a, b)
	if d := gap(); d > 0 && keepalivedMaster {
		// proxypair, preempted, yields: it keeps the VIP until keepalived
		// holds it (1.3.9, answering a lower master at once, adds it two
		// intervals after that advert).
		t.Errorf("nobody held the VIP for %v when keepalived %s preempted proxypair", d, ka.Version)
	}
	steady(t, a, 3*s.interval+time.Second, a, b)
	noDrops("after preemption")
	// keepalived has been master by now, whichever its role: the check
	// above saw its adverts.
	if st := np.status(); st.AdvertsReceived == 0 {
		t.Errorf("proxypair received no advert from keepalived %s", ka.Version)
	}

	// 3. Graceful stop of the master.
	if keepalivedMaster {
		if err := ka.Stop(5 * time.Second); err != nil {
			t.Fatalf("keepalived %s: %v", ka.Version, err)
		}
		if a.HasAddr(vip.Addr()) {
			t.Errorf("keepalived %s kept the VIP after a graceful stop", ka.Version)
		}
		waitHolder(t, b, s.masterDown(), a, b)
		tr := np.status().Transitions
		if last := tr[len(tr)-1]; last.To != "MASTER" || last.Reason != "peer_resigned" {
			t.Errorf("proxypair's last transition %+v, want MASTER by peer_resigned (keepalived's priority-0 advert)", last)
		}
		noDrops("after keepalived's stop")
		return
	}
	// Make before break: from the stop until keepalived holds the VIP,
	// somebody always holds it (keepalived 1.3.9 adds it one interval
	// after its first advert as master).
	gap = sampleHolders(a, b)
	if err := np.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code, err := np.Wait(10 * time.Second); err != nil || code != 0 {
		t.Fatalf("proxypair's graceful stop: exit %d, %v\n%s", code, err, np.Output())
	}
	if a.HasAddr(vip.Addr()) {
		t.Error("proxypair kept the VIP after a graceful stop")
	}
	// proxypair held the VIP until keepalived, as the new master, held it
	// too, which comes within its bounded wait only if keepalived took the
	// priority-0 advert (Master_Down is longer).
	if !strings.Contains(np.Output(), "reason=peer_took_over") {
		t.Errorf("keepalived %s did not take over within proxypair's hand-over wait:\n%s", ka.Version, np.Output())
	}
	waitHolder(t, b, s.masterDown(), a, b)
	if d := gap(); d > 0 {
		t.Errorf("nobody held the VIP for %v during proxypair's graceful stop", d)
	}
}

// sampleHolders starts sampling who holds the VIP every 2 ms; the function
// it returns stops it and reports the longest time nobody did.
func sampleHolders(hosts ...*lab.Host) func() time.Duration {
	return sampleGaps(func() bool { return len(holders(hosts...)) == 0 })
}

// sampleGaps starts calling nobody every 2 ms; the function it returns
// stops it and reports the longest run of samples for which nobody was
// true.
func sampleGaps(nobody func() bool) func() time.Duration {
	stop, done := make(chan struct{}), make(chan time.Duration)
	go func() {
		var longest time.Duration
		var since time.Time
		for {
			select {
			case <-stop:
				done <- longest
				return
			default:
			}
			now := time.Now()
			if nobody() {
				if since.IsZero() {
					since = now
				}
				longest = max(longest, now.Sub(since))
			} else {
				since = time.Time{}
			}
			// Sampling pace, not synchronisation.
			time.Sleep(2 * time.Millisecond)
		}
	}()
	return func() time.Duration { close(stop); return <-done }
}
