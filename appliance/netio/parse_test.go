package netio

import (
	"net/netip"
	"testing"
	"time"
)

func TestParseIPv4(t *testing.T) {
	at := time.Unix(1, 0)
	// 20-byte header: TTL 255, proto 112, 198.18.0.1 → 224.0.0.18, then 2
	// payload bytes.
	hdr := []byte{0x45, 0xc0, 0, 22, 0, 0, 0, 0, 255, 112, 0, 0, 198, 18, 0, 1, 224, 0, 0, 18, 0x21, 51}
	p, ok := ParseIPv4(hdr, at)
	if !ok || p.Src != netip.MustParseAddr("198.18.0.1") || p.Dst != netip.MustParseAddr("224.0.0.18") ||
		p.TTL != 255 || string(p.Payload) != "\x21\x33" || !p.At.Equal(at) {
		t.Fatalf("ParseIPv4 = %+v, %v", p, ok)
	}
	// Options: header length 6 words, the payload starts at byte 24.
	opts := append([]byte{0x46}, hdr[1:20]...)
	opts = append(opts, 1, 1, 1, 0, 0x21, 51)
	if p, ok := ParseIPv4(opts, at); !ok || string(p.Payload) != "\x21\x33" {
		t.Errorf("with options: %+v, %v", p, ok)
	}
	for name, b := range map[string][]byte{
		"empty":               nil,
		"short":               hdr[:19],
		"IPv6":                append([]byte{0x65}, hdr[1:]...),
		"header length 4":     append([]byte{0x44}, hdr[1:]...),
		"header past the end": append([]byte{0x4f}, hdr[1:]...),
	} {
		if p, ok := ParseIPv4(b, at); ok {
			t.Errorf("%s: accepted as %+v", name, p)
		}
	}
}
