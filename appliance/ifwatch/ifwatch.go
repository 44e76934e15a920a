// Package ifwatch watches one network interface through netlink: its link
// (whether it exists, its index, carrier and MAC address) and changes to
// its addresses. The subscriptions are kept alive: a subscription the
// kernel ends (a receive buffer overflow on a busy host) is logged and
// made again, the state is read afresh after every (re)subscription, and a
// slow periodic check backs the events up.
package ifwatch

import (
	"bytes"
	"net"
	"time"
)

// Link is the state of the watched interface.
type Link struct {
	Exists bool
	Index  int // changes when the interface is deleted and created again
	// Up is administratively up with carrier (IFF_UP and IFF_RUNNING): a
	// cable pulled or a veth peer gone is down, as keepalived's FAULT
	// sees it.
	Up  bool
	MAC net.HardwareAddr
}

// Equal reports whether l and o describe the same state.
func (l Link) Equal(o Link) bool {
	return l.Exists == o.Exists && l.Index == o.Index && l.Up == o.Up && bytes.Equal(l.MAC, o.MAC)
}

// Usable reports whether VRRP can run on the link: it exists and is up.
func (l Link) Usable() bool { return l.Exists && l.Up }

// DefaultPoll is how often the link is read back without an event.
const DefaultPoll = 10 * time.Second

// resubscribeMax caps the wait between attempts to subscribe again.
const resubscribeMax = 5 * time.Second
