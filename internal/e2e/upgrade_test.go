//go:build linux

package e2e

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/proxypair/proxypair/internal/debtest"
	"github.com/proxypair/proxypair/internal/lab"
	"github.com/proxypair/proxypair/internal/lab/ppnode"
)

// preRewrite is the last commit before the daemon became an executor of a
// state machine that decides everything (fe43a2b): its stop sends one
// priority-0 advert and keeps the VIPs until the peer's first advert, its
// config has no control.state_dir (no maintenance), and it puts its VIPs
// on the interface without a label of their own.
const preRewrite = "1deaddf"

// build is one proxypair binary the upgrade tests install.
type build struct {
	path, version string
	// stateDir: the build knows control.state_dir (the maintenance state).
	stateDir bool
}

// env is what the node's /etc/default/proxypair sets for the build: the
// state directory in the host's directory, for builds that keep one
// (older builds refuse variables they do not know).
func (b build) env(h *lab.Host) []string {
	if !b.stateDir {
		return nil
	}
	return []string{"PROXYPAIR_CONTROL_STATE_DIR=" + h.Dir}
}

// builds are the binaries the upgrade tests install, made on first use:
// the current source's from its .deb (internal/debtest), preRewrite's from
// its tree.
var builds struct {
	mu      sync.Mutex
	current map[string]build
	old     *build
	oldErr  error
}

// packageBuild is the binary of the package of the current source stamped
// with version (as `make deb` stamps a release), unpacked from the .deb by
// dpkg-deb as dpkg does.
func packageBuild(t *testing.T, version string) build {
	t.Helper()
	builds.mu.Lock()
	defer builds.mu.Unlock()
	if b, ok := builds.current[version]; ok {
		return b
	}
	deb := debtest.Build(t, version).Deb
	root := filepath.Join(filepath.Dir(bin.proxypair), "root-"+version)
	if out, err := exec.Command("dpkg-deb", "-x", deb, root).CombinedOutput(); err != nil {
		t.Fatalf("unpacking %s: %v\n%s", deb, err, out)
	}
	if builds.current == nil {
		builds.current = map[string]build{}
	}
	b := build{path: filepath.Join(root, "usr/bin/proxypair"), version: version, stateDir: true}
	builds.current[version] = b
	return b
}

// oldBuild is preRewrite's daemon, built from `git archive` of that commit;
// the error wraps errNoCommit when this clone does not have it.
func oldBuild() (build, error) {
	builds.mu.Lock()
	defer builds.mu.Unlock()
	if builds.old == nil && builds.oldErr == nil {
		builds.old, builds.oldErr = buildCommit(preRewrite, filepath.Dir(bin.proxypair))
	}
	if builds.oldErr != nil {
		return build{}, builds.oldErr
	}
	return *builds.old, nil
}

var errNoCommit = errors.New("commit not in this clone (shallow, or not a git checkout)")

// buildCommit extracts commit's tree into dir and builds its proxypair
// there, stamped "old-<commit>". -trimpath, as debtest builds: the
// dependencies come from the build cache, only the commit's own packages
// are compiled (about 30 s on 2 cores the first time, then cached).
func buildCommit(commit, dir string) (*build, error) {
	root, err := filepath.Abs("../..")
	if err != nil {
		return nil, err
	}
	if out, err := exec.Command("git", "-C", root, "cat-file", "-e", commit+"^{commit}").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%s: %w: %v %s", commit, errNoCommit, err, out)
	}
	src := filepath.Join(dir, "src-"+commit)
	if err := os.MkdirAll(src, 0o755); err != nil {
		return nil, err
	}
	tarball := src + ".tar"
	if out, err := exec.Command("git", "-C", root, "archive", "--format=tar", "-o", tarball, commit).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("git archive %s: %v\n%s", commit, err, out)
	}
	if out, err := exec.Command("tar", "-x", "-f", tarball, "-C", src).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("extracting %s: %v\n%s", commit, err, out)
	}
	version := "old-" + commit
	out := filepath.Join(dir, "proxypair-"+version)
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-X main.version="+version, "-o", out, "./cmd/proxypair")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building proxypair at %s: %v\n%s", commit, err, b)
	}
	return &build{path: out, version: version}, nil
}

// pkgNode is a node as the .deb installs it: HAProxy, and proxypair with a
// config that stays the same across upgrades (a conffile) and the
// environment file's settings.
type pkgNode struct {
	*node
	build build
}

// startPkgNode runs HAProxy and build b of proxypair on h. The config has
// only keys every build knows (no state_dir: see build.env).
func startPkgNode(t *testing.T, h *lab.Host, b build, s settings, prio int, peer netip.Prefix) *pkgNode {
	t.Helper()
	hp := startHAProxy(t, h, lab.HAProxyConfig{})
	n := &pkgNode{build: b, node: &node{t: t, Node: &ppnode.Node{
		Host:       h,
		Binary:     b.path,
		ConfigFile: filepath.Join(h.Dir, "proxypair.yaml"),
		Socket:     filepath.Join(h.Dir, "proxypair.sock"),
		Env:        b.env(h),
	}}}
	cfg := s.yaml(prio, peer, healthYAML(hp, "")) + fmt.Sprintf("control:\n  socket: %s\nlog:\n  level: debug\n", n.Socket)
	if err := os.WriteFile(n.ConfigFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := n.Restart(); err != nil {
		t.Fatal(err)
	}
	return n
}

// upgrade does to the node what installing the package of build b does on
// a running server: dpkg unpacks the new binary over the old, then the
// postinst's `systemctl try-restart proxypair` stops the running daemon
// (SIGTERM; TimeoutStopSec=10s), runs ExecStopPost= (`proxypair cleanup`,
// now the new binary) and starts the new binary with the same config and
// environment.
func (n *pkgNode) upgrade(b build) {
	n.t.Helper()
	n.stop(b)
	n.start(b)
}

// stop is the first half of upgrade: the daemon's stop and build b's
// cleanup. Neither may leave the VIP on the interface.
func (n *pkgNode) stop(b build) {
	n.t.Helper()
	if err := n.Signal(syscall.SIGTERM); err != nil {
		n.t.Fatal(err)
	}
	if code, err := n.Wait(10 * time.Second); err != nil || code != 0 {
		n.t.Fatalf("%s: %s stopped with status %d, %v\n%s", n.Host.Name, n.build.version, code, err, n.Output())
	}
	// A graceful stop removes the VIP itself; ExecStopPost= is for crashes.
	if n.Host.HasAddr(vip.Addr()) {
		n.t.Errorf("%s: %s left the VIP on the interface at its stop", n.Host.Name, n.build.version)
	}
	n.run(b, "cleanup")
	if n.Host.HasAddr(vip.Addr()) {
		n.t.Fatalf("%s: the VIP is still on the interface after the stop and %s's cleanup", n.Host.Name, b.version)
	}
}

// start is the second half of upgrade: build b runs.
func (n *pkgNode) start(b build) {
	n.t.Helper()
	n.build, n.Binary, n.Env = b, b.path, b.env(n.Host)
	if err := n.Restart(); err != nil {
		n.t.Fatal(err)
	}
	if st, err := n.Status(context.Background()); err != nil || st.Version != b.version {
		n.t.Fatalf("%s after the upgrade: version %v, %v; want %s", n.Host.Name, st, err, b.version)
	}
}

// run runs `proxypair cmd` of build b on the node, with its config and
// environment, as an operator (or ExecStopPost=) would.
func (n *pkgNode) run(b build, cmd ...string) string {
	n.t.Helper()
	args := append(append(b.env(n.Host), b.path), append(cmd, "--config", n.ConfigFile)...)
	out, err := n.Host.Run(context.Background(), "env", args...)
	if err != nil {
		n.t.Fatalf("%s: proxypair %s (%s): %v", n.Host.Name, strings.Join(cmd, " "), b.version, err)
	}
	return out
}

// gapTolerance is the longest stretch without a holder an upgrade may
// show while the build from before the rewrite (preRewrite) runs on either
// node: its stop keeps the VIP only until the peer's first advert, and its
// preempted master drops the VIP on the new master's advert, which comes
// before that master adds it (tens of microseconds; 1.4 ms measured at
// load 7). A break-before-make stop would leave none for Skew_Time, 122 ms
// at these timers. Between current builds every move is make before
// break: no stretch without a holder at all.
const gapTolerance = 50 * time.Millisecond

// overlapBound is the longest stretch with two holders an upgrade may show:
// a node handing over keeps the VIP until the peer's gratuitous ARP, its
// second advert (a stop) or third (a preemption), or at most two advert
// intervals and fsm's margin (100 ms) after its first: 500 ms at these
// timers, doubled for a loaded machine. A VIP left behind would last until
// the node's next daemon starts.
const overlapBound = 2 * (2*200*time.Millisecond + 100*time.Millisecond)

var upgrades = flag.Int("upgrades", 1, "TestUpgradeRunningPair: how many times to upgrade the master between two packages (for numbers)")

// step is one step of the upgrades as the client and the VIP saw it.
type step struct {
	name       string
	lost, sent int64
	moves      int // the VIP's moves to another host
	cover      lab.Coverage
	took       time.Duration
}

// TestUpgradeRunningPair upgrades both nodes of a running pair (HAProxy on
// each, a client on a third host GETting the VIP every 10 ms), the master
// first, as installing a newer .deb does: from preRewrite's build to the
// current source's package, then between two packages of the current
// source; then once more by the README's rolling upgrade. After each step
// the VIP is on the expected node alone; no stretch without a holder at
// all (gapTolerance while preRewrite's build runs), none with two longer
// than overlapBound; a
// stopped daemon leaves no VIP; a step may lose at most the request in
// flight at each move of the VIP (its TCP connection was with the host the
// VIP left), none where the VIP does not move. With -upgrades N the
// master is upgraded N times (for the README's numbers).
func TestUpgradeRunningPair(t *testing.T) {
	t.Parallel()
	l, a, b := newPair(t)
	c, err := l.AddHost("c", addrC)
	if err != nil {
		t.Fatal(err)
	}
	v1, v2, v3 := packageBuild(t, "v1.0.0"), packageBuild(t, "v1.0.1"), packageBuild(t, "v1.0.2")
	first, err := oldBuild()
	switch {
	case errors.Is(err, errNoCommit):
		t.Logf("the upgrade from %s is not tested: %v", preRewrite, err)
		first = v1
	case err != nil:
		t.Fatal(err)
	}

	s := fast
	na := startPkgNode(t, a, first, s, 200, addrB)
	nb := startPkgNode(t, b, first, s, 100, addrA)
	waitHolder(t, a, 10*time.Second, a, b)
	nb.waitState("BACKUP", 5*time.Second)
	w, err := lab.WatchAddr(vip.Addr(), a, b)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // before the lab's: the watch holds its namespaces
		if err := w.Close(); err != nil {
			t.Errorf("VIP watch: %v", err)
		}
	})
	eventually(t, "the watch sees a holding the VIP", 5*time.Second, func() (bool, string) {
		h := w.Holders()
		return len(h) == 1 && h[0] == a.Name, fmt.Sprint(h)
	})
	cl := startClient(t, c)
	eventually(t, "the client's first answers", 5*time.Second, func() (bool, string) {
		return cl.sent.Load() > 20 && cl.failed.Load() == 0, fmt.Sprint(cl.failed.Load(), " failed")
	})

	var steps []step
	measure := func(name string, holder *lab.Host, do func()) {
		t.Helper()
		tolerance := time.Duration(0)
		if first != v1 && (na.build == first || nb.build == first) {
			tolerance = gapTolerance
		}
		from, lost, sent := time.Now(), cl.failed.Load(), cl.sent.Load()
		do()
		waitHolder(t, holder, 10*time.Second, a, b)
		// Long enough for a timed-out request (500 ms) to be counted here.
		steady(t, holder, 600*time.Millisecond, a, b)
		to := time.Now()
		st := step{name: name, lost: cl.failed.Load() - lost, sent: cl.sent.Load() - sent, cover: w.Coverage(from, to), took: to.Sub(from)}
		for _, e := range w.Events() {
			if e.Held && !e.At.Before(from) && !e.At.After(to) {
				st.moves++
			}
		}
		steps = append(steps, st)
		switch c := st.cover; {
		case st.lost > int64(st.moves):
			t.Errorf("%s: %d requests lost in %d moves of the VIP", name, st.lost, st.moves)
		case c.Gaps > 0 && c.LongestGap > tolerance:
			t.Errorf("%s: nobody held the VIP for %v", name, c.LongestGap)
		case c.LongestOverlap > overlapBound:
			t.Errorf("%s: two hosts held the VIP for %v", name, c.LongestOverlap)
		case len(c.Holders) != 1 || c.Holders[0] != holder.Name:
			t.Errorf("%s: the watch saw the VIP end on %v, want %s", name, c.Holders, holder.Name)
		}
	}

	// The package's upgrade: the master hands the VIP over on its stop
	// and takes it back by preemption once the new daemon runs. Measured
	// in two halves, so that each move's losses are counted apart (a
	// timed-out request shows 500 ms after the fact); systemd starts the
	// new daemon at once, here it waits for that, with the peer as master.
	installOnMaster := func(to build) {
		name := "package, master " + na.build.version + " → " + to.version
		measure(name+": stop, VIP to b", b, func() { na.stop(to) })
		measure(name+": start, VIP back", a, func() {
			na.start(to)
			nb.waitState("BACKUP", 10*time.Second)
		})
	}
	installOnBackup := func(to build) {
		measure("package, backup "+nb.build.version+" → "+to.version, a, func() { nb.upgrade(to) })
	}
	if first != v1 {
		installOnMaster(v1)
		installOnBackup(v1)
	}
	installOnMaster(v2)
	for i := 1; i < *upgrades; i++ { // more of the same, for numbers
		installOnMaster([]build{v1, v2}[(i+1)%2])
	}
	installOnBackup(na.build)

	// README "Rolling upgrade", step by step as written there; a is node
	// 1 (the master), b node 2.
	measure("rolling 1+2: handover on a, upgrade a", b, func() {
		na.run(na.build, "handover")
		na.upgrade(v3)
		if st := na.status(); st.Maintenance == nil || st.State != "BACKUP" {
			t.Fatalf("a after its upgrade: %s, maintenance %+v; want BACKUP in maintenance", st.State, st.Maintenance)
		}
	})
	measure("rolling 3: resume on a", a, func() {
		na.run(na.build, "resume")
	})
	measure("rolling 4: upgrade b", a, func() {
		nb.upgrade(v3)
		nb.waitState("BACKUP", 5*time.Second)
	})
	for _, n := range []*pkgNode{na, nb} {
		if st := n.status(); st.Maintenance != nil || st.EffectivePriority != st.ConfiguredPriority {
			t.Errorf("%s after the rolling upgrade: maintenance %+v, priority %d of %d", n.Host.Name, st.Maintenance, st.EffectivePriority, st.ConfiguredPriority)
		}
	}

	cl.close()
	var tw strings.Builder
	tab := tabwriter.NewWriter(&tw, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tab, "step\tlost\tsent\tmoves\tgaps\tlongest gap\toverlaps\tlongest overlap\ttook")
	for _, st := range steps {
		fmt.Fprintf(tab, "%s\t%d\t%d\t%d\t%d\t%v\t%d\t%v\t%v\n", st.name, st.lost, st.sent, st.moves,
			st.cover.Gaps, st.cover.LongestGap, st.cover.Overlaps, st.cover.LongestOverlap, st.took.Round(time.Millisecond))
	}
	tab.Flush()
	t.Logf("upgrades of a running pair (VIP holders from the kernel's address events):\n%s", tw.String())
	if n := cl.failed.Load(); n > 0 {
		t.Logf("%d of %d requests lost:\n%s", n, cl.sent.Load(), strings.Join(cl.errs, "\n"))
	}
	if t.Failed() {
		var ev strings.Builder
		for _, e := range w.Events() {
			fmt.Fprintf(&ev, "%s %s holds=%t\n", e.At.Format("15:04:05.000000"), e.Host, e.Held)
		}
		t.Logf("the VIP's moves:\n%s", ev.String())
	}
}
