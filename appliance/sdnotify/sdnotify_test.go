package sdnotify

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// listen creates our own NOTIFY_SOCKET: a unixgram socket in a temp dir,
// exported in the environment for the rest of the test.
func listen(t *testing.T) *net.UnixConn {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatalf("listening on %s: %v", path, err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return conn
}

// recv reads one datagram, failing the test if none arrives within d.
func recv(t *testing.T, conn *net.UnixConn, d time.Duration) string {
	t.Helper()
	msg, err := recvErr(conn, d)
	if err != nil {
		t.Fatalf("no datagram within %v: %v", d, err)
	}
	return msg
}

func recvErr(conn *net.UnixConn, d time.Duration) (string, error) {
	if err := conn.SetReadDeadline(time.Now().Add(d)); err != nil {
		return "", err
	}
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// expectSilence fails the test if a datagram arrives within d.
func expectSilence(t *testing.T, conn *net.UnixConn, d time.Duration) {
	t.Helper()
	msg, err := recvErr(conn, d)
	if err == nil {
		t.Fatalf("unexpected datagram %q", msg)
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("reading notify socket: %v", err)
	}
}

func TestDatagrams(t *testing.T) {
	tests := []struct {
		name string
		do   func(n *Notifier) error
		want []string
	}{
		{
			name: "ready without status",
			do:   (*Notifier).Ready,
			want: []string{"READY=1"},
		},
		{
			name: "status",
			do:   func(n *Notifier) error { return n.Status("MASTER prio 200 haproxy ok") },
			want: []string{"STATUS=MASTER prio 200 haproxy ok"},
		},
		{
			name: "ready repeats the last status",
			do: func(n *Notifier) error {
				if err := n.Status("BACKUP prio 100 haproxy ok"); err != nil {
					return err
				}
				if err := n.Status("MASTER prio 200 haproxy ok"); err != nil {
					return err
				}
				return n.Ready()
			},
			want: []string{
				"STATUS=BACKUP prio 100 haproxy ok",
				"STATUS=MASTER prio 200 haproxy ok",
				"READY=1\nSTATUS=MASTER prio 200 haproxy ok",
			},
		},
		{
			name: "status newlines become spaces",
			do:   func(n *Notifier) error { return n.Status("FAULT\nhaproxy down\r\nREADY=1") },
			want: []string{"STATUS=FAULT haproxy down READY=1"},
		},
		{
			name: "stopping",
			do:   (*Notifier).Stopping,
			want: []string{"STOPPING=1"},
		},
		{
			name: "reloading then ready",
			do: func(n *Notifier) error {
				if err := n.Reloading(); err != nil {
					return err
				}
				return n.Ready()
			},
			want: []string{"RELOADING=1\nMONOTONIC_USEC=1234567", "READY=1"},
		},
		{
			name: "watchdog",
			do:   (*Notifier).Watchdog,
			want: []string{"WATCHDOG=1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := listen(t)
			n := New(nil)
			n.monotonic = func() string { return "MONOTONIC_USEC=1234567\n" }
			if !n.Enabled() {
				t.Fatal("Enabled() = false with NOTIFY_SOCKET set")
			}
			if err := tt.do(n); err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			for i, want := range tt.want {
				if got := recv(t, conn, 5*time.Second); got != want {
					t.Errorf("datagram %d = %q, want %q", i, got, want)
				}
			}
			expectSilence(t, conn, 50*time.Millisecond)
		})
	}
}

func TestReloadingSendsRealMonotonicClock(t *testing.T) {
	conn := listen(t)
	if err := New(nil).Reloading(); err != nil {
		t.Fatal(err)
	}
	got := recv(t, conn, 5*time.Second)
	if !regexp.MustCompile(`^RELOADING=1\nMONOTONIC_USEC=[1-9][0-9]*$`).MatchString(got) {
		t.Errorf("datagram = %q, want RELOADING=1 and MONOTONIC_USEC=<µs>", got)
	}
}

func TestNoOpWithoutNotifySocket(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	os.Unsetenv("NOTIFY_SOCKET")
	t.Setenv("WATCHDOG_USEC", "1000000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))

	n := New(nil)
	sent := 0
	n.send = func(string) (bool, error) { sent++; return true, nil }
	if n.Enabled() {
		t.Error("Enabled() = true without NOTIFY_SOCKET")
	}
	calls := map[string]func() error{
		"Ready":     n.Ready,
		"Status":    func() error { return n.Status("MASTER") },
		"Stopping":  n.Stopping,
		"Reloading": n.Reloading,
		"Watchdog":  n.Watchdog,
	}
	for name, call := range calls {
		if err := call(); err != nil {
			t.Errorf("%s() = %v, want nil", name, err)
		}
	}
	if sent != 0 {
		t.Errorf("%d messages sent, want none", sent)
	}
	if d, ok := n.WatchdogInterval(); ok {
		t.Errorf("WatchdogInterval() = %v, true; want disabled without NOTIFY_SOCKET", d)
	}

	// A zero or nil Notifier is disabled too.
	var nilN *Notifier
	for _, m := range []*Notifier{{}, nilN} {
		if err := m.Ready(); err != nil {
			t.Errorf("Ready on %#v = %v", m, err)
		}
		if _, ok := m.WatchdogInterval(); ok {
			t.Errorf("WatchdogInterval on %#v enabled", m)
		}
	}
}

func TestSendErrors(t *testing.T) {
	t.Run("no listener", func(t *testing.T) {
		t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "missing.sock"))
		err := New(nil).Ready()
		if err == nil || !strings.Contains(err.Error(), `sdnotify: sending "READY=1"`) {
			t.Errorf("Ready() = %v, want an error naming the message", err)
		}
	})
	t.Run("socket unset after New", func(t *testing.T) {
		listen(t)
		n := New(nil)
		os.Unsetenv("NOTIFY_SOCKET")
		if err := n.Watchdog(); !errors.Is(err, ErrNotDelivered) {
			t.Errorf("Watchdog() = %v, want ErrNotDelivered", err)
		}
	})
}

func TestWatchdogTimeout(t *testing.T) {
	const self = 4242
	tests := []struct {
		name    string
		usec    string
		pid     string
		want    time.Duration
		wantErr bool
	}{
		{name: "unset", want: 0},
		{name: "usec only", usec: "5000000", want: 5 * time.Second},
		{name: "our pid", usec: "5000000", pid: "4242", want: 5 * time.Second},
		{name: "other pid", usec: "5000000", pid: "1", want: 0},
		{name: "small", usec: "1", want: time.Microsecond},
		{name: "not a number", usec: "5s", wantErr: true},
		{name: "negative", usec: "-1", wantErr: true},
		{name: "zero", usec: "0", wantErr: true},
		{name: "overflows Duration", usec: "18446744073709551615", wantErr: true},
		{name: "bad pid", usec: "5000000", pid: "init", wantErr: true},
		{name: "zero pid", usec: "5000000", pid: "0", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := watchdogTimeout(tt.usec, tt.pid, self)
			if (err != nil) != tt.wantErr {
				t.Fatalf("watchdogTimeout(%q, %q) error = %v, wantErr %v", tt.usec, tt.pid, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("watchdogTimeout(%q, %q) = %v, want %v", tt.usec, tt.pid, got, tt.want)
			}

			// WatchdogInterval is half of it, and disabled on errors or 0.
			listen(t)
			n := New(nil)
			env := map[string]string{"WATCHDOG_USEC": tt.usec, "WATCHDOG_PID": tt.pid}
			n.getenv = func(k string) string { return env[k] }
			n.getpid = func() int { return self }
			interval, ok := n.WatchdogInterval()
			if wantOK := tt.want > 0; ok != wantOK || interval != tt.want/2 {
				t.Errorf("WatchdogInterval() = %v, %v; want %v, %v", interval, ok, tt.want/2, wantOK)
			}
		})
	}
}

func TestWatchdogIntervalFromEnvironment(t *testing.T) {
	listen(t)
	t.Setenv("WATCHDOG_USEC", "3000000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	got, ok := New(nil).WatchdogInterval()
	if !ok || got != 1500*time.Millisecond {
		t.Errorf("WatchdogInterval() = %v, %v; want 1.5s, true", got, ok)
	}
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()+1))
	if got, ok := New(nil).WatchdogInterval(); ok {
		t.Errorf("WatchdogInterval() with another WATCHDOG_PID = %v, true; want disabled", got)
	}
}
