// Package appliance is the proxypair daemon: it runs a VRRP instance whose
// goroutine owns the state machine and every effect on the host (adverts,
// VIPs, gratuitous ARPs), serves the control socket and talks to systemd.
package appliance

import (
	"context"
	"net/netip"
	"time"

	"github.com/proxypair/proxypair/appliance/netio"
)

// The OS adapters an instance uses, each as small as the instance needs. The
// real ones are in netio, vip and garp; tests pass fakes.

// Conn sends and receives VRRP packets on the instance's interface.
type Conn interface {
	// Read blocks until a packet arrives; it fails once the Conn is closed.
	Read(buf []byte) (netio.Packet, error)
	Send(payload []byte, dst netip.Addr) error
	Close() error
}

// VIPs adds and removes the virtual addresses on the interface. Both are
// idempotent.
type VIPs interface {
	Add(vips []netip.Prefix) error
	Delete(vips []netip.Prefix) error
	Held(vips []netip.Prefix) ([]netip.Prefix, error)
}

// ARP sends one gratuitous ARP for an address.
type ARP interface {
	Send(vip netip.Addr) error
}

// Links reports the interface's link state: the state now, then every
// change until ctx ends.
type Links interface {
	Watch(ctx context.Context) (up bool, changes <-chan bool, err error)
}

// Claimer moves the VIPs to this node in a cloud whose network ignores
// gratuitous ARP (NCP VPC). It runs in its own goroutine, is cancelled when
// the node leaves Master, and must never block the VRRP loop.
type Claimer interface {
	Claim(ctx context.Context, vips []netip.Addr) (ClaimResult, error)
}

// ClaimResult is what a finished claim reports.
type ClaimResult struct {
	Attempts int
	Latency  time.Duration
}

// Notifier is the systemd notify protocol (sdnotify.Notifier); every method
// is a no-op when not run by systemd.
type Notifier interface {
	Ready() error
	Reloading() error
	Stopping() error
	Status(s string) error
	Watchdog() error
	// WatchdogInterval is how often to ping (half of WatchdogSec=), and
	// whether systemd wants pings at all.
	WatchdogInterval() (time.Duration, bool)
}

// nopNotifier is the Notifier used when none is given.
type nopNotifier struct{}

func (nopNotifier) Ready() error                            { return nil }
func (nopNotifier) Reloading() error                        { return nil }
func (nopNotifier) Stopping() error                         { return nil }
func (nopNotifier) Status(string) error                     { return nil }
func (nopNotifier) Watchdog() error                         { return nil }
func (nopNotifier) WatchdogInterval() (time.Duration, bool) { return 0, false }
