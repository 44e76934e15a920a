//go:build linux

package main

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/proxypair/proxypair/appliance/vrrp"
	"github.com/proxypair/proxypair/internal/bench"
	"github.com/proxypair/proxypair/internal/lab"
)

func TestAdvertFilter(t *testing.T) {
	master := netip.MustParseAddr("198.18.0.1")
	other := netip.MustParseAddr("198.18.0.2")
	advert := func(t *testing.T, vrid, prio uint8) []byte {
		t.Helper()
		a := vrrp.Advertisement{
			Version: vrrp.Version3, Type: vrrp.TypeAdvertisement, VRID: vrid, Priority: prio,
			Interval: 10 * time.Millisecond, Addresses: []netip.Addr{netip.MustParseAddr("198.18.0.100")},
		}
		b, err := a.Marshal(master, vrrp.MulticastGroup, vrrp.PseudoHeader)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		name    string
		filter  advertFilter
		src     netip.Addr
		payload []byte
		want    bool
	}{
		{"the master's advert", advertFilter{from: master}, master, advert(t, 51, 200), true},
		{"the right VRID", advertFilter{from: master, vrid: 51}, master, advert(t, 51, 200), true},
		{"another VRID", advertFilter{from: master, vrid: 52}, master, advert(t, 51, 200), false},
		{"from the backup", advertFilter{from: master}, other, advert(t, 51, 100), false},
		{"a goodbye (priority 0)", advertFilter{from: master}, master, advert(t, 51, 0), false},
		{"not VRRP", advertFilter{from: master}, master, []byte{0x31, 51, 200}, false},
	} {
		a, ok := tc.filter.match(vrrp.Packet{Src: tc.src, Dst: vrrp.MulticastGroup, TTL: 255, Payload: tc.payload})
		if ok != tc.want || (ok && (a == nil || a.Priority != 200)) {
			t.Errorf("%s: match = %v, %t; want %t", tc.name, a, ok, tc.want)
		}
	}
}

func TestBenchFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"bench", "--trials", "0"}, []string{"--trials 0: want at least 1"}},
		{[]string{"bench", "--only", "v3-(10ms"}, []string{"--only: error parsing regexp"}},
		{[]string{"bench", "--trials", "-1", "--only", "("}, []string{"--trials -1", "--only"}},
		{[]string{"wait-advert", "--from", "nope", "--timeout", "0s"}, []string{`--from "nope"`, "--timeout 0s: want > 0"}},
		{[]string{"wait-advert", "--from", "198.18.0.1", "--vrid", "256"}, []string{"--vrid 256"}},
	} {
		var stdout, stderr bytes.Buffer
		code := run(tc.args, &stdout, &stderr)
		for _, want := range tc.want {
			if code != 1 || !strings.Contains(stderr.String(), want) {
				t.Errorf("pplab %s: exit %d, stderr %q; want 1 and %q", strings.Join(tc.args, " "), code, stderr.String(), want)
			}
		}
	}
}

// TestWaitAdvert runs wait-advert in a client namespace: it ends with the
// advert line once the master host sends an advert, and fails after its
// timeout when no advert from that address comes.
func TestWaitAdvert(t *testing.T) {
	l := lab.NewT(t)
	master, err := l.AddHost("m", netip.MustParsePrefix("198.18.0.1/24"))
	if err != nil {
		t.Fatal(err)
	}
	client, err := l.AddHost("c", netip.MustParsePrefix("198.18.0.3/24"))
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	w, err := client.Start("env", "PPLAB_AS_MAIN=1", self, "wait-advert", "--from", "198.18.0.1", "--vrid", "51", "--timeout", "20s")
	if err != nil {
		t.Fatal(err)
	}
	// wait-advert needs a moment to open its socket: keep sending until it
	// has heard one.
	before := time.Now()
	err = lab.Eventually(ctx, 50*time.Millisecond, func() (bool, string) {
		if w.Exited() {
			return true, ""
		}
		out, err := master.Run(ctx, "env", "PPLAB_AS_MAIN=1", self, "advert", "--version", "3", "--interval", "10ms", "--priority", "200", "--vip", "198.18.0.100")
		return false, out + errString(err)
	})
	if err != nil {
		t.Fatalf("wait-advert never ended: %v\n%s", err, w.Output())
	}
	if code, err := w.Wait(5 * time.Second); code != 0 || err != nil {
		t.Fatalf("wait-advert: exit %d, %v\n%s", code, err, w.Output())
	}
	at, err := bench.ParseAdvertLine(w.Output())
	if err != nil {
		t.Fatalf("%v\n%s", err, w.Output())
	}
	if at.Before(before) || at.After(time.Now()) {
		t.Errorf("advert read at %v, outside the test's [%v, now]", at, before)
	}
	if !strings.Contains(w.Output(), "advert from 198.18.0.1 vrid 51 priority 200") {
		t.Errorf("output %q does not name the advert", w.Output())
	}

	// Nobody sends from 198.18.0.9.
	out, err := client.Run(ctx, "env", "PPLAB_AS_MAIN=1", self, "wait-advert", "--from", "198.18.0.9", "--timeout", "300ms")
	if err == nil || !strings.Contains(out, "no advert from 198.18.0.9 on eth1 within 300ms") {
		t.Errorf("wait-advert with no advert: %v, output %q; want a failure naming the timeout", err, out)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestFailedTrials: failed trials and failed resource measurements make
// the bench exit non-zero; a VIP that never moved (keepalived with the last
// backend lost) is a result, not a failure.
func TestFailedTrials(t *testing.T) {
	rep := &bench.Report{
		Rows: []bench.Row{
			{Keepalived: bench.Series{Trials: []bench.Trial{{N: 1, NotMovedWithin: 1}, {N: 2, Error: "settling"}}},
				Proxypair: bench.Series{Trials: []bench.Trial{{N: 1}, {N: 2, Error: "b taking over"}}},
				Pair:      &bench.Series{Trials: []bench.Trial{{N: 1, Error: "restoring the master"}, {N: 2}}}},
		},
		Resources:  &bench.ResourceRow{Keepalived: bench.DaemonUsage{Error: "settling"}},
		HealthCost: &bench.HealthCostRow{On: bench.DaemonUsage{Error: "settling"}, Off: bench.DaemonUsage{Master: &bench.Usage{}}},
	}
	if got := failedTrials(rep); got != 5 {
		t.Errorf("failedTrials = %d, want 5 (three trials, one of them with vrrp.pair, one resource pair, one health-cost pair)", got)
	}
	if got := failedTrials(&bench.Report{Rows: []bench.Row{{Keepalived: bench.Series{Trials: []bench.Trial{{N: 1, NotMovedWithin: 1}}}}}}); got != 0 {
		t.Errorf("failedTrials with only a VIP that never moved = %d, want 0", got)
	}
}
