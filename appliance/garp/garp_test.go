package garp

import (
	"bytes"
	"net"
	"net/netip"
	"testing"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
)

// TestPayloadMatchesKeepalived compares with keepalived 2.2.7's gratuitous
// ARP (testdata/captures/garp.txt):
//
//	ca:cc:6f:50:44:24 > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42: Request who-has 198.18.0.100 (ff:ff:ff:ff:ff:ff) tell 198.18.0.100, length 28
func TestPayloadMatchesKeepalived(t *testing.T) {
	want := []byte{
		0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, // Ethernet, IPv4, lengths 6/4, request
		0xca, 0xcc, 0x6f, 0x50, 0x44, 0x24, 198, 18, 0, 100, // sender: our MAC, the VIP
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 198, 18, 0, 100, // target: broadcast MAC, the VIP
	}
	mac := net.HardwareAddr{0xca, 0xcc, 0x6f, 0x50, 0x44, 0x24}
	got, err := Payload(mac, netip.MustParseAddr("198.18.0.100"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("payload\n got % x\nwant % x", got, want)
	}
}

func TestPayloadRejectsIPv6(t *testing.T) {
	mac := net.HardwareAddr{0xca, 0xcc, 0x6f, 0x50, 0x44, 0x24}
	if _, err := Payload(mac, netip.MustParseAddr("2001:db8::1")); err == nil {
		t.Error("IPv6 VIP accepted")
	}
}

// TestPeerGARP: only another host's gratuitous ARP for one of our VIPs
// counts as the proof that it holds the VIP.
func TestPeerGARP(t *testing.T) {
	ours := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	peer := net.HardwareAddr{2, 0, 0, 0, 0, 2}
	vip := netip.MustParseAddr("198.18.0.100")
	vips := []netip.Addr{vip}
	garpFrom := func(mac net.HardwareAddr, a netip.Addr) []byte {
		b, err := Payload(mac, a)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if a, ok := peerGARP(garpFrom(peer, vip), ours, vips); !ok || a != vip {
		t.Errorf("the peer's GARP for the VIP: %v, %v", a, ok)
	}
	if _, ok := peerGARP(garpFrom(ours, vip), ours, vips); ok {
		t.Error("our own GARP counted as the peer's")
	}
	if _, ok := peerGARP(garpFrom(peer, netip.MustParseAddr("198.18.0.7")), ours, vips); ok {
		t.Error("a GARP for another address counted")
	}
	req, _ := arp.NewPacket(arp.OperationRequest, peer, netip.MustParseAddr("198.18.0.2"), ethernet.Broadcast, vip)
	b, _ := req.MarshalBinary()
	if _, ok := peerGARP(b, ours, vips); ok {
		t.Error("an ordinary who-has for the VIP counted as a gratuitous ARP")
	}
	if _, ok := peerGARP([]byte{1, 2, 3}, ours, vips); ok {
		t.Error("garbage counted")
	}
}
