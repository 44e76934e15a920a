package garp

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
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
