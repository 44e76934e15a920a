//go:build linux

package appliance

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// instanceLock is held by the daemon for one interface and VRID in one
// network namespace, from before it touches any address until it exits;
// the kernel releases it when the process dies, however it dies.
type instanceLock struct {
	f *os.File
}

// lockPath names the lock of iface and vrid in the current network
// namespace: two namespaces (two lab hosts, containers) each have their
// own eth1 and VRID 51.
func lockPath(dir, iface string, vrid int) (string, error) {
	var st syscall.Stat_t
	if err := syscall.Stat("/proc/self/ns/net", &st); err != nil {
		return "", fmt.Errorf("lock: identifying the network namespace: %w", err)
	}
	return filepath.Join(dir, fmt.Sprintf("vrrp-%s-%d-net%d.lock", iface, vrid, st.Ino)), nil
}

// acquireLock takes the instance lock, or fails with an error wrapping
// ErrLocked that names the holder's PID.
func acquireLock(dir, iface string, vrid int) (*instanceLock, error) {
	path, err := lockPath(dir, iface, vrid)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_CLOEXEC, 0o644)
		if err != nil {
			return nil, fmt.Errorf("lock: %w", err)
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, unix.EWOULDBLOCK) {
				return nil, &lockedError{iface: iface, vrid: vrid, pid: holder(path), path: path}
			}
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		// A holder that exited may have removed the file between our open
		// and our flock: then we hold a lock on a name nobody else sees.
		if same, err := samePath(f, path); err != nil || !same {
			f.Close()
			if err != nil {
				return nil, err
			}
			continue
		}
		if err := f.Truncate(0); err == nil {
			f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
		}
		return &instanceLock{f: f}, nil
	}
}

// checkLock reports an error wrapping ErrLocked when a live daemon holds
// the lock, without taking it for longer than the check. A missing lock
// directory means no daemon.
func checkLock(dir, iface string, vrid int) error {
	path, err := lockPath(dir, iface, vrid)
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			return &lockedError{iface: iface, vrid: vrid, pid: holder(path), path: path}
		}
		return fmt.Errorf("lock %s: %w", path, err)
	}
	return nil
}

func samePath(f *os.File, path string) (bool, error) {
	fi, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("lock: %w", err)
	}
	pi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("lock: %w", err)
	}
	return os.SameFile(fi, pi), nil
}

// holder is the PID the lock's holder wrote, 0 if unknown.
func holder(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// release removes the lock file and releases the lock.
func (l *instanceLock) release() {
	os.Remove(l.f.Name())
	l.f.Close()
}
