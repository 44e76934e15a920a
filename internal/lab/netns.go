//go:build linux

package lab

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// netnsDir is where `ip netns` keeps its named namespaces.
const netnsDir = "/run/netns"

// creatorFile marks a lab directory created by New, for Sweep.
const creatorFile = ".pplab-creator"

func nsPath(name string) string { return filepath.Join(netnsDir, name) }

// netNS is a named namespace with a lazily opened netlink handle inside it.
type netNS struct {
	name string

	mu     sync.Mutex
	h      *netlink.Handle
	closed bool
}

// handle returns a netlink handle whose socket lives in the namespace, so
// link and address calls need no thread switching and no fork.
func (n *netNS) handle() (*netlink.Handle, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil, fmt.Errorf("lab: namespace %s: %w", n.name, ErrClosed)
	}
	if n.h != nil {
		return n.h, nil
	}
	fd, err := netns.GetFromName(n.name)
	if err != nil {
		return nil, fmt.Errorf("lab: open namespace %s: %w", n.name, err)
	}
	defer fd.Close()
	h, err := netlink.NewHandleAt(fd)
	if err != nil {
		return nil, fmt.Errorf("lab: netlink in namespace %s: %w", n.name, err)
	}
	if err := h.SetSocketTimeout(5 * time.Second); err != nil {
		h.Close()
		return nil, fmt.Errorf("lab: netlink in namespace %s: %w", n.name, err)
	}
	n.h = h
	return h, nil
}

// close releases the handle; an open netlink socket would keep the
// namespace alive after its name is deleted.
func (n *netNS) close() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.closed = true
	if n.h != nil {
		n.h.Close()
		n.h = nil
	}
}

// nsNameRE matches the lab's namespace names: pp-<creator pid>-<lab>-<host>.
var nsNameRE = regexp.MustCompile(`^pp-([0-9]{1,10})-[0-9]{1,10}-[a-z][a-z0-9]*$`)

// dirNameRE matches directories made by New under os.TempDir.
var dirNameRE = regexp.MustCompile(`^pp-([0-9]{1,10})-[0-9]+$`)

// parseCreator returns the creator PID encoded in a lab namespace name, and
// false for any name the lab did not make.
func parseCreator(re *regexp.Regexp, name string) (int, bool) {
	m := re.FindStringSubmatch(name)
	if m == nil {
		return 0, false
	}
	pid, err := strconv.Atoi(m[1])
	if err != nil {
		return 0, false
	}
	return pid, true
}

// pidMaxLimit is the kernel's hard PID ceiling (PID_MAX_LIMIT on 64-bit).
const pidMaxLimit = 1 << 22

// creatorTag identifies this process across PID reuse: its PID and its start
// time in clock ticks since boot, as /proc/<pid>/stat reports it.
func creatorTag() string {
	start, _ := procStartTime(os.Getpid())
	return fmt.Sprintf("pplab-creator-%d-%d", os.Getpid(), start)
}

// procStartTime reads field 22 (starttime) of /proc/<pid>/stat.
func procStartTime(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces and parentheses; the
	// fields after the last ')' are plain.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("lab: malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state), so starttime (field 22) is f[19].
	if len(f) < 20 {
		return 0, fmt.Errorf("lab: malformed /proc/%d/stat", pid)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// creatorAlive reports whether the process that made a lab object still
// runs. tag, when known, is the creatorTag recorded at creation: a live PID
// with another start time is a different process that reused the PID.
func creatorAlive(pid int, tag string) bool {
	if pid == os.Getpid() {
		return true
	}
	if pid <= 0 || pid > pidMaxLimit {
		return false
	}
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	if tag == "" {
		return true
	}
	start, err := procStartTime(pid)
	if err != nil {
		return !errors.Is(err, os.ErrNotExist)
	}
	return tag == fmt.Sprintf("pplab-creator-%d-%d", pid, start)
}

// nsTag reads the creator tag stored as lo's alias in a namespace.
func nsTag(name string) string {
	fd, err := netns.GetFromName(name)
	if err != nil {
		return ""
	}
	defer fd.Close()
	h, err := netlink.NewHandleAt(fd)
	if err != nil {
		return ""
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err != nil {
		return ""
	}
	return lo.Attrs().Alias
}

// Sweep deletes lab namespaces (pp-<pid>-…) whose creator is dead, after
// killing every process inside them, and removes the temporary directories
// of dead labs. New calls it; it never touches a name without the lab's
// pattern, nor anything made by a live process. logf may be nil.
func Sweep(logf func(format string, args ...any)) error {
	var errs []error
	entries, err := os.ReadDir(netnsDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, fmt.Errorf("lab: sweep: %w", err))
	}
	for _, e := range entries {
		pid, ok := parseCreator(nsNameRE, e.Name())
		if !ok || pid == os.Getpid() {
			continue
		}
		// Read the tag (a netlink round trip) only when the PID exists.
		if creatorAlive(pid, "") && creatorAlive(pid, nsTag(e.Name())) {
			continue
		}
		pids, err := killNS(nsPath(e.Name()), killWait)
		if err != nil {
			errs = append(errs, fmt.Errorf("lab: sweep %s: %w", e.Name(), err))
			continue
		}
		if err := deleteNS(e.Name()); err != nil {
			errs = append(errs, err)
			continue
		}
		if logf != nil {
			logf("lab: swept namespace %s of dead process %d (killed %v)", e.Name(), pid, pids)
		}
	}

	dirs, _ := os.ReadDir(os.TempDir())
	for _, e := range dirs {
		pid, ok := parseCreator(dirNameRE, e.Name())
		if !ok || !e.IsDir() || pid == os.Getpid() {
			continue
		}
		dir := filepath.Join(os.TempDir(), e.Name())
		tag, err := os.ReadFile(filepath.Join(dir, creatorFile))
		if err != nil || creatorAlive(pid, string(tag)) {
			continue // not ours, or still in use
		}
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, fmt.Errorf("lab: sweep: %w", err))
		}
	}
	return errors.Join(errs...)
}

// nsPIDs lists the processes whose network namespace is the one bound at
// path, by comparing namespace inodes (what `ip netns pids` does).
func nsPIDs(path string) ([]int, error) {
	var want syscall.Stat_t
	if err := syscall.Stat(path, &want); err != nil {
		if errors.Is(err, syscall.ENOENT) {
			return nil, nil
		}
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	self := os.Getpid()
	var pids []int
	for _, e := range procs {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self || pid == 1 {
			continue
		}
		var st syscall.Stat_t
		// Exited processes (and zombies) have no namespace link: skipped.
		if syscall.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &st) != nil {
			continue
		}
		if st.Dev == want.Dev && st.Ino == want.Ino {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// killNS SIGKILLs every process in a namespace and waits until none is
// left. It returns the PIDs it found.
func killNS(path string, wait time.Duration) ([]int, error) {
	var killed []int
	deadline := time.Now().Add(wait)
	for {
		pids, err := nsPIDs(path)
		if err != nil {
			return killed, err
		}
		if len(pids) == 0 {
			return killed, nil
		}
		if time.Now().After(deadline) {
			return killed, fmt.Errorf("processes %v still running %v after SIGKILL", pids, wait)
		}
		for _, pid := range pids {
			if syscall.Kill(pid, syscall.SIGKILL) == nil && !slices.Contains(killed, pid) {
				killed = append(killed, pid)
			}
		}
		time.Sleep(10 * time.Millisecond) // polling the kernel: no event tells us
	}
}

// do runs fn on a fresh OS thread switched into the namespace; sockets fn
// creates stay in the namespace for good. The calling goroutine's thread is
// never switched. If switching back fails, the thread stays locked and dies
// with its goroutine rather than return to the pool in the wrong namespace.
func (n *netNS) do(fn func()) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("lab: current namespace: %w", err)
			return
		}
		defer orig.Close()
		target, err := netns.GetFromName(n.name)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("lab: open namespace %s: %w", n.name, err)
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("lab: enter namespace %s: %w", n.name, err)
			return
		}
		fn()
		if err := netns.Set(orig); err != nil {
			errc <- fmt.Errorf("lab: leave namespace %s: %w", n.name, err)
			return
		}
		runtime.UnlockOSThread()
		errc <- nil
	}()
	return <-errc
}
