// Package vip adds and removes virtual IP addresses on a Linux interface
// through netlink, and lists what is there.
//
// Every address it adds carries an address label (Label) that marks it as
// proxypair's for one VRID; Delete removes an address only when it carries
// that label (the kernel matches the label), so proxypair never removes an
// address someone else configured, even one equal to a VIP. Add and Delete
// are idempotent: adding an address that is there, or removing one that is
// not, succeeds.
package vip

import (
	"fmt"
	"net/netip"
)

// maxLabel is the longest address label the kernel takes (IFNAMSIZ - 1).
const maxLabel = 15

// Label is the address label that marks the VIPs of VRID vrid on ifname as
// proxypair's: "eth1:pp51", in the interface-alias form ip(8) and ifconfig
// show, or "proxypair51" when the interface name is too long for that.
func Label(ifname string, vrid int) string {
	if l := fmt.Sprintf("%s:pp%d", ifname, vrid); len(l) <= maxLabel {
		return l
	}
	return fmt.Sprintf("proxypair%d", vrid)
}

// Addr is one IPv4 address on the interface with its label.
type Addr struct {
	Prefix netip.Prefix
	Label  string
}

func (a Addr) String() string { return a.Prefix.String() + " (" + a.Label + ")" }
