package appliance

import (
	"context"
	"net/netip"
	"runtime"
	"slices"
	"time"

	"github.com/proxypair/proxypair/appliance/fsm"
)

// The loop's side of the effects: handing the state machine's wants to the
// goroutines that make them true, and taking their reports back.

// wantVIPs hands the state machine's VIP set, and what it asks to
// announce, to the keeper and the cloud claim.
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
	in.keeper.want(want, announce)
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
// ones wanted and actually held.
func (in *instance) updateClaims() {
	if in.claims == nil {
		return
	}
	want := in.r.VIPs()
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

// watchTakeover listens, while we stop as master, for the peer's
// gratuitous ARP for one of our VIPs: the proof that it holds them, so we
// can drop ours with no gap and no overlap.
func (in *instance) watchTakeover(ctx context.Context) {
	if in.watchARP == nil {
		return
	}
	w, err := in.watchARP()
	if err != nil {
		in.log.Warn("cannot watch for the peer's gratuitous ARPs; the stop waits for its second advert", "err", err)
		return
	}
	in.stopWatch = w
	vips := vipAddrs(in.cfg.VirtualIPs)
	go func() {
		if a, err := w.Next(vips); err == nil {
			in.log.Debug("the peer announced a VIP", "vip", a)
			in.post(ctx, takenEvent{})
		}
	}()
}

// finish is the end of a stop: the state machine wants no VIP any more;
// wait, bounded, for the keeper to confirm that none of ours is left, then
// close the sockets.
func (in *instance) finish() {
	defer in.closeConn()
	if in.stopWatch != nil {
		in.stopWatch.Close()
	}
	in.keeper.want(nil, nil)
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
