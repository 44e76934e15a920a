//go:build linux

package healthcheck

import (
	"log/slog"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/proxypair/proxypair/internal/lab"
)

// TestCPUCost measures the tracker's CPU use against a real HAProxy at the
// default interval. It takes as long as HEALTHCHECK_CPU_SECONDS says and is
// skipped without it:
//
//	HEALTHCHECK_CPU_SECONDS=30 go test ./healthcheck -run TestCPUCost -v
//
// It reads the process's user+system time (getrusage, the counters behind
// /proc/self/stat) around the run; the test process does nothing else then.
func TestCPUCost(t *testing.T) {
	secs, _ := strconv.Atoi(os.Getenv("HEALTHCHECK_CPU_SECONDS"))
	if secs <= 0 {
		t.Skip("set HEALTHCHECK_CPU_SECONDS=30 to measure the tracker's CPU cost")
	}
	forEachHAProxy(t, func(t *testing.T, b lab.HAProxyBuild) { testCPUCost(t, b, secs) })
}

func testCPUCost(t *testing.T, b lab.HAProxyBuild, secs int) {
	h := startHAProxy(t, b, false)
	tr := labTracker(t, h, Config{})
	tr.log = slog.New(slog.DiscardHandler) // measure the checks, not the test's logging
	events := runTracker(t, tr)
	if ev := nextEvent(t, events, 5*time.Second, "healthy"); !ev.Healthy {
		t.Fatalf("unhealthy: %s", ev.Reason)
	}
	before, start := cpuTime(t), time.Now()
	deadline := time.After(time.Duration(secs) * time.Second)
	select {
	case ev := <-events:
		t.Fatalf("event during the measurement: %+v", ev)
	case <-deadline:
	}
	used, wall := cpuTime(t)-before, time.Since(start)
	pct := 100 * used.Seconds() / wall.Seconds()
	t.Logf("tracker CPU: %v over %v = %.3f%% of one core (interval %v, %d checks/s)", used, wall.Round(time.Millisecond), pct, DefaultInterval, time.Second/DefaultInterval)
	if pct > 1 {
		t.Errorf("tracker uses %.3f%% of one core, budget 1%%", pct)
	}
}

func cpuTime(t testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
