package appliance

import (
	"net/netip"
	"slices"
	"time"

	"github.com/proxypair/proxypair/appliance/control"
	"github.com/proxypair/proxypair/appliance/fsm"
	"github.com/proxypair/proxypair/appliance/vrrp"
)

// maxPeersHeard bounds what the instance remembers of the routers it hears
// (a LAN can hold many; a pair has one).
const maxPeersHeard = 16

// peerHeard is what this node knows of another router from its adverts.
type peerHeard struct {
	last     time.Time
	priority uint8
	interval time.Duration
	adverts  uint64
	drops    map[vrrp.DropReason]uint64
}

// peers is what the instance heard, by source address.
type peers map[netip.Addr]*peerHeard

// get returns src's record, making room for it if needed by forgetting the
// router heard least recently.
func (ps peers) get(src netip.Addr) *peerHeard {
	if p, ok := ps[src]; ok {
		return p
	}
	if len(ps) >= maxPeersHeard {
		var oldest netip.Addr
		for a, p := range ps {
			if !oldest.IsValid() || p.last.Before(ps[oldest].last) {
				oldest = a
			}
		}
		delete(ps, oldest)
	}
	p := &peerHeard{drops: map[vrrp.DropReason]uint64{}}
	ps[src] = p
	return p
}

func (ps peers) advert(at time.Time, a fsm.AdvertReceived) {
	p := ps.get(a.Src)
	p.last, p.priority, p.interval = at, a.Priority, a.Interval
	p.adverts++
}

func (ps peers) drop(at time.Time, src netip.Addr, reason vrrp.DropReason) {
	if reason == vrrp.DropOwnAddress || !src.IsValid() {
		return
	}
	p := ps.get(src)
	p.last = at
	p.drops[reason]++
}

// snapshot is the status document's view, the most recently heard first.
func (ps peers) snapshot() []control.Peer {
	out := make([]control.Peer, 0, len(ps))
	for a, p := range ps {
		cp := control.Peer{Address: a.String(), LastHeard: p.last, Adverts: p.adverts, Priority: int(p.priority),
			AdvertInterval: control.Duration(p.interval)}
		if len(p.drops) > 0 {
			cp.Drops = map[string]uint64{}
			for r, n := range p.drops {
				cp.Drops[r.String()] = n
			}
		}
		out = append(out, cp)
	}
	slices.SortFunc(out, func(a, b control.Peer) int { return b.LastHeard.Compare(a.LastHeard) })
	return out
}
