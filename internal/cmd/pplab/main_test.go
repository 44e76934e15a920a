//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/proxypair/proxypair/internal/cmd/pplab/probe"
	"github.com/proxypair/proxypair/internal/lab"
)

// The test binary doubles as pplab: started with PPLAB_AS_MAIN=1 (inside a
// lab host) it runs the real command line instead of the tests.
func TestMain(m *testing.M) {
	if os.Getenv("PPLAB_AS_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func TestFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"probe", "icmp", "--target", "nope"}, `--target "nope"`},
		{[]string{"probe", "icmp", "--target", "198.18.0.1", "--every", "0s", "--timeout", "-1s"}, "--every 0s: want > 0"},
		{[]string{"probe", "http", "--target", "ftp://x/"}, "want an address"},
		{[]string{"probe", "http", "--target", "198.18.0.1", "--duration", "-1s"}, "--duration -1s"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(tc.args, &stdout, &stderr)
		if code != 1 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("pplab %s: exit %d, stderr %q; want 1 and %q", strings.Join(tc.args, " "), code, stderr.String(), tc.want)
		}
	}
}

// TestProbesSeeOneOutage runs both probes from a client host against a
// target host running HAProxy, takes the target's link down for a while,
// and checks each probe reports exactly that one outage.
func TestProbesSeeOneOutage(t *testing.T) {
	l := lab.NewT(t)
	target, err := l.AddHost("target", netip.MustParsePrefix("198.18.0.10/24"))
	if err != nil {
		t.Fatal(err)
	}
	client, err := l.AddHost("client", netip.MustParsePrefix("198.18.0.20/24"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := target.StartHAProxy(lab.HAProxyConfig{}); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}

	const (
		every   = 10 * time.Millisecond
		timeout = 300 * time.Millisecond
		down    = time.Second
	)
	icmpOut := filepath.Join(client.Dir, "icmp.json")
	httpOut := filepath.Join(client.Dir, "http.json")
	// ICMP runs until SIGTERM; HTTP stops by --duration. Both ways must
	// still write the result.
	icmpProbe, err := client.Start("env", "PPLAB_AS_MAIN=1", self, "probe", "icmp",
		"--target", "198.18.0.10", "--every", every.String(), "--timeout", timeout.String(), "--json", icmpOut)
	if err != nil {
		t.Fatal(err)
	}
	httpProbe, err := client.Start("env", "PPLAB_AS_MAIN=1", self, "probe", "http",
		"--target", "198.18.0.10", "--every", every.String(), "--timeout", timeout.String(),
		"--duration", "5s", "--json", httpOut)
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, p := range []*lab.Process{icmpProbe, httpProbe} {
		if err := lab.Eventually(ctx, 10*time.Millisecond, func() (bool, string) {
			return strings.Contains(p.Output(), "pplab: probing"), p.Output()
		}); err != nil {
			t.Fatalf("probe never started: %v", err)
		}
	}

	// The scenario's timeline: a second of normal service, the target off
	// the network for `down`, then service again until the probes stop.
	time.Sleep(time.Second)
	beforeDown := time.Now()
	if err := target.SetLink(false); err != nil {
		t.Fatal(err)
	}
	afterDown := time.Now()
	time.Sleep(down)
	beforeUp := time.Now()
	if err := target.SetLink(true); err != nil {
		t.Fatal(err)
	}
	afterUp := time.Now()
	time.Sleep(1500 * time.Millisecond)

	if err := icmpProbe.Stop(5 * time.Second); err != nil {
		t.Errorf("icmp probe did not stop cleanly on SIGTERM: %v\n%s", err, icmpProbe.Output())
	}
	if code, err := httpProbe.Wait(10 * time.Second); code != 0 || err != nil {
		t.Errorf("http probe: exit %d, %v; want 0 after --duration\n%s", code, err, httpProbe.Output())
	}

	for _, tc := range []struct {
		path string
		p    *lab.Process
	}{{icmpOut, icmpProbe}, {httpOut, httpProbe}} {
		t.Run(filepath.Base(tc.path), func(t *testing.T) {
			b, err := os.ReadFile(tc.path)
			if err != nil {
				t.Fatalf("no result: %v\n%s", err, tc.p.Output())
			}
			var r probe.Result
			if err := json.Unmarshal(b, &r); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(tc.p.Output(), r.Summary()) {
				t.Errorf("summary line %q not printed; output:\n%s", r.Summary(), tc.p.Output())
			}
			// ~3.5s at 10ms: allow for a slow scheduler, not for a stall.
			if r.Sent < 100 || r.Answered < r.Sent/2 {
				t.Errorf("sent %d, answered %d: want at least 100 sent and most answered", r.Sent, r.Answered)
			}
			if len(r.Outages) != 1 {
				t.Fatalf("outages = %+v, want exactly one (the link-down)", r.Outages)
			}
			o := r.Outages[0]
			d := time.Duration(o.Duration)
			t.Logf("%s; outage %v from +%v (%s)", r.Summary(), d, o.At, o.Error)
			// Brackets, not exact timing: a probe sent just before the link
			// went down may still be lost, one sent just before it came up
			// may still be answered (within its timeout), and a loaded
			// scheduler can delay sends.
			if o.Start.Before(beforeDown.Add(-timeout)) || o.Start.After(afterDown.Add(250*time.Millisecond)) {
				t.Errorf("outage starts %v after the link went down; want within [-%v, +250ms]", o.Start.Sub(beforeDown), timeout)
			}
			if o.End.Before(beforeUp.Add(-timeout)) || o.End.After(afterUp.Add(time.Second)) {
				t.Errorf("outage ends %v after the link came up; want within [-%v, +1s]", o.End.Sub(beforeUp), timeout)
			}
			if d <= 0 || d < down/2 || d > down+1500*time.Millisecond {
				t.Errorf("outage lasted %v; want about the %v the link was down (%v-%v)", d, down, down/2, down+1500*time.Millisecond)
			}
			if o.Ongoing || r.Longest != o.Duration {
				t.Errorf("ongoing %t, longest %v; want a closed outage that is the longest", o.Ongoing, r.Longest)
			}
		})
	}
}
