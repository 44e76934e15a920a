// Package sdnotify tells systemd about the daemon's life cycle: readiness,
// a one-line status, reloads, shutdown and watchdog pings.
//
// It is a thin layer over go-systemd's daemon package. Every method is a
// no-op that returns nil when NOTIFY_SOCKET was unset at New, so the daemon
// calls it unconditionally and works the same outside systemd.
//
// The unit (systemd/proxypair.service) is Type=notify with WatchdogSec=, so:
// send Ready once the interface, sockets and first state are set up; keep
// Status current; call Watchdog from the main loop every WatchdogInterval
// (a wedged loop then stops pinging and systemd restarts the service); send
// Stopping when a graceful stop begins.
package sdnotify

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Messages of the sd_notify protocol (sd_notify(3)).
const (
	msgReady     = daemon.SdNotifyReady     // READY=1
	msgStopping  = daemon.SdNotifyStopping  // STOPPING=1
	msgReloading = daemon.SdNotifyReloading // RELOADING=1
	msgWatchdog  = daemon.SdNotifyWatchdog  // WATCHDOG=1
	statusPrefix = "STATUS="
)

// ErrNotDelivered is returned (wrapped) when NOTIFY_SOCKET was set at New
// but has since been removed from the environment, so a message had nowhere
// to go.
var ErrNotDelivered = errors.New("sdnotify: NOTIFY_SOCKET no longer set, message not delivered")

// Notifier sends sd_notify messages to the service manager. It is safe for
// concurrent use. The zero value is a disabled Notifier.
type Notifier struct {
	enabled bool
	log     *slog.Logger

	// send delivers one datagram; tests and New use daemon.SdNotify.
	send func(state string) (bool, error)
	// monotonic returns the MONOTONIC_USEC= line sent with RELOADING=1
	// (systemd ≥ 253 wants it; older versions ignore unknown fields).
	monotonic func() string
	// getenv and getpid read the watchdog variables; injectable for tests.
	getenv func(string) string
	getpid func() int

	mu     sync.Mutex
	status string // last STATUS= text, repeated with READY=1
}

// New returns a Notifier for the NOTIFY_SOCKET in the environment, or a
// disabled one when it is unset. log may be nil.
func New(log *slog.Logger) *Notifier {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n := &Notifier{
		log:       log,
		send:      func(state string) (bool, error) { return daemon.SdNotify(false, state) },
		monotonic: daemon.SdNotifyMonotonicUsec,
		getenv:    os.Getenv,
		getpid:    os.Getpid,
	}
	n.enabled = os.Getenv("NOTIFY_SOCKET") != ""
	if n.enabled {
		log.Debug("sd_notify enabled", "socket", os.Getenv("NOTIFY_SOCKET"))
	}
	return n
}

// Enabled reports whether messages are sent (NOTIFY_SOCKET was set at New).
func (n *Notifier) Enabled() bool { return n != nil && n.enabled }

// Ready tells systemd that start-up (or a reload) is complete: READY=1,
// followed by the current status line if one has been set.
func (n *Notifier) Ready() error {
	if !n.Enabled() {
		return nil
	}
	n.mu.Lock()
	status := n.status
	n.mu.Unlock()
	msg := msgReady
	if status != "" {
		msg += "\n" + statusPrefix + status
	}
	return n.notify(msg)
}

// Status sets the one-line status shown by `systemctl status`, for example
// "MASTER prio 200 haproxy ok". Newlines are replaced by spaces: the protocol
// is newline-separated and a newline would start a new assignment.
func (n *Notifier) Status(s string) error {
	if !n.Enabled() {
		return nil
	}
	s = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
	n.mu.Lock()
	n.status = s
	n.mu.Unlock()
	return n.notify(statusPrefix + s)
}

// Stopping tells systemd that a graceful shutdown has begun.
func (n *Notifier) Stopping() error {
	if !n.Enabled() {
		return nil
	}
	return n.notify(msgStopping)
}

// Reloading tells systemd that a configuration reload (SIGHUP) has begun.
// Call Ready when the reload is done, whether or not the new config was
// accepted: systemd keeps the unit in "reloading" until READY=1 arrives.
func (n *Notifier) Reloading() error {
	if !n.Enabled() {
		return nil
	}
	msg := msgReloading
	if m := strings.TrimSuffix(n.monotonic(), "\n"); m != "" {
		msg += "\n" + m
	}
	return n.notify(msg)
}

// WatchdogInterval returns how often to call Watchdog: half of WATCHDOG_USEC,
// as sd_watchdog_enabled(3) recommends. ok is false when the watchdog is not
// enabled for this process: NOTIFY_SOCKET unset, WATCHDOG_USEC unset or
// invalid, or WATCHDOG_PID naming another process (the variables were
// inherited, not meant for us).
func (n *Notifier) WatchdogInterval() (interval time.Duration, ok bool) {
	if !n.Enabled() {
		return 0, false
	}
	timeout, err := watchdogTimeout(n.getenv("WATCHDOG_USEC"), n.getenv("WATCHDOG_PID"), n.getpid())
	if err != nil {
		n.log.Warn("systemd watchdog disabled", "reason", err)
		return 0, false
	}
	if timeout == 0 {
		return 0, false
	}
	return timeout / 2, true
}

// Watchdog sends one keep-alive ping (WATCHDOG=1).
func (n *Notifier) Watchdog() error {
	if !n.Enabled() {
		return nil
	}
	return n.notify(msgWatchdog)
}

func (n *Notifier) notify(state string) error {
	sent, err := n.send(state)
	if err != nil {
		return fmt.Errorf("sdnotify: sending %q: %w", firstLine(state), err)
	}
	if !sent {
		return fmt.Errorf("sending %q: %w", firstLine(state), ErrNotDelivered)
	}
	return nil
}

// watchdogTimeout parses WATCHDOG_USEC and WATCHDOG_PID. It returns 0 and no
// error when the watchdog is off or meant for another process. The rules are
// those of sd_watchdog_enabled(3); daemon.SdWatchdogEnabled implements them
// too, but only against the real environment and PID.
func watchdogTimeout(usec, pid string, self int) (time.Duration, error) {
	if usec == "" {
		return 0, nil
	}
	u, err := strconv.ParseUint(usec, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("sdnotify: WATCHDOG_USEC=%q is not a number of microseconds", usec)
	}
	if u == 0 || u > uint64(time.Duration(1<<63-1)/time.Microsecond) {
		return 0, fmt.Errorf("sdnotify: WATCHDOG_USEC=%q is out of range", usec)
	}
	if pid != "" {
		p, err := strconv.Atoi(pid)
		if err != nil || p <= 0 {
			return 0, fmt.Errorf("sdnotify: WATCHDOG_PID=%q is not a process ID", pid)
		}
		if p != self {
			return 0, nil
		}
	}
	return time.Duration(u) * time.Microsecond, nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
