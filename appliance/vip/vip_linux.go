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

// ErrNoInterface means the interface does not exist (now).
var ErrNoInterface = errors.New("vip: no such interface")

// dumpRetries bounds how often List repeats a dump the kernel interrupted
// (any address change in the namespace during a multi-part dump).
const dumpRetries = 5

// Manager manages one VRID's VIPs on one interface. It needs CAP_NET_ADMIN.
type Manager struct {
	ifname string
	label  string
	nl     *netlink.Handle
	// dump lists a link's addresses: the handle's AddrList, or a fake
	// that interrupts on demand in tests.
	dump func(netlink.Link, int) ([]netlink.Addr, error)
}

// New returns a Manager for the named interface in the process's network
// namespace, marking addresses with label (see Label). The interface is
// looked up on every call, so a link that is re-created keeps working. It
// keeps one netlink socket open, so taking over costs no socket set-up; a
// Manager is for one goroutine at a time.
func New(ifname, label string) *Manager {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		h = &netlink.Handle{} // a socket per request: slower, same result
	}
	return NewAt(ifname, label, h)
}

// NewAt is New for another network namespace, through a handle opened there.
func NewAt(ifname, label string, h *netlink.Handle) *Manager {
	return &Manager{ifname: ifname, label: label, nl: h, dump: h.AddrList}
}

// Label returns the label the Manager marks its addresses with.
func (m *Manager) Label() string { return m.label }

func (m *Manager) link() (netlink.Link, error) {
	link, err := m.nl.LinkByName(m.ifname)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil, fmt.Errorf("%w: %s", ErrNoInterface, m.ifname)
		}
		return nil, fmt.Errorf("vip: interface %s: %w", m.ifname, err)
	}
	return link, nil
}

// Add puts p on the interface with the Manager's label. An address already
// there with the same prefix length is success, whatever its label: the
// caller's List tells whether it is ours.
func (m *Manager) Add(p netip.Prefix) error {
	link, err := m.link()
	if err != nil {
		return err
	}
	if err := m.nl.AddrAdd(link, m.addr(p)); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("vip: adding %v to %s: %w", p, m.ifname, err)
	}
	return nil
}

// Delete removes p from the interface if it carries the Manager's label.
// An address that is not there, or not ours, is left alone and is success;
// so is a missing interface (it holds no addresses).
func (m *Manager) Delete(p netip.Prefix) error {
	link, err := m.link()
	if errors.Is(err, ErrNoInterface) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := m.nl.AddrDel(link, m.addr(p)); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
		return fmt.Errorf("vip: removing %v from %s: %w", p, m.ifname, err)
	}
	return nil
}

// List returns the interface's IPv4 addresses with their labels. A dump
// the kernel interrupted is repeated; after dumpRetries it is an error,
// never a partial list taken for the whole. A missing interface is
// ErrNoInterface.
func (m *Manager) List() ([]Addr, error) {
	link, err := m.link()
	if err != nil {
		return nil, err
	}
	var list []netlink.Addr
	for range dumpRetries {
		list, err = m.dump(link, netlink.FAMILY_V4)
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("vip: listing addresses of %s: %w", m.ifname, err)
	}
	out := make([]Addr, 0, len(list))
	for _, a := range list {
		ip, ok := netip.AddrFromSlice(a.IP.To4())
		if !ok {
			continue
		}
		bits, _ := a.Mask.Size()
		out = append(out, Addr{Prefix: netip.PrefixFrom(ip, bits), Label: a.Label})
	}
	return out, nil
}

// RemoveOwned removes every address carrying the Manager's label, whatever
// the current config says (a crash may have left VIPs of an older config),
// and returns what it removed.
func (m *Manager) RemoveOwned() ([]netip.Prefix, error) {
	addrs, err := m.List()
	if errors.Is(err, ErrNoInterface) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var removed []netip.Prefix
	var errs []error
	for _, a := range addrs {
		if a.Label != m.label {
			continue
		}
		if err := m.Delete(a.Prefix); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, a.Prefix)
	}
	return removed, errors.Join(errs...)
}

// Permanent reports whether a failed Add cannot succeed by retrying: no
// permission (a missing CAP_NET_ADMIN), or a request the kernel rejects as
// invalid.
func Permanent(err error) bool {
	return errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ERANGE)
}

func (m *Manager) addr(p netip.Prefix) *netlink.Addr {
	return &netlink.Addr{
		IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())},
		Label: m.label,
	}
}
