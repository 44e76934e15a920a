package sdnotify

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// The helper process plays a daemon under systemd: it reads the watchdog
// settings, says READY=1, then pings from its main loop. After helperPings
// pings the loop wedges (blocks forever), as a deadlocked daemon would.
const (
	helperEnv      = "SDNOTIFY_TEST_HELPER"
	helperPingsEnv = "SDNOTIFY_TEST_HELPER_PINGS"
)

// TestHelperProcess is not a test: it is the body of the helper process,
// started by TestWatchdogLoop as a re-exec of the test binary.
func TestHelperProcess(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("helper process for TestWatchdogLoop; runs only when re-executed")
	}
	os.Exit(helperMain())
}

func helperMain() int {
	n := New(nil)
	interval, ok := n.WatchdogInterval()
	if !ok {
		n.Status("watchdog disabled")
		return 3
	}
	pings, err := strconv.Atoi(os.Getenv(helperPingsEnv))
	if err != nil {
		n.Status("bad " + helperPingsEnv)
		return 2
	}
	n.Ready()
	tick := time.NewTicker(interval)
	for sent := 0; ; {
		<-tick.C
		n.Watchdog()
		sent++
		if sent == pings {
			n.Status("wedged")
			select {} // the main loop is stuck: no more pings
		}
	}
}

func TestWatchdogLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a helper process and waits for several watchdog periods")
	}
	const (
		timeout  = time.Second // WatchdogSec= as systemd would pass it
		interval = timeout / 2 // the helper pings at half of it
		pings    = 4
	)
	tests := []struct {
		name string
		pid  func(self int) string // WATCHDOG_PID; "" leaves it unset
		// enabled: the helper must ping; otherwise it must report the
		// watchdog disabled and exit.
		enabled bool
	}{
		{name: "no WATCHDOG_PID", pid: func(int) string { return "" }, enabled: true},
		{name: "WATCHDOG_PID of another process", pid: func(self int) string { return strconv.Itoa(self) }, enabled: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := listen(t)
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
			cmd.Env = append(os.Environ(),
				helperEnv+"=1",
				helperPingsEnv+"="+strconv.Itoa(pings),
				"WATCHDOG_USEC="+strconv.FormatInt(timeout.Microseconds(), 10),
			)
			// The helper's PID is unknown before it starts; our own PID is
			// certainly not its PID, which is what the mismatch case needs.
			if pid := tt.pid(os.Getpid()); pid != "" {
				cmd.Env = append(cmd.Env, "WATCHDOG_PID="+pid)
			}
			cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatalf("starting helper: %v", err)
			}
			// done is closed when the helper has exited; waitErr is then set.
			done := make(chan struct{})
			var waitErr error
			go func() { waitErr = cmd.Wait(); close(done) }()
			t.Cleanup(func() {
				cmd.Process.Kill() // by PID; harmless if it already exited
				<-done
			})

			if !tt.enabled {
				if got := recv(t, conn, 10*time.Second); got != "STATUS=watchdog disabled" {
					t.Fatalf("first datagram = %q, want STATUS=watchdog disabled", got)
				}
				select {
				case <-done:
					var exit *exec.ExitError
					if !errors.As(waitErr, &exit) || exit.ExitCode() != 3 {
						t.Errorf("helper exit = %v, want status 3", waitErr)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("helper did not exit with the watchdog disabled")
				}
				return
			}

			// Start-up may be slow on a loaded machine: generous deadline.
			if got := recv(t, conn, 10*time.Second); got != "READY=1" {
				t.Fatalf("first datagram = %q, want READY=1", got)
			}
			// Every ping must arrive before the watchdog timeout measured
			// from the previous one, or systemd would have killed the
			// service.
			var first time.Time
			for i := 1; i <= pings; i++ {
				if got := recv(t, conn, timeout); got != "WATCHDOG=1" {
					t.Fatalf("datagram after %d pings = %q, want WATCHDOG=1", i-1, got)
				}
				if i == 1 {
					first = time.Now()
				}
			}
			// Pings come from a ticker at the interval, never faster.
			if spread, min := time.Since(first), (pings-1)*interval*8/10; spread < min {
				t.Errorf("%d pings within %v, want at least %v apart in total (interval %v)", pings, spread, min, interval)
			}
			if got := recv(t, conn, timeout); got != "STATUS=wedged" {
				t.Fatalf("datagram after %d pings = %q, want STATUS=wedged", pings, got)
			}
			// The wedged loop sends nothing: systemd's watchdog would fire.
			expectSilence(t, conn, 2*timeout)
			select {
			case <-done:
				t.Fatalf("wedged helper exited (%v); it should hang until killed", waitErr)
			default:
			}
		})
	}
}
