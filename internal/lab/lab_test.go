//go:build linux

package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) to create network namespaces")
	}
}

func mustHost(t *testing.T, l *Lab, name, addr string) *Host {
	t.Helper()
	h, err := l.AddHost(name, netip.MustParsePrefix(addr))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func timeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// alive reports whether pid is a running (not zombie) process.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && len(s) > i+2 && s[i+2] != 'Z'
}

func TestHostsPingEachOther(t *testing.T) {
	t.Parallel()
	l := NewT(t)
	a := mustHost(t, l, "a", "198.18.0.1/24")
	b := mustHost(t, l, "b", "198.18.0.2/24")

	ctx := timeout(t, 20*time.Second)
	for _, tc := range []struct{ from, to *Host }{{a, b}, {b, a}} {
		out, err := tc.from.Run(ctx, "ping", "-c", "1", "-W", "2", tc.to.Addr.Addr().String())
		if err != nil {
			t.Errorf("ping %s → %s: %v", tc.from.Name, tc.to.Name, err)
		} else if !strings.Contains(out, "1 received") {
			t.Errorf("ping %s → %s: no reply:\n%s", tc.from.Name, tc.to.Name, out)
		}
	}

	got, err := a.Addrs()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != a.Addr {
		t.Errorf("a.Addrs() = %v, want [%v]", got, a.Addr)
	}
	if !a.HasAddr(a.Addr.Addr()) || a.HasAddr(b.Addr.Addr()) {
		t.Errorf("a.HasAddr: own %t (want true), b's %t (want false)", a.HasAddr(a.Addr.Addr()), a.HasAddr(b.Addr.Addr()))
	}
}

func TestSetLinkAndIsolation(t *testing.T) {
	t.Parallel()
	l := NewT(t)
	a := mustHost(t, l, "a", "198.18.0.1/24")
	b := mustHost(t, l, "b", "198.18.0.2/24")
	ctx := timeout(t, 30*time.Second)
	ping := func() error {
		_, err := a.Run(ctx, "ping", "-c", "1", "-W", "1", b.Addr.Addr().String())
		return err
	}

	steps := []struct {
		name   string
		do     func() error
		wantOK bool
	}{
		{"baseline", func() error { return nil }, true},
		{"b link down", func() error { return b.SetLink(false) }, false},
		{"b link up", func() error { return b.SetLink(true) }, true},
		{"b isolated", func() error { return b.SetIsolated(true) }, false},
		{"b reconnected", func() error { return b.SetIsolated(false) }, true},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if !s.wantOK {
			if err := ping(); err == nil {
				t.Errorf("%s: ping a → b succeeded, want no reply", s.name)
			}
			continue
		}
		// The kernel's linkwatch may apply a carrier change up to a
		// second late, so reachability comes back "soon", not at once.
		if err := Eventually(ctx, 10*time.Millisecond, func() (bool, string) {
			err := ping()
			return err == nil, fmt.Sprint(err)
		}); err != nil {
			t.Errorf("%s: ping a → b: %v", s.name, err)
		}
	}
}

func TestAddHostRejects(t *testing.T) {
	t.Parallel()
	l := NewT(t)
	mustHost(t, l, "a", "198.18.0.1/24")
	for _, tc := range []struct{ name, addr, want string }{
		{"b", "10.0.0.1/24", "outside 198.18.0.0/24"},
		{"b", "198.18.1.1/16", "outside 198.18.0.0/24"},
		{"b", "198.18.0.255/24", "broadcast"},
		{"b", "198.18.0.1/24", "already used by a"},
		{"a", "198.18.0.9/24", "already exists"},
		{"Bad", "198.18.0.9/24", "host name"},
		{"sw", "198.18.0.9/24", "host name"},
		{"waytoolongname", "198.18.0.9/24", "host name"},
	} {
		_, err := l.AddHost(tc.name, netip.MustParsePrefix(tc.addr))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("AddHost(%q, %s) = %v, want error containing %q", tc.name, tc.addr, err, tc.want)
		}
	}
}

func TestCloseRemovesEverything(t *testing.T) {
	t.Parallel()
	needRoot(t)
	l, err := New(Options{StopTimeout: 300 * time.Millisecond, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() }) // in case we fail before our Close
	a := mustHost(t, l, "a", "198.18.0.1/24")
	b := mustHost(t, l, "b", "198.18.0.2/24")

	polite, err := a.Start("sleep", "1000")
	if err != nil {
		t.Fatal(err)
	}
	// Ignores SIGTERM, and has a child (sleep) in its process group.
	stubborn, err := b.Start("sh", "-c", `trap "" TERM; echo ready; while :; do sleep 1; done`)
	if err != nil {
		t.Fatal(err)
	}
	// Not tracked by the lab at all: only the namespace sweep finds it.
	stray := b.Command(context.Background(), "sleep", "1000")
	if err := stray.Start(); err != nil {
		t.Fatal(err)
	}
	strayDone := make(chan error, 1)
	go func() { strayDone <- stray.Wait() }()

	// Wait until all three have entered their namespaces (ip(8) runs in
	// ours until it switches and execs) and sh has set its trap.
	var pids []int
	ctx := timeout(t, 10*time.Second)
	if err := Eventually(ctx, 10*time.Millisecond, func() (bool, string) {
		pids = nil
		for _, ns := range []string{a.NS, b.NS} {
			p, _ := nsPIDs(nsPath(ns))
			pids = append(pids, p...)
		}
		in := 0
		for _, pid := range []int{polite.PID(), stubborn.PID(), stray.Process.Pid} {
			if slices.Contains(pids, pid) {
				in++
			}
		}
		ready := strings.Contains(stubborn.Output(), "ready")
		return in == 3 && ready, fmt.Sprintf("%d of 3 in the lab (%v), trap set %t", in, pids, ready)
	}); err != nil {
		t.Fatal(err)
	}
	dir := l.Dir()

	start := time.Now()
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Errorf("Close took %v: it cannot have waited StopTimeout for the SIGTERM-ignoring process", took)
	}
	for _, p := range []*Process{polite, stubborn} {
		if !p.Exited() {
			t.Errorf("%s (pid %d) still running after Close", p.name, p.PID())
		}
	}
	select {
	case <-strayDone:
	case <-time.After(5 * time.Second):
		t.Errorf("untracked process %d still running after Close", stray.Process.Pid)
	}
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("pid %d from the lab still alive after Close", pid)
		}
	}
	for _, ns := range []string{a.NS, b.NS, l.sw.name} {
		if _, err := os.Stat(nsPath(ns)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("namespace %s still exists after Close (stat: %v)", ns, err)
		}
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lab dir %s still exists after Close (stat: %v)", dir, err)
	}

	if err := l.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	if _, err := a.Start("true"); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after Close = %v, want ErrClosed", err)
	}
	if _, err := l.AddHost("c", netip.MustParsePrefix("198.18.0.3/24")); !errors.Is(err, ErrClosed) {
		t.Errorf("AddHost after Close = %v, want ErrClosed", err)
	}
}

func TestProcessLifecycle(t *testing.T) {
	t.Parallel()
	l := NewT(t)
	h := mustHost(t, l, "a", "198.18.0.1/24")

	t.Run("exit code and output", func(t *testing.T) {
		p, err := h.Start("sh", "-c", "echo hello from $(ip -br addr show dev eth1 | cut -c1-4); exit 3")
		if err != nil {
			t.Fatal(err)
		}
		code, err := p.Wait(10 * time.Second)
		if err != nil || code != 3 {
			t.Errorf("Wait = %d, %v; want 3, nil", code, err)
		}
		if got := p.Output(); !strings.Contains(got, "hello from eth1") {
			t.Errorf("Output = %q, want it to contain %q (run inside the namespace)", got, "hello from eth1")
		}
		if err := p.Stop(time.Second); err == nil || !strings.Contains(err.Error(), "status 3") {
			t.Errorf("Stop of a process that exited 3 = %v, want an error naming status 3", err)
		}
	})
	t.Run("pid is the program's", func(t *testing.T) {
		p, err := h.Start("sleep", "1000")
		if err != nil {
			t.Fatal(err)
		}
		// ip(8) runs first under that PID, then execs the program.
		err = Eventually(timeout(t, 5*time.Second), 5*time.Millisecond, func() (bool, string) {
			comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", p.PID()))
			return strings.TrimSpace(string(comm)) == "sleep", fmt.Sprintf("comm %q, %v", comm, err)
		})
		if err != nil {
			t.Errorf("pid %d never became sleep: %v", p.PID(), err)
		}
		if _, err := p.Wait(0); !errors.Is(err, ErrRunning) {
			t.Errorf("Wait(0) on a running process = %v, want ErrRunning", err)
		}
		if err := p.Stop(5 * time.Second); err != nil {
			t.Errorf("Stop = %v, want nil (sleep dies of SIGTERM)", err)
		}
	})
	t.Run("kill", func(t *testing.T) {
		p, err := h.Start("sleep", "1000")
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Kill(); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Wait(time.Second); err == nil || !strings.Contains(err.Error(), "killed") {
			t.Errorf("Wait after Kill = %v, want an error saying it was killed", err)
		}
		if err := p.Signal(syscall.SIGTERM); !errors.Is(err, os.ErrProcessDone) {
			t.Errorf("Signal after Kill = %v, want os.ErrProcessDone", err)
		}
	})
	t.Run("run error carries output", func(t *testing.T) {
		_, err := h.Run(context.Background(), "sh", "-c", "echo boom >&2; exit 1")
		var ce *CommandError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), "boom") {
			t.Errorf("Run error = %v, want a *CommandError containing the output", err)
		}
	})
}

func TestSweep(t *testing.T) {
	t.Parallel()
	needRoot(t)
	// A live process that is not the creator: its PID with a wrong start
	// time stands for a dead creator whose PID was reused.
	other := exec.Command("sleep", "1000")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Process.Kill(); other.Wait() })
	otherPID := other.Process.Pid
	otherStart, err := procStartTime(otherPID)
	if err != nil {
		t.Fatal(err)
	}
	deadPID := pidMaxLimit + 1 + os.Getpid() // no process can have it

	type fake struct {
		name, tag string
		withProc  bool
		wantGone  bool
	}
	fakes := []fake{
		{name: fmt.Sprintf("pp-%d-1-ghost", deadPID), withProc: true, wantGone: true},
		{name: fmt.Sprintf("pp-%d-7-reused", otherPID), tag: fmt.Sprintf("pplab-creator-%d-%d", otherPID, otherStart+1), wantGone: true},
		{name: fmt.Sprintf("pp-%d-8-live", otherPID), tag: fmt.Sprintf("pplab-creator-%d-%d", otherPID, otherStart), wantGone: false},
		{name: fmt.Sprintf("pp-%d-9-untagged", otherPID), wantGone: false},
	}
	var procs []*exec.Cmd
	for _, f := range fakes {
		if err := runIP(context.Background(), "netns", "add", f.name); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { deleteNS(f.name) })
		if f.tag != "" {
			if err := ipBatch(f.name, "link set dev lo alias "+f.tag); err != nil {
				t.Fatal(err)
			}
		}
		if f.withProc {
			c := exec.Command("ip", "netns", "exec", f.name, "sleep", "1000")
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Process.Kill(); c.Wait() })
			procs = append(procs, c)
		}
	}
	// Every New (in other tests and test binaries too) sweeps, so the
	// ghost may be gone before our Sweep: wait until its process is inside
	// or a sweep already took it.
	ctx := timeout(t, 10*time.Second)
	if err := Eventually(ctx, 10*time.Millisecond, func() (bool, string) {
		pids, err := nsPIDs(nsPath(fakes[0].name))
		_, statErr := os.Stat(nsPath(fakes[0].name))
		return len(pids) == 1 || errors.Is(statErr, os.ErrNotExist), fmt.Sprintf("processes in %s: %v, %v", fakes[0].name, pids, err)
	}); err != nil {
		t.Fatal(err)
	}

	deadDir := fmt.Sprintf("%s/pp-%d-123", os.TempDir(), deadPID)
	foreignDir := fmt.Sprintf("%s/pp-%d-456", os.TempDir(), deadPID)
	for _, d := range []string{deadDir, foreignDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(d) })
	}
	if err := os.WriteFile(deadDir+"/"+creatorFile, []byte(fmt.Sprintf("pplab-creator-%d-1", deadPID)), 0o600); err != nil {
		t.Fatal(err)
	}

	if err := Sweep(t.Logf); err != nil {
		t.Errorf("Sweep: %v", err)
	}

	for _, f := range fakes {
		_, err := os.Stat(nsPath(f.name))
		if gone := errors.Is(err, os.ErrNotExist); gone != f.wantGone {
			t.Errorf("namespace %s: gone = %t, want %t", f.name, gone, f.wantGone)
		}
	}
	for _, c := range procs {
		done := make(chan struct{})
		go func() { c.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Errorf("process %d in a swept namespace still running", c.Process.Pid)
		}
	}
	if _, err := os.Stat(deadDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dead lab's dir %s not removed (stat: %v)", deadDir, err)
	}
	if _, err := os.Stat(foreignDir); err != nil {
		t.Errorf("dir %s without the creator marker was touched: %v", foreignDir, err)
	}
}

func TestParseCreator(t *testing.T) {
	for _, tc := range []struct {
		name    string
		wantPID int
		wantOK  bool
	}{
		{"pp-1234-1-node1", 1234, true},
		{"pp-1234-12-sw", 1234, true},
		{"pp-1234-1-", 0, false},
		{"pp-1234-node1", 0, false},
		{"pp-x-1-node1", 0, false},
		{"ppcap-ka", 0, false},
		{"ppe-exp", 0, false},
		{"pp-1234-1-Node", 0, false},
		{"xpp-1234-1-node", 0, false},
		{"pp-12345678901-1-node", 0, false},
	} {
		pid, ok := parseCreator(nsNameRE, tc.name)
		if pid != tc.wantPID || ok != tc.wantOK {
			t.Errorf("parseCreator(%q) = %d, %t; want %d, %t", tc.name, pid, ok, tc.wantPID, tc.wantOK)
		}
	}
}

func TestCreatorAlive(t *testing.T) {
	start, err := procStartTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	ppid := os.Getppid()
	pstart, err := procStartTime(ppid)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		pid  int
		tag  string
		want bool
	}{
		{"self", os.Getpid(), "", true},
		{"self, any tag", os.Getpid(), "junk", true},
		{"parent untagged", ppid, "", true},
		{"parent tagged", ppid, fmt.Sprintf("pplab-creator-%d-%d", ppid, pstart), true},
		{"parent, reused pid", ppid, fmt.Sprintf("pplab-creator-%d-%d", ppid, pstart+1), false},
		{"impossible pid", pidMaxLimit + 1, "", false},
		{"pid 0", 0, "", false},
	} {
		if got := creatorAlive(tc.pid, tc.tag); got != tc.want {
			t.Errorf("%s: creatorAlive(%d, %q) = %t, want %t", tc.name, tc.pid, tc.tag, got, tc.want)
		}
	}
	if creatorTag() != fmt.Sprintf("pplab-creator-%d-%d", os.Getpid(), start) {
		t.Errorf("creatorTag() = %q, want pid and start time %d", creatorTag(), start)
	}
}

func TestCheckAddr(t *testing.T) {
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"198.18.0.1/24", true},
		{"198.18.0.254/24", true},
		{"198.18.0.100/32", true},
		{"198.18.0.0/24", false},
		{"198.18.0.255/24", false},
		{"198.18.1.1/24", false},
		{"198.18.0.1/16", false},
		{"192.168.200.102/24", false},
		{"2001:db8::1/64", false},
	} {
		err := checkAddr(netip.MustParsePrefix(tc.addr))
		if (err == nil) != tc.ok {
			t.Errorf("checkAddr(%s) = %v, want ok %t", tc.addr, err, tc.ok)
		}
	}
}

func TestDialAndListenInHosts(t *testing.T) {
	t.Parallel()
	l := NewT(t)
	a := mustHost(t, l, "a", "198.18.0.1/24")
	b := mustHost(t, l, "b", "198.18.0.2/24")
	ln, err := b.Listen("tcp", "198.18.0.2:7000")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	from := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			from <- err.Error()
			return
		}
		defer c.Close()
		from <- c.RemoteAddr().String()
		io.WriteString(c, "pong")
	}()

	ctx := timeout(t, 10*time.Second)
	c, err := a.DialContext(ctx, "tcp", "198.18.0.2:7000")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "pong" {
		t.Errorf("read %q, %v from b; want pong", got, err)
	}
	if remote := <-from; !strings.HasPrefix(remote, "198.18.0.1:") {
		t.Errorf("b saw the connection from %s, want a's 198.18.0.1", remote)
	}
}
