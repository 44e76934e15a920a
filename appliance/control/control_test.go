package control

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type fixed Status

func (f fixed) Status(context.Context) (Status, error) { return Status(f), nil }

func testStatus() Status {
	t0 := time.Date(2026, 11, 25, 1, 0, 0, 0, time.UTC)
	return Status{
		Version: "test", PID: 42, Started: t0,
		Instances: []Instance{{
			Name: "VI_1", Interface: "eth1", VRID: 51, Version: 2, State: "MASTER", Since: t0.Add(time.Second),
			ConfiguredPriority: 200, EffectivePriority: 200, AdvertInterval: Duration(time.Second),
			MasterAdverInt: Duration(time.Second), Source: "198.18.0.1", Master: "198.18.0.1",
			VIPs: []string{"198.18.0.100/24"}, VIPsHeld: []string{"198.18.0.100/24"}, Link: "up",
			AdvertsSent: 10, AdvertsReceived: 3, Drops: map[string]uint64{"password": 2, "vrid": 1},
			Transitions: []Transition{{At: t0.Add(time.Second), From: "BACKUP", To: "MASTER", Reason: "master_down"}},
		}},
	}
}

func TestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pp.sock")
	s, err := Listen(path, fixed(testStatus()), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("socket mode %o, want 600", mode)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := Get(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	want := testStatus()
	in := got.Instances[0]
	if in.Name != "VI_1" || in.State != "MASTER" || in.Drops["password"] != 2 || time.Duration(in.AdvertInterval) != time.Second || !got.Started.Equal(want.Started) {
		t.Errorf("status did not survive the trip: %+v", got)
	}

	var buf bytes.Buffer
	if err := got.WriteText(&buf, want.Started.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"VI_1: eth1 vrid 51 (VRRPv2)", "MASTER for 59s", "200 (configured 200)", "password=2 vrid=1", "BACKUP → MASTER (master_down)"} {
		if !strings.Contains(buf.String(), s) {
			t.Errorf("text output lacks %q:\n%s", s, buf.String())
		}
	}
}

// TestSecondDaemonRefused: a live socket means another daemon runs on this config.
func TestSecondDaemonRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pp.sock")
	s, err := Listen(path, fixed(testStatus()), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := Listen(path, fixed(testStatus()), slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "another proxypair") {
		t.Fatalf("second Listen: %v", err)
	}
}

// TestStaleSocketReplaced: a crash leaves the socket file; the next start takes it over.
func TestStaleSocketReplaced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pp.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close() // file stays, nobody listens
	s, err := Listen(path, fixed(testStatus()), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	s.Close()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("Close left the socket file: %v", err)
	}
}

func TestNotRunning(t *testing.T) {
	_, err := Get(context.Background(), filepath.Join(t.TempDir(), "none.sock"))
	if !errors.Is(err, ErrNotRunning) || !strings.Contains(err.Error(), "none.sock") {
		t.Fatalf("err = %v", err)
	}
	if err := SetMaintenance(context.Background(), filepath.Join(t.TempDir(), "none.sock"), true, 0); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("SetMaintenance: %v", err)
	}
}

// maintainer is a Provider that records maintenance requests.
type maintainer struct {
	fixed
	on  bool
	dur time.Duration
	err error
}

func (m *maintainer) SetMaintenance(_ context.Context, on bool, d time.Duration) error {
	m.on, m.dur = on, d
	return m.err
}

func TestMaintenance(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pp.sock")
	m := &maintainer{fixed: fixed(testStatus())}
	s, err := Listen(path, m, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := SetMaintenance(context.Background(), path, true, time.Hour); err != nil || !m.on || m.dur != time.Hour {
		t.Fatalf("SetMaintenance(on, 1h): %v; got on=%v for %v", err, m.on, m.dur)
	}
	if err := SetMaintenance(context.Background(), path, false, 0); err != nil || m.on {
		t.Fatalf("SetMaintenance(off): %v; got on=%v", err, m.on)
	}
	m.err = errors.New("the daemon is stopping")
	if err := SetMaintenance(context.Background(), path, true, 0); err == nil || !strings.Contains(err.Error(), "the daemon is stopping") {
		t.Fatalf("a refused request: %v", err)
	}
	// A Provider that cannot do maintenance has no such endpoint.
	path2 := filepath.Join(t.TempDir(), "pp2.sock")
	s2, err := Listen(path2, fixed(testStatus()), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if err := SetMaintenance(context.Background(), path2, true, 0); err == nil {
		t.Fatal("maintenance accepted by a Provider without it")
	}
}

// TestManyRequests: the server takes at most a few connections at once;
// clients that come one after another must never run out of them (a
// monitoring loop polls status all day).
func TestManyRequests(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pp.sock")
	s, err := Listen(path, fixed(testStatus()), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 5 * maxConns {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := Get(ctx, path)
		cancel()
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
}
