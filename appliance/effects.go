package appliance

import (
	"net/netip"
	"runtime"
	"slices"
	"time"

	"github.com/proxypair/proxypair/appliance/fsm"
)

// The loop's side of the effects: handing the state machine's wants to the
// goroutines that make them true, and taking their reports back.

// wantVIPs hands the state machine's VIP set, and what it asks to
// announce, to the keeper and the cloud claim. Only a master announces: a
// node still holding the VIPs while it hands them over (Stopping,
// HandingOver, a yield) keeps them quiet.
func (in *instance) wantVIPs(acts []fsm.Action) {
	var announce []netip.Addr
	heal := false
	for _, a := range acts {
		if a, ok := a.(fsm.Announce); ok {
			announce = append(announce, a.VIPs...)
			heal = heal || a.Heal
		}
	}
	want := in.r.VIPs()
	grew := slices.ContainsFunc(want, func(p netip.Prefix) bool { return !slices.Contains(in.postedVIPs, p) })
	in.postedVIPs = want
	in.keeper.want(want, announce, in.r.State() != fsm.Master)
	if grew {
		// A takeover: let the keeper add the VIPs and send the first
		// ARPs now, before this loop logs and notifies.
		runtime.Gosched()
	}
	if heal && in.claims != nil {
		in.claims.verifySoon()
	}
	in.updateClaims()
}

// updateClaims tells the cloud claim which VIPs to keep routed here: the
// ones wanted and actually held, as master only. A node handing them over
// (Stopping, HandingOver, a yield) still holds them, but the new master
// claims them: a verify of ours would claim them back.
func (in *instance) updateClaims() {
	if in.claims == nil {
		return
	}
	var want []netip.Prefix
	if in.r.State() == fsm.Master {
		want = in.r.VIPs()
	}
	var held []netip.Addr
	for _, p := range in.vips.Held {
		if slices.Contains(want, p) {
			held = append(held, p.Addr())
		}
	}
	in.claims.set(held)
}

// vipsReported takes the keeper's view of the interface. A master that
// cannot hold its VIPs gives the pair to its peer (the state machine
// resigns); one that holds them all tells the state machine so.
func (in *instance) vipsReported(now time.Time, s vipState) {
	was := in.vips.problem()
	in.vips = s
	if t := in.lastTakeover; t != nil && t.VIPAdded.IsZero() && !s.AddedAt.IsZero() && !s.AddedAt.Before(t.Trigger) {
		t.VIPAdded, t.FirstARP = s.AddedAt, s.FirstARPAt
	}
	master := in.r.State() == fsm.Master
	switch {
	case s.Failed && master:
		in.log.Error("cannot hold the VIPs: handing the pair to the peer", "missing", s.Missing, "err", s.Err,
			"since", s.FailingSince, "reason", "vips_failed")
		in.step(now, fsm.VIPsFailed{})
	case master && len(s.Missing) == 0 && len(s.Wanted) > 0 && !in.heldTold:
		in.heldTold = true
		in.step(now, fsm.VIPsHeld{})
	}
	if in.r.State() != fsm.Master {
		in.heldTold = false
	}
	in.updateClaims()
	if p := in.vips.problem(); p != was {
		if p == "" && was != "" {
			in.log.Info("VIPs: the interface holds what it should again")
		}
		in.notifier.Status(in.statusLine())
	}
}

// syncTakeoverWatch keeps the watch for other hosts' gratuitous ARPs for
// our VIPs open exactly while we hold them (Master, or handing them over):
// a peer's ARP is the proof that it holds them, so a node handing them
// over drops ours with no gap and hardly any overlap. It is open for the
// whole mastership, not only from the hand-over on, because the peer's ARP
// can come microseconds after the advert that starts it (a preemption).
// releaseSince marks the start of a hand-over: only ARPs seen from then on
// count.
func (in *instance) syncTakeoverWatch(now time.Time) {
	holding := len(in.r.VIPs()) > 0
	began := false
	switch releasing := holding && in.r.State() != fsm.Master; {
	case !releasing:
		in.releaseSince = time.Time{}
	case in.releaseSince.IsZero():
		in.releaseSince, began = now, true
	}
	if began && in.countsAsTakeover(in.peerARPAt) {
		// The peer's ARP overtook the advert that began the hand-over
		// (two goroutines read them): it counts.
		defer in.step(now, fsm.PeerAnnounced{})
	}
	vips := vipAddrs(in.cfg.VirtualIPs)
	if in.takeWatch != nil && (!holding || !slices.Equal(vips, in.takeWatchVIPs)) {
		in.closeTakeoverWatch()
	}
	if !holding || in.takeWatch != nil || in.watchARP == nil || now.Before(in.takeWatchRetry) {
		return
	}
	w, err := in.watchARP()
	if err != nil {
		in.takeWatchRetry = now.Add(time.Second)
		if ok, suppressed := in.errLog.allow(now, "garp-watch"); ok {
			in.log.Warn("cannot watch for the peer's gratuitous ARPs; a hand-over waits for its second advert", "err", err,
				"suppressed", suppressed)
		}
		return
	}
	in.takeWatch, in.takeWatchVIPs = w, vips
	ctx := in.effects
	go func() {
		for {
			a, err := w.Next(vips)
			if err != nil {
				return // closed
			}
			in.post(ctx, takenEvent{at: time.Now(), vip: a})
		}
	}()
}

func (in *instance) closeTakeoverWatch() {
	if in.takeWatch != nil {
		in.takeWatch.Close()
		in.takeWatch, in.takeWatchVIPs = nil, nil
	}
}

// peerARPOvertake is how long before a hand-over began a peer's ARP may
// have been read and still count as its answer: adverts and ARPs are read
// by two goroutines, so the new master's ARP, sent after its advert, can
// be read first (under load, by milliseconds).
const peerARPOvertake = 50 * time.Millisecond

// countsAsTakeover reports whether a peer's ARP read at says it holds our
// VIPs: we are handing them over, and it was read since that began (or
// just before, peerARPOvertake) and in this mastership: one from before
// (the ARP that ended a yield, say) answers none of its hand-overs.
func (in *instance) countsAsTakeover(at time.Time) bool {
	return !in.releaseSince.IsZero() && !at.IsZero() && !at.Before(in.releaseSince.Add(-peerARPOvertake)) &&
		!at.Before(in.masterSince)
}

// peerAnnounced takes a peer's gratuitous ARP for one of our VIPs: while we
// hand them over and seen since that began, it says the peer has them.
func (in *instance) peerAnnounced(ev takenEvent) {
	in.peerARPAt = ev.at
	if !in.countsAsTakeover(ev.at) {
		in.log.Debug("another host announced one of our VIPs", "vip", ev.vip, "state", in.r.State().String())
		return
	}
	in.log.Debug("the peer announced a VIP: it holds them", "vip", ev.vip)
	in.step(ev.at, fsm.PeerAnnounced{})
}

// finish is the end of a stop: the state machine wants no VIP any more;
// wait, bounded, for the keeper to confirm that none of ours is left, then
// close the sockets.
func (in *instance) finish() {
	defer in.closeConn()
	in.closeTakeoverWatch()
	in.keeper.want(nil, nil, true)
	deadline := time.NewTimer(finishWait)
	defer deadline.Stop()
	for {
		select {
		case ev := <-in.events:
			switch ev := ev.(type) {
			case vipsEvent:
				in.vips = ev.s
				if s := ev.s; len(s.Wanted) == 0 && len(s.Stale) == 0 && s.Err == "" {
					return
				}
			case callEvent:
				ev.f(time.Now())
				close(ev.done)
			}
		case <-deadline.C:
			in.log.Error("stopping with VIPs of ours still on the interface; `proxypair cleanup` (ExecStopPost) removes them",
				"stale", in.vips.Stale, "err", in.vips.Err)
			return
		}
	}
}
