package netio

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"

	"github.com/proxypair/proxypair/appliance/vrrp"
)

// Conn is a raw IPv4 protocol-112 socket bound to one interface.
type Conn struct {
	raw *ipv4.RawConn
	ifi *net.Interface
	src netip.Addr
}

// Listen opens the socket. It needs CAP_NET_RAW.
func Listen(opts Options) (*Conn, error) {
	ifi, err := net.InterfaceByName(opts.Interface)
	if err != nil {
		return nil, fmt.Errorf("netio: interface %q: %w", opts.Interface, err)
	}
	if !opts.Source.Is4() {
		return nil, fmt.Errorf("netio: source address %v is not IPv4", opts.Source)
	}
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			// Bound to the interface: we neither hear nor answer VRRP on
			// any other link.
			serr = unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, opts.Interface)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(context.Background(), fmt.Sprintf("ip4:%d", vrrp.ProtocolNumber), "0.0.0.0")
	if err != nil {
		return nil, fmt.Errorf("netio: opening raw IP protocol %d socket on %s: %w", vrrp.ProtocolNumber, opts.Interface, err)
	}
	raw, err := ipv4.NewRawConn(pc)
	if err != nil {
		pc.Close()
		return nil, fmt.Errorf("netio: %w", err)
	}
	c := &Conn{raw: raw, ifi: ifi, src: opts.Source}
	if err := c.setup(opts.Multicast); err != nil {
		raw.Close()
		return nil, err
	}
	return c, nil
}

func (c *Conn) setup(multicast bool) error {
	if multicast {
		group := &net.IPAddr{IP: vrrp.MulticastGroup.AsSlice()}
		if err := c.raw.JoinGroup(c.ifi, group); err != nil {
			return fmt.Errorf("netio: joining %v on %s: %w", vrrp.MulticastGroup, c.ifi.Name, err)
		}
	}
	if err := c.raw.SetMulticastInterface(c.ifi); err != nil {
		return fmt.Errorf("netio: multicast interface %s: %w", c.ifi.Name, err)
	}
	// Our own adverts must not come back to us as if a peer sent them.
	if err := c.raw.SetMulticastLoopback(false); err != nil {
		return fmt.Errorf("netio: multicast loopback: %w", err)
	}
	return nil
}

// Read blocks for the next packet. The returned Payload is a slice of buf.
func (c *Conn) Read(buf []byte) (Packet, error) {
	for {
		h, p, _, err := c.raw.ReadFrom(buf)
		at := time.Now()
		if err != nil {
			return Packet{}, err
		}
		if h == nil {
			continue
		}
		src, _ := netip.AddrFromSlice(h.Src.To4())
		dst, _ := netip.AddrFromSlice(h.Dst.To4())
		return Packet{
			Packet: vrrp.Packet{Src: src, Dst: dst, TTL: uint8(h.TTL), Payload: p},
			At:     at,
		}, nil
	}
}

// Send writes one VRRP message to dst with TTL 255 (RFC 3768 §7.1: "The TTL
// MUST be set to 255").
func (c *Conn) Send(payload []byte, dst netip.Addr) error {
	h := &ipv4.Header{
		Version:  ipv4.Version,
		Len:      ipv4.HeaderLen,
		TOS:      TOS,
		TotalLen: ipv4.HeaderLen + len(payload),
		TTL:      vrrp.TTL,
		Protocol: vrrp.ProtocolNumber,
		Src:      c.src.AsSlice(),
		Dst:      dst.AsSlice(),
	}
	if err := c.raw.WriteTo(h, payload, nil); err != nil {
		return fmt.Errorf("netio: sending to %v on %s: %w", dst, c.ifi.Name, err)
	}
	return nil
}

// Source is the address adverts are sent from.
func (c *Conn) Source() netip.Addr { return c.src }

// Close closes the socket; a blocked Read returns net.ErrClosed.
func (c *Conn) Close() error { return c.raw.Close() }

// IsClosed reports whether err means the Conn was closed.
func IsClosed(err error) bool { return errors.Is(err, net.ErrClosed) }

// FirstIPv4 returns the first IPv4 address on the interface that is not in
// exclude (the VIPs): the default advert source.
func FirstIPv4(ifname string, exclude []netip.Prefix) (netip.Addr, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("netio: interface %q: %w", ifname, err)
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("netio: addresses of %s: %w", ifname, err)
	}
next:
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(ipn.IP.To4())
		if !ok || ipn.IP.To4() == nil {
			continue
		}
		for _, vip := range exclude {
			if vip.Addr() == ip {
				continue next
			}
		}
		return ip, nil
	}
	return netip.Addr{}, fmt.Errorf("netio: %s has no IPv4 address of its own (other than the VIPs); set vrrp.source_ip or address the interface", ifname)
}
