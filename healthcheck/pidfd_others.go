//go:build !linux

package healthcheck

import (
	"context"
	"errors"
)

// watchPID is Linux-only; elsewhere the tracker relies on watchConn.
func watchPID(ctx context.Context, pid int, fire func(reason string)) error {
	return errors.ErrUnsupported
}

// processAlive cannot tell off Linux; it says alive so reasons stay on the socket.
func processAlive(pid int) bool { return pid > 0 }

func processName(pid int) string { return "" }
