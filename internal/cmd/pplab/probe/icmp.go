package probe

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
)

// icmpMagic marks our echo payloads; after it comes the 64-bit probe
// number, which survives the 16-bit sequence number wrapping.
var icmpMagic = []byte("pplab\x00")

// ICMP sends ICMP echo requests over a raw socket (needs CAP_NET_RAW) and
// matches replies by identifier and sequence number.
type ICMP struct {
	conn   *icmp.PacketConn
	dst    *net.IPAddr
	id     int
	closed chan struct{}

	mu      sync.Mutex
	waiting map[uint64]chan string // probe number → reply source
}

// NewICMP opens the raw socket and starts reading replies.
func NewICMP(target netip.Addr) (*ICMP, error) {
	if !target.Is4() {
		return nil, fmt.Errorf("probe: icmp target %v: want an IPv4 address", target)
	}
	conn, err := icmp.ListenPacket("ip4:icmp", "0.0.0.0")
	if err != nil {
		return nil, fmt.Errorf("probe: raw ICMP socket (needs CAP_NET_RAW): %w", err)
	}
	p := &ICMP{
		conn:    conn,
		dst:     &net.IPAddr{IP: target.AsSlice()},
		id:      os.Getpid() & 0xffff,
		closed:  make(chan struct{}),
		waiting: make(map[uint64]chan string),
	}
	go p.read()
	return p, nil
}

// Probe sends echo request seq and waits for its reply.
func (p *ICMP) Probe(ctx context.Context, seq int) (string, error) {
	n := uint64(seq)
	reply := make(chan string, 1)
	p.mu.Lock()
	p.waiting[n] = reply
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.waiting, n)
		p.mu.Unlock()
	}()

	data := binary.BigEndian.AppendUint64(append([]byte(nil), icmpMagic...), n)
	msg := icmp.Message{
		Type: ipv4.ICMPTypeEcho,
		Body: &icmp.Echo{ID: p.id, Seq: int(n & 0xffff), Data: data},
	}
	b, err := msg.Marshal(nil)
	if err != nil {
		return "", fmt.Errorf("marshal echo: %w", err)
	}
	if _, err := p.conn.WriteTo(b, p.dst); err != nil {
		return "", fmt.Errorf("send: %w", err)
	}
	select {
	case from := <-reply:
		return from, nil
	case <-ctx.Done():
		return "", errors.New("no echo reply before timeout")
	}
}

// read delivers echo replies to the probes waiting for them.
func (p *ICMP) read() {
	buf := make([]byte, 1500)
	for {
		n, peer, err := p.conn.ReadFrom(buf)
		if err != nil {
			select {
			case <-p.closed:
				return
			default:
				continue // a transient error; the probes time out on their own
			}
		}
		seq, ok := parseEchoReply(buf[:n], p.id)
		if !ok {
			continue
		}
		p.mu.Lock()
		ch := p.waiting[seq]
		p.mu.Unlock()
		if ch != nil {
			select {
			case ch <- peer.String():
			default: // duplicate reply
			}
		}
	}
}

// parseEchoReply returns the probe number of an echo reply to us (the raw
// socket also sees every other ICMP message of the namespace).
func parseEchoReply(b []byte, id int) (uint64, bool) {
	m, err := icmp.ParseMessage(1, b) // 1: ICMP for IPv4
	if err != nil || m.Type != ipv4.ICMPTypeEchoReply {
		return 0, false
	}
	echo, ok := m.Body.(*icmp.Echo)
	if !ok || echo.ID != id || len(echo.Data) != len(icmpMagic)+8 || !bytes.HasPrefix(echo.Data, icmpMagic) {
		return 0, false
	}
	n := binary.BigEndian.Uint64(echo.Data[len(icmpMagic):])
	if int(n&0xffff) != echo.Seq {
		return 0, false
	}
	return n, true
}

// Close closes the socket.
func (p *ICMP) Close() error {
	close(p.closed)
	return p.conn.Close()
}
