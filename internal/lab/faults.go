//go:build linux

package lab

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
)

// Faults a host can suffer, for the fault tests and the soak: each is what
// a real host does to a daemon behind its back.

// DelAddr removes an address from eth1, as `ip addr del`, networkd or a
// DHCP renewal would.
func (h *Host) DelAddr(p netip.Prefix) error {
	return ipBatch(h.NS, fmt.Sprintf("addr del %s dev %s", p, HostInterface))
}

// AddAddr puts an address on eth1 (with the interface's own label), as an
// operator would by hand.
func (h *Host) AddAddr(p netip.Prefix) error {
	return ipBatch(h.NS, fmt.Sprintf("addr add %s dev %s", p, HostInterface))
}

// RecreateInterface deletes eth1 and creates it again with the same name,
// address and bridge port but a new index and MAC, as a NIC detach and
// attach, or a VLAN or bond rebuilt by networkd, does.
func (h *Host) RecreateInterface() error {
	if err := ipBatch(h.NS, "link del dev "+HostInterface); err != nil {
		return fmt.Errorf("lab: %s: deleting %s: %w", h.Name, HostInterface, err)
	}
	if err := ipBatch(h.lab.sw.name,
		fmt.Sprintf("link add %s type veth peer name %s netns %s", h.port, HostInterface, h.NS),
		fmt.Sprintf("link set dev %s master %s up", h.port, bridgeName),
	); err != nil {
		return fmt.Errorf("lab: %s: re-creating %s: %w", h.Name, HostInterface, err)
	}
	return ipBatch(h.NS,
		fmt.Sprintf("addr add %s dev %s", h.Addr, HostInterface),
		fmt.Sprintf("link set dev %s up", HostInterface),
	)
}

// nftTable is the lab's own nftables table in a host's namespace.
const nftTable = "pplab"

// BlockVRRPIn drops (or, with block false, lets through again) the VRRP
// packets the host receives: the host goes deaf to its peers while they
// still hear it — one-way loss, as an asymmetric firewall or IGMP snooping
// makes it.
func (h *Host) BlockVRRPIn(block bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	// Delete and re-create the table: both directions start from nothing.
	script := "table ip " + nftTable + "\ndelete table ip " + nftTable + "\n"
	if block {
		script += "table ip " + nftTable + " {\n chain in {\n  type filter hook input priority 0; policy accept;\n  ip protocol 112 drop\n }\n}\n"
	}
	cmd := h.Command(ctx, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		return &CommandError{Args: cmd.Args, Output: string(out), Err: err}
	}
	return nil
}
