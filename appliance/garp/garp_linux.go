//go:build linux

package garp

import (
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
	if _, err := s.conn.WriteTo(b, &packet.Addr{HardwareAddr: ethernet.Broadcast}); err != nil {
		return fmt.Errorf("garp: sending for %v on %s: %w", vip, s.name, err)
	}
	return nil
}

// Close closes the socket.
func (s *Sender) Close() error { return s.conn.Close() }
