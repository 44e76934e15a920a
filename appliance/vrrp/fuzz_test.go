package vrrp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"reflect"
	"testing"
	"time"
)

// FuzzParse: Parse never panics, fails only with its sentinels, and anything
// it accepts survives marshal → parse unchanged.
func FuzzParse(f *testing.F) {
	for _, g := range goldens() {
		f.Add(g.wire)
	}
	f.Add([]byte{})
	f.Add([]byte{0x21, 51, 200, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}) // v2 interval 0
	f.Add([]byte{0x30, 51, 200, 0, 0xf0, 0, 0, 0})                      // v3 type 0, interval 0, reserved bits

	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := Parse(b)
		if err != nil {
			if a != nil {
				t.Fatalf("Parse returned %v and %v", a, err)
			}
			if !errors.Is(err, ErrTooShort) && !errors.Is(err, ErrVersion) && !errors.Is(err, ErrLengthMismatch) {
				t.Fatalf("Parse error %v is none of the sentinels", err)
			}
			return
		}
		out, err := a.Marshal(capSrc, MulticastGroup, PseudoHeader)
		if err != nil {
			// Parse decodes a few values Marshal refuses to send.
			switch {
			case errors.Is(err, ErrType) && a.Type == 0:
			case errors.Is(err, ErrInterval) && a.Interval == 0:
			default:
				t.Fatalf("Marshal(%v) of a parsed advert: %v", a, err)
			}
			return
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse(Marshal(%v)) = %v", a, err)
		}
		again.Checksum = a.Checksum
		if !reflect.DeepEqual(again, a) {
			t.Fatalf("round trip:\n got %v\nwant %v", again, a)
		}
		// A correctly checksummed input with nothing to normalise (the v3
		// reserved bits) comes back byte for byte, except that a checksum
		// sent as 0xffff (ones' complement -0) is re-encoded as +0.
		mode, ok := verifyChecksum(pkt(b), a.Version)
		if ok && mode == PseudoHeader && (a.Version == Version2 || b[4]&0xf0 == 0) {
			want := bytes.Clone(b)
			if want[6] == 0xff && want[7] == 0xff {
				want[6], want[7] = 0, 0
			}
			if !bytes.Equal(out, want) {
				t.Fatalf("Marshal(Parse(b)):\n got % x\nwant % x", out, want)
			}
		}
	})
}

// FuzzValidate: Validate never panics, returns only its own reasons, and
// anything it accepts marshals back into a packet it accepts again.
func FuzzValidate(f *testing.F) {
	for _, g := range goldens() {
		f.Add(g.wire, uint8(TTL), ip4(capSrc), ip4(g.dst))
	}
	f.Add([]byte{}, uint8(64), uint32(0), uint32(0))
	v3 := mustMarshal(f, v3Adv(200, time.Second, vip100), MulticastGroup, PseudoHeader)
	f.Add(rechecksum(v3, MulticastGroup, func(b []byte) { b[4], b[5] = 0, 0 }), uint8(TTL), ip4(capSrc), ip4(MulticastGroup))
	f.Add(mustMarshal(f, v3Adv(200, time.Second, vip100), netip.Addr{}, MessageOnly), uint8(TTL), ip4(capSrc), ip4(MulticastGroup))

	unicast := v3Expect()
	unicast.CheckTTL = false
	noAuth := v2Expect()
	noAuth.AuthType, noAuth.AuthData = AuthNone, [8]byte{}
	expects := []Expect{v2Expect(), v3Expect(), unicast, noAuth, {}}

	f.Fuzz(func(t *testing.T, payload []byte, ttl uint8, src, dst uint32) {
		p := Packet{Src: addr4(src), Dst: addr4(dst), TTL: ttl, Payload: payload}
		// Random bytes rarely carry a valid checksum, so also try each input
		// with it fixed up, to reach the checks behind the checksum.
		fixed := p
		fixed.Payload = withValidChecksum(payload, p.Src, p.Dst)
		for i := range 2 * len(expects) {
			p, e := p, expects[i/2]
			if i%2 == 1 {
				p = fixed
			}
			r, reason := Validate(p, e)
			if reason >= numDropReasons || reason == DropUnknownPeer || reason == DropOwnAddress {
				t.Fatalf("Validate returned %v", reason)
			}
			if reason != DropNone {
				continue
			}
			if r.Version != e.Version || r.VRID != e.VRID || r.Type != TypeAdvertisement || len(r.Addresses) != len(e.Addresses) {
				t.Fatalf("accepted %v for %+v", r.Advertisement, e)
			}
			out, err := r.Marshal(p.Src, p.Dst, r.ChecksumMode)
			if err != nil {
				t.Fatalf("Marshal(accepted %v): %v", r.Advertisement, err)
			}
			p2 := p
			p2.Payload = out
			r2, reason2 := Validate(p2, e)
			if reason2 != DropNone || r2.ChecksumMode != r.ChecksumMode {
				t.Fatalf("re-marshalled advert: %v (%v), first pass %v", reason2, r2.ChecksumMode, r.ChecksumMode)
			}
		}
	})
}

// withValidChecksum returns a copy of b with the checksum a sender from src
// to dst would put there (v3: pseudo-header form).
func withValidChecksum(b []byte, src, dst netip.Addr) []byte {
	b = bytes.Clone(b)
	if len(b) < HeaderLen {
		return b
	}
	b[6], b[7] = 0, 0
	var acc uint32
	if b[0]>>4 == 3 {
		acc = pseudoHeaderSum(src, dst, len(b))
	}
	binary.BigEndian.PutUint16(b[6:8], ^fold(sum(acc, b)))
	return b
}

func ip4(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

func addr4(u uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], u)
	return netip.AddrFrom4(b)
}

// TestFuzzRegressions holds inputs the fuzzers found, one named row each,
// plus hand-picked edge cases run through both fuzz bodies' invariants.
func TestFuzzRegressions(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
	}{
		{name: "v2 count 255 truncated", b: []byte{0x21, 51, 200, 255, 1, 1, 0, 0}},
		{name: "v3 count 0", b: []byte{0x31, 51, 200, 0, 0, 100, 0, 0}},
		{name: "v3 max interval with reserved bits", b: []byte{0x31, 51, 200, 0, 0xff, 0xff, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Parse(tt.b)
			if err != nil {
				if !errors.Is(err, ErrLengthMismatch) && !errors.Is(err, ErrTooShort) && !errors.Is(err, ErrVersion) {
					t.Fatalf("Parse: %v", err)
				}
			} else if _, err := a.Marshal(capSrc, MulticastGroup, PseudoHeader); err != nil && !errors.Is(err, ErrInterval) && !errors.Is(err, ErrType) {
				t.Fatalf("Marshal(Parse()): %v", err)
			}
			for _, e := range []Expect{v2Expect(), v3Expect()} {
				if _, reason := Validate(pkt(tt.b), e); reason == DropNone {
					t.Errorf("Validate accepted % x for %+v", tt.b, e)
				}
			}
		})
	}
}
