// Package appliance is the proxypair daemon: a thin executor around the
// VRRP state machine (appliance/fsm). One goroutine per instance steps the
// state machine with every event and carries out its actions; effects that
// take time or must be kept true (the VIPs on the interface, gratuitous
// ARPs, the cloud claim) run in their own goroutines, reconcile the OS with
// what the state machine wants, and report back as events.
package appliance

import (
	"context"
	"net/netip"
	"time"

	"github.com/proxypair/proxypair/appliance/cloud/ncp"
	"github.com/proxypair/proxypair/appliance/control"
	"github.com/proxypair/proxypair/appliance/ifwatch"
	"github.com/proxypair/proxypair/appliance/netio"
	"github.com/proxypair/proxypair/appliance/vip"
	"github.com/proxypair/proxypair/healthcheck"
)

// The OS adapters an instance uses, each as small as the instance needs. The
// real ones are in netio, vip, garp and ifwatch; tests pass fakes that can
// fail.

// Conn sends and receives VRRP packets on the instance's interface.
type Conn interface {
	// Read blocks until a packet arrives; it fails once the Conn is closed.
	Read(buf []byte) (netio.Packet, error)
	// TryRead returns a packet already queued, without waiting.
	TryRead(buf []byte) (netio.Packet, bool)
	Send(payload []byte, dst netip.Addr) error
	Close() error
}

// AddrTable is the interface's address table, as vip.Manager offers it:
// Add marks what it adds as ours, Delete removes only what is ours, List
// returns every address with its label (an interrupted dump is an error,
// never a partial list).
type AddrTable interface {
	Add(p netip.Prefix) error
	Delete(p netip.Prefix) error
	List() ([]vip.Addr, error)
}

// ARP sends gratuitous ARPs from the interface's MAC address as it was
// when the ARP was opened.
type ARP interface {
	Send(vip netip.Addr) error
	Close() error
}

// ARPWatch reports gratuitous ARPs other hosts send for our VIPs
// (garp.Watcher): a stopping master's proof that the peer holds them.
type ARPWatch interface {
	// Next blocks until another host announces one of vips; it fails once
	// the ARPWatch is closed.
	Next(vips []netip.Addr) (netip.Addr, error)
	Close() error
}

// WatchFunc starts watching the interface (ifwatch.Watch): it returns the
// link's state now, then calls onLink with every change and onAddrs when
// its addresses may have changed, until ctx ends.
type WatchFunc func(ctx context.Context, onLink func(ifwatch.Link), onAddrs func()) (ifwatch.Link, error)

// Claimer moves the VIPs to this node in a cloud whose network ignores
// gratuitous ARP (NCP VPC), and checks that they are still routed here. It
// runs in its own goroutine and must never block the VRRP loop.
type Claimer interface {
	Claim(ctx context.Context, vips []netip.Addr) (ncp.ClaimResult, error)
	Verify(ctx context.Context, vips []netip.Addr) (ncp.VerifyResult, error)
}

// Health is the HAProxy tracker as the instance sees it: a stream of
// verdicts, and each check's latest result for the status document.
type Health interface {
	// Events delivers every change of verdict; a slow reader sees the
	// newest one.
	Events() <-chan healthcheck.Event
	// Checks returns each check's latest result. It is safe to call from
	// any goroutine.
	Checks() []control.HealthCheck
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
