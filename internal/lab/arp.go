//go:build linux

package lab

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"time"

	"github.com/mdlayher/arp"
)

// ARPAnswers asks, from the host's eth1, who has ip (one broadcast ARP
// request, as a client resolving it would send) and returns the MAC of
// every answer heard within wait, each once, in the order they came: what
// a client on the LAN may end up sending ip's traffic to.
func (h *Host) ARPAnswers(ip netip.Addr, wait time.Duration) ([]net.HardwareAddr, error) {
	var (
		c   *arp.Client
		err error
	)
	if nsErr := h.ns.do(func() {
		var ifi *net.Interface
		if ifi, err = net.InterfaceByName(HostInterface); err == nil {
			c, err = arp.Dial(ifi)
		}
	}); nsErr != nil {
		return nil, nsErr
	}
	if err != nil {
		return nil, fmt.Errorf("lab: ARP on %s: %w", h.Name, err)
	}
	defer c.Close()
	if err := c.SetReadDeadline(time.Now().Add(wait)); err != nil {
		return nil, fmt.Errorf("lab: ARP on %s: %w", h.Name, err)
	}
	if err := c.Request(ip); err != nil {
		return nil, fmt.Errorf("lab: ARP on %s: who-has %s: %w", h.Name, ip, err)
	}
	var macs []net.HardwareAddr
	for {
		p, _, err := c.Read()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return macs, nil
		}
		if err != nil {
			return macs, fmt.Errorf("lab: ARP on %s: %w", h.Name, err)
		}
		if p.Operation != arp.OperationReply || p.SenderIP != ip {
			continue
		}
		if !slices.ContainsFunc(macs, func(m net.HardwareAddr) bool { return m.String() == p.SenderHardwareAddr.String() }) {
			macs = append(macs, p.SenderHardwareAddr)
		}
	}
}

// MAC returns eth1's MAC address.
func (h *Host) MAC() (net.HardwareAddr, error) {
	_, link, err := h.eth1()
	if err != nil {
		return nil, err
	}
	return link.Attrs().HardwareAddr, nil
}
