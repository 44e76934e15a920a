package appliance

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/proxypair/proxypair/appliance/config"
	"github.com/proxypair/proxypair/appliance/fsm"
	"github.com/proxypair/proxypair/appliance/netio"
	"github.com/proxypair/proxypair/appliance/vrrp"
)

// receiver holds every check a received packet must pass, in one place:
// the socket-level ones (our own address, the unicast peer list) and the
// wire ones (vrrp.Validate). A packet either becomes a state-machine input
// or is dropped with a typed reason, counted and logged (rate-limited).
type receiver struct {
	src     netip.Addr
	peers   []netip.Addr // unicast peers; nil = multicast
	expect  vrrp.Expect
	version int
	drops   *drops
}

// newReceiver derives the receive expectations from cfg.
func newReceiver(cfg config.VRRP, src netip.Addr, d *drops) (*receiver, error) {
	e := vrrp.Expect{
		Version:   vrrp.Version(cfg.Version),
		VRID:      uint8(cfg.VRID),
		Interval:  cfg.AdvertInterval,
		Addresses: vipAddrs(cfg.VirtualIPs),
		CheckTTL:  len(cfg.UnicastPeers) == 0,
	}
	if cfg.Version == 2 && cfg.AuthPass != "" {
		pw, err := vrrp.Password(cfg.AuthPass)
		if err != nil {
			return nil, fmt.Errorf("vrrp.auth_pass: %w", err)
		}
		e.AuthType, e.AuthData = vrrp.AuthSimple, pw
	}
	rc := &receiver{src: src, expect: e, version: cfg.Version, drops: d}
	if len(cfg.UnicastPeers) > 0 {
		rc.peers = slices.Clone(cfg.UnicastPeers)
	}
	return rc, nil
}

// accept returns the input p is, or why it was dropped (counted and
// logged here).
func (rc *receiver) accept(p netio.Packet) (fsm.AdvertReceived, vrrp.DropReason) {
	reason, rcv := rc.check(p)
	if reason != vrrp.DropNone {
		if reason == vrrp.DropAuthType && rcv.AuthType > vrrp.AuthAH {
			rc.drops.authUnknown++
		}
		rc.drops.add(p.At, reason, p.Src, func() string { return rc.mismatch(reason, p, &rcv.Advertisement) })
		return fsm.AdvertReceived{}, reason
	}
	return fsm.AdvertReceived{Src: p.Src, Priority: rcv.Priority, Interval: rcv.Interval}, vrrp.DropNone
}

func (rc *receiver) check(p netio.Packet) (vrrp.DropReason, vrrp.Received) {
	if p.Src == rc.src {
		// Multicast loopback is off, but a bridge or a second socket can
		// still reflect our own advert, and a cloned VM can have our
		// address.
		return vrrp.DropOwnAddress, vrrp.Received{}
	}
	if rc.peers != nil && !slices.Contains(rc.peers, p.Src) {
		return vrrp.DropUnknownPeer, vrrp.Received{}
	}
	rcv, reason := vrrp.Validate(p.Packet, rc.expect)
	return reason, rcv
}

// mismatch describes, for the log, what differed from our configuration,
// from what Validate decoded before it dropped the packet. It is only
// called for drops that are logged.
func (rc *receiver) mismatch(reason vrrp.DropReason, p netio.Packet, a *vrrp.Advertisement) string {
	switch reason {
	case vrrp.DropOwnAddress:
		return "an advert from our own source address: a reflection, or another host with our address"
	case vrrp.DropUnknownPeer:
		return "not in vrrp.unicast_peers"
	case vrrp.DropVersion:
		if len(p.Payload) > 0 {
			return fmt.Sprintf("peer speaks VRRPv%d, we are configured for v%d", p.Payload[0]>>4, rc.version)
		}
	case vrrp.DropVRID:
		return fmt.Sprintf("another virtual router on this link (VRID %d, ours %d)", a.VRID, rc.expect.VRID)
	case vrrp.DropInterval:
		return fmt.Sprintf("peer's advert interval %v, ours %v", a.Interval, rc.expect.Interval)
	case vrrp.DropAddressCount, vrrp.DropAddressSet:
		return fmt.Sprintf("peer's addresses %v, ours %v", a.Addresses, rc.expect.Addresses)
	case vrrp.DropAuthType:
		return fmt.Sprintf("peer's auth type %v, ours %v", a.AuthType, rc.expect.AuthType)
	case vrrp.DropPassword:
		return "auth_pass differs"
	}
	return ""
}

func vipAddrs(ps []netip.Prefix) []netip.Addr {
	out := make([]netip.Addr, len(ps))
	for i, p := range ps {
		out[i] = p.Addr()
	}
	return out
}
