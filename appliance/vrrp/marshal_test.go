package vrrp

import (
	"errors"
	"io"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestMarshalErrors(t *testing.T) {
	mcast := MulticastGroup
	tooMany := make([]netip.Addr, MaxAddresses+1)
	for i := range tooMany {
		tooMany[i] = netip.AddrFrom4([4]byte{198, 18, 1, byte(i)})
	}
	edit := func(a Advertisement, f func(*Advertisement)) Advertisement {
		f(&a)
		return a
	}
	tests := []struct {
		name     string
		a        Advertisement
		src, dst netip.Addr
		mode     ChecksumMode
		want     error
		mention  string // the message must name the bad value
	}{
		{name: "version 0", a: edit(v2Adv(200, vip100), func(a *Advertisement) { a.Version = 0 }), want: ErrVersion, mention: "version 0"},
		{name: "version 4", a: edit(v3Adv(200, time.Second, vip100), func(a *Advertisement) { a.Version = 4 }), want: ErrVersion, mention: "version 4"},
		{name: "type 0", a: edit(v2Adv(200, vip100), func(a *Advertisement) { a.Type = 0 }), want: ErrType, mention: "type 0"},
		{name: "type 16", a: edit(v2Adv(200, vip100), func(a *Advertisement) { a.Type = 16 }), want: ErrType, mention: "type 16"},
		{name: "checksum mode", a: v2Adv(200, vip100), mode: 7, want: ErrChecksumMode, mention: "mode 7"},
		{name: "v2 interval 0", a: edit(v2Adv(200, vip100), func(a *Advertisement) { a.Interval = 0 }), want: ErrInterval, mention: "0s"},
		{name: "v2 interval fraction", a: edit(v2Adv(200, vip100), func(a *Advertisement) { a.Interval = 1500 * time.Millisecond }), want: ErrInterval, mention: "1.5s"},
		{name: "v2 interval 256s", a: edit(v2Adv(200, vip100), func(a *Advertisement) { a.Interval = 256 * time.Second }), want: ErrInterval, mention: "4m16s"},
		{name: "v2 interval negative", a: edit(v2Adv(200, vip100), func(a *Advertisement) { a.Interval = -time.Second }), want: ErrInterval, mention: "-1s"},
		{name: "v3 interval 0", a: v3Adv(200, 0, vip100), src: capSrc, dst: mcast, want: ErrInterval, mention: "0s"},
		{name: "v3 interval 5ms", a: v3Adv(200, 5*time.Millisecond, vip100), src: capSrc, dst: mcast, want: ErrInterval, mention: "5ms"},
		{name: "v3 interval 15ms", a: v3Adv(200, 15*time.Millisecond, vip100), src: capSrc, dst: mcast, want: ErrInterval, mention: "15ms"},
		{name: "v3 interval 40.96s", a: v3Adv(200, 40960*time.Millisecond, vip100), src: capSrc, dst: mcast, want: ErrInterval, mention: "40.96s"},
		{name: "too many addresses", a: v2Adv(200, tooMany...), want: ErrTooManyAddresses, mention: "256"},
		{name: "IPv6 address", a: v2Adv(200, vip100, netip.MustParseAddr("2001:db8::1")), want: ErrAddress, mention: "2001:db8::1"},
		{name: "4in6 address", a: v2Adv(200, netip.MustParseAddr("::ffff:198.18.0.100")), want: ErrAddress, mention: "::ffff:198.18.0.100"},
		{name: "zero address", a: v2Adv(200, netip.Addr{}), want: ErrAddress, mention: "invalid IP"},
		{name: "v3 auth type", a: edit(v3Adv(200, time.Second, vip100), func(a *Advertisement) { a.AuthType = AuthSimple }), src: capSrc, dst: mcast, want: ErrAuth, mention: "simple"},
		{name: "v3 auth data", a: edit(v3Adv(200, time.Second, vip100), func(a *Advertisement) { a.AuthData = pass1234 }), src: capSrc, dst: mcast, want: ErrAuth, mention: "v3"},
		{name: "v3 pseudo-header without src", a: v3Adv(200, time.Second, vip100), dst: mcast, want: ErrAddress, mention: "source"},
		{name: "v3 pseudo-header with IPv6 dst", a: v3Adv(200, time.Second, vip100), src: capSrc, dst: netip.MustParseAddr("ff02::12"), want: ErrAddress, mention: "ff02::12"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.a.Marshal(tt.src, tt.dst, tt.mode)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Marshal = % x, %v; want %v", b, err, tt.want)
			}
			if b != nil {
				t.Errorf("Marshal returned % x with an error", b)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "vrrp: ") || !strings.Contains(msg, tt.mention) {
				t.Errorf("error %q: want the vrrp: prefix and %q", msg, tt.mention)
			}
		})
	}
}

// TestMarshalLimits encodes the edges of every range and reads them back.
func TestMarshalLimits(t *testing.T) {
	most := make([]netip.Addr, MaxAddresses)
	for i := range most {
		most[i] = netip.AddrFrom4([4]byte{198, 18, 1, byte(i)})
	}
	edit := func(a Advertisement, f func(*Advertisement)) Advertisement {
		f(&a)
		return a
	}
	tests := []struct {
		name string
		a    Advertisement
		mode ChecksumMode
	}{
		{name: "v2 1s", a: v2Adv(1, vip100)},
		{name: "v2 255s", a: edit(v2Adv(255, vip100), func(a *Advertisement) { a.Interval = 255 * time.Second })},
		{name: "v2 no addresses", a: v2Adv(100)},
		{name: "v2 255 addresses", a: v2Adv(100, most...)},
		{name: "v2 auth none", a: edit(v2Adv(100, vip100), func(a *Advertisement) { a.AuthType, a.AuthData = AuthNone, [8]byte{} })},
		{name: "v2 other type", a: edit(v2Adv(100, vip100), func(a *Advertisement) { a.Type = 15 })},
		{name: "v3 10ms", a: v3Adv(254, 10*time.Millisecond, vip100)},
		{name: "v3 40.95s", a: v3Adv(254, 40950*time.Millisecond, vip100)},
		{name: "v3 255 addresses", a: v3Adv(254, time.Second, most...)},
		{name: "v3 message only", a: v3Adv(254, time.Second, vip100), mode: MessageOnly},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.a.Marshal(capSrc, MulticastGroup, tt.mode)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if want := messageLen(tt.a.Version, len(tt.a.Addresses)); len(b) != want {
				t.Fatalf("len = %d, want %d", len(b), want)
			}
			got, err := Parse(b)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			tt.a.Checksum = got.Checksum
			if !reflect.DeepEqual(*got, tt.a) {
				t.Fatalf("round trip:\n got %v\nwant %v", got, tt.a)
			}
			mode, ok := verifyChecksum(Packet{Src: capSrc, Dst: MulticastGroup, Payload: b}, tt.a.Version)
			if !ok || (tt.a.Version == Version3 && mode != tt.mode) {
				t.Errorf("checksum check = %v, %v; want %v, true", mode, ok, tt.mode)
			}
		})
	}
}

// TestMarshalIgnoresChecksumField: a stale Checksum must not leak onto the wire.
func TestMarshalIgnoresChecksumField(t *testing.T) {
	a := v2Adv(200, vip100)
	a.Checksum = 0xbeef
	b, err := a.Marshal(netip.Addr{}, netip.Addr{}, PseudoHeader)
	if err != nil {
		t.Fatal(err)
	}
	if got := uint16(b[6])<<8 | uint16(b[7]); got != 0x0718 {
		t.Errorf("checksum = %#04x, want keepalived's 0x0718", got)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{name: "nil", b: nil, want: ErrTooShort},
		{name: "7 bytes", b: []byte{0x21, 51, 200, 0, 1, 1, 0, 0}[:7], want: ErrTooShort},
		{name: "version 0", b: []byte{0x01, 51, 200, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, want: ErrVersion},
		{name: "version 1", b: []byte{0x11, 51, 200, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, want: ErrVersion},
		{name: "version 4", b: []byte{0x41, 51, 200, 0, 0, 100, 0, 0}, want: ErrVersion},
		{name: "version 15", b: []byte{0xf1, 51, 200, 0, 0, 100, 0, 0}, want: ErrVersion},
		{name: "v2 header only", b: []byte{0x21, 51, 200, 0, 1, 1, 0, 0}, want: ErrLengthMismatch},
		{name: "v2 missing an address", b: []byte{0x21, 51, 200, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, want: ErrLengthMismatch},
		{name: "v2 trailing byte", b: []byte{0x21, 51, 200, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, want: ErrLengthMismatch},
		{name: "v3 count 255 in 12 bytes", b: []byte{0x31, 51, 200, 255, 0, 100, 0, 0, 198, 18, 0, 100}, want: ErrLengthMismatch},
		{name: "v3 with v2 auth bytes", b: []byte{0x31, 51, 200, 1, 0, 100, 0, 0, 198, 18, 0, 100, 0, 0, 0, 0, 0, 0, 0, 0}, want: ErrLengthMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Parse(tt.b)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse = %v, %v; want %v", a, err, tt.want)
			}
			if a != nil {
				t.Errorf("Parse returned %v with an error", a)
			}
			if !strings.HasPrefix(err.Error(), "vrrp: ") {
				t.Errorf("error %q lacks the vrrp: prefix", err)
			}
		})
	}
	// Short input is also io.ErrUnexpectedEOF, as in mdlayher's packages.
	if _, err := Parse([]byte{0x21}); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("Parse(1 byte) = %v, want io.ErrUnexpectedEOF", err)
	}
}

// TestParseCopies: the advert must not alias the receive buffer, which the
// socket layer reuses.
func TestParseCopies(t *testing.T) {
	b := mustMarshal(t, v2Adv(200, vip100), MulticastGroup, 0)
	a, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = 0
	}
	if a.Addresses[0] != vip100 || a.AuthData != pass1234 {
		t.Errorf("advert changed with the buffer: %v %q", a, a.AuthData)
	}
}

func TestPassword(t *testing.T) {
	tests := []struct {
		in      string
		want    [8]byte
		wantErr bool
	}{
		{in: "pass1234", want: pass1234},
		{in: "abc", want: [8]byte{'a', 'b', 'c'}},
		{in: "", want: [8]byte{}},
		{in: "pass12345", wantErr: true},
	}
	for _, tt := range tests {
		got, err := Password(tt.in)
		if tt.wantErr {
			if !errors.Is(err, ErrPasswordTooLong) || !strings.Contains(err.Error(), "9 bytes") {
				t.Errorf("Password(%q) error = %v, want ErrPasswordTooLong naming 9 bytes", tt.in, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Password(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestStrings(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{v2Adv(200, vip100).String(), "v2 vrid 51 prio 200 auth simple intvl 1s addrs 198.18.0.100"},
		{v2Adv(0, vip100, vip101).String(), "v2 vrid 51 prio 0 auth simple intvl 1s addrs 198.18.0.100,198.18.0.101"},
		{v3Adv(200, 50*time.Millisecond, vip100).String(), "v3 vrid 51 prio 200 intvl 50ms addrs 198.18.0.100"},
		{Advertisement{Version: 3, Type: 2, VRID: 1}.String(), "v3 type 2 vrid 1 prio 0 intvl 0s addrs none"},
		{Version(7).String(), "v7"},
		{AuthNone.String(), "none"},
		{AuthAH.String(), "ah"},
		{AuthType(9).String(), "AuthType(9)"},
		{PseudoHeader.String(), "pseudo_header"},
		{MessageOnly.String(), "message_only"},
		{ChecksumMode(5).String(), "ChecksumMode(5)"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("String() = %q, want %q", tt.got, tt.want)
		}
	}
	// The password stays out of logs.
	if s := v2Adv(200, vip100).String(); strings.Contains(s, "pass1234") {
		t.Errorf("String() leaks the password: %q", s)
	}
}
