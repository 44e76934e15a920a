//go:build linux

package vip

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Manager manages the VIPs of one interface. It needs CAP_NET_ADMIN.
type Manager struct {
	ifname string
	nl     *netlink.Handle
}

// New returns a Manager for the named interface in the process's network
// namespace. The interface is looked up on every call, so a link that is
// re-created keeps working. It keeps one netlink socket open, so taking over
// costs no socket set-up; a Manager is for one goroutine at a time.
func New(ifname string) *Manager {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		h = &netlink.Handle{} // a socket per request: slower, same result
	}
	return &Manager{ifname: ifname, nl: h}
}

// NewAt is New for another network namespace, through a handle opened there.
func NewAt(ifname string, h *netlink.Handle) *Manager { return &Manager{ifname: ifname, nl: h} }

// Add puts every prefix on the interface.
func (m *Manager) Add(vips []netip.Prefix) error {
	link, err := m.nl.LinkByName(m.ifname)
	if err != nil {
		return fmt.Errorf("vip: interface %s: %w", m.ifname, err)
	}
	var errs []error
	for _, p := range vips {
		err := m.nl.AddrAdd(link, toAddr(p))
		if err != nil && !errors.Is(err, unix.EEXIST) {
			errs = append(errs, fmt.Errorf("vip: adding %v to %s: %w", p, m.ifname, err))
		}
	}
	return errors.Join(errs...)
}

// Delete removes every address of vips from the interface, whatever prefix
// length it carries there (a crashed daemon with an older config may have
// left a different one). A missing interface holds no VIPs: that is success.
func (m *Manager) Delete(vips []netip.Prefix) error {
	link, err := m.nl.LinkByName(m.ifname)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return fmt.Errorf("vip: interface %s: %w", m.ifname, err)
	}
	held, err := m.nl.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("vip: listing addresses of %s: %w", m.ifname, err)
	}
	var errs []error
	for _, a := range held {
		if !contains(vips, a.IP) {
			continue
		}
		err := m.nl.AddrDel(link, &a)
		if err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
			errs = append(errs, fmt.Errorf("vip: removing %v from %s: %w", a.IPNet, m.ifname, err))
		}
	}
	return errors.Join(errs...)
}

// Held returns which of vips are on the interface now (by address).
func (m *Manager) Held(vips []netip.Prefix) ([]netip.Prefix, error) {
	link, err := m.nl.LinkByName(m.ifname)
	if err != nil {
		return nil, fmt.Errorf("vip: interface %s: %w", m.ifname, err)
	}
	addrs, err := m.nl.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("vip: listing addresses of %s: %w", m.ifname, err)
	}
	var out []netip.Prefix
	for _, p := range vips {
		for _, a := range addrs {
			if ip, ok := netip.AddrFromSlice(a.IP.To4()); ok && ip == p.Addr() {
				out = append(out, p)
				break
			}
		}
	}
	return out, nil
}

func toAddr(p netip.Prefix) *netlink.Addr {
	return &netlink.Addr{IPNet: &net.IPNet{
		IP:   p.Addr().AsSlice(),
		Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen()),
	}}
}

func contains(vips []netip.Prefix, ip net.IP) bool {
	a, ok := netip.AddrFromSlice(ip.To4())
	if !ok {
		return false
	}
	for _, p := range vips {
		if p.Addr() == a {
			return true
		}
	}
	return false
}
