//go:build linux

package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/proxypair/proxypair/internal/lab"
)

// The faults real hosts produce, against real daemons in namespaces. Each
// ended with nobody serving the VIP, or two nodes holding it, before the
// daemon reconciled with the kernel.

// fast are settings that keep these tests short: Master_Down ≈ 0.72 s.
var fast = settings{version: 3, interval: 200 * time.Millisecond}

// readded is the log line of a master putting back a VIP it lost.
const readded = "a VIP is missing from the interface; adding it"

// electedPair starts a (200) and b (100) with s and waits for a to hold
// the VIP.
func electedPair(t *testing.T, s settings) (*lab.Lab, *lab.Host, *lab.Host, *node, *node) {
	t.Helper()
	l, a, b := newPair(t)
	na := startProxypair(t, a, s.yaml(200, addrB, ""))
	nb := startProxypair(t, b, s.yaml(100, addrA, ""))
	waitHolder(t, a, s.masterDown(), a, b)
	nb.waitState("BACKUP", time.Second)
	return l, a, b, na, nb
}

// TestFaultVIPDeletedOnMaster: `ip addr del` of the VIP on the master (or
// networkd, or a DHCP renewal): it is put back at once, and the pair stays
// as it was.
func TestFaultVIPDeletedOnMaster(t *testing.T) {
	t.Parallel()
	_, a, b, na, _ := electedPair(t, seedV2)
	if err := a.DelAddr(vip); err != nil {
		t.Fatal(err)
	}
	waitHolder(t, a, 2*time.Second, a, b)
	if !strings.Contains(na.Output(), readded) {
		t.Errorf("a's log does not say it put the VIP back")
	}
	steady(t, a, 2*time.Second, a, b)
	if st := na.status(); st.State != "MASTER" || len(st.Transitions) != 2 {
		t.Errorf("a after the VIP came back: %s, transitions %+v", st.State, st.Transitions)
	}
}

// TestFaultInterfaceRecreated: eth1 deleted and created again with the same
// name (NIC detach/attach, a VLAN rebuilt). On the backup: it must hear
// the master on the new interface and stay backup, never a second holder.
// On the master: FAULT, the backup takes over, and the master comes back
// on its new interface and preempts: one holder throughout.
func TestFaultInterfaceRecreated(t *testing.T) {
	t.Parallel()
	t.Run("backup", func(t *testing.T) {
		t.Parallel()
		_, a, b, _, nb := electedPair(t, fast)
		if err := b.RecreateInterface(); err != nil {
			t.Fatal(err)
		}
		nb.waitState("BACKUP", 5*time.Second)
		// Well past Master_Down: a deaf backup would have taken over.
		steady(t, a, 4*fast.masterDown(), a, b)
		if st := nb.status(); st.Master != addrA.Addr().String() {
			t.Errorf("b's master after re-creation: %q", st.Master)
		}
	})
	t.Run("master", func(t *testing.T) {
		t.Parallel()
		_, a, b, na, _ := electedPair(t, fast)
		if err := a.RecreateInterface(); err != nil {
			t.Fatal(err)
		}
		// a drops out (FAULT) and comes back on the new interface, where
		// its adverts must reach b for it to preempt.
		waitHolder(t, a, 10*fast.masterDown(), a, b)
		steady(t, a, 2*time.Second, a, b)
		st := na.status()
		var reasons []string
		for _, tr := range st.Transitions {
			reasons = append(reasons, tr.Reason)
		}
		if !slices.Contains(reasons, "link_down") {
			t.Errorf("a's transitions %v: the interface going away was not a link loss", reasons)
		}
		if !strings.Contains(na.Output(), "reopening its sockets") {
			t.Errorf("a's log does not say it reopened its sockets")
		}
	})
}

// TestFaultSecondRunChangesNothing: an operator starts a second daemon for
// the same interface and VRID (to debug it): it exits with a clear error
// before touching any address, and the master's VIP never goes.
func TestFaultSecondRunChangesNothing(t *testing.T) {
	t.Parallel()
	_, a, b, na, _ := electedPair(t, fast)
	other := filepath.Join(a.Dir, "other.sock")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := a.Run(ctx, bin.proxypair, "run", "--config", na.ConfigFile,
		"--set", "log.level=debug", "--set", "control.socket="+other)
	if ctx.Err() != nil {
		t.Fatalf("a second run on the master kept running:\n%s", out)
	}
	if err == nil {
		t.Fatalf("a second run on the master succeeded:\n%s", out)
	}
	if !strings.Contains(out, "another proxypair is running") && !strings.Contains(out, "is running for eth1 VRID 51") {
		t.Errorf("the second run's error does not say why:\n%s", out)
	}
	if _, err := os.Stat(other); err == nil {
		t.Errorf("the second run got as far as its control socket")
	}
	steady(t, a, time.Second, a, b)
	if strings.Contains(na.Output(), readded) {
		t.Errorf("the master lost its VIP to the second run (it had to put it back)")
	}
}

// TestFaultCleanupAgainstLiveMaster: `proxypair cleanup` by hand on the
// live master is refused and changes nothing; --force removes the VIP, and
// the master, which still wants it, puts it back.
func TestFaultCleanupAgainstLiveMaster(t *testing.T) {
	t.Parallel()
	_, a, b, na, _ := electedPair(t, fast)
	out, err := a.Run(context.Background(), bin.proxypair, "cleanup", "--config", na.ConfigFile)
	if err == nil || !strings.Contains(out, "cleanup refused") {
		t.Fatalf("cleanup against a live master: %v\n%s", err, out)
	}
	steady(t, a, time.Second, a, b)
	if strings.Contains(na.Output(), readded) {
		t.Fatalf("the refused cleanup removed the VIP anyway")
	}
	if out, err := a.Run(context.Background(), bin.proxypair, "cleanup", "--force", "--config", na.ConfigFile); err != nil {
		t.Fatalf("cleanup --force: %v\n%s", err, out)
	}
	waitHolder(t, a, 2*time.Second, a, b)
	if !strings.Contains(na.Output(), readded) {
		t.Errorf("the master did not notice --force removing its VIP")
	}
}

// TestFaultBackupFrozen: the backup stopped (SIGSTOP: a VM pause, CPU
// starvation) for well past Master_Down while the master stays alive, then
// resumed: the master's queued adverts come first, no takeover.
func TestFaultBackupFrozen(t *testing.T) {
	t.Parallel()
	_, a, b, _, nb := electedPair(t, fast)
	before := len(nb.status().Transitions)
	if err := nb.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// Time passing, not synchronisation: the backup is frozen for it.
	time.Sleep(4 * fast.masterDown())
	if err := nb.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	steady(t, a, 2*time.Second, a, b)
	if tr := nb.status().Transitions; len(tr) != before {
		t.Errorf("b changed state after its stall: %+v", tr[before:])
	}
}

// TestFaultOneWayLoss: b stops hearing VRRP (a still hears b). b takes over
// (it cannot know better), a answers b's lower priority at a bounded rate,
// and the pair heals to one holder as soon as b hears again.
func TestFaultOneWayLoss(t *testing.T) {
	t.Parallel()
	l, a, b, na, nb := electedPair(t, fast)
	c, err := l.AddHost("c", addrC)
	if err != nil {
		t.Fatal(err)
	}
	wire := observe(t, c)
	if err := b.BlockVRRPIn(true); err != nil {
		t.Fatal(err)
	}
	nb.waitState("MASTER", 4*fast.masterDown())
	start, from := na.status(), time.Now()
	// Time passing, not synchronisation: the loss lasts this long.
	const span = 6 * time.Second
	time.Sleep(span)
	mid, to := na.status(), time.Now()
	if got, limit := mid.AdvertsSent-start.AdvertsSent, uint64(2*span/fast.interval+5); got > limit {
		t.Errorf("a sent %d adverts in %v of one-way loss at %v, want at most %d", got, span, fast.interval, limit)
	}
	// b's own takeover burst is 5 ARPs; a answers b at most once per 5 s
	// (a burst of 5, and 5 more 5 s later), not at every advert of b's.
	if got := wire.garpsFor(vip.Addr(), from, to); got > 5+2*2*5 {
		t.Errorf("%d gratuitous ARPs for the VIP in %v of one-way loss, want at most %d", got, span, 5+2*2*5)
	}
	if mid.State != "MASTER" {
		t.Errorf("a during one-way loss: %s", mid.State)
	}
	if err := b.BlockVRRPIn(false); err != nil {
		t.Fatal(err)
	}
	waitHolder(t, a, 3*fast.masterDown(), a, b)
	nb.waitState("BACKUP", time.Second)
	steady(t, a, time.Second, a, b)
	if n := strings.Count(na.Output(), "gratuitous ARP failed"); n > 0 {
		t.Errorf("a: %d gratuitous ARP failures", n)
	}
}

// TestFaultReloads: SIGHUP applies priority and VIP changes live, during a
// transition and while unhealthy, without dropping the VIP or lifting an
// unhealthy node's lowered priority.
func TestFaultReloads(t *testing.T) {
	t.Parallel()
	_, a, b := newPair(t)
	s := fast
	vip2 := netip.MustParsePrefix("198.18.0.101/24")
	two := fmt.Sprintf("  virtual_ips: [%v, %v]\n", vip, vip2)
	na := startProxypair(t, a, s.yaml(200, addrB, ""))
	nb := startProxypair(t, b, s.yaml(100, addrA, ""))
	waitHolder(t, a, s.masterDown(), a, b)

	// A second VIP, on both: added live on the master, the first never
	// leaving it.
	for _, n := range []struct {
		n    *node
		prio int
	}{{na, 200}, {nb, 100}} {
		rewrite(t, n.n, strings.Replace(s.yaml(n.prio, addrB, ""), fmt.Sprintf("  virtual_ips: [%v]\n", vip), two, 1))
		if err := n.n.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "the second VIP on a", 2*time.Second, func() (bool, string) {
		return a.HasAddr(vip2.Addr()), fmt.Sprint(holders(a, b))
	})
	steady(t, a, time.Second, a, b)

	// b raised above a: it takes over; SIGHUPs to b during its takeover
	// change nothing else.
	rewrite(t, nb, strings.Replace(s.yaml(250, addrA, ""), fmt.Sprintf("  virtual_ips: [%v]\n", vip), two, 1))
	nb.Signal(syscall.SIGHUP)
	for range 5 {
		nb.Signal(syscall.SIGHUP)
	}
	waitHolder(t, b, 2*s.masterDown(), a, b)
	for _, h := range []*lab.Host{a, b} {
		if h.HasAddr(vip2.Addr()) != (h == b) {
			t.Errorf("the second VIP is on %s: %v", h.Name, h.HasAddr(vip2.Addr()))
		}
	}

}

// TestFaultReloadOnUnhealthyMaster: a SIGHUP on an unhealthy master (alone,
// so it serves at its lowered priority) must not put one advert with its
// healthy priority on the wire: a healthy peer would take that for a
// master that came back.
func TestFaultReloadOnUnhealthyMaster(t *testing.T) {
	t.Parallel()
	l, a, _ := newPair(t)
	c, err := l.AddHost("c", addrC)
	if err != nil {
		t.Fatal(err)
	}
	wire := observe(t, c)
	s := fast
	unhealthy := fmt.Sprintf("health:\n  enabled: true\n  interval: 100ms\n  haproxy:\n    socket: %s\n", filepath.Join(a.Dir, "no-haproxy.sock"))
	na := startProxypair(t, a, s.yaml(200, addrB, unhealthy))
	na.waitState("MASTER", 2*s.masterDown())
	na.eventually("a unhealthy at priority 1", 5*time.Second, func() (bool, string) {
		st := na.status()
		return st.Health != nil && !st.Health.Healthy && st.EffectivePriority == 1, fmt.Sprintf("%+v", st.Health)
	})
	reloaded := time.Now()
	rewrite(t, na, s.yaml(220, addrB, unhealthy))
	if err := na.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	na.eventually("a's reload", 2*time.Second, func() (bool, string) {
		st := na.status()
		return st.ConfiguredPriority == 220, fmt.Sprint(st.ConfiguredPriority)
	})
	// Adverts keep coming every 200 ms; look at a second's worth.
	eventually(t, "adverts after the reload", 5*time.Second, func() (bool, string) {
		n := len(wire.advertsFrom(addrA.Addr(), reloaded))
		return n >= 5, fmt.Sprint(n, " adverts")
	})
	for _, ad := range wire.advertsFrom(addrA.Addr(), reloaded) {
		if ad.priority != 1 {
			t.Fatalf("a advertised priority %d after the reload while unhealthy, want 1", ad.priority)
		}
	}
	if st := na.status(); st.EffectivePriority != 1 || st.State != "MASTER" {
		t.Errorf("a after the reload: %s, priority %d", st.State, st.EffectivePriority)
	}
}

// TestFaultVIPEqualsOwnAddress: a VIP configured equal to an address the
// node already has (its own eth1 address, by mistake) is refused at start,
// naming it; the address is never removed, by start-up or by cleanup.
func TestFaultVIPEqualsOwnAddress(t *testing.T) {
	t.Parallel()
	_, a, _ := newPair(t)
	cfg := strings.Replace(seedV2.yaml(200, addrB, ""), fmt.Sprintf("  virtual_ips: [%v]\n", vip), fmt.Sprintf("  virtual_ips: [%v]\n", addrA), 1)
	rewriteFile := filepath.Join(a.Dir, "own.yaml")
	full := cfg + fmt.Sprintf("control:\n  socket: %s\n", filepath.Join(a.Dir, "own.sock"))
	if err := os.WriteFile(rewriteFile, []byte(full), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := a.Run(ctx, bin.proxypair, "run", "--config", rewriteFile)
	if err == nil || ctx.Err() != nil {
		t.Fatalf("run with a VIP equal to eth1's own address: %v\n%s", err, out)
	}
	if !strings.Contains(out, "198.18.0.1 is already on eth1") {
		t.Errorf("the error does not name the address:\n%s", out)
	}
	if _, err := a.Run(context.Background(), bin.proxypair, "cleanup", "--config", rewriteFile); err != nil {
		t.Fatalf("cleanup: %v", err)
	}
	if !a.HasAddr(addrA.Addr()) {
		t.Fatal("eth1 lost its own address")
	}
}

// rewrite replaces a node's config file (without the control and log
// sections, which it keeps).
func rewrite(t *testing.T, n *node, cfg string) {
	t.Helper()
	if err := n.Rewrite(cfg); err != nil {
		t.Fatal(err)
	}
}
