// Package netio is the raw IP protocol 112 socket VRRP speaks over: bound to
// one interface, sending with TTL 255 to the VRRP multicast group or to listed
// unicast peers, and reading packets with the IP header fields the receive
// checks need.
package netio

import (
	"net/netip"
	"time"

	"github.com/proxypair/proxypair/appliance/vrrp"
)

// Options configures a Conn.
type Options struct {
	// Interface is the interface to bind to, e.g. "eth1".
	Interface string
	// Source is the IPv4 source address of our adverts: never a VIP, so the
	// source does not change when the VIP moves.
	Source netip.Addr
	// Multicast joins 224.0.0.18 on Interface. Off for unicast-only peers.
	Multicast bool
}

// Packet is one received VRRP packet.
type Packet struct {
	vrrp.Packet
	// At is when the packet was read, the time the state machine sees.
	At time.Time
}

// TOS of VRRP adverts: precedence "internetwork control" (0xc0), as
// keepalived sends them.
const TOS = 0xc0
