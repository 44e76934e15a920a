package hooks

import (
	"os"
	"syscall"
)

// sysProcAttr puts a hook in a process group of its own, so that a kill
// reaches what it started too (a shell script's children).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// killGroup signals the hook's process group.
func killGroup(p *os.Process, sig syscall.Signal) error {
	return syscall.Kill(-p.Pid, sig)
}
