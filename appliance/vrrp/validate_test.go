package vrrp

import (
	"bytes"
	"net/netip"
	"regexp"
	"slices"
	"testing"
	"time"
)

func mustMarshal(t testing.TB, a Advertisement, dst netip.Addr, mode ChecksumMode) []byte {
	t.Helper()
	b, err := a.Marshal(capSrc, dst, mode)
	if err != nil {
		t.Fatalf("Marshal(%v): %v", a, err)
	}
	return b
}

// rechecksum returns a copy of b with edit applied and the checksum
// recomputed the way a sender would (v3: pseudo-header capSrc > dst), so a
// test can build packets Marshal refuses to encode.
func rechecksum(b []byte, dst netip.Addr, edit func(b []byte)) []byte {
	b = bytes.Clone(b)
	edit(b)
	b[6], b[7] = 0, 0
	var acc uint32
	if b[0]>>4 == 3 {
		acc = pseudoHeaderSum(capSrc, dst, len(b))
	}
	c := ^fold(sum(acc, b))
	b[6], b[7] = byte(c>>8), byte(c)
	return b
}

func v2Expect() Expect {
	return Expect{
		Version:   Version2,
		VRID:      51,
		AuthType:  AuthSimple,
		AuthData:  pass1234,
		Interval:  time.Second,
		Addresses: []netip.Addr{vip100},
		CheckTTL:  true,
	}
}

func v3Expect() Expect {
	return Expect{
		Version:   Version3,
		VRID:      51,
		Interval:  time.Second,
		Addresses: []netip.Addr{vip100},
		CheckTTL:  true,
	}
}

func TestValidate(t *testing.T) {
	mcast := MulticastGroup
	v2 := mustMarshal(t, v2Adv(200, vip100), mcast, PseudoHeader)
	v3 := mustMarshal(t, v3Adv(200, time.Second, vip100), mcast, PseudoHeader)

	otherPass := v2Adv(200, vip100)
	otherPass.AuthData = [8]byte{'w', 'r', 'o', 'n', 'g'}
	noAuth := v2Adv(200, vip100)
	noAuth.AuthType, noAuth.AuthData = AuthNone, [8]byte{}
	noAuthGarbage := noAuth
	noAuthGarbage.AuthData = [8]byte{0xde, 0xad, 0xbe, 0xef}
	ah := v2Adv(200, vip100)
	ah.AuthType = AuthAH
	v2Slow := v2Adv(200, vip100)
	v2Slow.Interval = 2 * time.Second
	vrid52 := v2Adv(200, vip100)
	vrid52.VRID = 52

	v2NoAuthExpect := v2Expect()
	v2NoAuthExpect.AuthType, v2NoAuthExpect.AuthData = AuthNone, [8]byte{}
	v2AHExpect := v2Expect()
	v2AHExpect.AuthType = AuthAH
	twoVIPs := v2Expect()
	twoVIPs.Addresses = []netip.Addr{vip101, vip100}
	unicast3 := v3Expect()
	unicast3.CheckTTL = false

	tests := []struct {
		name     string
		p        Packet
		e        Expect
		want     DropReason
		wantMode ChecksumMode
	}{
		// Accepted.
		{name: "v2 ok", p: pkt(v2), e: v2Expect()},
		{name: "v3 ok", p: pkt(v3), e: v3Expect()},
		{name: "v3 ok ignores our interval", p: pkt(mustMarshal(t, v3Adv(200, 50*time.Millisecond, vip100), mcast, PseudoHeader)), e: v3Expect()},
		{name: "v3 message-only checksum", p: pkt(mustMarshal(t, v3Adv(200, time.Second, vip100), netip.Addr{}, MessageOnly)), e: v3Expect(), wantMode: MessageOnly},
		{name: "v3 reserved bits ignored", p: pkt(rechecksum(v3, mcast, func(b []byte) { b[4] |= 0xf0 })), e: v3Expect()},
		{name: "v2 auth none", p: pkt(mustMarshal(t, noAuth, mcast, 0)), e: v2NoAuthExpect},
		{name: "v2 auth none ignores auth data", p: pkt(mustMarshal(t, noAuthGarbage, mcast, 0)), e: v2NoAuthExpect},
		{name: "address order ignored", p: pkt(mustMarshal(t, v2Adv(200, vip100, vip101), mcast, 0)), e: twoVIPs},
		{name: "unicast ignores ttl", p: Packet{Src: capSrc, Dst: capPeer, TTL: 63, Payload: mustMarshal(t, v3Adv(200, time.Second, vip100), capPeer, PseudoHeader)}, e: unicast3},
		{name: "4in6 addresses from the socket", p: Packet{Src: netip.AddrFrom16(capSrc.As16()), Dst: netip.AddrFrom16(mcast.As16()), TTL: TTL, Payload: v3}, e: v3Expect()},

		// One row per receive check.
		{name: "too short", p: pkt(v2[:HeaderLen-1]), e: v2Expect(), want: DropTooShort},
		{name: "empty", p: pkt(nil), e: v2Expect(), want: DropTooShort},
		{name: "length: trailing byte", p: pkt(append(bytes.Clone(v2), 0)), e: v2Expect(), want: DropLengthMismatch},
		{name: "length: v2 without auth bytes", p: pkt(v2[:len(v2)-AuthDataLen]), e: v2Expect(), want: DropLengthMismatch},
		{name: "length: count says 2", p: pkt(rechecksum(v3, mcast, func(b []byte) { b[3] = 2 })), e: v3Expect(), want: DropLengthMismatch},
		{name: "ttl", p: Packet{Src: capSrc, Dst: mcast, TTL: 254, Payload: v2}, e: v2Expect(), want: DropTTL},
		{name: "version: v3 to a v2 router", p: pkt(v3), e: v2Expect(), want: DropVersion},
		{name: "version: v2 to a v3 router", p: pkt(v2), e: v3Expect(), want: DropVersion},
		{name: "version 0", p: pkt(rechecksum(v2, mcast, func(b []byte) { b[0] = 0x01 })), e: v2Expect(), want: DropVersion},
		{name: "version 1", p: pkt(rechecksum(v2, mcast, func(b []byte) { b[0] = 0x11 })), e: v2Expect(), want: DropVersion},
		{name: "version 4", p: pkt(rechecksum(v2, mcast, func(b []byte) { b[0] = 0x41 })), e: v2Expect(), want: DropVersion},
		{name: "type 2", p: pkt(rechecksum(v2, mcast, func(b []byte) { b[0] = 0x22 })), e: v2Expect(), want: DropType},
		{name: "type 0", p: pkt(rechecksum(v3, mcast, func(b []byte) { b[0] = 0x30 })), e: v3Expect(), want: DropType},
		{name: "vrid", p: pkt(mustMarshal(t, vrid52, mcast, 0)), e: v2Expect(), want: DropVRID},
		{name: "auth type: none to a PASS router", p: pkt(mustMarshal(t, noAuth, mcast, 0)), e: v2Expect(), want: DropAuthType},
		{name: "auth type: PASS to a no-auth router", p: pkt(v2), e: v2NoAuthExpect, want: DropAuthType},
		{name: "auth type: AH never accepted", p: pkt(mustMarshal(t, ah, mcast, 0)), e: v2AHExpect, want: DropAuthType},
		{name: "auth type 3", p: pkt(rechecksum(v2, mcast, func(b []byte) { b[4] = 3 })), e: v2Expect(), want: DropAuthType},
		{name: "password", p: pkt(mustMarshal(t, otherPass, mcast, 0)), e: v2Expect(), want: DropPassword},
		{name: "interval", p: pkt(mustMarshal(t, v2Slow, mcast, 0)), e: v2Expect(), want: DropInterval},
		{name: "interval: v2 zero", p: pkt(rechecksum(v2, mcast, func(b []byte) { b[5] = 0 })), e: v2Expect(), want: DropInterval},
		{name: "address count", p: pkt(mustMarshal(t, v2Adv(200, vip100, vip101), mcast, 0)), e: v2Expect(), want: DropAddressCount},
		{name: "address count: v2 none", p: pkt(mustMarshal(t, v2Adv(200), mcast, 0)), e: v2Expect(), want: DropAddressCount},
		{name: "address set", p: pkt(mustMarshal(t, v2Adv(200, vip101), mcast, 0)), e: v2Expect(), want: DropAddressSet},
		{name: "address set: duplicate", p: pkt(mustMarshal(t, v2Adv(200, vip100, vip100), mcast, 0)), e: twoVIPs, want: DropAddressSet},
		{name: "checksum: v2 corrupted", p: pkt(flip(v2, 7)), e: v2Expect(), want: DropChecksum},
		{name: "checksum: v2 priority changed", p: pkt(flip(v2, 2)), e: v2Expect(), want: DropChecksum},
		{name: "checksum: v3 corrupted", p: pkt(flip(v3, 9)), e: v3Expect(), want: DropChecksum},
		{name: "checksum: v3 unicast checked against another dst", p: Packet{Src: capSrc, Dst: mcast, TTL: TTL, Payload: mustMarshal(t, v3Adv(200, time.Second, vip100), capPeer, PseudoHeader)}, e: v3Expect(), want: DropChecksum},
		{name: "checksum: v3 no addresses from the socket", p: Packet{TTL: TTL, Payload: v3}, e: v3Expect(), want: DropChecksum},
		{name: "zero count", p: pkt(mustMarshal(t, v3Adv(200, time.Second), mcast, PseudoHeader)), e: v3Expect(), want: DropZeroCount},
		{name: "zero interval", p: pkt(rechecksum(v3, mcast, func(b []byte) { b[4], b[5] = 0xf0, 0 })), e: v3Expect(), want: DropZeroInterval},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reason := Validate(tt.p, tt.e)
			if reason != tt.want {
				t.Fatalf("Validate = %v, want %v", reason, tt.want)
			}
			if reason != DropNone {
				return
			}
			if got.ChecksumMode != tt.wantMode {
				t.Errorf("ChecksumMode = %v, want %v", got.ChecksumMode, tt.wantMode)
			}
			if got.VRID != tt.e.VRID || got.Version != tt.e.Version || got.Type != TypeAdvertisement {
				t.Errorf("accepted %v for %+v", got.Advertisement, tt.e)
			}
		})
	}

	// Every receive check has a row; the socket-layer reasons are not
	// Validate's to return.
	covered := map[DropReason]bool{}
	for _, tt := range tests {
		covered[tt.want] = true
	}
	for _, r := range AllDropReasons() {
		if r == DropUnknownPeer || r == DropOwnAddress {
			continue
		}
		if !covered[r] {
			t.Errorf("no TestValidate row for %v", r)
		}
	}
}

// pkt wraps a multicast payload from capSrc as the socket would see it.
func pkt(b []byte) Packet {
	return Packet{Src: capSrc, Dst: MulticastGroup, TTL: TTL, Payload: b}
}

// flip returns a copy of b with byte i inverted.
func flip(b []byte, i int) []byte {
	b = bytes.Clone(b)
	b[i] ^= 0xff
	return b
}

// TestValidateDropKeepsDecoded checks that a drop after parsing still hands
// back what the peer sent, for the log line.
func TestValidateDropKeepsDecoded(t *testing.T) {
	a := v2Adv(200, vip100)
	a.VRID = 52
	got, reason := Validate(pkt(mustMarshal(t, a, MulticastGroup, 0)), v2Expect())
	if reason != DropVRID {
		t.Fatalf("Validate = %v, want %v", reason, DropVRID)
	}
	if got.VRID != 52 || got.Priority != 200 {
		t.Errorf("Received = %v, want the decoded vrid 52 prio 200 advert", got.Advertisement)
	}
}

func TestDropReasonString(t *testing.T) {
	snake := regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	seen := map[string]DropReason{}
	all := append([]DropReason{DropNone}, AllDropReasons()...)
	for _, r := range all {
		s := r.String()
		if !snake.MatchString(s) {
			t.Errorf("DropReason(%d).String() = %q, not snake_case", r, s)
		}
		if prev, dup := seen[s]; dup {
			t.Errorf("%d and %d share the name %q", prev, r, s)
		}
		seen[s] = r
	}
	// The names are a contract with logs and dashboards.
	for r, want := range map[DropReason]string{
		DropNone:         "none",
		DropTooShort:     "too_short",
		DropAuthType:     "auth_type",
		DropChecksum:     "checksum",
		DropUnknownPeer:  "unknown_peer",
		DropOwnAddress:   "own_address",
		DropZeroInterval: "zero_interval",
	} {
		if got := r.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", r, got, want)
		}
	}
	if got := DropReason(200).String(); got != "DropReason(200)" {
		t.Errorf("unknown reason String() = %q", got)
	}
}

func TestAllDropReasons(t *testing.T) {
	all := AllDropReasons()
	if len(all) != int(numDropReasons)-1 {
		t.Fatalf("AllDropReasons has %d reasons, want %d", len(all), numDropReasons-1)
	}
	if slices.Contains(all, DropNone) {
		t.Error("AllDropReasons contains DropNone")
	}
	for _, r := range []DropReason{DropTooShort, DropUnknownPeer, DropOwnAddress} {
		if !slices.Contains(all, r) {
			t.Errorf("AllDropReasons lacks %v", r)
		}
	}
	// Callers may keep the slice; it must not alias package state.
	all[0] = DropNone
	if AllDropReasons()[0] != DropTooShort {
		t.Error("AllDropReasons returned shared state")
	}
}
