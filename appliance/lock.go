package appliance

import (
	"errors"
	"fmt"
)

// lockDir holds the instance locks: systemd's RuntimeDirectory for the
// unit, created on demand when the daemon is run by hand.
const lockDir = "/run/proxypair"

// ErrLocked means a live daemon holds the instance lock for the interface
// and VRID.
var ErrLocked = errors.New("another proxypair is running")

// lockedError names the daemon that holds the lock.
type lockedError struct {
	iface string
	vrid  int
	pid   int // 0 when unknown
	path  string
}

func (e *lockedError) Error() string {
	who := "another proxypair"
	if e.pid > 0 {
		who = fmt.Sprintf("proxypair (pid %d)", e.pid)
	}
	return fmt.Sprintf("%s is running for %s VRID %d in this network namespace (lock %s)", who, e.iface, e.vrid, e.path)
}

func (e *lockedError) Unwrap() error { return ErrLocked }
