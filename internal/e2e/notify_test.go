//go:build linux

package e2e

import (
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/proxypair/proxypair/internal/lab/ppnode"
)

// TestSystemdNotify runs the real daemon with our own NOTIFY_SOCKET, as
// systemd would for Type=notify with WatchdogSec=: READY=1 comes once the
// first state is set up (with its STATUS=), WATCHDOG=1 pings come from the
// main loop at half the watchdog interval, STATUS= follows state changes,
// and SIGTERM sends STOPPING=1.
func TestSystemdNotify(t *testing.T) {
	t.Parallel()
	_, a, _ := newPair(t)
	sock := filepath.Join(a.Dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	s := settings{version: 3, interval: 200 * time.Millisecond}
	n, err := ppnode.StartEnv(a, bin.proxypair, s.yaml(200, addrB, ""),
		[]string{"NOTIFY_SOCKET=" + sock, "WATCHDOG_USEC=1000000"})
	if err != nil {
		t.Fatal(err)
	}

	var msgs []string
	read := func(within time.Duration, until func(string) bool) {
		t.Helper()
		deadline := time.Now().Add(within)
		buf := make([]byte, 4096)
		for {
			conn.SetReadDeadline(deadline)
			k, err := conn.Read(buf)
			if err != nil {
				t.Fatalf("no matching notification within %v (%v); got %q", within, err, msgs)
			}
			m := string(buf[:k])
			msgs = append(msgs, m)
			if until(m) {
				return
			}
		}
	}

	read(10*time.Second, func(m string) bool { return strings.HasPrefix(m, "READY=1") })
	if ready := msgs[len(msgs)-1]; !strings.Contains(ready, "STATUS=BACKUP prio 200") {
		t.Errorf("READY=1 without the first state: %q", ready)
	}
	read(5*time.Second, func(m string) bool { return strings.HasPrefix(m, "STATUS=MASTER prio 200") })

	// WATCHDOG_USEC=1s: a ping every 500 ms.
	pings := 0
	start := time.Now()
	read(5*time.Second, func(m string) bool {
		if m == "WATCHDOG=1" {
			pings++
		}
		return pings == 4
	})
	if took := time.Since(start); took < time.Second {
		t.Errorf("4 watchdog pings in %v: faster than every 500 ms", took)
	}

	if err := n.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	read(5*time.Second, func(m string) bool { return m == "STOPPING=1" })
	if code, err := n.Wait(10 * time.Second); err != nil || code != 0 {
		t.Errorf("stop: exit %d, %v", code, err)
	}
}
