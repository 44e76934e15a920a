package vrrp

import "net/netip"

// sum adds b to acc as big-endian 16-bit words (RFC 1071), padding an odd
// trailing byte with zero. The result is not folded.
func sum(acc uint32, b []byte) uint32 {
	for len(b) >= 2 {
		acc += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		acc += uint32(b[0]) << 8
	}
	return acc
}

// fold reduces acc to 16 bits with end-around carry.
func fold(acc uint32) uint16 {
	for acc > 0xffff {
		acc = acc&0xffff + acc>>16
	}
	return uint16(acc)
}

// pseudoHeaderSum is the unfolded sum of the IPv4 pseudo-header RFC 5798
// section 5.2.8 puts in front of a v3 message: src, dst, zero, protocol,
// VRRP length. src and dst must be IPv4.
func pseudoHeaderSum(src, dst netip.Addr, length int) uint32 {
	s, d := src.As4(), dst.As4()
	acc := sum(0, s[:])
	acc = sum(acc, d[:])
	acc += ProtocolNumber
	acc += uint32(length)
	return acc
}

// checksumValid reports whether msg, whose checksum field is filled in,
// sums to all ones together with acc (the pseudo-header sum, or 0).
func checksumValid(acc uint32, msg []byte) bool {
	return fold(sum(acc, msg)) == 0xffff
}

// ipv4 returns a as a 4-byte address, unmapping ::ffff:a.b.c.d, and whether
// it is IPv4 at all.
func ipv4(a netip.Addr) (netip.Addr, bool) {
	a = a.Unmap()
	return a, a.Is4()
}
