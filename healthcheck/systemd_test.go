package healthcheck

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
)

func TestUnitStateOK(t *testing.T) {
	for state, want := range map[string]bool{
		"active": true, "reloading": true,
		"inactive": false, "failed": false, "activating": false, "deactivating": false, "": false,
	} {
		if got := unitStateOK(state); got != want {
			t.Errorf("unitStateOK(%q) = %v, want %v", state, got, want)
		}
	}
}

// Without a system bus the check fails with a reason that says so.
func TestSystemdNoBus(t *testing.T) {
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path="+filepath.Join(t.TempDir(), "no-bus"))
	u := newUnitWatcher("haproxy.service", nil) // the real system-bus dialer
	defer u.close()
	c := u.check(context.Background(), context.Background())
	want := "systemd unit haproxy.service: system bus unavailable: dial unix " + filepath.Join(filepath.Dir(strings.TrimPrefix(os.Getenv("DBUS_SYSTEM_BUS_ADDRESS"), "unix:path=")), "no-bus") + ": connect: no such file or directory"
	if c.Name != CheckSystemd || c.OK || c.Detail != want {
		t.Errorf("check = %+v, want failed with %q", c, want)
	}
}

// fakeSystemd serves org.freedesktop.DBus.Properties.Get for one unit on a
// private dbus-daemon, as systemd would.
type fakeSystemd struct {
	mu    sync.Mutex
	state string
}

func (f *fakeSystemd) Get(iface, prop string) (dbus.Variant, *dbus.Error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if iface != "org.freedesktop.systemd1.Unit" || prop != "ActiveState" {
		return dbus.Variant{}, dbus.NewError("org.freedesktop.DBus.Error.UnknownProperty", []any{prop})
	}
	return dbus.MakeVariant(f.state), nil
}

func (f *fakeSystemd) set(state string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.state = state
}

// startBus runs a private dbus-daemon with a fake systemd that owns
// org.freedesktop.systemd1 and serves haproxy.service. It returns the bus
// address, the fake, and a function that stops the daemon.
func startBus(t *testing.T) (string, *fakeSystemd, func()) {
	t.Helper()
	daemon, err := exec.LookPath("dbus-daemon")
	if err != nil {
		t.Skip("needs dbus-daemon (Debian package dbus-daemon) for a private bus")
	}
	sock := filepath.Join(t.TempDir(), "bus")
	// The stock session configuration on our own socket: any process of
	// this user may own names and call methods.
	cmd := exec.Command(daemon, "--session", "--address=unix:path="+sock, "--nofork", "--nopidfile")
	if err := cmd.Start(); err != nil {
		t.Fatalf("dbus-daemon: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-done
	}
	t.Cleanup(stop)
	addr := "unix:path=" + sock
	var conn *dbus.Conn
	waitFor(t, 5*time.Second, "the private bus", func() bool {
		conn, err = dbus.Connect(addr)
		return err == nil
	})
	t.Cleanup(func() { conn.Close() })
	fake := &fakeSystemd{state: "active"}
	if err := conn.Export(fake, "/org/freedesktop/systemd1/unit/haproxy_2eservice", "org.freedesktop.DBus.Properties"); err != nil {
		t.Fatal(err)
	}
	reply, err := conn.RequestName("org.freedesktop.systemd1", dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("RequestName: %v %v", reply, err)
	}
	return addr, fake, stop
}

func busDialer(addr string) func(ctx context.Context) (*sddbus.Conn, error) {
	return func(ctx context.Context) (*sddbus.Conn, error) {
		return sddbus.NewConnection(func() (*dbus.Conn, error) {
			return dbus.Connect(addr, dbus.WithContext(ctx))
		})
	}
}

func TestSystemdUnitStates(t *testing.T) {
	addr, fake, stop := startBus(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	u := newUnitWatcher("haproxy.service", busDialer(addr))
	defer u.close()
	for _, tc := range []struct {
		state string
		ok    bool
	}{
		{"active", true},
		{"reloading", true},
		{"failed", false},
		{"inactive", false},
		{"active", true},
	} {
		fake.set(tc.state)
		c := u.check(ctx, ctx)
		if want := "systemd unit haproxy.service: " + tc.state; c.OK != tc.ok || c.Detail != want {
			t.Errorf("state %s: check = %+v, want OK %v detail %q", tc.state, c, tc.ok, want)
		}
	}
	stop()
	c := u.check(ctx, ctx)
	if c.OK || !strings.Contains(c.Detail, "systemd unit haproxy.service: ") {
		t.Errorf("bus gone: check = %+v, want a failure", c)
	}
	if c = u.check(ctx, ctx); c.OK || !strings.Contains(c.Detail, "system bus unavailable") {
		t.Errorf("bus gone, second check = %+v, want system bus unavailable", c)
	}
}

// The tracker reports the unit check and turns unhealthy when the unit fails.
func TestTrackerSystemdUnit(t *testing.T) {
	addr, fake, _ := startBus(t)
	f := &fakeHAProxy{alive: true}
	f.set(42, rowsOK(), nil)
	tr := newFakeTracker(t, Config{Interval: 20 * time.Millisecond, Rise: 1, HAProxy: HAProxyConfig{SystemdUnit: "haproxy.service"}}, f)
	tr.sdDial = busDialer(addr)
	events := runTracker(t, tr)
	ev := nextEvent(t, events, 5*time.Second, "the first verdict")
	if !ev.Healthy {
		t.Fatalf("first verdict unhealthy: %s", ev.Reason)
	}
	wantCheck(t, ev, CheckSystemd, true, "systemd unit haproxy.service: active")
	fake.set("failed")
	ev = nextEvent(t, events, 5*time.Second, "unhealthy after the unit failed")
	if ev.Healthy || ev.Reason != "systemd unit haproxy.service: failed" {
		t.Errorf("event = healthy %v reason %q", ev.Healthy, ev.Reason)
	}
}

// A bus that accepts the connection but never answers must not hang the
// check: it fails after the check's timeout, and the next check does not
// start a second dial.
func TestSystemdHungBus(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "hung")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			defer c.Close() // hold it open, say nothing
		}
	}()
	connCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	u := newUnitWatcher("haproxy.service", busDialer("unix:path="+sock))
	defer u.close()
	for i := range 2 {
		ctx, cancelCheck := context.WithTimeout(connCtx, 50*time.Millisecond)
		start := time.Now()
		c := u.check(connCtx, ctx)
		cancelCheck()
		if c.OK || !strings.Contains(c.Detail, "system bus unavailable: no answer") {
			t.Errorf("check %d = %+v, want no answer", i, c)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("check %d took %v", i, d)
		}
	}
	if n := accepted.Load(); n != 1 {
		t.Errorf("%d connections to the hung bus, want 1 (no second dial while one is pending)", n)
	}
}
