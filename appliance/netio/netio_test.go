//go:build linux

package netio_test

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/proxypair/proxypair/appliance/netio"
	"github.com/proxypair/proxypair/appliance/vrrp"
	"github.com/proxypair/proxypair/internal/lab"
)

// listen opens a Conn inside h.
func listen(t *testing.T, h *lab.Host, multicast bool) *netio.Conn {
	t.Helper()
	var c *netio.Conn
	var err error
	if nsErr := h.Do(func() {
		c, err = netio.Listen(netio.Options{Interface: "eth1", Source: h.Addr.Addr(), Multicast: multicast})
	}); nsErr != nil {
		t.Fatal(nsErr)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// read returns the next packet, or fails after a deadline (a reader
// goroutine; the Conn is closed by the test's cleanup).
func read(t *testing.T, c *netio.Conn, within time.Duration) (netio.Packet, bool) {
	t.Helper()
	got := make(chan netio.Packet, 1)
	go func() {
		buf := make([]byte, 1500)
		if p, err := c.Read(buf); err == nil {
			p.Payload = bytes.Clone(p.Payload)
			got <- p
		}
	}()
	select {
	case p := <-got:
		return p, true
	case <-time.After(within):
		return netio.Packet{}, false
	}
}

// sendUntilRead sends payload to dst every 200 ms until to reads a packet
// for dst, or the deadline passes. A fresh lab's first packet can be lost
// (a link still coming up on a loaded machine); what the test checks is
// what arrives, so it resends rather than fail on one loss.
func sendUntilRead(t *testing.T, from, to *netio.Conn, payload []byte, dst netip.Addr, within time.Duration) (netio.Packet, bool) {
	t.Helper()
	got := make(chan netio.Packet, 1)
	go func() {
		buf := make([]byte, 1500)
		for {
			p, err := to.Read(buf)
			if err != nil {
				return
			}
			if p.Dst == dst {
				p.Payload = bytes.Clone(p.Payload)
				got <- p
				return
			}
		}
	}()
	deadline := time.After(within)
	resend := time.NewTicker(200 * time.Millisecond)
	defer resend.Stop()
	for {
		if err := from.Send(payload, dst); err != nil {
			t.Fatalf("send to %v: %v", dst, err)
		}
		select {
		case p := <-got:
			return p, true
		case <-deadline:
			return netio.Packet{}, false
		case <-resend.C:
		}
	}
}

func TestSendReceive(t *testing.T) {
	l := lab.NewT(t)
	a, err := l.AddHost("a", netip.MustParsePrefix("198.18.0.1/24"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := l.AddHost("b", netip.MustParsePrefix("198.18.0.2/24"))
	if err != nil {
		t.Fatal(err)
	}
	ca, cb := listen(t, a, true), listen(t, b, true)
	adv := vrrp.Advertisement{Version: vrrp.Version3, Type: vrrp.TypeAdvertisement, VRID: 51, Priority: 200,
		Interval: 50 * time.Millisecond, Addresses: []netip.Addr{netip.MustParseAddr("198.18.0.100")}}

	for _, dst := range []netip.Addr{vrrp.MulticastGroup, b.Addr.Addr()} {
		payload, err := adv.Marshal(a.Addr.Addr(), dst, vrrp.PseudoHeader)
		if err != nil {
			t.Fatal(err)
		}
		p, ok := sendUntilRead(t, ca, cb, payload, dst, 5*time.Second)
		if !ok {
			t.Fatalf("b received nothing sent to %v", dst)
		}
		if p.Src != a.Addr.Addr() || p.Dst != dst || p.TTL != vrrp.TTL || !bytes.Equal(p.Payload, payload) {
			t.Errorf("received %+v, want from %v to %v TTL 255 with the payload", p.Packet, a.Addr.Addr(), dst)
		}
		if _, reason := vrrp.Validate(p.Packet, vrrp.Expect{Version: vrrp.Version3, VRID: 51, Addresses: adv.Addresses, CheckTTL: true}); reason != vrrp.DropNone {
			t.Errorf("received advert fails validation: %v", reason)
		}
		if p.At.IsZero() {
			t.Error("no read timestamp")
		}
	}

	// Our own multicast does not come back to us.
	if p, ok := read(t, ca, 300*time.Millisecond); ok {
		t.Errorf("a heard its own advert: %+v", p.Packet)
	}
	if err := ca.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if err := ca.Close(); !netio.IsClosed(err) {
		t.Errorf("second close: %v", err)
	}
}

// TestTryRead: TryRead returns what is queued on the socket without
// waiting, and nothing when nothing is.
func TestTryRead(t *testing.T) {
	l := lab.NewT(t)
	a, err := l.AddHost("a", netip.MustParsePrefix("198.18.0.1/24"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := l.AddHost("b", netip.MustParsePrefix("198.18.0.2/24"))
	if err != nil {
		t.Fatal(err)
	}
	ca, cb := listen(t, a, true), listen(t, b, true)
	buf := make([]byte, 1500)
	if p, ok := cb.TryRead(buf); ok {
		t.Fatalf("TryRead on an empty socket returned %+v", p.Packet)
	}
	adv := vrrp.Advertisement{Version: vrrp.Version3, Type: vrrp.TypeAdvertisement, VRID: 51, Priority: 200,
		Interval: 50 * time.Millisecond, Addresses: []netip.Addr{netip.MustParseAddr("198.18.0.100")}}
	payload, err := adv.Marshal(a.Addr.Addr(), vrrp.MulticastGroup, vrrp.PseudoHeader)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := ca.Send(payload, vrrp.MulticastGroup); err != nil {
			t.Fatal(err)
		}
	}
	got := 0
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = lab.Eventually(ctx, time.Millisecond, func() (bool, string) {
		for {
			p, ok := cb.TryRead(buf)
			if !ok {
				break
			}
			if p.Src != a.Addr.Addr() || !bytes.Equal(p.Payload, payload) {
				t.Fatalf("TryRead returned %+v", p.Packet)
			}
			got++
		}
		return got == 3, fmt.Sprintf("%d of 3 adverts", got)
	})
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := cb.TryRead(buf); ok {
		t.Errorf("TryRead after draining returned %+v", p.Packet)
	}
	cb.Close()
	if _, ok := cb.TryRead(buf); ok {
		t.Error("TryRead on a closed Conn returned a packet")
	}
}
