//go:build linux

package appliance

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func TestInstanceLock(t *testing.T) {
	dir := t.TempDir() + "/run"
	if err := checkLock(dir, "eth1", 51); err != nil {
		t.Fatalf("checkLock with no lock directory: %v", err)
	}
	l, err := acquireLock(dir, "eth1", 51)
	if err != nil {
		t.Fatal(err)
	}
	// A second daemon for the same interface and VRID is refused, naming
	// the holder; another VRID is not.
	_, err = acquireLock(dir, "eth1", 51)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "pid ") || !strings.Contains(err.Error(), "eth1 VRID 51") {
		t.Fatalf("second acquireLock: %v, want ErrLocked naming the pid", err)
	}
	if err := checkLock(dir, "eth1", 51); !errors.Is(err, ErrLocked) {
		t.Fatalf("checkLock while held: %v, want ErrLocked", err)
	}
	other, err := acquireLock(dir, "eth1", 52)
	if err != nil {
		t.Fatalf("another VRID: %v", err)
	}
	other.release()
	l.release()
	if err := checkLock(dir, "eth1", 51); err != nil {
		t.Fatalf("checkLock after release: %v", err)
	}
	// A lock file left by a crash (no holder) is taken over.
	path, _ := lockPath(dir, "eth1", 51)
	if err := os.WriteFile(path, []byte("99999\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err = acquireLock(dir, "eth1", 51)
	if err != nil {
		t.Fatalf("after a crash: %v", err)
	}
	l.release()
}
