//go:build linux

package lab

import "net/netip"

// Holders returns the hosts whose eth1 holds a.
func Holders(a netip.Addr, hosts ...*Host) []*Host {
	var out []*Host
	for _, h := range hosts {
		if h.HasAddr(a) {
			out = append(out, h)
		}
	}
	return out
}
