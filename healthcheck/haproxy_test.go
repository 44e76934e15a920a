//go:build linux

package healthcheck

import (
	"context"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/proxypair/proxypair/internal/lab"
)

// These tests run a real HAProxy inside a network namespace per test, once
// per version (Debian's haproxy 2.6 and Ubuntu 18.04's 1.8.8, see
// forEachHAProxy); the runtime API socket lives in the test's temp dir.

func labTracker(t *testing.T, h *labHAProxy, cfg Config, opts ...Option) *Tracker {
	t.Helper()
	cfg.HAProxy.Socket = h.UserSocket
	tr, err := New(cfg, testLogger(t), opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return tr
}

func TestHAProxyHealthyAtStart(t *testing.T) { forEachHAProxy(t, testHAProxyHealthyAtStart) }

func testHAProxyHealthyAtStart(t *testing.T, b lab.HAProxyBuild) {
	h := startHAProxy(t, b, false)
	tr := labTracker(t, h, Config{})
	events := runTracker(t, tr)
	ev := nextEvent(t, events, 5*time.Second, "the first verdict")
	if !ev.Healthy || ev.Reason != "" {
		t.Fatalf("first event = healthy %v reason %q, want healthy", ev.Healthy, ev.Reason)
	}
	wantCheck(t, ev, CheckSocket, true, "answers (HAProxy "+b.Name)
	wantCheck(t, ev, CheckProcess, true, "is running")
	wantCheck(t, ev, "backend be_app", true, "backend be_app: 2/2 servers UP")
	wantCheck(t, ev, "frontend fe_main", true, "OPEN")
	noCheck(t, ev, "backend be_unused") // its server is DOWN but no frontend uses it
	snap := tr.Snapshot()
	if !snap.Healthy || len(snap.Checks) != len(ev.Checks) {
		t.Errorf("Snapshot = %+v, want the healthy verdict", snap)
	}
}

// TestHAProxyKilledFastPath kills HAProxy and expects the unhealthy event
// long before the next interval check: the interval is 10 s (rise 1, so the
// first check gives the first verdict) and the test gives up after 7 s, so
// only the fast path (pidfd or the runtime API connection) can explain the
// event; the watchers' fire calls are recorded to show which one it was.
//
// "socket only, no pidfd" is Ubuntu 18.04's case: its kernel (4.15) has no
// pidfd_open, so the tracker's pidfd_open fails with ENOSYS as it does there,
// the tracker falls back, and the prompt-mode runtime API connection alone
// must catch the kill. The latency is logged (-v), not asserted.
func TestHAProxyKilledFastPath(t *testing.T) {
	forEachHAProxy(t, func(t *testing.T, b lab.HAProxyBuild) {
		for _, tc := range []struct {
			name     string
			noPidfd  bool // the kernel has no pidfd_open
			noSocket bool // the runtime API watcher is off
			want     string
		}{
			{name: "both"},
			{name: "pidfd only", noSocket: true, want: "pidfd"},
			{name: "socket only, no pidfd", noPidfd: true, want: "socket"},
		} {
			t.Run(tc.name, func(t *testing.T) { testKilledFastPath(t, b, tc.noPidfd, tc.noSocket, tc.want) })
		}
	})
}

func testKilledFastPath(t *testing.T, b lab.HAProxyBuild, noPidfd, noSocket bool, want string) {
	h := startHAProxy(t, b, false)
	var pidArmed atomic.Bool
	var mu sync.Mutex
	var fired []string // "pidfd: reason" or "socket: reason", in order
	record := func(watcher string, fire func(string)) func(string) {
		return func(reason string) {
			mu.Lock()
			fired = append(fired, watcher+": "+reason)
			mu.Unlock()
			fire(reason)
		}
	}
	tr := labTracker(t, h, Config{Interval: 10 * time.Second, Rise: 1}, func(tr *Tracker) {
		if noPidfd {
			tr.pidfdOpen = func(int, int) (int, error) { return -1, unix.ENOSYS }
		}
		watchPID, watchConn := tr.watchPID, tr.watchConn
		tr.watchPID = func(ctx context.Context, pid int, fire func(string)) error {
			err := watchPID(ctx, pid, record("pidfd", fire))
			pidArmed.Store(err == nil)
			return err
		}
		tr.watchConn = func(ctx context.Context, fire func(string)) {
			if noSocket {
				<-ctx.Done()
				return
			}
			watchConn(ctx, record("socket", fire))
		}
	})
	events := runTracker(t, tr)
	if ev := nextEvent(t, events, 5*time.Second, "healthy"); !ev.Healthy {
		t.Fatalf("first event unhealthy: %s", ev.Reason)
	}
	// The watchers are armed after each check; wait until the ones this
	// case uses are in place.
	waitFor(t, 2*time.Second, "the fast-path watchers", func() bool {
		return (noPidfd || pidArmed.Load()) && (noSocket || cliSessions(h) >= 2)
	})
	if noPidfd && pidArmed.Load() {
		t.Fatal("the PID is watched although pidfd_open fails")
	}
	start := time.Now()
	h.Kill()
	ev := nextEvent(t, events, 5*time.Second, "unhealthy after kill (the interval check is 10 s away)")
	latency := time.Since(start)
	if ev.Healthy {
		t.Fatalf("event after kill is healthy")
	}
	if want := "haproxy socket " + h.UserSocket + ": connection refused"; !strings.Contains(ev.Reason, want) {
		t.Errorf("reason = %q, want it to contain %q", ev.Reason, want)
	}
	wantCheck(t, ev, CheckProcess, false, "exited")
	mu.Lock()
	defer mu.Unlock()
	if len(fired) == 0 || !strings.HasPrefix(fired[0], want) {
		t.Errorf("watchers fired %q, want the %s watcher first", fired, want)
	}
	t.Logf("kill -> unhealthy event: %v, woken by %q (interval 10s)", latency, fired)
}

// cliSessions counts the runtime API sessions (fe=GLOBAL), the one asking
// included: 2 or more means the tracker's prompt-mode connection is open.
func cliSessions(h *labHAProxy) int {
	out, err := h.API("show sess")
	if err != nil {
		return 0
	}
	return strings.Count(out, " fe=GLOBAL ")
}

func TestHAProxyLastServerMaint(t *testing.T) { forEachHAProxy(t, testHAProxyLastServerMaint) }

func testHAProxyLastServerMaint(t *testing.T, b lab.HAProxyBuild) {
	h := startHAProxy(t, b, false)
	tr := labTracker(t, h, Config{Interval: 50 * time.Millisecond, Rise: 3})
	events := runTracker(t, tr)
	if ev := nextEvent(t, events, 5*time.Second, "healthy"); !ev.Healthy {
		t.Fatalf("first event unhealthy: %s", ev.Reason)
	}

	h.MustCLI("set server be_app/s1 state maint")
	// One server left: still healthy. Observe a few checks to be sure.
	waitFor(t, 2*time.Second, "s1 MAINT in the snapshot", func() bool {
		return strings.Contains(checkDetail(tr.Snapshot(), "backend be_app"), "1/2 servers UP")
	})
	if ev := tr.Snapshot(); !ev.Healthy {
		t.Fatalf("one server of two UP: unhealthy: %s", ev.Reason)
	}

	h.MustCLI("set server be_app/s2 state maint")
	ev := nextEvent(t, events, 5*time.Second, "unhealthy after the last server went to maint")
	if ev.Healthy {
		t.Fatal("healthy with both servers in MAINT")
	}
	if want := "backend be_app: 0/2 servers UP (need 1)"; !strings.HasPrefix(ev.Reason, want) {
		t.Errorf("reason = %q, want it to start with %q", ev.Reason, want)
	}
	if !strings.Contains(ev.Reason, "s1 MAINT") || !strings.Contains(ev.Reason, "s2 MAINT") {
		t.Errorf("reason %q does not list the servers' states", ev.Reason)
	}

	h.MustCLI("set server be_app/s2 state ready")
	ev = nextEvent(t, events, 5*time.Second, "healthy after ready")
	if !ev.Healthy {
		t.Fatalf("event after ready is unhealthy: %s", ev.Reason)
	}
	wantCheck(t, ev, "backend be_app", true, "1/2 servers UP")
}

func TestHAProxyMinServersUp(t *testing.T) { forEachHAProxy(t, testHAProxyMinServersUp) }

func testHAProxyMinServersUp(t *testing.T, b lab.HAProxyBuild) {
	h := startHAProxy(t, b, false)
	tr := labTracker(t, h, Config{Interval: 50 * time.Millisecond, HAProxy: HAProxyConfig{MinServersUp: 2}})
	events := runTracker(t, tr)
	if ev := nextEvent(t, events, 5*time.Second, "healthy"); !ev.Healthy {
		t.Fatalf("first event unhealthy: %s", ev.Reason)
	}
	h.MustCLI("set server be_app/s2 state drain")
	ev := nextEvent(t, events, 5*time.Second, "unhealthy with one server draining")
	if want := "backend be_app: 1/2 servers UP (need 2): s2 DRAIN"; ev.Reason != want {
		t.Errorf("reason = %q, want %q", ev.Reason, want)
	}
}

func TestHAProxyExplicitBackends(t *testing.T) { forEachHAProxy(t, testHAProxyExplicitBackends) }

func testHAProxyExplicitBackends(t *testing.T, b lab.HAProxyBuild) {
	h := startHAProxy(t, b, false)
	tr := labTracker(t, h, Config{HAProxy: HAProxyConfig{Backends: []string{"be_app", "be_unused", "be_missing"}}})
	events := runTracker(t, tr)
	ev := nextEvent(t, events, 5*time.Second, "the first verdict")
	if ev.Healthy {
		t.Fatal("healthy although be_unused has no server UP and be_missing does not exist")
	}
	want := "backend be_unused: 0/1 servers UP (need 1): u1 DOWN; backend be_missing: not found"
	if ev.Reason != want {
		t.Errorf("reason = %q, want %q", ev.Reason, want)
	}
	wantCheck(t, ev, "backend be_app", true, "2/2 servers UP")
}

// TestHAProxyFrontendDisabled: `disable frontend` shows as PAUSED in 2.6 and
// as STOP in 1.8; both fail the frontend check.
func TestHAProxyFrontendDisabled(t *testing.T) { forEachHAProxy(t, testHAProxyFrontendDisabled) }

func testHAProxyFrontendDisabled(t *testing.T, b lab.HAProxyBuild) {
	h := startHAProxy(t, b, false)
	tr := labTracker(t, h, Config{Interval: 50 * time.Millisecond})
	events := runTracker(t, tr)
	if ev := nextEvent(t, events, 5*time.Second, "healthy"); !ev.Healthy {
		t.Fatalf("first event unhealthy: %s", ev.Reason)
	}
	h.MustCLI("disable frontend fe_main")
	ev := nextEvent(t, events, 5*time.Second, "unhealthy after disable frontend")
	if want := "frontend fe_main: " + h.pausedStatus(); ev.Reason != want {
		t.Errorf("reason = %q, want %q", ev.Reason, want)
	}
	h.MustCLI("enable frontend fe_main")
	if ev := nextEvent(t, events, 5*time.Second, "healthy after enable frontend"); !ev.Healthy {
		t.Errorf("event after enable is unhealthy: %s", ev.Reason)
	}
}

// TestHAProxyReload reloads a master-worker HAProxy (SIGUSR2) several times:
// the worker PID changes and the old worker's connections close, which must
// not read as a failure. On the first reload a client holds a half-sent
// request, so the old worker lingers (soft stop) next to the new one while
// the tracker checks, and leaves only when the client goes.
func TestHAProxyReload(t *testing.T) { forEachHAProxy(t, testHAProxyReload) }

func testHAProxyReload(t *testing.T, b lab.HAProxyBuild) {
	h := startHAProxy(t, b, true)
	tr := labTracker(t, h, Config{})
	events := runTracker(t, tr)
	if ev := nextEvent(t, events, 5*time.Second, "healthy"); !ev.Healthy {
		t.Fatalf("first event unhealthy: %s", ev.Reason)
	}
	for i := range 3 {
		old := h.WorkerPID()
		waitFor(t, 2*time.Second, "the tracker to watch the worker", func() bool {
			return strings.Contains(checkDetail(tr.Snapshot(), CheckProcess), pidText(old))
		})
		var client net.Conn
		if i == 0 {
			client = h.holdRequest()
		}
		// A USR2 that reaches the master while it is still re-executing
		// from the previous reload is lost: send it again every 2 s.
		var cur int
		var sent time.Time
		waitFor(t, 10*time.Second, "a new worker", func() bool {
			if time.Since(sent) > 2*time.Second {
				if err := h.Signal(syscall.SIGUSR2); err != nil {
					t.Fatal(err)
				}
				sent = time.Now()
			}
			out, err := h.API("show info")
			cur = pidFromInfo(out)
			return err == nil && cur != 0 && cur != old
		})
		waitFor(t, 2*time.Second, "the tracker to see the new worker", func() bool {
			return strings.Contains(checkDetail(tr.Snapshot(), CheckProcess), pidText(cur))
		})
		if client != nil {
			// Two more checks with the old worker still there.
			snap := tr.Snapshot()
			waitFor(t, 2*time.Second, "two more checks", func() bool {
				return tr.Snapshot().At.Sub(snap.At) >= 2*DefaultInterval
			})
			if !processAlive(old) {
				t.Fatalf("the old worker %d left although a client holds a request", old)
			}
			client.Close()
		}
		// The old worker leaves once its connections (ours included) close.
		waitFor(t, 15*time.Second, "the old worker to exit", func() bool { return !processAlive(old) })
		t.Logf("reload %d: worker %d -> %d", i+1, old, cur)
	}
	// Two more intervals so a failure counted at the end would show.
	snap := tr.Snapshot()
	waitFor(t, 2*time.Second, "two more checks", func() bool {
		return tr.Snapshot().At.Sub(snap.At) >= 2*DefaultInterval
	})
	select {
	case ev := <-events:
		t.Fatalf("event during reloads: healthy %v reason %q", ev.Healthy, ev.Reason)
	default:
	}
	if s := tr.Snapshot(); !s.Healthy {
		t.Errorf("unhealthy after reloads: %s", s.Reason)
	}
}

func pidText(pid int) string { return "process " + strconv.Itoa(pid) + " " }

func pidFromInfo(out string) int {
	for line := range strings.SplitSeq(out, "\n") {
		if v, ok := strings.CutPrefix(line, "Pid: "); ok {
			pid, _ := strconv.Atoi(strings.TrimSpace(v))
			return pid
		}
	}
	return 0
}
