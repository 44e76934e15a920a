//go:build linux

package lab

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// A lab outlives a test only by its creator staying alive: every process
// it starts dies with it (Pdeathsig), and Sweep deletes the namespaces of
// a dead creator. So a lab that is kept for people to explore (`make demo
// KEEP=1`) is kept by a process that stays, and Record tells a later
// process how to find that lab and remove it without touching anything
// else: by PID and start time, and by namespace name.

// ProcRef names one process across PID reuse: its PID and its start time
// in clock ticks since boot (/proc/<pid>/stat field 22).
type ProcRef struct {
	Name  string `json:"name,omitempty"` // what it is, for messages
	PID   int    `json:"pid"`
	Start uint64 `json:"start"`
}

// Self returns a reference to the calling process.
func Self() ProcRef {
	start, _ := procStartTime(os.Getpid())
	return ProcRef{PID: os.Getpid(), Start: start}
}

// Ref returns a reference to p while it runs; false once it has exited.
func (p *Process) Ref() (ProcRef, bool) {
	if p.Exited() {
		return ProcRef{}, false
	}
	start, err := procStartTime(p.PID())
	if err != nil {
		return ProcRef{}, false
	}
	return ProcRef{Name: p.name, PID: p.PID(), Start: start}, true
}

func (r ProcRef) String() string {
	if r.Name == "" {
		return fmt.Sprintf("pid %d", r.PID)
	}
	return fmt.Sprintf("%s (pid %d)", r.Name, r.PID)
}

// Alive reports whether the process referred to still runs: the PID
// exists, started at the recorded time and is not a zombie (which init may
// take its time to reap, or never reap in a container).
func (r ProcRef) Alive() bool {
	if r.PID <= 0 || r.PID > pidMaxLimit {
		return false
	}
	start, err := procStartTime(r.PID)
	if err != nil || start != r.Start {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", r.PID))
	if err != nil {
		return false
	}
	// The state follows the command name, which ends at the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && len(s) > i+2 && s[i+2] != 'Z' && s[i+2] != 'X'
}

// Signal sends sig to the process referred to, and to nothing else: it
// holds a pidfd while it checks the start time, so a PID reused in between
// cannot receive it. A process that is gone is not an error (false).
func (r ProcRef) Signal(sig unix.Signal) (sent bool, err error) {
	if r.PID <= 0 || r.PID > pidMaxLimit {
		return false, fmt.Errorf("lab: %v: not a PID", r)
	}
	fd, err := unix.PidfdOpen(r.PID, 0)
	if errors.Is(err, unix.ESRCH) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("lab: %v: pidfd_open: %w", r, err)
	}
	defer unix.Close(fd)
	if !r.Alive() {
		return false, nil // the PID now names another process
	}
	if err := unix.PidfdSendSignal(fd, sig, nil, 0); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return false, nil
		}
		return false, fmt.Errorf("lab: %v: signal %v: %w", r, sig, err)
	}
	return true, nil
}

// WaitGone polls until the process has exited or timeout passes, and
// reports whether it is gone.
func (r ProcRef) WaitGone(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for r.Alive() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond) // polling /proc: no event tells us
	}
	return true
}

// Record is what a lab is made of, for a later process to find and remove
// it: the process that created it (and keeps it), each namespace by name
// (the switch first), the processes it started that still ran when
// recorded, and its directory if New made it.
type Record struct {
	Creator    ProcRef   `json:"creator"`
	Namespaces []string  `json:"namespaces"`
	Processes  []ProcRef `json:"processes"`
	Dir        string    `json:"dir,omitempty"`
}

// Record returns the lab's record now. Processes that have exited are left
// out; start more after it and Record again.
func (l *Lab) Record() Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := Record{Creator: Self()}
	for _, ns := range l.nss {
		r.Namespaces = append(r.Namespaces, ns.name)
	}
	for _, p := range l.procs {
		if ref, ok := p.Ref(); ok {
			r.Processes = append(r.Processes, ref)
		}
	}
	if l.ownDir {
		r.Dir = l.dir
	}
	return r
}

// Check returns every reason why r is not a lab record Remove may act on:
// namespace names must be the lab's own (pp-<creator pid>-<n>-<host>) with
// the creator's PID, and the directory, if any, one that New makes.
func (r Record) Check() error {
	var errs []error
	if r.Creator.PID <= 0 || r.Creator.PID > pidMaxLimit {
		errs = append(errs, fmt.Errorf("creator pid %d: not a PID", r.Creator.PID))
	}
	for _, name := range r.Namespaces {
		pid, ok := parseCreator(nsNameRE, name)
		if !ok || pid != r.Creator.PID {
			errs = append(errs, fmt.Errorf("namespace %q: not a lab namespace of pid %d (want pp-%d-<n>-<host>)", name, r.Creator.PID, r.Creator.PID))
		}
	}
	for _, p := range r.Processes {
		if p.PID <= 1 || p.PID > pidMaxLimit {
			errs = append(errs, fmt.Errorf("process %v: not a PID a lab starts", p))
		}
	}
	if r.Dir != "" {
		pid, ok := parseCreator(dirNameRE, filepath.Base(r.Dir))
		if !ok || pid != r.Creator.PID || !filepath.IsAbs(r.Dir) {
			errs = append(errs, fmt.Errorf("dir %q: not a lab directory of pid %d", r.Dir, r.Creator.PID))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("lab: record: %w", err)
	}
	return nil
}

// Remove removes what r lists that is still there, once its creator is
// gone (stop the creator first: it closes the lab itself, and Remove only
// finishes what it could not): it SIGKILLs each recorded process that is
// still the same process, then every process left in each recorded
// namespace (found by the namespace it is in, never by name), deletes the
// namespaces and the lab's directory. A namespace or directory whose
// creator tag is not the recorded creator's belongs to someone else and
// is left alone. It is idempotent; logf (may be nil) hears what it did.
func (r Record) Remove(logf func(format string, args ...any)) error {
	if err := r.Check(); err != nil {
		return err
	}
	if r.Creator.Alive() {
		return fmt.Errorf("lab: record: its creator %v still runs: stop it first", r.Creator)
	}
	if logf == nil {
		logf = func(string, ...any) {}
	}
	tag := fmt.Sprintf("pplab-creator-%d-%d", r.Creator.PID, r.Creator.Start)
	var errs []error
	for _, p := range r.Processes {
		sent, err := p.Signal(unix.SIGKILL)
		if err != nil {
			errs = append(errs, err)
		} else if sent {
			logf("lab: killed %v", p)
		}
	}
	for i := len(r.Namespaces) - 1; i >= 0; i-- { // hosts first, the switch last
		name := r.Namespaces[i]
		if _, err := os.Stat(nsPath(name)); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if got := nsTag(name); got != tag {
			errs = append(errs, fmt.Errorf("lab: namespace %s: tagged %q, not by %v: left alone", name, got, r.Creator))
			continue
		}
		pids, err := killNS(nsPath(name), killWait)
		if err != nil {
			errs = append(errs, fmt.Errorf("lab: namespace %s: %w", name, err))
			continue
		}
		if len(pids) > 0 {
			logf("lab: killed %v in namespace %s", pids, name)
		}
		if err := deleteNS(name); err != nil {
			errs = append(errs, err)
			continue
		}
		logf("lab: deleted namespace %s", name)
	}
	if r.Dir != "" {
		got, err := os.ReadFile(filepath.Join(r.Dir, creatorFile))
		switch {
		case errors.Is(err, os.ErrNotExist):
			// Closed already, or never made.
		case err != nil:
			errs = append(errs, fmt.Errorf("lab: %w", err))
		case string(got) != tag:
			errs = append(errs, fmt.Errorf("lab: %s: made by %q, not by %v: left alone", r.Dir, got, r.Creator))
		default:
			if err := os.RemoveAll(r.Dir); err != nil {
				errs = append(errs, fmt.Errorf("lab: %w", err))
			} else {
				logf("lab: removed %s", r.Dir)
			}
		}
	}
	return errors.Join(errs...)
}
