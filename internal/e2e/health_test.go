//go:build linux

package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/proxypair/proxypair/internal/lab"
)

// haNode is a lab host running HAProxy and proxypair tracking it.
type haNode struct {
	*node
	hp  *lab.HAProxy
	cfg lab.HAProxyConfig
}

// debianHAProxy is Debian's haproxy on PATH, for tests that do not depend
// on the HAProxy version.
var debianHAProxy = lab.HAProxyBuild{}

// forEachHAProxy runs test once per HAProxy version the product supports
// (Debian's 2.6 and Ubuntu 18.04's 1.8.8), as parallel subtests named by
// version.
func forEachHAProxy(t *testing.T, test func(t *testing.T, hb lab.HAProxyBuild)) {
	t.Helper()
	builds, err := lab.HAProxyBuilds()
	if err != nil {
		t.Fatal(err)
	}
	for _, hb := range builds {
		t.Run(hb.Name, func(t *testing.T) {
			t.Parallel()
			test(t, hb)
		})
	}
}

func startHAProxy(t *testing.T, h *lab.Host, cfg lab.HAProxyConfig) *lab.HAProxy {
	t.Helper()
	hp, err := h.StartHAProxy(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return hp
}

// healthYAML is the health section tracking hp; extra lines go inside it.
func healthYAML(hp *lab.HAProxy, extra string) string {
	return fmt.Sprintf("health:\n  enabled: true\n  haproxy:\n    socket: %s\n%s", hp.Socket, extra)
}

// startHANode starts HAProxy (build hb) and proxypair tracking it on h.
func startHANode(t *testing.T, h *lab.Host, hb lab.HAProxyBuild, s settings, prio int, peer netip.Prefix, extra string) *haNode {
	t.Helper()
	return startHANodeWith(t, h, lab.HAProxyConfig{Binary: hb.Binary}, s, prio, peer, extra)
}

func startHANodeWith(t *testing.T, h *lab.Host, cfg lab.HAProxyConfig, s settings, prio int, peer netip.Prefix, extra string) *haNode {
	t.Helper()
	hp := startHAProxy(t, h, cfg)
	n := startProxypair(t, h, s.yaml(prio, peer, healthYAML(hp, extra)))
	return &haNode{node: n, hp: hp, cfg: cfg}
}

// restartHAProxy starts HAProxy again on the node's host with the same
// config and socket.
func (n *haNode) restartHAProxy(t *testing.T) {
	t.Helper()
	n.hp = startHAProxy(t, n.Host, n.cfg)
}

func (n *haNode) waitHealthy(t *testing.T, healthy bool, within time.Duration) {
	t.Helper()
	n.eventually(fmt.Sprintf("%s healthy=%v", n.Host.Name, healthy), within, func() (bool, string) {
		st, err := n.Instance(context.Background())
		if err != nil || st.Health == nil {
			return false, fmt.Sprint(err)
		}
		return st.Health.Healthy == healthy, fmt.Sprintf("healthy=%v %s", st.Health.Healthy, st.Health.Reason)
	})
}

// TestHAProxyKilledMovesVIP: HAProxy dying on the master moves the VIP to
// the healthy backup at once (priority-0 resign, not a Master_Down wait);
// HAProxy coming back returns it by preemption.
func TestHAProxyKilledMovesVIP(t *testing.T) {
	t.Parallel()
	forEachHAProxy(t, testHAProxyKilledMovesVIP)
}

func testHAProxyKilledMovesVIP(t *testing.T, hb lab.HAProxyBuild) {
	_, a, b := newPair(t)
	s := seedV2
	na := startHANode(t, a, hb, s, 200, addrB, "")
	nb := startHANode(t, b, hb, s, 100, addrA, "")
	waitHolder(t, a, s.masterDown(), a, b)
	nb.waitState("BACKUP", time.Second)

	if err := na.hp.Kill(); err != nil {
		t.Fatal(err)
	}
	waitHolder(t, b, s.masterDown(), a, b)
	st := na.status()
	if st.Health == nil || st.Health.Healthy || !strings.Contains(st.Health.Reason, "socket") {
		t.Errorf("a's health after the kill: %+v", st.Health)
	}
	if st.EffectivePriority != 1 || st.ConfiguredPriority != 200 {
		t.Errorf("a's priority %d (configured %d), want 1 while unhealthy", st.EffectivePriority, st.ConfiguredPriority)
	}
	tr := nb.status().Transitions
	if last := tr[len(tr)-1]; last.Reason != "peer_resigned" {
		t.Errorf("b took over by %q, want peer_resigned (a resigned with priority 0)", last.Reason)
	}
	steady(t, b, 2*time.Second, a, b)

	na.restartHAProxy(t)
	na.waitHealthy(t, true, 5*time.Second)
	waitHolder(t, a, 2*s.masterDown(), a, b)
	if st := na.status(); st.EffectivePriority != 200 {
		t.Errorf("a's priority after recovery %d", st.EffectivePriority)
	}
}

// TestLastBackendDownMovesVIP: HAProxy alive but with no backend server UP
// (what `kill -0` never notices) moves the VIP too, and so does its
// frontend disabled (`disable frontend`: PAUSED in 2.6, STOP in 1.8).
func TestLastBackendDownMovesVIP(t *testing.T) {
	t.Parallel()
	forEachHAProxy(t, testLastBackendDownMovesVIP)
}

func testLastBackendDownMovesVIP(t *testing.T, hb lab.HAProxyBuild) {
	_, a, b := newPair(t)
	s := settings{version: 3, interval: 200 * time.Millisecond}
	na := startHANode(t, a, hb, s, 200, addrB, "")
	startHANode(t, b, hb, s, 100, addrA, "")
	waitHolder(t, a, s.masterDown(), a, b)

	if _, err := na.hp.API("set server be_app/s1 state maint"); err != nil {
		t.Fatal(err)
	}
	waitHolder(t, b, s.masterDown(), a, b)
	if st := na.status(); !strings.Contains(st.Health.Reason, "backend be_app") {
		t.Errorf("a's reason %q, want the backend named", st.Health.Reason)
	}
	if _, err := na.hp.API("set server be_app/s1 state ready"); err != nil {
		t.Fatal(err)
	}
	waitHolder(t, a, 2*s.masterDown(), a, b)

	if _, err := na.hp.API("disable frontend " + lab.HAProxyFrontend); err != nil {
		t.Fatal(err)
	}
	waitHolder(t, b, s.masterDown(), a, b)
	if st := na.status(); !strings.Contains(st.Health.Reason, "frontend "+lab.HAProxyFrontend) {
		t.Errorf("a's reason %q, want the frontend named", st.Health.Reason)
	}
	if _, err := na.hp.API("enable frontend " + lab.HAProxyFrontend); err != nil {
		t.Fatal(err)
	}
	waitHolder(t, a, 2*s.masterDown(), a, b)
}

// TestBothUnhealthyOneHolder: with HAProxy dead on both nodes, exactly one
// keeps the VIP.
func TestBothUnhealthyOneHolder(t *testing.T) {
	t.Parallel()
	forEachHAProxy(t, testBothUnhealthyOneHolder)
}

func testBothUnhealthyOneHolder(t *testing.T, hb lab.HAProxyBuild) {
	_, a, b := newPair(t)
	s := settings{version: 3, interval: 200 * time.Millisecond}
	na := startHANode(t, a, hb, s, 200, addrB, "")
	nb := startHANode(t, b, hb, s, 100, addrA, "")
	waitHolder(t, a, s.masterDown(), a, b)

	nb.hp.Kill()
	nb.waitHealthy(t, false, 5*time.Second)
	na.hp.Kill()
	na.waitHealthy(t, false, 5*time.Second)
	eventually(t, "one holder", 2*s.masterDown(), func() (bool, string) {
		h := holders(a, b)
		return len(h) == 1, fmt.Sprint(h)
	})
	h := holders(a, b)
	holder := a
	if h[0] == "b" {
		holder = b
	}
	steady(t, holder, 3*time.Second, a, b)
}

// TestFallRespected: with health.fall 15 (3 s at 200 ms), a dead HAProxy
// does not move the VIP for at least the first 1.5 s, then does.
func TestFallRespected(t *testing.T) {
	t.Parallel()
	_, a, b := newPair(t)
	s := settings{version: 3, interval: 200 * time.Millisecond}
	na := startHANode(t, a, debianHAProxy, s, 200, addrB, "  fall: 15\n")
	startHANode(t, b, debianHAProxy, s, 100, addrA, "")
	waitHolder(t, a, s.masterDown(), a, b)
	na.hp.Kill()
	steady(t, a, 1500*time.Millisecond, a, b)
	waitHolder(t, b, 10*time.Second, a, b)
}

// TestHAProxyKilledKeepalivedPeer: the fast hand-over works when the peer
// is keepalived: it takes over on the priority-0 advert.
func TestHAProxyKilledKeepalivedPeer(t *testing.T) {
	t.Parallel()
	_, a, b := newPair(t)
	s := seedV2
	na := startHANode(t, a, debianHAProxy, s, 200, addrB, "")
	ka, err := b.StartKeepalived(s.keepalived(100, addrA))
	if err != nil {
		t.Fatal(err)
	}
	waitHolder(t, a, 2*s.masterDown(), a, b)
	steady(t, a, time.Second, a, b)

	na.hp.Kill()
	waitHolder(t, b, s.masterDown(), a, b)
	if out := ka.Output(); !strings.Contains(out, "priority 0") {
		t.Errorf("keepalived did not see a priority-0 advert:\n%s", out)
	}
	steady(t, b, 2*time.Second, a, b)
}

// TestHAProxyReloadKeepsVIP: master-worker reloads of HAProxy on the master
// (SIGUSR2: a new worker with a new PID, the old one leaving) are not
// failures: the VIP never moves and the health verdict never changes, while
// the daemon follows each new worker.
func TestHAProxyReloadKeepsVIP(t *testing.T) {
	t.Parallel()
	forEachHAProxy(t, testHAProxyReloadKeepsVIP)
}

func testHAProxyReloadKeepsVIP(t *testing.T, hb lab.HAProxyBuild) {
	_, a, b := newPair(t)
	s := settings{version: 3, interval: 200 * time.Millisecond}
	na := startHANodeWith(t, a, lab.HAProxyConfig{Binary: hb.Binary, MasterWorker: true}, s, 200, addrB, "")
	startHANode(t, b, hb, s, 100, addrA, "")
	waitHolder(t, a, s.masterDown(), a, b)
	na.waitHealthy(t, true, 5*time.Second)
	before := na.status()

	for range 2 {
		old := workerPID(t, na.hp)
		// A USR2 that reaches the master while it is still re-executing
		// from the previous reload is lost: send it again every 2 s.
		var sent time.Time
		var cur int
		eventually(t, "a new haproxy worker", 10*time.Second, func() (bool, string) {
			if h := holders(a, b); len(h) != 1 || h[0] != "a" {
				t.Fatalf("VIP holders %v during the reload, want only a", h)
			}
			if time.Since(sent) > 2*time.Second {
				if err := na.hp.Signal(syscall.SIGUSR2); err != nil {
					t.Fatal(err)
				}
				sent = time.Now()
			}
			cur = workerPID(t, na.hp)
			return cur != 0 && cur != old, fmt.Sprintf("worker %d", cur)
		})
		na.eventually("proxypair to follow worker "+strconv.Itoa(cur), 5*time.Second, func() (bool, string) {
			if h := holders(a, b); len(h) != 1 || h[0] != "a" {
				t.Fatalf("VIP holders %v during the reload, want only a", h)
			}
			st := na.status()
			for _, c := range st.Health.Checks {
				if c.Name == "process" {
					return strings.Contains(c.Detail, " "+strconv.Itoa(cur)+" "), c.Detail
				}
			}
			return false, fmt.Sprint(st.Health.Checks)
		})
	}
	steady(t, a, time.Second, a, b)
	after := na.status()
	if !after.Health.Healthy || !after.Health.Since.Equal(before.Health.Since) {
		t.Errorf("health after reloads: healthy %v since %v (was since %v): a reload counted as a failure",
			after.Health.Healthy, after.Health.Since, before.Health.Since)
	}
	if len(after.Transitions) != len(before.Transitions) {
		t.Errorf("transitions during reloads: %+v", after.Transitions[len(before.Transitions):])
	}
}

// workerPID is the PID show info reports (the worker, with -W); 0 if the
// runtime API does not answer.
func workerPID(t *testing.T, hp *lab.HAProxy) int {
	t.Helper()
	out, err := hp.API("show info")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(out, "\n") {
		if v, ok := strings.CutPrefix(line, "Pid: "); ok {
			pid, _ := strconv.Atoi(strings.TrimSpace(v))
			return pid
		}
	}
	return 0
}
