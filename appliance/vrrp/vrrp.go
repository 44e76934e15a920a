// Package vrrp implements the VRRP wire format: VRRPv2 (RFC 3768, with
// keepalived's "auth_type PASS") and VRRPv3 for IPv4 (RFC 5798).
//
// It encodes and decodes advertisements, computes and verifies their
// checksums, and runs every receive check a virtual router applies
// (Validate), returning a typed DropReason for the first one that fails.
// It does no I/O and imports only the standard library.
package vrrp

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// ProtocolNumber is the IP protocol number assigned to VRRP.
const ProtocolNumber = 112

// TTL is the IPv4 TTL every VRRP packet is sent with and, for multicast,
// must arrive with (RFC 3768 section 7.1, RFC 5798 section 7.1).
const TTL = 255

// MulticastGroup is the IPv4 group VRRP advertisements are sent to.
var MulticastGroup = netip.AddrFrom4([4]byte{224, 0, 0, 18})

// TypeAdvertisement is the only VRRP message type (RFC 3768 section 5.3.2).
const TypeAdvertisement = 1

// HeaderLen is the length of the fixed VRRP header that precedes the
// addresses, in both versions.
const HeaderLen = 8

// AuthDataLen is the length of the v2 authentication data that follows the
// addresses. It is present even with AuthNone.
const AuthDataLen = 8

// MaxAddresses is the most addresses one advertisement can carry (the count
// field is one byte).
const MaxAddresses = 255

// Interval limits per version.
const (
	minIntervalV2 = time.Second
	maxIntervalV2 = 255 * time.Second
	centisecond   = 10 * time.Millisecond
	minIntervalV3 = centisecond
	maxIntervalV3 = 0x0fff * centisecond // 12 bits: 40.95s
)

// Version is the VRRP protocol version: 2 or 3.
type Version uint8

// The supported versions.
const (
	Version2 Version = 2
	Version3 Version = 3
)

// String returns "v2", "v3" or "v<n>" for unknown versions.
func (v Version) String() string {
	return "v" + strconv.Itoa(int(v))
}

func (v Version) valid() bool { return v == Version2 || v == Version3 }

// AuthType is the VRRPv2 authentication type.
type AuthType uint8

// The v2 authentication types. RFC 3768 removed all but AuthNone; keepalived
// still sends AuthSimple for "auth_type PASS". AuthAH (IPsec AH) is
// recognised so it can be named in logs, but never accepted.
const (
	AuthNone   AuthType = 0
	AuthSimple AuthType = 1
	AuthAH     AuthType = 2
)

// String returns "none", "simple", "ah" or "AuthType(n)".
func (a AuthType) String() string {
	switch a {
	case AuthNone:
		return "none"
	case AuthSimple:
		return "simple"
	case AuthAH:
		return "ah"
	}
	return "AuthType(" + strconv.Itoa(int(a)) + ")"
}

// ChecksumMode says how a v3 checksum is computed. v2 is always over the
// message only.
type ChecksumMode uint8

// The v3 checksum forms.
const (
	// PseudoHeader is RFC 5798 section 5.2.8 as keepalived 2.2.7 and FRR
	// send it: the IPv4 pseudo-header (src, dst, zero, 112, VRRP length)
	// followed by the VRRP message. For unicast, dst is the peer's address.
	PseudoHeader ChecksumMode = iota
	// MessageOnly covers the VRRP message only, as some routers send v3
	// for IPv4 (keepalived 2.2.8+ can accept it as an option).
	MessageOnly
)

// String returns "pseudo_header", "message_only" or "ChecksumMode(n)".
func (m ChecksumMode) String() string {
	switch m {
	case PseudoHeader:
		return "pseudo_header"
	case MessageOnly:
		return "message_only"
	}
	return "ChecksumMode(" + strconv.Itoa(int(m)) + ")"
}

// Errors returned by Parse, Marshal and Password, wrapped with detail and a
// "vrrp: " prefix; test for them with errors.Is.
var (
	// ErrTooShort means the input is shorter than the fixed header. It is
	// io.ErrUnexpectedEOF, so either name matches.
	ErrTooShort = io.ErrUnexpectedEOF
	// ErrLengthMismatch means the message length disagrees with its address
	// count (8 + 4n bytes, plus 8 auth bytes in v2).
	ErrLengthMismatch = errors.New("length does not match address count")
	// ErrVersion means the version is neither 2 nor 3.
	ErrVersion = errors.New("unsupported version")
	// ErrType means the message type cannot be encoded (0 or above 15).
	ErrType = errors.New("invalid message type")
	// ErrInterval means the advertisement interval cannot be encoded.
	ErrInterval = errors.New("interval out of range")
	// ErrAddress means an address is not IPv4.
	ErrAddress = errors.New("address is not IPv4")
	// ErrTooManyAddresses means more than MaxAddresses addresses.
	ErrTooManyAddresses = errors.New("too many addresses")
	// ErrAuth means authentication fields were set on a v3 advertisement.
	ErrAuth = errors.New("v3 has no authentication")
	// ErrChecksumMode means an unknown ChecksumMode.
	ErrChecksumMode = errors.New("unknown checksum mode")
	// ErrPasswordTooLong means a password longer than AuthDataLen bytes.
	ErrPasswordTooLong = errors.New("password too long")
)

// Password returns s zero-padded to the 8 bytes of v2 authentication data,
// as keepalived stores auth_pass. keepalived truncates a longer auth_pass
// with a warning; Password refuses it, so the config layer can say which
// 8 bytes a keepalived peer actually uses.
func Password(s string) ([AuthDataLen]byte, error) {
	var b [AuthDataLen]byte
	if len(s) > AuthDataLen {
		return b, fmt.Errorf("vrrp: password is %d bytes, at most %d allowed: %w", len(s), AuthDataLen, ErrPasswordTooLong)
	}
	copy(b[:], s)
	return b, nil
}

// Advertisement is one VRRP advertisement, v2 or v3.
type Advertisement struct {
	Version   Version
	Type      uint8 // TypeAdvertisement
	VRID      uint8
	Priority  uint8
	AuthType  AuthType      // v2 only; zero for v3
	Interval  time.Duration // v2: whole seconds; v3: centisecond resolution (12 bits)
	Addresses []netip.Addr  // IPv4
	// AuthData is the v2 authentication data: the password zero-padded for
	// AuthSimple, zeros for AuthNone. Marshal sends it as given.
	AuthData [AuthDataLen]byte
	Checksum uint16 // as read by Parse; Marshal computes it
}

// String describes a for logs, e.g.
// "v2 vrid 51 prio 200 auth simple intvl 1s addrs 198.18.0.100".
// It never prints the password.
func (a Advertisement) String() string {
	var sb strings.Builder
	sb.WriteString(a.Version.String())
	if a.Type != TypeAdvertisement {
		sb.WriteString(" type ")
		sb.WriteString(strconv.Itoa(int(a.Type)))
	}
	sb.WriteString(" vrid ")
	sb.WriteString(strconv.Itoa(int(a.VRID)))
	sb.WriteString(" prio ")
	sb.WriteString(strconv.Itoa(int(a.Priority)))
	if a.Version != Version3 {
		sb.WriteString(" auth ")
		sb.WriteString(a.AuthType.String())
	}
	sb.WriteString(" intvl ")
	sb.WriteString(a.Interval.String())
	sb.WriteString(" addrs ")
	if len(a.Addresses) == 0 {
		sb.WriteString("none")
	}
	for i, addr := range a.Addresses {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(addr.String())
	}
	return sb.String()
}
