// Package garp sends gratuitous ARPs that tell a LAN a VIP has moved to this
// host's MAC address.
//
// The form is keepalived's: an ARP request with sender = target = the VIP,
// target MAC ff:ff:ff:ff:ff:ff, in a broadcast frame from the interface MAC.
package garp

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"slices"

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

// peerGARP reports whether b, an ARP message, is a gratuitous ARP for one
// of vips from a MAC address other than ours, and for which.
func peerGARP(b []byte, ours net.HardwareAddr, vips []netip.Addr) (netip.Addr, bool) {
	var p arp.Packet
	if p.UnmarshalBinary(b) != nil || p.SenderIP != p.TargetIP || bytes.Equal(p.SenderHardwareAddr, ours) {
		return netip.Addr{}, false
	}
	if !slices.Contains(vips, p.SenderIP) {
		return netip.Addr{}, false
	}
	return p.SenderIP, true
}
