//go:build linux

package lab

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// ErrRunning is returned by Process.Wait when the process is still running
// at the timeout.
var ErrRunning = errors.New("process still running")

// Process is a program started in a host by Host.Start.
type Process struct {
	Cmd *exec.Cmd
	Log string // path of the file holding its stdout and stderr

	name  string // host/program, for messages
	done  chan struct{}
	state *os.ProcessState // set before done is closed
}

func newProcess(cmd *exec.Cmd, name, log string) *Process {
	p := &Process{Cmd: cmd, Log: log, name: name, done: make(chan struct{})}
	go func() {
		// The error only repeats what the state says.
		_ = cmd.Wait()
		p.state = cmd.ProcessState
		close(p.done)
	}()
	return p
}

// PID is the program's process ID: ip netns exec execs the program, so
// no wrapper stays in between. (For the first few milliseconds after Start
// that PID still runs ip itself, before the exec.)
func (p *Process) PID() int { return p.Cmd.Process.Pid }

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Signal sends sig to the process (not to its children).
func (p *Process) Signal(sig os.Signal) error {
	if err := p.Cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("lab: signal %v to %s (pid %d): %w", sig, p.name, p.PID(), err)
	}
	return nil
}

// Wait waits up to timeout for the process to end and returns its exit
// code. The error is ErrRunning (wrapped) if it is still running, and
// names the signal if a signal killed it (the code is then -1).
func (p *Process) Wait(timeout time.Duration) (exitCode int, err error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		return -1, fmt.Errorf("lab: %s (pid %d) after %v: %w", p.name, p.PID(), timeout, ErrRunning)
	}
	return p.exitStatus()
}

func (p *Process) exitStatus() (int, error) {
	if ws, ok := p.state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return -1, fmt.Errorf("lab: %s (pid %d) killed by signal %v", p.name, p.PID(), ws.Signal())
	}
	return p.state.ExitCode(), nil
}

// Stop sends SIGTERM and waits up to timeout, then SIGKILLs the process
// group. It returns nil only if the process ended on its own terms: status
// 0, or death by the SIGTERM itself; otherwise the error says what happened
// (including when it had already died before Stop).
func (p *Process) Stop(timeout time.Duration) error {
	if p.Exited() {
		return p.stopResult()
	}
	killed, err := p.terminate(timeout)
	if err != nil {
		return err
	}
	if killed {
		return fmt.Errorf("lab: %s (pid %d) did not exit within %v of SIGTERM; killed", p.name, p.PID(), timeout)
	}
	return p.stopResult()
}

func (p *Process) stopResult() error {
	ws, _ := p.state.Sys().(syscall.WaitStatus)
	switch {
	case ws.Signaled() && ws.Signal() == syscall.SIGTERM:
		return nil
	case ws.Signaled():
		return fmt.Errorf("lab: %s (pid %d) killed by signal %v", p.name, p.PID(), ws.Signal())
	case p.state.ExitCode() != 0:
		return fmt.Errorf("lab: %s (pid %d) exited with status %d", p.name, p.PID(), p.state.ExitCode())
	}
	return nil
}

// terminate is Stop without judging the exit status: it reports whether
// SIGKILL was needed, and fails only if the process would not die.
func (p *Process) terminate(timeout time.Duration) (killed bool, err error) {
	if p.Exited() {
		return false, nil
	}
	_ = p.Cmd.Process.Signal(syscall.SIGTERM) // fails only if already gone
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.done:
		return false, nil
	case <-t.C:
	}
	return true, p.Kill()
}

// Kill SIGKILLs the process and its process group (a crash: no cleanup
// runs) and waits for it to be reaped.
func (p *Process) Kill() error {
	if p.Exited() {
		return nil
	}
	// The group first, so children cannot outlive a crashed parent; the
	// leader again through its pidfd-backed handle, which is immune to PID
	// reuse.
	_ = syscall.Kill(-p.PID(), syscall.SIGKILL)
	_ = p.Cmd.Process.Kill()
	t := time.NewTimer(killWait)
	defer t.Stop()
	select {
	case <-p.done:
		return nil
	case <-t.C:
		return fmt.Errorf("lab: %s (pid %d) still running %v after SIGKILL", p.name, p.PID(), killWait)
	}
}

// Output returns what the process has written to its log so far.
func (p *Process) Output() string {
	b, err := os.ReadFile(p.Log)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", p.Log, err)
	}
	return string(b)
}

// spawner starts every background process from one OS thread that never
// exits. Pdeathsig fires when the *thread* that forked the child exits, so
// forking from an arbitrary Go thread (which the runtime may retire, e.g.
// after a goroutine locked it to switch namespaces) could kill a lab
// process in the middle of a test.
var spawner struct {
	once sync.Once
	reqs chan spawnReq
}

type spawnReq struct {
	cmd  *exec.Cmd
	done chan error
}

func startCmd(cmd *exec.Cmd) error {
	spawner.once.Do(func() {
		spawner.reqs = make(chan spawnReq)
		go func() {
			runtime.LockOSThread() // never unlocked: this thread lives as long as we do
			for r := range spawner.reqs {
				r.done <- r.cmd.Start()
			}
		}()
	})
	r := spawnReq{cmd: cmd, done: make(chan error, 1)}
	spawner.reqs <- r
	return <-r.done
}
