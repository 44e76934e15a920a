//go:build !linux

package healthcheck

import (
	"context"
	"errors"
)

// pidfdOpenFunc is pidfd_open(2)'s signature (Linux only).
type pidfdOpenFunc func(pid, flags int) (int, error)

func sysPidfdOpen(pid, flags int) (int, error) { return -1, errors.ErrUnsupported }

// watchPID is Linux-only; elsewhere the tracker relies on watchConn.
func watchPID(ctx context.Context, pidfdOpen pidfdOpenFunc, pid int, fire func(reason string)) error {
	return errors.ErrUnsupported
}

// processAlive cannot tell off Linux; it says alive so reasons stay on the socket.
func processAlive(pid int) bool { return pid > 0 }

func processName(pid int) string { return "" }
