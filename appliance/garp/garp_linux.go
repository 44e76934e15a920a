//go:build linux

package garp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/packet"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Sender sends gratuitous ARPs on one interface. It needs CAP_NET_RAW.
type Sender struct {
	conn *packet.Conn
	mac  net.HardwareAddr
	name string
}

// Open opens an AF_PACKET socket on the interface.
func Open(ifname string) (*Sender, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("garp: interface %q: %w", ifname, err)
	}
	if len(ifi.HardwareAddr) != 6 {
		return nil, fmt.Errorf("garp: interface %s has no Ethernet address", ifname)
	}
	// We only send: a filter that accepts nothing keeps every ARP on the LAN
	// from queueing up in a socket nobody reads.
	dropAll, err := bpf.Assemble([]bpf.Instruction{bpf.RetConstant{Val: 0}})
	if err != nil {
		return nil, fmt.Errorf("garp: %w", err)
	}
	conn, err := packet.Listen(ifi, packet.Datagram, unix.ETH_P_ARP, &packet.Config{Filter: dropAll})
	if err != nil {
		return nil, fmt.Errorf("garp: opening packet socket on %s: %w", ifname, err)
	}
	return &Sender{conn: conn, mac: ifi.HardwareAddr, name: ifname}, nil
}

// Send sends one gratuitous ARP for vip.
func (s *Sender) Send(vip netip.Addr) error {
	b, err := Payload(s.mac, vip)
	if err != nil {
		return err
	}
	// Datagram socket: the kernel adds the Ethernet header for this
	// destination and the socket's protocol (ETH_P_ARP).
	to := &packet.Addr{HardwareAddr: ethernet.Broadcast}
	_, err = s.conn.WriteTo(b, to)
	if errors.Is(err, unix.ENETDOWN) {
		// A packet socket keeps the error of the last time the link went
		// down and hands it to the next send: that send reports it and
		// sends nothing; the next one goes out.
		_, err = s.conn.WriteTo(b, to)
	}
	if err != nil {
		return fmt.Errorf("garp: sending for %v on %s: %w", vip, s.name, err)
	}
	return nil
}

// Close closes the socket.
func (s *Sender) Close() error { return s.conn.Close() }

// Watcher reports gratuitous ARPs that other hosts send for given
// addresses: the proof that a peer now holds a VIP. It needs CAP_NET_RAW.
type Watcher struct {
	conn *packet.Conn
	mac  net.HardwareAddr // ours: our own ARPs are not a peer's
}

// Watch opens an AF_PACKET socket on the interface that receives ARP.
func Watch(ifname string) (*Watcher, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("garp: interface %q: %w", ifname, err)
	}
	conn, err := packet.Listen(ifi, packet.Datagram, unix.ETH_P_ARP, nil)
	if err != nil {
		return nil, fmt.Errorf("garp: opening packet socket on %s: %w", ifname, err)
	}
	return &Watcher{conn: conn, mac: ifi.HardwareAddr}, nil
}

// Next blocks until another host sends a gratuitous ARP (sender address
// equal to target address) for one of vips, and returns that address. It
// fails once the Watcher is closed.
func (w *Watcher) Next(vips []netip.Addr) (netip.Addr, error) {
	buf := make([]byte, 128)
	for {
		n, _, err := w.conn.ReadFrom(buf)
		if err != nil {
			return netip.Addr{}, err
		}
		if a, ok := peerGARP(buf[:n], w.mac, vips); ok {
			return a, nil
		}
	}
}

// Close closes the socket; a blocked Next returns an error.
func (w *Watcher) Close() error { return w.conn.Close() }
