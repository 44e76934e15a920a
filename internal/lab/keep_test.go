//go:build linux

package lab

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// startSleeper starts a process that runs until the test ends, and its
// reference.
func startSleeper(t *testing.T, args ...string) (*exec.Cmd, ProcRef) {
	t.Helper()
	if len(args) == 0 {
		args = []string{"sleep", "1000"}
	}
	c := exec.Command(args[0], args[1:]...)
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Process.Kill(); c.Wait() })
	start, err := procStartTime(c.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	return c, ProcRef{Name: "sleeper", PID: c.Process.Pid, Start: start}
}

func TestProcRef(t *testing.T) {
	if !Self().Alive() {
		t.Error("Self() is not alive")
	}
	c, ref := startSleeper(t)
	reused := ref
	reused.Start++ // the same PID, another process: a dead one's PID reused
	if !ref.Alive() || reused.Alive() {
		t.Fatalf("Alive: %t for the process, %t for another start time; want true, false", ref.Alive(), reused.Alive())
	}
	if sent, err := reused.Signal(unix.SIGKILL); sent || err != nil {
		t.Fatalf("Signal to a reused PID: sent %t, %v; want nothing sent", sent, err)
	}
	if ref.WaitGone(50 * time.Millisecond) {
		t.Fatal("the process is gone after a signal to another start time")
	}
	if sent, err := ref.Signal(unix.SIGKILL); !sent || err != nil {
		t.Fatalf("Signal: sent %t, %v", sent, err)
	}
	// Not reaped yet, it is a zombie: gone all the same.
	if !ref.WaitGone(5 * time.Second) {
		t.Fatal("the process still runs after SIGKILL")
	}
	c.Wait()
	if sent, err := ref.Signal(unix.SIGTERM); sent || err != nil {
		t.Errorf("Signal to a gone process: sent %t, %v; want false, nil", sent, err)
	}
	if _, err := (ProcRef{PID: -1}).Signal(unix.SIGTERM); err == nil {
		t.Error("Signal to pid -1: no error")
	}
}

func TestRecordCheck(t *testing.T) {
	ok := Record{
		Creator:    ProcRef{PID: 1234, Start: 99},
		Namespaces: []string{"pp-1234-1-sw", "pp-1234-1-a"},
		Processes:  []ProcRef{{PID: 2000, Start: 100}},
		Dir:        "/tmp/pp-1234-56789",
	}
	if err := ok.Check(); err != nil {
		t.Errorf("Check of a lab's record: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*Record)
		want string
	}{
		{"foreign namespace", func(r *Record) { r.Namespaces = append(r.Namespaces, "production") }, `namespace "production": not a lab namespace of pid 1234`},
		{"another creator's namespace", func(r *Record) { r.Namespaces[1] = "pp-999-1-a" }, `namespace "pp-999-1-a"`},
		{"foreign dir", func(r *Record) { r.Dir = "/etc" }, `dir "/etc": not a lab directory`},
		{"relative dir", func(r *Record) { r.Dir = "pp-1234-56789" }, `dir "pp-1234-56789"`},
		{"no creator", func(r *Record) { r.Creator.PID = 0 }, "creator pid 0: not a PID"},
		{"init", func(r *Record) { r.Processes[0].PID = 1 }, "not a PID a lab starts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ok
			r.Namespaces = append([]string(nil), ok.Namespaces...)
			r.Processes = append([]ProcRef(nil), ok.Processes...)
			tc.edit(&r)
			err := r.Check()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Check: %v, want an error with %q", err, tc.want)
			}
			// Remove acts on nothing a record fails to check.
			if err := r.Remove(nil); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Remove: %v, want the check's error", err)
			}
		})
	}
}

func TestRecordRemoveWaitsForItsCreator(t *testing.T) {
	r := Record{Creator: Self(), Namespaces: []string{fmt.Sprintf("pp-%d-999-x", os.Getpid())}}
	if err := r.Remove(nil); err == nil || !strings.Contains(err.Error(), "still runs: stop it first") {
		t.Errorf("Remove with a live creator: %v", err)
	}
}

// TestRecordRemove removes a lab whose creator is gone from its record:
// the recorded processes by PID and start time, whatever else runs in its
// namespaces, the namespaces and the directory; and leaves alone what the
// record names but another creator tagged, and a PID now another process's.
func TestRecordRemove(t *testing.T) {
	needRoot(t)
	// A live process stands in for the creator's PID, with another start
	// time: the creator is dead and its PID reused.
	_, other := startSleeper(t)
	creator := ProcRef{PID: other.PID, Start: other.Start + 1}
	tag := fmt.Sprintf("pplab-creator-%d-%d", creator.PID, creator.Start)
	name := func(host string) string { return fmt.Sprintf("pp-%d-%d-%s", creator.PID, 900+os.Getpid()%1000, host) }
	ours, theirs := name("a"), name("b")
	for ns, t0 := range map[string]string{ours: tag, theirs: fmt.Sprintf("pplab-creator-%d-%d", other.PID, other.Start)} {
		if err := runIP(t.Context(), "netns", "add", ns); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { killNS(nsPath(ns), killWait); deleteNS(ns) })
		if err := ipBatch(ns, "link set dev lo alias "+t0); err != nil {
			t.Fatal(err)
		}
	}
	// A process the lab recorded, one in the namespace it never knew of
	// (someone exploring the lab started it), and a recorded PID that a
	// live process now has.
	recorded, recordedRef := startSleeper(t)
	stray, _ := startSleeper(t, "ip", "netns", "exec", ours, "sleep", "1000")
	bystander, bystanderRef := startSleeper(t)
	bystanderRef.Start++
	dir := filepath.Join(t.TempDir(), fmt.Sprintf("pp-%d-12345", creator.PID))
	if err := os.MkdirAll(filepath.Join(dir, "a"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, creatorFile), []byte(tag), 0o600); err != nil {
		t.Fatal(err)
	}
	// Wait for the stray to be inside (ip execs sleep there), or for a
	// parallel New's sweep to have taken the namespace already (its
	// creator is dead to Sweep too).
	ctx := timeout(t, 10*time.Second)
	if err := Eventually(ctx, 10*time.Millisecond, func() (bool, string) {
		pids, _ := nsPIDs(nsPath(ours))
		_, err := os.Stat(nsPath(ours))
		return len(pids) == 1 || errors.Is(err, os.ErrNotExist), fmt.Sprintf("processes in %s: %v", ours, pids)
	}); err != nil {
		t.Fatal(err)
	}

	r := Record{Creator: creator, Namespaces: []string{ours, theirs, name("gone")},
		Processes: []ProcRef{recordedRef, bystanderRef}, Dir: dir}
	var notes []string
	err := r.Remove(func(format string, args ...any) { notes = append(notes, fmt.Sprintf(format, args...)) })
	if err == nil || !strings.Contains(err.Error(), "namespace "+theirs) || !strings.Contains(err.Error(), "left alone") {
		t.Errorf("Remove: %v; want an error saying it left %s alone", err, theirs)
	}
	t.Logf("notes: %q", notes)
	for _, c := range []*exec.Cmd{recorded, stray} {
		done := make(chan error, 1)
		go func() { done <- c.Wait() }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Errorf("%v (pid %d) still runs", c.Args, c.Process.Pid)
		}
	}
	if !alive(bystander.Process.Pid) {
		t.Error("the process that reused a recorded PID was killed")
	}
	if _, err := os.Stat(nsPath(ours)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("namespace %s not deleted (stat: %v)", ours, err)
	}
	if _, err := os.Stat(nsPath(theirs)); err != nil {
		t.Errorf("namespace %s of another creator was deleted: %v", theirs, err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lab directory %s not removed (stat: %v)", dir, err)
	}
	// Again: nothing left to do, nothing else touched.
	if err := (Record{Creator: creator, Namespaces: []string{ours}, Processes: []ProcRef{recordedRef}, Dir: dir}).Remove(nil); err != nil {
		t.Errorf("second Remove: %v", err)
	}
}

// TestLabRecord checks a lab's record names what it made.
func TestLabRecord(t *testing.T) {
	l := NewT(t)
	h := mustHost(t, l, "a", "198.18.0.1/24")
	p, err := h.Start("sleep", "1000")
	if err != nil {
		t.Fatal(err)
	}
	gone, err := h.Start("true")
	if err != nil {
		t.Fatal(err)
	}
	gone.Wait(5 * time.Second)
	r := l.Record()
	if err := r.Check(); err != nil {
		t.Errorf("Check of a lab's own record: %v", err)
	}
	want := []string{l.nsName(switchHost), h.NS}
	if fmt.Sprint(r.Namespaces) != fmt.Sprint(want) || r.Dir != l.Dir() || r.Creator != Self() {
		t.Errorf("Record: %+v; want namespaces %v, dir %s, creator %+v", r, want, l.Dir(), Self())
	}
	if len(r.Processes) != 1 || r.Processes[0].PID != p.PID() || !r.Processes[0].Alive() || r.Processes[0].Name != "a/sleep" {
		t.Errorf("Record's processes: %+v; want only a/sleep (pid %d), the one still running", r.Processes, p.PID())
	}
}
