//go:build linux

package e2e

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/proxypair/proxypair/internal/lab"
)

// frrVersion is the FRR release the interop test is for: Debian 12's.
const frrVersion = "8.4.4"

// TestFRRInterop pairs proxypair with FRR's vrrpd (Debian 12's 8.4.4),
// each way round, multicast (vrrpd has nothing else, and no
// authentication): v3 at 100 ms, FRR's default version, and v2 at 1 s.
// proxypair runs with vrrp.pair, so a resigning FRR master hands over at
// once. Each pair goes through every phase in turn (frrInterop).
func TestFRRInterop(t *testing.T) {
	t.Parallel()
	for _, s := range []settings{
		{version: 3, interval: 100 * time.Millisecond},
		{version: 2, interval: time.Second},
	} {
		for _, frrMaster := range []bool{true, false} {
			role := "proxypair-master"
			if frrMaster {
				role = "frr-master"
			}
			t.Run("frr-"+frrVersion+"/"+s.String()+"/"+role, func(t *testing.T) {
				t.Parallel()
				frrInterop(t, s, frrMaster)
			})
		}
	}
}

// member is one node of a mixed pair: how to tell that it holds the VIP,
// and the MAC a client must then reach the VIP at.
type member struct {
	host  *lab.Host
	holds func() bool
	mac   net.HardwareAddr
}

// frrInterop runs one pair through every phase: host a has priority 200,
// b 100; one runs FRR (zebra and vrrpd), the other proxypair, and a third
// host c is the client. FRR holds the VIP when its macvlan is up (not in
// protodown); proxypair when eth1 carries it.
//
//  1. Exactly one holds the VIP in steady state; c's ARP for it is answered
//     by that node's MAC alone (FRR's virtual MAC, proxypair's eth1) and
//     its GET reaches that node; proxypair drops none of FRR's adverts and
//     FRR counts ours and stays Backup.
//  2. a's link goes down: b takes over. It comes back: a preempts.
//  3. a stops gracefully. FRR's vrrpd sends one priority-0 advert and
//     proxypair (vrrp.pair) takes over at once (peer_resigned); or
//     proxypair resigns and FRR, after its Skew_Time (not Master_Down),
//     takes over, proxypair keeping the VIP until it does.
func frrInterop(t *testing.T, s settings, frrMaster bool) {
	l, a, b := newPair(t) // a has priority 200, b 100
	c, err := l.AddHost("c", addrC)
	if err != nil {
		t.Fatal(err)
	}
	wire := observe(t, c)
	serveName(t, a)
	serveName(t, b)

	frrHost, ppHost, ppPeer := b, a, addrB
	frrPrio, ppPrio := 100, 200
	if frrMaster {
		frrHost, ppHost, ppPeer = a, b, addrA
		frrPrio, ppPrio = 200, 100
	}
	fcfg := lab.FRRConfig{VRID: 51, Priority: frrPrio, Version: s.version, Interval: s.interval, VIPs: []netip.Prefix{vip}}
	var (
		fr *lab.FRR
		np *node
	)
	// The master first, as in the keepalived interop test.
	if frrMaster {
		if fr, err = frrHost.StartFRR(fcfg); err != nil {
			t.Fatal(err)
		}
		np = startProxypair(t, ppHost, s.yaml(ppPrio, ppPeer, "  pair: true\n"))
	} else {
		np = startProxypair(t, ppHost, s.yaml(ppPrio, ppPeer, "  pair: true\n"))
		if fr, err = frrHost.StartFRR(fcfg); err != nil {
			t.Fatal(err)
		}
	}
	if fr.Version != frrVersion {
		t.Fatalf("FRR %s runs, the test is for %s (scripts/deps.sh installs Debian 12's)", fr.Version, frrVersion)
	}
	ppMAC, err := ppHost.MAC()
	if err != nil {
		t.Fatal(err)
	}
	pp := member{ppHost, func() bool { return ppHost.HasAddr(vip.Addr()) }, ppMAC}
	fm := member{frrHost, func() bool { return fr.Holds(vip.Addr()) }, fr.MAC}
	ms := []member{pp, fm}
	if frrMaster {
		ms = []member{fm, pp}
	}
	ma, mb := ms[0], ms[1]

	frrStatus := func() lab.FRRStatus {
		t.Helper()
		st, err := fr.Status(context.Background())
		if err != nil {
			t.Fatalf("FRR's status: %v", err)
		}
		return st
	}
	// client checks that c sees want as the VIP, and that FRR's own state
	// agrees with its macvlan. Not while FRR's eth1 is down: vrrpd 8.4.4
	// does not react to its interface going down (it stays Master, its
	// timers running, while the kernel takes the macvlan's carrier away).
	client := func(want member, frrLinkUp bool) {
		t.Helper()
		clientSees(t, c, want)
		if !frrLinkUp {
			t.Logf("FRR's eth1 down: vrrpd says %s", frrStatus().State)
			return
		}
		if st := frrStatus(); (st.State == "Master") != (want.host == frrHost) {
			t.Errorf("FRR says %s while %s holds the VIP", st.State, want.host.Name)
		}
	}
	noDrops := func(phase string) {
		t.Helper()
		st := np.status()
		if slices.ContainsFunc(slices.Collect(maps.Values(st.Drops)), func(n uint64) bool { return n > 0 }) {
			t.Errorf("%s: proxypair dropped FRR %s's adverts: %v", phase, fr.Version, st.Drops)
		}
	}

	// 1. One holder, the one the client reaches.
	waitOn(t, a, 2*s.masterDown(), ms...)
	before := frrStatus()
	window := 3*s.interval + time.Second
	steadyOn(t, a, window, ms...)
	client(ma, true)
	noDrops("steady state")
	if !frrMaster {
		// FRR counts an advert once it passed its checks (checksum, TTL,
		// version, size, auth type, VRID, v2 interval); the rest it only
		// logs. Backup all along, it took every one of ours.
		after := frrStatus()
		if got, want := after.Stats.AdvertsRx-before.Stats.AdvertsRx, uint64(window/s.interval)/2; got < want {
			t.Errorf("FRR counted %d of proxypair's adverts in %v at %v, want at least %d", got, window, s.interval, want)
		}
	}

	// 2. Takeover on link down, preemption back.
	setLink(t, a, false)
	waitOn(t, b, s.masterDown(), ms...)
	client(mb, !frrMaster)
	gap := sampleMembers(ms...)
	setLink(t, a, true)
	waitOn(t, a, 2*s.masterDown(), ms...)
	if d := gap(); d > 0 && frrMaster {
		// proxypair, preempted, keeps the VIP until FRR holds it (FRR's
		// gratuitous ARP, sent once the macvlan is up).
		t.Errorf("nobody held the VIP for %v when FRR preempted proxypair", d)
	}
	steadyOn(t, a, window, ms...)
	client(ma, true)
	noDrops("after preemption")
	if st := np.status(); st.AdvertsReceived == 0 {
		t.Errorf("proxypair received no advert from FRR")
	}

	// 3. Graceful stop of the master.
	stopped := time.Now()
	if frrMaster {
		if err := fr.StopVRRP(5 * time.Second); err != nil {
			t.Fatalf("FRR's vrrpd: %v", err)
		}
		if fr.Holds(vip.Addr()) {
			t.Errorf("FRR's macvlan still up after vrrpd stopped")
		}
		waitOn(t, b, s.masterDown(), ms...)
		tr := np.status().Transitions
		if last := tr[len(tr)-1]; last.To != "MASTER" || last.Reason != "peer_resigned" {
			t.Errorf("proxypair's last transition %+v, want MASTER by peer_resigned (FRR's priority-0 advert)", last)
		}
		zeros := 0
		for _, ad := range wire.advertsFrom(addrA.Addr(), stopped) {
			if ad.priority == 0 {
				zeros++
			}
		}
		if zeros == 0 {
			t.Error("FRR's vrrpd sent no priority-0 advert on stopping")
		}
		t.Logf("FRR's vrrpd sent %d priority-0 adverts on stopping", zeros)
		clientSees(t, c, mb)
		noDrops("after FRR's stop")
		return
	}
	fst := frrStatus()
	gap = sampleMembers(ms...)
	if err := np.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	eventually(t, "FRR holding the VIP", s.masterDown(), func() (bool, string) {
		return fm.holds(), fmt.Sprint("holders ", holding(ms...))
	})
	took := time.Since(stopped)
	waitOn(t, b, s.masterDown(), ms...)
	if code, err := np.Wait(10 * time.Second); err != nil || code != 0 {
		t.Fatalf("proxypair's graceful stop: exit %d, %v\n%s", code, err, np.Output())
	}
	if a.HasAddr(vip.Addr()) {
		t.Error("proxypair kept the VIP after a graceful stop")
	}
	// FRR, as a backup, waits Skew_Time after a priority-0 advert (RFC
	// 5798 §6.4.2; proxypair's vrrp.pair skips it), not Master_Down: on
	// the wire, from proxypair's first priority-0 advert to FRR's first
	// as master.
	skew, down := time.Duration(fst.SkewTime)*time.Millisecond, time.Duration(fst.MasterDownInterval)*time.Millisecond
	var resigned, answered time.Time
	for _, ad := range wire.advertsFrom(ppHost.Addr.Addr(), stopped) {
		if ad.priority == 0 {
			resigned = ad.at
			break
		}
	}
	for _, ad := range wire.advertsFrom(frrHost.Addr.Addr(), stopped) {
		if ad.priority > 0 && !resigned.IsZero() && ad.at.After(resigned) {
			answered = ad.at
			break
		}
	}
	if wait := answered.Sub(resigned); resigned.IsZero() || answered.IsZero() || wait < skew*9/10 || wait >= down {
		t.Errorf("FRR's first advert as master %v after proxypair's priority-0 advert (seen %t, %t), want Skew_Time %v or a little more, less than Master_Down %v",
			wait, !resigned.IsZero(), !answered.IsZero(), skew, down)
	}
	t.Logf("FRR advertised as master %v after proxypair's priority 0 and held the VIP %v after its SIGTERM (Skew_Time %v, Master_Down %v)",
		answered.Sub(resigned), took, skew, down)
	// proxypair held the VIP until FRR held it too: FRR's gratuitous ARP
	// ended proxypair's hand-over wait.
	if !strings.Contains(np.Output(), "reason=peer_took_over") {
		t.Errorf("FRR did not take over within proxypair's hand-over wait:\n%s", np.Output())
	}
	if d := gap(); d > 0 {
		t.Errorf("nobody held the VIP for %v during proxypair's graceful stop", d)
	}
	client(mb, true)
}

// holding names the members that hold the VIP.
func holding(ms ...member) []string {
	var out []string
	for _, m := range ms {
		if m.holds() {
			out = append(out, m.host.Name)
		}
	}
	return out
}

// waitOn waits until want, and only want, holds the VIP.
func waitOn(t *testing.T, want *lab.Host, within time.Duration, ms ...member) {
	t.Helper()
	eventually(t, "VIP on "+want.Name+" only", within, func() (bool, string) {
		h := holding(ms...)
		return len(h) == 1 && h[0] == want.Name, fmt.Sprint("holders ", h)
	})
}

// steadyOn checks, for d, that exactly want holds the VIP at every sample.
func steadyOn(t *testing.T, want *lab.Host, d time.Duration, ms ...member) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); {
		if h := holding(ms...); len(h) != 1 || h[0] != want.Name {
			t.Fatalf("steady state broken: VIP holders %v, want only %s", h, want.Name)
		}
		// Sampling pace, not synchronisation: the check runs for all of d.
		time.Sleep(20 * time.Millisecond)
	}
}

// sampleMembers is sampleHolders for members.
func sampleMembers(ms ...member) func() time.Duration {
	return sampleGaps(func() bool { return len(holding(ms...)) == 0 })
}

// clientSees waits until the client c, asking who has the VIP, hears only
// want's MAC, and its GET of the VIP (over its own ARP cache, which only
// the nodes' gratuitous ARPs update) reaches want.
func clientSees(t *testing.T, c *lab.Host, want member) {
	t.Helper()
	hc := c.HTTPClient(300 * time.Millisecond)
	eventually(t, "client "+c.Name+" reaching the VIP at "+want.host.Name, 3*time.Second, func() (bool, string) {
		macs, err := c.ARPAnswers(vip.Addr(), 100*time.Millisecond)
		if err != nil {
			return false, err.Error()
		}
		if len(macs) != 1 || macs[0].String() != want.mac.String() {
			return false, fmt.Sprintf("ARP answers %v, want only %v", macs, want.mac)
		}
		body, err := lab.Get(context.Background(), hc, "http://"+vip.Addr().String()+":8080/")
		if err != nil {
			return false, err.Error()
		}
		return body == want.host.Name, fmt.Sprintf("GET answered by %q", body)
	})
}

// serveName answers HTTP on every address of h, port 8080, with h's name.
func serveName(t *testing.T, h *lab.Host) {
	t.Helper()
	ln, err := h.Listen("tcp", ":8080")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, h.Name)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}
