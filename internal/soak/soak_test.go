//go:build linux

package soak

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSoak is the short soak CI runs: SOAK_DURATION (default 2m) of
// random faults from SOAK_SEED (default 1), no violation allowed. `make
// soak` runs the long one.
func TestSoak(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) to create network namespaces")
	}
	duration := 2 * time.Minute
	if v := os.Getenv("SOAK_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("SOAK_DURATION: %v", err)
		}
		duration = d
	}
	seed := uint64(1)
	if v := os.Getenv("SOAK_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("SOAK_SEED: %v", err)
		}
		seed = s
	}
	bin := filepath.Join(t.TempDir(), "proxypair")
	cmd := exec.Command("go", "build", "-o", bin, "../../cmd/proxypair")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building proxypair: %v\n%s", err, out)
	}
	rep, err := Run(context.Background(), Options{Proxypair: bin, Duration: duration, Seed: seed, Out: testWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range rep.Violations {
		t.Error(v)
	}
	if rep.Faults == 0 || rep.Requests == 0 {
		t.Errorf("the soak did nothing: %d faults, %d requests", rep.Faults, rep.Requests)
	}
}

// testWriter sends the report to the test log, line by line.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
