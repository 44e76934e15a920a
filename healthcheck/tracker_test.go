package healthcheck

import (
	"context"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

// fakeHAProxy stands in for the runtime API and the fast-path watchers in
// tracker tests, which run in synctest bubbles (virtual time, no I/O).
type fakeHAProxy struct {
	mu    sync.Mutex
	st    runtimeState
	err   error
	calls int
	arms  []int          // PIDs the PID watcher was armed for, in order
	fire  func(string)   // the PID watcher's fire of the latest arming
	fires []func(string) // every arming's fire, oldest first
	alive bool
	delay time.Duration // how long a call takes (virtual time)
}

func rowsOK() []statRow {
	return []statRow{
		{Proxy: "fe", Name: "FRONTEND", Type: rowFrontend, Status: "OPEN"},
		{Proxy: "be", Name: "s1", Type: rowServer, Status: "UP"},
		{Proxy: "be", Name: "BACKEND", Type: rowBackend, Status: "UP"},
	}
}

func rowsDown() []statRow {
	return []statRow{
		{Proxy: "fe", Name: "FRONTEND", Type: rowFrontend, Status: "OPEN"},
		{Proxy: "be", Name: "s1", Type: rowServer, Status: "MAINT"},
		{Proxy: "be", Name: "BACKEND", Type: rowBackend, Status: "DOWN"},
	}
}

func (f *fakeHAProxy) set(pid int, rows []statRow, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st = runtimeState{PID: pid, Version: "2.6.12", Rows: rows}
	f.err = err
}

func (f *fakeHAProxy) state(context.Context) (runtimeState, error) {
	f.mu.Lock()
	delay := f.delay
	f.mu.Unlock()
	time.Sleep(delay)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return runtimeState{}, f.err
	}
	return f.st, nil
}

func (f *fakeHAProxy) close() {}

func (f *fakeHAProxy) numCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func (f *fakeHAProxy) armed() ([]int, func(string), []func(string)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.arms), f.fire, slices.Clone(f.fires)
}

var errRefused = &socketError{Path: "/run/haproxy/admin.sock", Err: syscall.ECONNREFUSED}

// newFakeTracker returns a tracker wired to f.
func newFakeTracker(t *testing.T, cfg Config, f *fakeHAProxy) *Tracker {
	t.Helper()
	cfg.HAProxy.Socket = "/run/haproxy/admin.sock"
	tr, err := New(cfg, testLogger(t), func(tr *Tracker) {
		tr.openRuntime = func() (runtimeAPI, error) { return f, nil }
		tr.usage = func(int) (backendUsage, error) { return backendUsage{Used: []string{"be"}}, nil }
		tr.watchConn = func(ctx context.Context, _ func(string)) { <-ctx.Done() }
		tr.watchPID = func(_ context.Context, pid int, fire func(string)) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.arms = append(f.arms, pid)
			f.fire = fire
			f.fires = append(f.fires, fire)
			return nil
		}
		tr.alive = func(int) bool {
			f.mu.Lock()
			defer f.mu.Unlock()
			return f.alive
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// startFake runs tr in the bubble until the test function returns.
func startFake(t *testing.T, tr *Tracker, events chan Event) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tr.Run(ctx, events) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run returned %v", err)
		}
	})
}

// recv returns the event waiting on events, failing if there is none once
// every goroutine of the bubble is blocked.
func recv(t *testing.T, events chan Event) Event {
	t.Helper()
	synctest.Wait()
	select {
	case ev := <-events:
		return ev
	default:
		t.Fatal("no event")
		return Event{}
	}
}

func none(t *testing.T, events chan Event) {
	t.Helper()
	synctest.Wait()
	select {
	case ev := <-events:
		t.Fatalf("unexpected event: healthy %v reason %q", ev.Healthy, ev.Reason)
	default:
	}
}

func TestTrackerVerdicts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeHAProxy{alive: true}
		f.set(42, rowsOK(), nil)
		tr := newFakeTracker(t, Config{}, f) // interval 200ms, fall 1, rise 2
		events := make(chan Event, 10)
		start := time.Now()
		startFake(t, tr, events)

		none(t, events) // one good check: rise 2 not reached
		if s := tr.Snapshot(); s.Healthy || s.Reason != "no verdict yet" || len(s.Checks) == 0 {
			t.Errorf("Snapshot after one check = %+v", s)
		}
		time.Sleep(200 * time.Millisecond)
		ev := recv(t, events)
		if !ev.Healthy || ev.Reason != "" || !ev.At.Equal(start.Add(200*time.Millisecond)) {
			t.Fatalf("first verdict = %+v, want healthy at +200ms", ev)
		}

		f.set(42, rowsDown(), nil)
		time.Sleep(200 * time.Millisecond)
		ev = recv(t, events)
		if ev.Healthy || ev.Reason != "backend be: 0/1 servers UP (need 1): s1 MAINT" {
			t.Fatalf("after maint = healthy %v reason %q", ev.Healthy, ev.Reason)
		}

		f.set(42, rowsOK(), nil)
		time.Sleep(200 * time.Millisecond)
		none(t, events) // rise 2: one good check is not enough
		if s := tr.Snapshot(); s.Healthy || !strings.HasPrefix(s.Reason, "recovering (last failure: backend be: 0/1") {
			t.Errorf("Snapshot while recovering = healthy %v reason %q", s.Healthy, s.Reason)
		}
		time.Sleep(200 * time.Millisecond)
		if ev := recv(t, events); !ev.Healthy {
			t.Fatalf("after two good checks: %+v", ev)
		}
		none(t, events)
	})
}

func TestTrackerFall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeHAProxy{alive: true}
		f.set(42, rowsOK(), nil)
		tr := newFakeTracker(t, Config{Fall: 3, Rise: 1}, f)
		events := make(chan Event, 10)
		startFake(t, tr, events)
		if ev := recv(t, events); !ev.Healthy {
			t.Fatalf("first verdict %+v", ev)
		}
		f.set(42, rowsDown(), nil)
		for i := range 2 {
			time.Sleep(200 * time.Millisecond)
			none(t, events)
			if s := tr.Snapshot(); !s.Healthy {
				t.Fatalf("failure %d of fall 3 already unhealthy", i+1)
			}
		}
		time.Sleep(200 * time.Millisecond)
		if ev := recv(t, events); ev.Healthy {
			t.Fatal("three failures with fall 3: still healthy")
		}
	})
}

// A fast-path wake runs a check at once, without waiting for the interval.
func TestTrackerFastPath(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeHAProxy{alive: true}
		f.set(42, rowsOK(), nil)
		tr := newFakeTracker(t, Config{Interval: 10 * time.Second, Rise: 1}, f)
		events := make(chan Event, 10)
		startFake(t, tr, events)
		if ev := recv(t, events); !ev.Healthy {
			t.Fatalf("first verdict %+v", ev)
		}
		arms, fire, _ := f.armed()
		if len(arms) != 1 || arms[0] != 42 {
			t.Fatalf("armed for %v, want [42]", arms)
		}

		time.Sleep(3 * time.Second)
		kill := time.Now()
		f.mu.Lock()
		f.err, f.alive = errRefused, false
		f.mu.Unlock()
		fire("haproxy process 42 exited")
		ev := recv(t, events)
		if ev.Healthy || !ev.At.Equal(kill) {
			t.Fatalf("after the wake: %+v, want unhealthy at the wake's time", ev)
		}
		want := "haproxy socket /run/haproxy/admin.sock: connection refused; haproxy process 42 exited"
		if ev.Reason != want {
			t.Errorf("reason %q, want %q", ev.Reason, want)
		}
		// A failed check disarms: nothing is re-armed until HAProxy answers.
		if arms, _, _ := f.armed(); len(arms) != 1 {
			t.Errorf("armed %v after a failure, want no new arming", arms)
		}
	})
}

// A reload wakes the tracker (the old worker's connection closes) but the
// re-check finds the new worker: no event, and the watchers follow the new PID.
func TestTrackerReloadIsNotAFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeHAProxy{alive: true}
		f.set(42, rowsOK(), nil)
		tr := newFakeTracker(t, Config{Interval: 10 * time.Second, Rise: 1}, f)
		events := make(chan Event, 10)
		startFake(t, tr, events)
		recv(t, events)
		_, fire42, _ := f.armed()

		f.set(43, rowsOK(), nil)
		fire42("runtime API watch connection closed")
		none(t, events)
		arms, fire43, _ := f.armed()
		if len(arms) != 2 || arms[1] != 43 {
			t.Fatalf("armed %v, want [42 43]", arms)
		}
		if d := checkDetail(tr.Snapshot(), CheckProcess); d != "haproxy process 43 is running" {
			t.Errorf("process check %q", d)
		}

		// The old worker's watcher firing late is ignored: no check runs.
		calls := f.numCalls()
		fire42("haproxy process 42 exited")
		none(t, events)
		if n := f.numCalls(); n != calls {
			t.Errorf("a stale wake ran %d checks", n-calls)
		}

		// The current watcher firing with a healthy answer runs one check
		// and re-arms only after an interval (no reconnect spin).
		fire43("runtime API watch connection closed")
		synctest.Wait()
		if n := f.numCalls(); n != calls+1 {
			t.Errorf("a current wake ran %d checks, want 1", n-calls)
		}
		if arms, _, _ := f.armed(); len(arms) != 2 {
			t.Errorf("re-armed at once after a wake: %v", arms)
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if arms, _, _ := f.armed(); len(arms) != 3 || arms[2] != 43 {
			t.Errorf("armed %v, want a third arming for 43 after the interval", arms)
		}
		none(t, events)
	})
}

// A reader that does not read never blocks the tracker; it finds the latest
// verdict when it comes back.
func TestTrackerSlowReaderGetsLatest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeHAProxy{alive: true}
		f.set(42, rowsOK(), nil)
		tr := newFakeTracker(t, Config{Rise: 1}, f)
		events := make(chan Event) // unbuffered and unread for now
		startFake(t, tr, events)
		synctest.Wait() // healthy pending
		f.set(42, rowsDown(), nil)
		time.Sleep(200 * time.Millisecond) // unhealthy replaces it
		synctest.Wait()
		f.set(42, rowsOK(), nil)
		time.Sleep(200 * time.Millisecond) // healthy replaces that
		synctest.Wait()
		last := time.Now()
		f.set(42, rowsOK(), nil)
		time.Sleep(time.Second) // checks go on: at 0, 200ms, ... 1.4s
		synctest.Wait()
		if n := f.numCalls(); n != 8 {
			t.Fatalf("%d checks in 1.4s, want 8: the tracker is blocked on the reader", n)
		}
		ev := recv(t, events)
		if !ev.Healthy || !ev.At.Equal(last) {
			t.Errorf("got %+v, want the latest (healthy at %v)", ev, last)
		}
		none(t, events)
	})
}

func TestTrackerNoVerdictReason(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeHAProxy{}
		f.mu.Lock()
		f.err = errRefused
		f.mu.Unlock()
		tr := newFakeTracker(t, Config{Fall: 2}, f)
		events := make(chan Event, 1)
		startFake(t, tr, events)
		synctest.Wait()
		s := tr.Snapshot()
		if want := "no verdict yet: haproxy socket /run/haproxy/admin.sock: connection refused"; s.Healthy || s.Reason != want {
			t.Errorf("Snapshot = healthy %v reason %q, want %q", s.Healthy, s.Reason, want)
		}
		noCheck(t, s, CheckProcess) // no PID ever answered
		time.Sleep(200 * time.Millisecond)
		if ev := recv(t, events); ev.Healthy || ev.Reason != "haproxy socket /run/haproxy/admin.sock: connection refused" {
			t.Errorf("first verdict %+v", ev)
		}
	})
}

func TestTrackerRunTwice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeHAProxy{alive: true}
		f.set(42, rowsOK(), nil)
		tr := newFakeTracker(t, Config{}, f)
		startFake(t, tr, make(chan Event, 4))
		synctest.Wait()
		err := tr.Run(context.Background(), make(chan Event))
		if err == nil || !strings.Contains(err.Error(), "already running") {
			t.Errorf("second Run: %v", err)
		}
	})
}

// The configured backends replace the ones frontends use, and a
// configuration that cannot be read falls back to every backend with servers.
func TestTrackerBackendSelection(t *testing.T) {
	rows := append(rowsOK(),
		statRow{Proxy: "be_other", Name: "o1", Type: rowServer, Status: "DOWN"},
		statRow{Proxy: "be_other", Name: "BACKEND", Type: rowBackend, Status: "DOWN"},
	)
	for _, tc := range []struct {
		name     string
		backends []string
		usageErr error
		want     string
	}{
		{"used by frontends", nil, nil, ""},
		{"configured", []string{"be_other"}, nil, "backend be_other: 0/1 servers UP (need 1): o1 DOWN"},
		{"configuration unreadable", nil, syscall.ENOENT, "backend be_other: 0/1 servers UP (need 1): o1 DOWN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := &fakeHAProxy{alive: true}
				f.set(42, rows, nil)
				tr := newFakeTracker(t, Config{Rise: 1, HAProxy: HAProxyConfig{Backends: tc.backends}}, f)
				if tc.usageErr != nil {
					tr.usage = func(int) (backendUsage, error) { return backendUsage{}, tc.usageErr }
				}
				events := make(chan Event, 1)
				startFake(t, tr, events)
				ev := recv(t, events)
				if ev.Reason != tc.want || ev.Healthy != (tc.want == "") {
					t.Errorf("verdict healthy %v reason %q, want reason %q", ev.Healthy, ev.Reason, tc.want)
				}
			})
		})
	}
}

// TestCheckDurations: every result carries how long the runtime API call
// behind it took, failed or not.
func TestCheckDurations(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeHAProxy{alive: true, delay: 30 * time.Millisecond}
		f.set(42, rowsOK(), nil)
		tr := newFakeTracker(t, Config{}, f)
		startFake(t, tr, make(chan Event, 10))
		time.Sleep(50 * time.Millisecond) // the first check's call ends at 30ms
		synctest.Wait()
		s := tr.Snapshot()
		if len(s.Checks) < 4 {
			t.Fatalf("checks %+v, want socket, process, frontend and backend", s.Checks)
		}
		for _, c := range s.Checks {
			if c.Duration != 30*time.Millisecond {
				t.Errorf("%s took %v, want the call's 30ms", c.Name, c.Duration)
			}
		}

		f.mu.Lock()
		f.err, f.delay = errRefused, 70*time.Millisecond
		f.mu.Unlock()
		time.Sleep(300 * time.Millisecond) // the next check starts at 230ms and ends at 300ms
		synctest.Wait()
		s = tr.Snapshot()
		if c := s.Checks[0]; c.Name != CheckSocket || c.OK || c.Duration != 70*time.Millisecond {
			t.Errorf("failed socket check %+v, want its 70ms", c)
		}
	})
}
