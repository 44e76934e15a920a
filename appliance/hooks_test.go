package appliance

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/proxypair/proxypair/appliance/config"
	"github.com/proxypair/proxypair/appliance/fsm"
	"github.com/proxypair/proxypair/appliance/hooks"
)

// fakeHooks records the transitions handed to the notify hooks.
type fakeHooks struct {
	mu sync.Mutex
	ts []hooks.Transition
}

func (f *fakeHooks) Notify(t hooks.Transition) {
	f.mu.Lock()
	f.ts = append(f.ts, t)
	f.mu.Unlock()
}

func (f *fakeHooks) transitions() []hooks.Transition {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.ts)
}

// TestHooksFollowTransitions: every transition a node goes through reaches
// the notify hooks once, in order, with the state left, the reason, the
// effective priority and the instance; STOPPING runs none, and the stop
// hooks come once the stopping master is done, as from MASTER.
func TestHooksFollowTransitions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fh := &fakeHooks{}
		n := startNodeEnv(t, &lan{}, "198.18.0.1", seedVRRP(200), func(e *env) { e.hooks = fh })
		time.Sleep(5 * time.Second)
		n.conn.setUp(false)
		n.watch.setUp(false)
		synctest.Wait()
		n.conn.setUp(true)
		n.watch.setUp(true)
		time.Sleep(5 * time.Second)
		status := n.status(t).Transitions
		n.stopAndWait(t)

		var got []string
		for _, tr := range fh.transitions() {
			if tr.Priority != 200 || tr.Interface != "eth1" || tr.VRID != 51 || tr.Instance != "VI_51" ||
				len(tr.VIPs) != 1 || tr.VIPs[0] != vip100 {
				t.Errorf("transition %+v: want priority 200, eth1, VRID 51, instance VI_51, VIP %v", tr, vip100)
			}
			got = append(got, fmt.Sprintf("%s from %s (%s)", tr.Kind, tr.From, tr.Reason))
		}
		want := []string{
			"backup from INIT (startup)",
			"master from BACKUP (master_down)",
			"fault from MASTER (link_down)",
			"backup from FAULT (link_up)",
			"master from BACKUP (master_down)",
			"stop from MASTER (no_peer)",
		}
		if !slices.Equal(got, want) {
			t.Errorf("hooks got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		// Each carries the time of its transition, as the status has it.
		ts := fh.transitions()
		if len(status) < 2 || !ts[1].At.Equal(status[1].At) {
			t.Errorf("the hook's time %v is not the transition's %v", ts[1].At, status)
		}
	})
}

func TestHookKind(t *testing.T) {
	for state, want := range map[fsm.State]string{
		fsm.Master: "master", fsm.Backup: "backup", fsm.Fault: "fault", fsm.Initialize: "stop", fsm.Stopping: "",
	} {
		k, ok := hookKind(state)
		if got := map[bool]string{true: k.String()}[ok]; got != want {
			t.Errorf("%v runs %q, want %q", state, got, want)
		}
	}
}

// startSignal is a log handler that reports each "notify hook started".
type startSignal struct {
	slog.Handler
	started chan string
}

// Handle records first, then signals: a test that wakes on the signal
// finds the record.
func (s startSignal) Handle(ctx context.Context, r slog.Record) error {
	err := s.Handler.Handle(ctx, r)
	if r.Message == "notify hook started" {
		s.started <- r.Message
	}
	return err
}

func (s startSignal) WithAttrs(as []slog.Attr) slog.Handler {
	return startSignal{s.Handler.WithAttrs(as), s.started}
}

// TestHangingHookNeverDelaysAdverts: while a real hook hangs, the instance
// loop goes on — it takes over on time and sends every advert on its
// schedule, to the microsecond of virtual time — and the hooks of the
// transitions meanwhile wait, in order, behind the hanging one. The runner
// and its process live outside the bubble, as the daemon's do outside the
// VRRP loop.
func TestHangingHookNeverDelaysAdverts(t *testing.T) {
	dir := t.TempDir()
	hang := filepath.Join(dir, "hang.sh")
	if err := os.WriteFile(hang, []byte("#!/bin/sh\nexec sleep 1000\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	logs := &logRecorder{}
	started := make(chan string, 10)
	runner := hooks.New(hooks.Commands{
		Backup:  [][]string{{hang}},
		Master:  [][]string{{"/bin/true"}},
		Stop:    [][]string{{"/bin/true"}},
		Timeout: time.Hour,
	}, hooks.Options{Log: slog.New(startSignal{logs, started}), KillGrace: 100 * time.Millisecond})
	defer func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		runner.Close(ctx) // out of time at once: kills the hanging hook
	}()

	// A loop that waits for the hook never lets virtual time move: the
	// bubble would hang. After a minute of real time, kill the hook and
	// say so; if the loop is stuck for good, end the test binary with
	// that message rather than at the test timeout.
	deadline := time.After(time.Minute) // made outside the bubble: real time
	bubbleDone := make(chan struct{})
	var watchdogFired atomic.Bool
	go func() {
		select {
		case <-bubbleDone:
			return
		case <-time.After(time.Minute):
		}
		watchdogFired.Store(true)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		runner.Close(ctx)
		select {
		case <-bubbleDone:
		case <-time.After(10 * time.Second):
			panic("TestHangingHookNeverDelaysAdverts: the instance loop is stuck behind a notify hook")
		}
	}()
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		n := startNodeEnv(t, &lan{}, "198.18.0.1", seedVRRP(200), func(e *env) { e.hooks = runner })
		// Wait, in real time, for the backup hook's process: virtual time
		// stands still meanwhile (this goroutine waits on channels from
		// outside the bubble).
		select {
		case <-started:
		case <-deadline:
			t.Fatal("the backup hook never started")
		}
		time.Sleep(13 * time.Second)
		synctest.Wait()

		st := n.status(t)
		if st.State != "MASTER" {
			t.Fatalf("state %s while the backup hook hangs, want MASTER", st.State)
		}
		if got, want := n.lastChange(t).Sub(start), 3218750*time.Microsecond; got != want {
			t.Errorf("took over after %v, want Master_Down exactly (%v)", got, want)
		}
		ads := n.conn.adverts()
		if len(ads) != 10 {
			t.Errorf("%d adverts in 9.78 s as master, want 10", len(ads))
		}
		for i := 1; i < len(ads); i++ {
			if d := ads[i].at.Sub(ads[i-1].at); d != time.Second {
				t.Errorf("advert %d came %v after the one before, want 1s", i, d)
			}
		}
		n.stopAndWait(t)
	})
	close(bubbleDone)
	if watchdogFired.Load() {
		t.Fatal("the instance loop was stuck until the hanging hook was killed")
	}

	if got := logs.count("notify hook started", ""); got != 1 {
		t.Errorf("%d hooks started, want only the hanging backup hook", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	runner.Close(ctx)
	if got := logs.count("notify hook killed: the daemon is stopping and out of time", "daemon_stopping"); got != 1 {
		t.Errorf("the hanging hook was not killed at Close")
	}
	// The master and stop hooks waited behind it, in order.
	var waited []string
	logs.mu.Lock()
	for _, r := range logs.records {
		if strings.HasPrefix(r.Message, "notify hooks: stopping; out of time") {
			r.Attrs(func(a slog.Attr) bool {
				if a.Key == "hook" {
					waited = append(waited, a.Value.String())
				}
				return true
			})
		}
	}
	logs.mu.Unlock()
	if !slices.Equal(waited, []string{"master", "stop"}) {
		t.Errorf("hooks left waiting: %v, want master then stop", waited)
	}
}

// TestNodeReloadSetsHooks: a reload hands the new hooks and timeout to the
// runner; one refused keeps the running ones.
func TestNodeReloadSetsHooks(t *testing.T) {
	runner := hooks.New(hooks.Commands{Timeout: time.Second}, hooks.Options{})
	defer runner.Close(context.Background())
	synctest.Test(t, func(t *testing.T) {
		a, _ := electedPair(t)
		cur := &config.Config{VRRP: seedVRRP(200), Control: config.Control{Socket: "/run/a.sock", StateDir: "/var/lib/proxypair"}, Log: config.Log{Level: "info", Format: "text"},
			Health: config.Health{Weight: -254}, Notify: config.Notify{Timeout: time.Second}}
		n := &node{inst: a.in, cfg: cur, hooks: runner}
		load := func(c config.Config) Options {
			return Options{Log: a.in.log, Notifier: nopNotifier{}, Load: func() (*config.Config, []config.Problem, error) {
				return &c, nil, nil
			}}
		}
		next := *cur
		next.Notify = config.Notify{Master: [][]string{{"/bin/true"}}, Timeout: 7 * time.Second}
		n.o = load(next)
		n.reload(context.Background())
		if got := runner.Timeout(); got != 7*time.Second {
			t.Errorf("after the reload the hooks' timeout is %v, want 7s", got)
		}
		bad := next
		bad.Notify.Timeout = 9 * time.Second
		bad.VRRP.AdvertInterval = 50 * time.Millisecond // refused: the running version 2 needs whole seconds
		n.o = load(bad)
		n.reload(context.Background())
		if got := runner.Timeout(); got != 7*time.Second {
			t.Errorf("after a refused reload the hooks' timeout is %v, want the running 7s", got)
		}
	})
}
