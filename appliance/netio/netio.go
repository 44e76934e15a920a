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

// ipv4HeaderLen is the length of an IPv4 header without options.
const ipv4HeaderLen = 20

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

// ParseIPv4 splits what a raw IPv4 socket delivers (the IP header, then the
// payload) into a Packet read at at. It reports false for anything that is
// not a well-formed IPv4 header, which a raw socket never delivers but a
// test or a future socket type might.
func ParseIPv4(b []byte, at time.Time) (Packet, bool) {
	if len(b) < ipv4HeaderLen || b[0]>>4 != 4 {
		return Packet{}, false
	}
	// 0: version and header length in 32-bit words; 8: TTL;
	// 12-15: source; 16-19: destination.
	hl := int(b[0]&0x0f) * 4
	if hl < ipv4HeaderLen || hl > len(b) {
		return Packet{}, false
	}
	return Packet{
		Packet: vrrp.Packet{
			Src:     netip.AddrFrom4([4]byte(b[12:16])),
			Dst:     netip.AddrFrom4([4]byte(b[16:20])),
			TTL:     b[8],
			Payload: b[hl:],
		},
		At: at,
	}, true
}
