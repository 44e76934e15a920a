package healthcheck

// Lab helpers: a real HAProxy in a throw-away network namespace. They move to
// internal/lab later; keep them free of tracker internals.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

var nsSeq atomic.Int32

// needRoot skips t unless it runs as root.
func needRoot(t *testing.T, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) to %s", why)
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2's ip to create network namespaces")
	}
}

// newNetNS creates the namespace ppe-<pid>-<n> with loopback up and deletes
// it in t.Cleanup.
func newNetNS(t *testing.T) string {
	t.Helper()
	needRoot(t, "create network namespaces")
	name := fmt.Sprintf("ppe-%d-%d", os.Getpid(), nsSeq.Add(1))
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	if out, err := exec.Command("ip", "-n", name, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip -n %s link set lo up: %v: %s", name, err, out)
	}
	return name
}

// labConfig is the HAProxy configuration of the lab: fe_main uses be_app,
// whose two servers are fe_s1 and fe_s2 of the same HAProxy; be_unused is
// used by no frontend and its only server is always DOWN.
const labConfig = `global
    stats socket {{DIR}}/admin.sock mode 600 level admin
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe_main
    bind 127.0.0.1:8080
    default_backend be_app
frontend fe_s1
    bind 127.0.0.1:8081
    http-request return status 200
frontend fe_s2
    bind 127.0.0.1:8082
    http-request return status 200
backend be_app
    option httpchk GET /
    server s1 127.0.0.1:8081 check inter 100ms fall 1 rise 1
    server s2 127.0.0.1:8082 check inter 100ms fall 1 rise 1
backend be_unused
    server u1 127.0.0.1:8099 check inter 100ms fall 1 rise 1
`

// labHAProxy is one HAProxy process (tree) in its own namespace.
type labHAProxy struct {
	t      *testing.T
	NS     string
	Dir    string
	Config string
	Socket string
	PID    int // the process we started: the only one with -db, the master with -W

	cmd  *exec.Cmd
	done chan struct{}
	mu   sync.Mutex
	log  bytes.Buffer
}

// startHAProxy writes labConfig to a temp dir and runs
// `ip netns exec NS haproxy -db [-W] -f cfg`, in a new process group that
// t.Cleanup kills. It returns once the runtime API answers, be_app has
// both servers UP and be_unused's server has failed its first check.
func startHAProxy(t *testing.T, masterWorker bool) *labHAProxy {
	t.Helper()
	if _, err := exec.LookPath("haproxy"); err != nil {
		t.Skip("needs haproxy (Debian package haproxy)")
	}
	ns := newNetNS(t)
	dir := t.TempDir()
	h := &labHAProxy{t: t, NS: ns, Dir: dir, Config: filepath.Join(dir, "haproxy.cfg"), Socket: filepath.Join(dir, "admin.sock"), done: make(chan struct{})}
	if err := os.WriteFile(h.Config, []byte(strings.ReplaceAll(labConfig, "{{DIR}}", dir)), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"netns", "exec", ns, "haproxy", "-db"}
	if masterWorker {
		args = append(args, "-W")
	}
	args = append(args, "-f", h.Config)
	h.cmd = exec.Command("ip", args...)
	h.cmd.Stdout = h.logWriter()
	h.cmd.Stderr = h.logWriter()
	h.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := h.cmd.Start(); err != nil {
		t.Fatalf("start haproxy: %v", err)
	}
	h.PID = h.cmd.Process.Pid // ip netns exec execs haproxy: same PID
	go func() { _ = h.cmd.Wait(); close(h.done) }()
	t.Cleanup(func() {
		// The whole group: with -W the workers too.
		_ = syscall.Kill(-h.PID, syscall.SIGKILL)
		select {
		case <-h.done:
		case <-time.After(5 * time.Second):
			t.Errorf("haproxy %d did not exit after SIGKILL", h.PID)
		}
		if t.Failed() {
			t.Logf("haproxy log:\n%s", h.Log())
		}
	})
	h.WaitFor(10*time.Second, "be_app servers UP and be_unused/u1 DOWN", func() bool {
		out, err := h.CLI("show stat")
		return err == nil && statusOf(out, "be_app", "s1") == "UP" &&
			statusOf(out, "be_app", "s2") == "UP" && statusOf(out, "be_unused", "u1") == "DOWN"
	})
	return h
}

type lockedWriter struct{ h *labHAProxy }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.h.mu.Lock()
	defer w.h.mu.Unlock()
	return w.h.log.Write(p)
}

func (h *labHAProxy) logWriter() io.Writer { return lockedWriter{h} }

// Log returns what HAProxy printed so far.
func (h *labHAProxy) Log() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.log.String()
}

// CLI runs one runtime API command and returns its answer.
func (h *labHAProxy) CLI(cmd string) (string, error) {
	c, err := net.DialTimeout("unix", h.Socket, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte(cmd + "\n")); err != nil {
		return "", err
	}
	b, err := io.ReadAll(c)
	return string(b), err
}

// MustCLI runs a command that must answer with nothing but blank lines or
// the given expected text.
func (h *labHAProxy) MustCLI(cmd string) string {
	h.t.Helper()
	out, err := h.CLI(cmd)
	if err != nil {
		h.t.Fatalf("haproxy CLI %q: %v", cmd, err)
	}
	return out
}

// WorkerPID is the PID that show info reports (the worker with -W).
func (h *labHAProxy) WorkerPID() int {
	h.t.Helper()
	out := h.MustCLI("show info")
	pid := pidFromInfo(out)
	if pid == 0 {
		h.t.Fatalf("no Pid in show info: %q", out)
	}
	return pid
}

// Kill sends SIGKILL to the process we started and waits until it is gone.
func (h *labHAProxy) Kill() {
	h.t.Helper()
	if err := syscall.Kill(h.PID, syscall.SIGKILL); err != nil {
		h.t.Fatalf("kill haproxy %d: %v", h.PID, err)
	}
}

// WaitFor polls cond every 10 ms until it holds or the deadline passes.
func (h *labHAProxy) WaitFor(d time.Duration, what string, cond func() bool) {
	h.t.Helper()
	waitFor(h.t, d, what, cond)
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not synchronisation
	}
}

// statusOf returns the status column of proxy/name in show stat output.
func statusOf(stat, proxy, name string) string {
	rows, err := parseStatCSV(strings.NewReader(strings.TrimPrefix(strings.TrimLeft(stat, "\n"), "# ")))
	if err != nil {
		return ""
	}
	for _, r := range rows {
		if r.Proxy == proxy && r.Name == name {
			return r.Status
		}
	}
	return ""
}

// testLogger logs through t.Log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// runTracker runs tr until the test ends and returns its events channel.
func runTracker(t *testing.T, tr *Tracker) <-chan Event {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	events := make(chan Event, 16)
	done := make(chan error, 1)
	go func() { done <- tr.Run(ctx, events) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return within 5s of cancel")
		}
	})
	return events
}

// nextEvent returns the next event or fails after d.
func nextEvent(t *testing.T, events <-chan Event, d time.Duration, what string) Event {
	t.Helper()
	select {
	case ev := <-events:
		return ev
	case <-time.After(d):
		t.Fatalf("no event within %v (waiting for %s)", d, what)
		return Event{}
	}
}
