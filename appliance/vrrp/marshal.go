package vrrp

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"
)

// messageLen is the exact length of a message of version v carrying n
// addresses: keepalived accepts nothing else, and neither do we.
func messageLen(v Version, n int) int {
	l := HeaderLen + 4*n
	if v == Version2 {
		l += AuthDataLen
	}
	return l
}

// Marshal encodes a. src and dst are the IPv4 source and destination the
// packet will be sent with; v3 needs them for the pseudo-header checksum
// (for unicast, dst is the peer's address). v2 ignores them, and so does v3
// with MessageOnly.
//
// Marshal rejects what it cannot encode: a version other than 2 or 3, type 0
// or above 15, a v2 interval that is not whole seconds 1-255, a v3 interval
// that is not a multiple of 10ms in 10ms..40.95s, more than 255 addresses,
// non-IPv4 addresses, and authentication fields on v3. a.Checksum is ignored.
func (a *Advertisement) Marshal(src, dst netip.Addr, mode ChecksumMode) ([]byte, error) {
	if !a.Version.valid() {
		return nil, fmt.Errorf("vrrp: version %d, want 2 or 3: %w", a.Version, ErrVersion)
	}
	if a.Type == 0 || a.Type > 0x0f {
		return nil, fmt.Errorf("vrrp: type %d, want %d (advertisement) or another 4-bit type: %w", a.Type, TypeAdvertisement, ErrType)
	}
	if mode != PseudoHeader && mode != MessageOnly {
		return nil, fmt.Errorf("vrrp: checksum mode %d: %w", mode, ErrChecksumMode)
	}
	if len(a.Addresses) > MaxAddresses {
		return nil, fmt.Errorf("vrrp: %d addresses, at most %d fit: %w", len(a.Addresses), MaxAddresses, ErrTooManyAddresses)
	}
	for i, addr := range a.Addresses {
		if !addr.Is4() {
			return nil, fmt.Errorf("vrrp: address %d (%s): %w", i, addr, ErrAddress)
		}
	}

	// Byte 4 and 5 differ by version: v2 auth type and interval in seconds,
	// v3 4 reserved bits and a 12-bit interval in centiseconds.
	var word4 uint16
	switch a.Version {
	case Version2:
		if a.Interval%time.Second != 0 || a.Interval < minIntervalV2 || a.Interval > maxIntervalV2 {
			return nil, fmt.Errorf("vrrp: v2 interval %v, want whole seconds 1s-255s: %w", a.Interval, ErrInterval)
		}
		word4 = uint16(a.AuthType)<<8 | uint16(a.Interval/time.Second)
	case Version3:
		if a.Interval%centisecond != 0 || a.Interval < minIntervalV3 || a.Interval > maxIntervalV3 {
			return nil, fmt.Errorf("vrrp: v3 interval %v, want a multiple of 10ms in 10ms-40.95s: %w", a.Interval, ErrInterval)
		}
		if a.AuthType != AuthNone || a.AuthData != [AuthDataLen]byte{} {
			return nil, fmt.Errorf("vrrp: auth type %s or auth data set on a v3 advertisement: %w", a.AuthType, ErrAuth)
		}
		word4 = uint16(a.Interval / centisecond)
	}

	var ph uint32
	if a.Version == Version3 && mode == PseudoHeader {
		s, ok := ipv4(src)
		if !ok {
			return nil, fmt.Errorf("vrrp: v3 pseudo-header source %s: %w", src, ErrAddress)
		}
		d, ok := ipv4(dst)
		if !ok {
			return nil, fmt.Errorf("vrrp: v3 pseudo-header destination %s: %w", dst, ErrAddress)
		}
		ph = pseudoHeaderSum(s, d, messageLen(a.Version, len(a.Addresses)))
	}

	b := make([]byte, messageLen(a.Version, len(a.Addresses)))
	b[0] = byte(a.Version)<<4 | a.Type        // 0: version (4 bits), type (4 bits)
	b[1] = a.VRID                             // 1: virtual router ID
	b[2] = a.Priority                         // 2: priority
	b[3] = byte(len(a.Addresses))             // 3: count IP addrs
	binary.BigEndian.PutUint16(b[4:6], word4) // 4-5: v2 auth type, adver int / v3 rsvd, max adver int
	binary.BigEndian.PutUint16(b[6:8], 0)     // 6-7: checksum, filled in below
	off := HeaderLen                          // 8..8+4n: IPv4 addresses
	for _, addr := range a.Addresses {
		a4 := addr.As4()
		copy(b[off:off+4], a4[:])
		off += 4
	}
	if a.Version == Version2 {
		copy(b[off:off+AuthDataLen], a.AuthData[:]) // 8+4n..16+4n: v2 authentication data
	}
	binary.BigEndian.PutUint16(b[6:8], ^fold(sum(ph, b)))
	return b, nil
}

// Parse decodes a VRRP message (the IP payload). It checks structure only:
// the fixed header is present, the version is 2 or 3, and the length is
// exactly what the address count says. It does not verify the checksum or
// the type; Validate does. Reserved v3 bits are ignored.
func Parse(b []byte) (*Advertisement, error) {
	a := new(Advertisement)
	if err := parse(b, a); err != nil {
		return nil, err
	}
	return a, nil
}

// parse is Parse into a caller's Advertisement, so Validate does not
// allocate one per packet.
func parse(b []byte, a *Advertisement) error {
	if len(b) < HeaderLen {
		return fmt.Errorf("vrrp: %d-byte message is shorter than the %d-byte header: %w", len(b), HeaderLen, ErrTooShort)
	}
	*a = Advertisement{
		Version:  Version(b[0] >> 4),              // 0: version
		Type:     b[0] & 0x0f,                     // 0: type
		VRID:     b[1],                            // 1: virtual router ID
		Priority: b[2],                            // 2: priority
		Checksum: binary.BigEndian.Uint16(b[6:8]), // 6-7: checksum
	}
	if !a.Version.valid() {
		return fmt.Errorf("vrrp: version %d, want 2 or 3: %w", a.Version, ErrVersion)
	}
	n := int(b[3]) // 3: count IP addrs
	if want := messageLen(a.Version, n); len(b) != want {
		return fmt.Errorf("vrrp: %s message with %d addresses is %d bytes, want %d: %w", a.Version, n, len(b), want, ErrLengthMismatch)
	}
	switch a.Version {
	case Version2:
		a.AuthType = AuthType(b[4])                    // 4: auth type
		a.Interval = time.Duration(b[5]) * time.Second // 5: adver int, seconds
	case Version3:
		// 4-5: 4 reserved bits, 12-bit max adver int in centiseconds
		a.Interval = time.Duration(binary.BigEndian.Uint16(b[4:6])&0x0fff) * centisecond
	}
	if n > 0 {
		a.Addresses = make([]netip.Addr, n)
	}
	off := HeaderLen
	for i := range n {
		// The length check above guarantees b[off:off+4] is in range.
		a.Addresses[i] = netip.AddrFrom4([4]byte(b[off : off+4]))
		off += 4
	}
	if a.Version == Version2 {
		copy(a.AuthData[:], b[off:off+AuthDataLen])
	}
	return nil
}
