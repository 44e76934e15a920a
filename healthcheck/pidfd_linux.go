package healthcheck

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// pidfdOpenFunc is pidfd_open(2)'s signature; Tracker.pidfdOpen is one.
type pidfdOpenFunc func(pid, flags int) (int, error)

// sysPidfdOpen is the kernel's pidfd_open(2). Kernels before 5.3 (Ubuntu
// 18.04's 4.15) fail it with ENOSYS.
var sysPidfdOpen pidfdOpenFunc = unix.PidfdOpen

// watchPID calls fire once when process pid exits, through a pidfd (Linux
// 5.3+) polled by Go's network poller, so no thread is parked on it. It
// returns an error when the process cannot be watched (old kernel, no such
// process in this PID namespace); the caller then relies on watchConn.
// The watch ends without firing when ctx ends.
func watchPID(ctx context.Context, pidfdOpen pidfdOpenFunc, pid int, fire func(reason string)) error {
	fd, err := pidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if errors.Is(err, unix.EINVAL) { // Linux 5.3-5.9: no PIDFD_NONBLOCK
		fd, err = pidfdOpen(pid, 0)
		if err == nil {
			err = unix.SetNonblock(fd, true)
		}
	}
	if err != nil {
		return fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	f := os.NewFile(uintptr(fd), fmt.Sprintf("pidfd:%d", pid))
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return fmt.Errorf("pidfd %d: %w", pid, err)
	}
	stop := context.AfterFunc(ctx, func() { f.Close() })
	go func() {
		defer stop()
		defer f.Close()
		// The callback runs once at first and again each time the poller
		// reports the pidfd readable, which it is once the process exited.
		err := rc.Read(func(fd uintptr) bool { return pidfdExited(int(fd)) })
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			fire(fmt.Sprintf("watching haproxy process %d failed: %v", pid, err))
			return
		}
		fire(fmt.Sprintf("haproxy process %d exited", pid))
	}()
	return nil
}

func pidfdExited(fd int) bool {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, 0)
	return err == nil && n > 0 && fds[0].Revents&unix.POLLIN != 0
}

// processAlive reports whether pid names a live process: not a zombie and
// not exiting (PF_EXITING is set once the kernel starts tearing the process
// down, which is when its sockets close; the pidfd fires a little later).
func processAlive(pid int) bool {
	if pid <= 0 || unix.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The fields follow the parenthesised command name, which may contain
	// spaces and parentheses: cut at the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return false
	}
	f := strings.Fields(string(stat[i+1:])) // state ppid pgrp session tty tpgid flags ...
	if len(f) < 7 || f[0] == "Z" || f[0] == "X" || f[0] == "x" {
		return false
	}
	flags, err := strconv.ParseUint(f[6], 10, 64)
	const pfExiting = 0x4
	return err == nil && flags&pfExiting == 0
}

// processName is the kernel's command name of pid ("" if unknown).
func processName(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return ""
	}
	return string(trimNewline(b))
}

func trimNewline(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
