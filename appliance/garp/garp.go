// Package garp sends gratuitous ARPs that tell a LAN a VIP has moved to this
// host's MAC address.
//
// The form is keepalived's: an ARP request with sender = target = the VIP,
// target MAC ff:ff:ff:ff:ff:ff, in a broadcast frame from the interface MAC.
package garp

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
)

// Payload is the 28-byte ARP message of a gratuitous ARP for vip from mac.
func Payload(mac net.HardwareAddr, vip netip.Addr) ([]byte, error) {
	p, err := arp.NewPacket(arp.OperationRequest, mac, vip, ethernet.Broadcast, vip)
	if err != nil {
		return nil, fmt.Errorf("garp: %v: %w", vip, err)
	}
	return p.MarshalBinary()
}
