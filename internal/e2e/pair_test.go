//go:build linux

package e2e

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestPairElectsAndFailsOver: two proxypair nodes with the seed's settings
// elect the higher priority; its link going down moves the VIP, its return
// takes it back (preemption).
func TestPairElectsAndFailsOver(t *testing.T) {
	t.Parallel()
	_, a, b := newPair(t)
	s := seedV2
	na := startProxypair(t, a, s.yaml(200, addrB, ""))
	nb := startProxypair(t, b, s.yaml(100, addrA, ""))

	waitHolder(t, a, s.masterDown(), a, b)
	nb.waitState("BACKUP", time.Second)
	steady(t, a, 3*time.Second, a, b)
	if st := nb.status(); st.Master != addrA.Addr().String() || st.AdvertsReceived == 0 {
		t.Errorf("b's view: master %q, %d adverts received", st.Master, st.AdvertsReceived)
	}

	setLink(t, a, false)
	waitHolder(t, b, s.masterDown(), a, b)
	na.waitState("FAULT", time.Second)

	setLink(t, a, true)
	waitHolder(t, a, 2*s.masterDown(), a, b)
	steady(t, a, 3*time.Second, a, b)
	tr := na.status().Transitions
	if last := tr[len(tr)-1]; last.To != "MASTER" || last.Reason != "preempt_lower_priority" {
		t.Errorf("a's last transition %+v, want MASTER by preemption", last)
	}
}

func TestPairNoPreemptKeepsNewMaster(t *testing.T) {
	t.Parallel()
	_, a, b := newPair(t)
	s := settings{version: 3, interval: 200 * time.Millisecond}
	na := startProxypair(t, a, s.yaml(200, addrB, "  preempt: false\n"))
	startProxypair(t, b, s.yaml(100, addrA, ""))
	waitHolder(t, a, s.masterDown(), a, b)

	setLink(t, a, false)
	waitHolder(t, b, s.masterDown(), a, b)
	setLink(t, a, true)
	na.waitState("BACKUP", 5*time.Second)
	steady(t, b, 3*time.Second, a, b)
}

// TestGracefulStopHandsOver: SIGTERM sends priority 0, so the backup takes
// over after Skew_Time (reason peer_resigned), not after Master_Down.
func TestGracefulStopHandsOver(t *testing.T) {
	t.Parallel()
	l, a, b := newPair(t)
	c, err := l.AddHost("c", addrC)
	if err != nil {
		t.Fatal(err)
	}
	wire := observe(t, c)
	s := seedV2
	na := startProxypair(t, a, s.yaml(200, addrB, ""))
	nb := startProxypair(t, b, s.yaml(100, addrA, ""))
	waitHolder(t, a, s.masterDown(), a, b)
	nb.waitState("BACKUP", time.Second)

	stopped := time.Now()
	if err := na.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code, err := na.Wait(10 * time.Second); err != nil || code != 0 {
		t.Fatalf("graceful stop: exit %d, %v\n%s", code, err, na.Output())
	}
	if a.HasAddr(vip.Addr()) {
		t.Error("a kept the VIP after a graceful stop")
	}
	waitHolder(t, b, s.masterDown(), a, b)
	tr := nb.status().Transitions
	if last := tr[len(tr)-1]; last.Reason != "peer_resigned" {
		t.Errorf("b took over by %q, want peer_resigned (the priority-0 advert)", last.Reason)
	}
	// Three priority-0 adverts, as a resign sends: one lost packet must
	// not cost the peer a full Master_Down.
	zeros := 0
	for _, ad := range wire.advertsFrom(addrA.Addr(), stopped) {
		if ad.priority == 0 {
			zeros++
		}
	}
	if zeros != 3 {
		t.Errorf("a sent %d priority-0 adverts on stopping, want 3", zeros)
	}
}

// TestCrashLeavesNoStaleVIP: a SIGKILLed master leaves its VIP; `proxypair
// cleanup` (ExecStopPost=) removes it, and so does the next start.
func TestCrashLeavesNoStaleVIP(t *testing.T) {
	t.Parallel()
	_, a, b := newPair(t)
	s := settings{version: 3, interval: 200 * time.Millisecond}
	na := startProxypair(t, a, s.yaml(200, addrB, ""))
	startProxypair(t, b, s.yaml(100, addrA, ""))
	waitHolder(t, a, s.masterDown(), a, b)

	if err := na.Kill(); err != nil {
		t.Fatal(err)
	}
	na.Wait(5 * time.Second)
	if !a.HasAddr(vip.Addr()) {
		t.Fatal("a SIGKILLed proxypair removed its VIP: the test cannot show cleanup")
	}
	eventually(t, "b takes over", s.masterDown(), func() (bool, string) {
		return b.HasAddr(vip.Addr()), "b has no VIP"
	})
	out, err := a.Run(context.Background(), bin.proxypair, "cleanup", "--config", na.ConfigFile)
	if err != nil {
		t.Fatalf("cleanup: %v", err)
	}
	if a.HasAddr(vip.Addr()) {
		t.Fatalf("cleanup left the VIP:\n%s", out)
	}
	waitHolder(t, b, time.Second, a, b)

	// Crash again, then restart without cleanup: start-up removes it.
	na.restart()
	waitHolder(t, a, 2*s.masterDown(), a, b)
	na.Kill()
	na.Wait(5 * time.Second)
	na.restart()
	if !strings.Contains(na.Output(), "removed VIPs an earlier run left on the interface") {
		t.Errorf("restart did not report the stale VIP:\n%s", na.Output())
	}
	waitHolder(t, a, 2*s.masterDown(), a, b)
}

// TestBadPacketsChangeNothing: adverts that fail a receive check, from a
// third host, neither move the VIP nor go uncounted.
func TestBadPacketsChangeNothing(t *testing.T) {
	t.Parallel()
	l, a, b := newPair(t)
	c, err := l.AddHost("c", addrC)
	if err != nil {
		t.Fatal(err)
	}
	s := seedV2
	startProxypair(t, a, s.yaml(200, addrB, ""))
	nb := startProxypair(t, b, s.yaml(100, addrA, ""))
	waitHolder(t, a, s.masterDown(), a, b)

	vipFlag := "--vip=" + vip.Addr().String()
	for _, tc := range []struct {
		reason string
		args   []string
	}{
		{"password", []string{"--pass", "wrongpw", vipFlag}},
		{"auth_type", []string{vipFlag}},
		{"vrid", []string{"--pass", "pass1234", "--vrid", "52", vipFlag}},
		{"interval", []string{"--pass", "pass1234", "--interval", "3s", vipFlag}},
		{"address_set", []string{"--pass", "pass1234", "--vip=198.18.0.101"}},
		{"address_count", []string{"--pass", "pass1234", vipFlag, "--vip=198.18.0.101"}},
		{"version", []string{"--version", "3", vipFlag}},
	} {
		args := append([]string{"advert", "--count", "50", "--priority", "254"}, tc.args...)
		if out, err := c.Run(context.Background(), bin.pplab, args...); err != nil {
			t.Fatalf("%s: %v\n%s", tc.reason, err, out)
		}
		eventually(t, tc.reason+" drops counted", 5*time.Second, func() (bool, string) {
			st := nb.status()
			return st.Drops[tc.reason] == 50, fmt.Sprint("drops ", st.Drops)
		})
	}
	steady(t, a, 2*time.Second, a, b, c)
	if st := nb.status(); st.State != "BACKUP" || st.Master != addrA.Addr().String() {
		t.Errorf("b after the bad packets: %s, master %s", st.State, st.Master)
	}
	// One log line per reason, not per packet.
	if n := strings.Count(nb.Output(), "reason=password"); n != 1 {
		t.Errorf("%d log lines for 50 password drops, want 1", n)
	}
}
