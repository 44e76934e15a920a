package vrrp

import (
	"errors"
	"net/netip"
	"strconv"
	"time"
)

// Packet is one received VRRP packet with what the socket layer saw.
type Packet struct {
	Src, Dst netip.Addr // IPv4 source and destination; Dst feeds the v3 pseudo-header
	TTL      uint8
	Payload  []byte // the VRRP message (IP payload)
}

// Expect is what the local virtual router is configured with.
type Expect struct {
	Version   Version
	VRID      uint8
	AuthType  AuthType
	AuthData  [AuthDataLen]byte
	Interval  time.Duration // checked in v2 only (v3 backups adopt the master's interval)
	Addresses []netip.Addr  // the configured VIPs (order-insensitive set comparison)
	CheckTTL  bool          // true for multicast; keepalived does not check TTL for unicast
}

// Received is an advertisement that passed every check.
type Received struct {
	Advertisement
	ChecksumMode ChecksumMode // which v3 form matched (PseudoHeader for v2)
}

// DropReason says why Validate (or the socket layer) dropped a packet.
// Every mismatch ends as two masters, so each reason is logged and counted.
type DropReason uint8

// The drop reasons. Their String names are stable: logs and metrics use them.
const (
	DropNone           DropReason = iota
	DropTooShort                  // fewer bytes than the fixed header
	DropLengthMismatch            // payload length != 8 + 4n (+8 auth bytes in v2)
	DropTTL                       // TTL != 255
	DropVersion                   // version field != ours (also 0/1/4+)
	DropType                      // not an advertisement
	DropVRID                      // another virtual router
	DropAuthType                  // v2 auth type differs from ours, or is AH
	DropPassword                  // v2 PASS password differs from ours
	DropInterval                  // v2 advert interval differs from ours
	DropAddressCount              // address count differs from our VIP count
	DropAddressSet                // same count, different addresses
	DropChecksum                  // no checksum form matches
	DropZeroCount                 // v3: count IPvX addrs == 0
	DropZeroInterval              // v3: max advert interval == 0 (v2 zero interval is DropInterval)
	DropUnknownPeer               // unicast: source not in unicast_peers (used by the socket layer)
	DropOwnAddress                // our own advert looped back (used by the socket layer)

	numDropReasons // sentinel: keep last
)

var dropReasonNames = [numDropReasons]string{
	DropNone:           "none",
	DropTooShort:       "too_short",
	DropLengthMismatch: "length_mismatch",
	DropTTL:            "ttl",
	DropVersion:        "version",
	DropType:           "type",
	DropVRID:           "vrid",
	DropAuthType:       "auth_type",
	DropPassword:       "password",
	DropInterval:       "interval",
	DropAddressCount:   "address_count",
	DropAddressSet:     "address_set",
	DropChecksum:       "checksum",
	DropZeroCount:      "zero_count",
	DropZeroInterval:   "zero_interval",
	DropUnknownPeer:    "unknown_peer",
	DropOwnAddress:     "own_address",
}

// String returns the reason's short snake_case name, e.g. "auth_type".
func (r DropReason) String() string {
	if r < numDropReasons {
		return dropReasonNames[r]
	}
	return "DropReason(" + strconv.Itoa(int(r)) + ")"
}

// AllDropReasons returns every reason except DropNone, in order, so callers
// can pre-create one counter per reason.
func AllDropReasons() []DropReason {
	rs := make([]DropReason, 0, numDropReasons-1)
	for r := DropNone + 1; r < numDropReasons; r++ {
		rs = append(rs, r)
	}
	return rs
}

// Validate runs every receive check and returns the advertisement or the
// first reason to drop it. The checks follow RFC 3768/5798 section 7.1 and
// keepalived 2.2.7: header present, TTL (if e.CheckTTL), version, type,
// length, checksum, VRID, then v2 auth type, password and interval, v3 zero
// interval and zero count, and finally the address count and set.
//
// On a drop, Received holds whatever was decoded (nothing before the length
// check passes), so the caller can log what the peer sent.
func Validate(p Packet, e Expect) (Received, DropReason) {
	var r Received
	b := p.Payload
	if len(b) < HeaderLen {
		return r, DropTooShort
	}
	// RFC 3768 7.1: "MUST verify that the IP TTL is 255." keepalived skips it
	// for unicast, where routers between peers may lower it.
	if e.CheckTTL && p.TTL != TTL {
		return r, DropTTL
	}
	if Version(b[0]>>4) != e.Version || !e.Version.valid() {
		return r, DropVersion
	}
	if b[0]&0x0f != TypeAdvertisement {
		return r, DropType
	}
	switch err := parse(b, &r.Advertisement); {
	case errors.Is(err, ErrTooShort):
		return Received{}, DropTooShort
	case err != nil:
		// The header and version are already checked, so this is the length.
		return Received{}, DropLengthMismatch
	}
	a := &r.Advertisement

	mode, ok := verifyChecksum(p, a.Version)
	if !ok {
		return r, DropChecksum
	}
	r.ChecksumMode = mode

	if a.VRID != e.VRID {
		return r, DropVRID
	}
	switch a.Version {
	case Version2:
		// AH needs the IPsec header we never see, so it is never accepted.
		if a.AuthType != e.AuthType || a.AuthType > AuthSimple {
			return r, DropAuthType
		}
		// RFC 3768 5.3.6.1: with no authentication the data is ignored.
		// The password travels in clear text, so a plain compare leaks
		// nothing an observer does not already have.
		if a.AuthType == AuthSimple && a.AuthData != e.AuthData {
			return r, DropPassword
		}
		// RFC 3768 7.1: "MUST verify that the Adver Interval in the packet
		// is the same as the locally configured for this virtual router".
		if a.Interval != e.Interval {
			return r, DropInterval
		}
	case Version3:
		if a.Interval == 0 {
			return r, DropZeroInterval
		}
		// RFC 5798 5.2.5: the count's "minimum value is 1".
		if len(a.Addresses) == 0 {
			return r, DropZeroCount
		}
	}
	if len(a.Addresses) != len(e.Addresses) {
		return r, DropAddressCount
	}
	if !sameAddresses(a.Addresses, e.Addresses) {
		return r, DropAddressSet
	}
	return r, DropNone
}

// verifyChecksum checks p.Payload's checksum. v2 is over the message only;
// v3 tries the RFC 5798 pseudo-header form first, then the message-only
// form, and reports which one matched.
func verifyChecksum(p Packet, v Version) (ChecksumMode, bool) {
	if v == Version2 {
		return PseudoHeader, checksumValid(0, p.Payload)
	}
	src, okSrc := ipv4(p.Src)
	dst, okDst := ipv4(p.Dst)
	if okSrc && okDst && checksumValid(pseudoHeaderSum(src, dst, len(p.Payload)), p.Payload) {
		return PseudoHeader, true
	}
	if checksumValid(0, p.Payload) {
		return MessageOnly, true
	}
	return PseudoHeader, false
}

// sameAddresses reports whether got and want (of equal length) hold the
// same addresses in any order. Lists are short (at most 255), so a nested
// scan beats allocating a set on every packet.
func sameAddresses(got, want []netip.Addr) bool {
	return containsAll(got, want) && containsAll(want, got)
}

// containsAll reports whether every address in sub is in set.
func containsAll(set, sub []netip.Addr) bool {
	for _, s := range sub {
		s = s.Unmap()
		found := false
		for _, a := range set {
			if a.Unmap() == s {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
