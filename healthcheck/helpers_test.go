package healthcheck

// Helpers shared by the tracker's tests, with or without a real HAProxy.

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/proxypair/proxypair/internal/lab"
)

// errTestDisabled is what a watcher that a test turned off returns.
var errTestDisabled = errors.New("disabled by the test")

// waitFor polls cond every 10 ms until it holds, and fails t if d passes
// first.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	if err := lab.Eventually(ctx, 10*time.Millisecond, func() (bool, string) { return cond(), what }); err != nil {
		t.Fatalf("timed out after %v waiting for %s", d, what)
	}
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

func wantCheck(t *testing.T, ev Event, name string, ok bool, detail string) {
	t.Helper()
	for _, c := range ev.Checks {
		if c.Name == name {
			if c.OK != ok || !strings.Contains(c.Detail, detail) {
				t.Errorf("check %q = {OK:%v Detail:%q}, want OK %v and detail containing %q", name, c.OK, c.Detail, ok, detail)
			}
			return
		}
	}
	t.Errorf("no check %q in %+v", name, ev.Checks)
}

func noCheck(t *testing.T, ev Event, name string) {
	t.Helper()
	for _, c := range ev.Checks {
		if c.Name == name {
			t.Errorf("unexpected check %+v", c)
		}
	}
}

func checkDetail(ev Event, name string) string {
	for _, c := range ev.Checks {
		if c.Name == name {
			return c.Detail
		}
	}
	return ""
}
