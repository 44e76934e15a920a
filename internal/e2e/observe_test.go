//go:build linux

package e2e

import (
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/packet"
	"golang.org/x/sys/unix"

	"github.com/proxypair/proxypair/appliance/netio"
	"github.com/proxypair/proxypair/appliance/vrrp"
	"github.com/proxypair/proxypair/internal/lab"
)

// observer records, from a third host on the LAN, what the pair puts on the
// wire: VRRP adverts and gratuitous ARPs. It reads until the test ends.
type observer struct {
	mu      sync.Mutex
	adverts []seenAdvert
	garps   []seenGARP
}

type seenAdvert struct {
	at       time.Time
	src      netip.Addr
	priority uint8
}

type seenGARP struct {
	at  time.Time
	vip netip.Addr
	mac net.HardwareAddr
}

// observe starts recording on h.
func observe(t *testing.T, h *lab.Host) *observer {
	t.Helper()
	o := &observer{}
	var conn *netio.Conn
	var pc *packet.Conn
	var err, perr error
	if nsErr := h.Do(func() {
		conn, err = netio.Listen(netio.Options{Interface: lab.HostInterface, Source: h.Addr.Addr(), Multicast: true})
		ifi, ierr := net.InterfaceByName(lab.HostInterface)
		if ierr != nil {
			perr = ierr
			return
		}
		pc, perr = packet.Listen(ifi, packet.Datagram, unix.ETH_P_ARP, nil)
	}); nsErr != nil {
		t.Fatal(nsErr)
	}
	if err != nil || perr != nil {
		t.Fatalf("observer on %s: %v %v", h.Name, err, perr)
	}
	t.Cleanup(func() { conn.Close(); pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			p, err := conn.Read(buf)
			if err != nil {
				return
			}
			a, err := vrrp.Parse(p.Payload)
			if err != nil {
				continue
			}
			o.mu.Lock()
			o.adverts = append(o.adverts, seenAdvert{p.At, p.Src, a.Priority})
			o.mu.Unlock()
		}
	}()
	go func() {
		buf := make([]byte, 1500)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var ap arp.Packet
			if ap.UnmarshalBinary(buf[:n]) != nil || ap.SenderIP != ap.TargetIP {
				continue // not gratuitous
			}
			o.mu.Lock()
			o.garps = append(o.garps, seenGARP{time.Now(), ap.SenderIP, ap.SenderHardwareAddr})
			o.mu.Unlock()
		}
	}()
	return o
}

// advertsFrom returns the adverts src sent at or after since.
func (o *observer) advertsFrom(src netip.Addr, since time.Time) []seenAdvert {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []seenAdvert
	for _, a := range o.adverts {
		if a.src == src && !a.at.Before(since) {
			out = append(out, a)
		}
	}
	return out
}

// garpsFor counts the gratuitous ARPs for vip seen in [from, to).
func (o *observer) garpsFor(vip netip.Addr, from, to time.Time) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, g := range o.garps {
		if g.vip == vip && !g.at.Before(from) && g.at.Before(to) {
			n++
		}
	}
	return n
}
