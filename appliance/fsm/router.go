package fsm

import (
	"net/netip"
	"slices"
	"time"
)

// downCause records why the Master_Down_Timer is running, so the
// transition it causes carries the right Reason.
type downCause uint8

const (
	downSilent     downCause = iota // no advertisement, or the last one accepted
	downResigned                    // a priority-0 advertisement set it to Skew_Time
	downPreempting                  // we are discarding a lower-priority master
)

// Router is one VRRP virtual router's protocol state. It is not safe for
// concurrent use: one goroutine (the daemon's instance loop) owns it.
type Router struct {
	cfg   Config
	state State
	prio  uint8 // effective priority: cfg.Priority, lowered while unhealthy

	healthy bool // the last Health verdict; true until told otherwise

	// masterAdverInterval is RFC 5798's Master_Adver_Interval: learned
	// from the master's advertisements in v3, our own interval in v2.
	masterAdverInterval time.Duration
	master              netip.Addr // current master as we know it

	masterDownAt time.Time // Backup: the Master_Down_Timer
	adverAt      time.Time // Master: the Adver_Timer
	stopAt       time.Time // Stopping: when we give up waiting for a taker
	stopTaker    netip.Addr

	// yielding: Backup, we still hold the VIPs for yieldTo, the master
	// that preempted us, until it announces them, its third advert or
	// yieldUntil (see masterAdvert); yieldHeard counts its adverts since
	// the one that preempted us.
	yielding   bool
	yieldTo    netip.Addr
	yieldUntil time.Time
	yieldHeard int
	cause      downCause

	// preemptUntil is when preempt_delay ends; zero means the delay has
	// not started (keepalived starts it at the first lower-priority
	// advertisement).
	preemptUntil time.Time

	// vipHoldUntil holds off preemption after VIPsFailed; vipBackoff is
	// the next hold's length.
	vipHoldUntil time.Time
	vipBackoff   time.Duration

	// maint is maintenance (a planned hand-over): priority 1, no
	// preemption, until maintUntil (zero: until it is ended).
	maint      bool
	maintUntil time.Time

	lastHeal  time.Time // the last Announce answering a lower-priority master
	lastLower time.Time // the last lower-priority master's advert we answered
	linkDown  bool      // LinkDown seen while Initialize
}

// New returns a Router in Initialize for c (clamped as Config.Validate
// describes). Step Startup to start it.
func New(c Config) *Router {
	c = c.normalize()
	r := &Router{
		cfg:                 c,
		healthy:             true,
		masterAdverInterval: c.AdvertInterval,
		vipBackoff:          VIPFailHold,
	}
	r.prio = r.effectivePriority()
	return r
}

// State returns the current state.
func (r *Router) State() State { return r.state }

// Priority returns the effective priority: the configured one, lowered by
// Config.HealthWeight while unhealthy, clamped to 1..254.
func (r *Router) Priority() uint8 { return r.prio }

// effectivePriority is the one place the priority is computed and clamped.
func (r *Router) effectivePriority() uint8 {
	if r.maint {
		return 1
	}
	p := int(r.cfg.Priority)
	if !r.healthy {
		p += r.cfg.HealthWeight
	}
	return clampPriority(p)
}

// Master returns the current master's address as we know it: ours when
// Master, the last advertiser's in Backup, invalid when unknown.
func (r *Router) Master() netip.Addr {
	switch r.state {
	case Master:
		return r.cfg.Addr
	case Backup:
		return r.master
	}
	return netip.Addr{}
}

// VIPs returns the virtual addresses that belong on the interface now: all
// of them while Master, Stopping, HandingOver, or Backup yielding to the
// master that preempted us (Yielding); none otherwise.
func (r *Router) VIPs() []netip.Prefix {
	if r.state.holdsVIPs() || r.Yielding() {
		return slices.Clone(r.cfg.VIPs)
	}
	return nil
}

// Yielding reports whether we are Backup but still hold the VIPs, until
// the master that preempted us holds them (make before break).
func (r *Router) Yielding() bool { return r.yielding }

// Held reports whether preemption is held off at now (see Health,
// VIPsFailed and Maintenance), and until when for a VIPsFailed hold (zero
// if none).
func (r *Router) Held(now time.Time) (held bool, vipHoldUntil time.Time) {
	if now.Before(r.vipHoldUntil) {
		vipHoldUntil = r.vipHoldUntil
	}
	return !r.healthy || r.maint || !vipHoldUntil.IsZero(), vipHoldUntil
}

// InMaintenance reports whether the node is in maintenance, and until when
// (zero: until it is ended).
func (r *Router) InMaintenance() (bool, time.Time) { return r.maint, r.maintUntil }

// MasterAdverInterval returns Master_Adver_Interval: in v3 the interval
// learned from the master (initially, and while we are Master, our own);
// in v2 always our own Advertisement_Interval.
func (r *Router) MasterAdverInterval() time.Duration {
	if r.cfg.Version != 3 {
		return r.cfg.AdvertInterval
	}
	return r.masterAdverInterval
}

// SkewTime returns Skew_Time for the effective priority.
//
// RFC 3768 §6.1: "Skew_Time: Time to skew Master_Down_Interval in
// seconds. Calculated as: ( (256 - Priority) / 256 )".
//
// RFC 5798 §6.1: "Skew_Time: Time to skew Master_Down_Interval in
// centiseconds. Calculated as: (((256 - priority) * Master_Adver_Interval)
// / 256)".
//
// We compute both in nanoseconds rather than whole centiseconds, as
// keepalived computes them in microseconds: v2 priority 100 gives exactly
// 0.609375 s.
func (r *Router) SkewTime() time.Duration {
	unit := time.Second
	if r.cfg.Version == 3 {
		unit = r.masterAdverInterval
	}
	return time.Duration(256-int64(r.prio)) * unit / 256
}

// MasterDownInterval returns Master_Down_Interval.
//
// RFC 3768 §6.1: "Master_Down_Interval: Time interval for Backup to
// declare Master down (seconds). Calculated as: (3 *
// Advertisement_Interval) + Skew_time". RFC 5798 §6.1 uses
// Master_Adver_Interval in place of Advertisement_Interval.
func (r *Router) MasterDownInterval() time.Duration {
	return 3*r.MasterAdverInterval() + r.SkewTime()
}

// HandOverWait is how long a stopping master keeps its VIPs waiting for a
// peer to take over: a backup takes over Skew_Time after our priority-0
// advertisement, and Skew_Time is under one second (v2) or one
// Master_Adver_Interval (v3); plus a margin for its advertisement to
// arrive.
func (r *Router) HandOverWait() time.Duration {
	longestSkew := time.Second
	if r.cfg.Version == 3 {
		longestSkew = r.cfg.AdvertInterval
	}
	return longestSkew + handOverMargin
}

// NextDeadline returns the earliest pending timer: the Master_Down_Timer
// in Backup, the Adver_Timer in Master, the end of the hand-over wait in
// Stopping. There is none in Initialize and Fault.
func (r *Router) NextDeadline() (time.Time, bool) {
	d, ok := r.stateDeadline()
	if r.maint && !r.maintUntil.IsZero() && (!ok || r.maintUntil.Before(d)) {
		return r.maintUntil, true // the end of maintenance
	}
	return d, ok
}

func (r *Router) stateDeadline() (time.Time, bool) {
	switch r.state {
	case Backup:
		if r.Yielding() && r.yieldUntil.Before(r.masterDownAt) {
			return r.yieldUntil, true
		}
		return r.masterDownAt, true
	case Master:
		return r.adverAt, true
	case Stopping, HandingOver:
		return r.stopAt, true
	}
	return time.Time{}, false
}

// Step applies one input at time now and returns the actions to execute,
// in order. Unknown inputs, and inputs that mean nothing in the current
// state, return no actions.
func (r *Router) Step(now time.Time, in Input) []Action {
	if r.maint && !r.maintUntil.IsZero() && !now.Before(r.maintUntil) {
		r.maint, r.maintUntil = false, time.Time{}
		r.prio = r.effectivePriority()
	}
	if r.state.leaving() {
		return r.stopping(now, in)
	}
	switch in := in.(type) {
	case Maintenance:
		return r.maintenance(now, in)
	case Startup:
		return r.startup(now)
	case Shutdown:
		return r.shutdown(now)
	case Timeout:
		return r.timeout(now)
	case AdvertReceived:
		return r.advert(now, in)
	case Health:
		return r.health(now, in.Healthy)
	case VIPsFailed:
		return r.vipsFailed(now)
	case VIPsHeld:
		r.vipBackoff = VIPFailHold
		return nil
	case LinkDown:
		return r.linkDownInput()
	case LinkUp:
		return r.linkUpInput(now)
	case PeerAnnounced:
		return r.endYield()
	}
	return nil
}

// Reconfigure applies a new configuration (SIGHUP) keeping the state.
//
//   - The effective priority is recomputed from the new configured
//     priority and health weight (an unhealthy node stays lowered).
//   - Master (or Stopping): VIPs no longer configured are dropped, new
//     ones added and announced.
//   - Master: if the priority, interval, version or VIP set changed, one
//     advertisement goes out at once and the Adver_Timer restarts with the
//     new interval, so peers see the change without waiting.
//   - Backup: the Master_Down_Timer is brought forward to now plus the new
//     Master_Down_Interval if that is earlier, never pushed back, so a
//     reload cannot delay a pending takeover.
//   - Holds, the known master and a running preempt_delay stay.
func (r *Router) Reconfigure(now time.Time, c Config) []Action {
	c = c.normalize()
	old := r.cfg
	oldPrio := r.prio
	r.cfg = c
	r.prio = r.effectivePriority()
	// A v3 backup keeps the interval it learned from a live master;
	// otherwise Master_Adver_Interval starts again from our own.
	keepLearned := c.Version == 3 && old.Version == 3 && r.state == Backup && r.master.IsValid()
	if !keepLearned {
		r.masterAdverInterval = c.AdvertInterval
	}
	var acts []Action
	vipsChanged := !slices.Equal(old.VIPs, c.VIPs)
	changed := r.prio != oldPrio || c.AdvertInterval != old.AdvertInterval || c.Version != old.Version || vipsChanged
	switch r.state {
	case Master:
		if changed {
			r.adverAt = now.Add(c.AdvertInterval)
			acts = append(acts, SendAdvert{Priority: r.prio, Count: 1})
		}
		acts = append(acts, vipChanges(old.VIPs, c.VIPs)...)
	case Stopping, HandingOver:
		acts = append(acts, vipChanges(old.VIPs, c.VIPs)...)
	case Backup:
		if changed {
			if d := now.Add(r.MasterDownInterval()); d.Before(r.masterDownAt) {
				r.masterDownAt = d
			}
		}
		if r.Yielding() && vipsChanged {
			// The set we would keep is no longer the one we hold: let
			// the new master have them now.
			r.yielding, r.yieldTo, r.yieldUntil = false, netip.Addr{}, time.Time{}
			acts = append(acts, DelVIPs{VIPs: slices.Clone(old.VIPs)})
		}
	}
	return acts
}

// vipChanges is what a holder does when its VIP set changes: add and
// announce the new ones, drop the ones no longer configured.
func vipChanges(old, cur []netip.Prefix) []Action {
	var added, gone []netip.Prefix
	for _, p := range cur {
		if !slices.Contains(old, p) {
			added = append(added, p)
		}
	}
	for _, p := range old {
		if !slices.Contains(cur, p) {
			gone = append(gone, p)
		}
	}
	var acts []Action
	if len(added) > 0 {
		acts = append(acts, AddVIPs{VIPs: added}, Announce{VIPs: addrs(added)})
	}
	if len(gone) > 0 {
		acts = append(acts, DelVIPs{VIPs: gone})
	}
	return acts
}

func addrs(ps []netip.Prefix) []netip.Addr {
	if len(ps) == 0 {
		return nil
	}
	out := make([]netip.Addr, len(ps))
	for i, p := range ps {
		out[i] = p.Addr()
	}
	return out
}

// startup implements RFC 3768 §6.4.1: "If a Startup event is received,
// then: ... else: o Set the Master_Down_Timer to Master_Down_Interval
// o Transition to the {Backup} state". The address-owner branch
// (priority 255) does not exist here: we never own the VIPs.
//
// RFC 5798 §6.4.1 adds "(150) @ Set Master_Adver_Interval to
// Advertisement_Interval".
func (r *Router) startup(now time.Time) []Action {
	if r.state != Initialize {
		return nil
	}
	if r.linkDown {
		r.state = Fault
		return []Action{StateChanged{From: Initialize, To: Fault, Reason: ReasonLinkDown}}
	}
	return r.enterBackupFresh(now, Initialize, ReasonStartup)
}

// enterBackupFresh enters Backup knowing nothing of the master, as
// Startup does: Master_Adver_Interval is our own, the Master_Down_Timer
// runs, and preempt_delay counts from now.
func (r *Router) enterBackupFresh(now time.Time, from State, why Reason) []Action {
	r.state = Backup
	r.master = netip.Addr{}
	r.masterAdverInterval = r.cfg.AdvertInterval
	r.armMasterDown(now)
	r.preemptUntil = time.Time{}
	if r.cfg.PreemptDelay > 0 {
		r.preemptUntil = now.Add(r.cfg.PreemptDelay)
	}
	return []Action{StateChanged{From: from, To: Backup, Reason: why}}
}

// armMasterDown sets the Master_Down_Timer to Master_Down_Interval.
func (r *Router) armMasterDown(now time.Time) {
	r.masterDownAt = now.Add(r.MasterDownInterval())
	r.cause = downSilent
}

// shutdown implements the Shutdown event of §6.4.2 and §6.4.3.
func (r *Router) shutdown(now time.Time) []Action {
	from := r.state
	switch from {
	case Initialize:
		return nil
	case Master:
		// RFC 3768 §6.4.3: "If a Shutdown event is received, then:
		// o Cancel the Adver_Timer o Send an ADVERTISEMENT with
		// Priority = 0 o Transition to the {Initialize} state".
		// We send ResignAdverts of them, as a resign does, so that one
		// lost packet does not cost the peer a full Master_Down wait,
		// and keep serving the VIPs in Stopping until the peer's
		// advertisement says it has them (make before break):
		// keepalived drops them at once, so its clients lose Skew_Time
		// on every planned stop.
		r.state = Stopping
		r.adverAt = time.Time{}
		r.stopAt = now.Add(r.HandOverWait())
		return []Action{
			SendAdvert{Priority: 0, Count: r.cfg.ResignAdverts},
			StateChanged{From: Master, To: Stopping, Reason: ReasonShutdown},
		}
	}
	// RFC 3768 §6.4.2: "If a Shutdown event is received, then:
	// o Cancel the Master_Down_Timer o Transition to the {Initialize}
	// state". Fault has no timer to cancel.
	acts := r.endYield()
	r.state = Initialize
	r.masterDownAt = time.Time{}
	r.master = netip.Addr{}
	// Remember a dead link so that the next Startup goes to Fault.
	r.linkDown = from == Fault
	return append(acts, StateChanged{From: from, To: Initialize, Reason: ReasonShutdown})
}

// maintenance puts the node in maintenance or takes it out.
func (r *Router) maintenance(now time.Time, m Maintenance) []Action {
	r.setMaintenance(now, m)
	if !m.On || r.state != Master {
		return nil
	}
	// A planned hand-over: as a graceful stop, but we stay, as Backup.
	r.state = HandingOver
	r.adverAt = time.Time{}
	r.stopAt = now.Add(r.HandOverWait())
	return []Action{
		SendAdvert{Priority: 0, Count: r.cfg.ResignAdverts},
		StateChanged{From: Master, To: HandingOver, Reason: ReasonMaintenance},
	}
}

// setMaintenance records m; one that has already ended is none.
func (r *Router) setMaintenance(now time.Time, m Maintenance) {
	if m.On && !m.Until.IsZero() && !now.Before(m.Until) {
		m = Maintenance{}
	}
	r.maint, r.maintUntil = m.On, time.Time{}
	if m.On {
		r.maintUntil = m.Until
	}
	r.prio = r.effectivePriority()
}

// stopping handles every input in Stopping. The new master holds the VIPs
// once it announces them (its gratuitous ARP), or by its second
// advertisement: its first can come before it adds them (keepalived 1.3.9
// adds them one interval later), so the first only extends the wait to
// cover that interval. The end of the wait finishes the stop whatever
// happened; a dead link finishes it at once (nobody can hear us, and the
// VIPs serve nobody); anything else waits.
func (r *Router) stopping(now time.Time, in Input) []Action {
	switch in := in.(type) {
	case Shutdown:
		if r.state == HandingOver {
			// Already handing over: the same wait now ends the process.
			r.state = Stopping
			return []Action{StateChanged{From: HandingOver, To: Stopping, Reason: ReasonShutdown}}
		}
	case Maintenance:
		// The hand-over goes on; what follows it changes.
		r.setMaintenance(now, in)
	case PeerAnnounced:
		return r.stopped(now, ReasonPeerTookOver)
	case AdvertReceived:
		if in.Priority == 0 || in.Src == r.cfg.Addr {
			return nil
		}
		if r.stopTaker.IsValid() {
			return r.stopped(now, ReasonPeerTookOver)
		}
		r.stopTaker = in.Src
		iv := in.Interval
		if iv <= 0 || r.cfg.Version != 3 {
			iv = r.cfg.AdvertInterval
		}
		if d := now.Add(iv + handOverMargin); d.After(r.stopAt) {
			r.stopAt = d
		}
	case Timeout:
		if !now.Before(r.stopAt) {
			return r.stopped(now, ReasonNoPeer)
		}
	case LinkDown:
		if r.state == HandingOver {
			acts := r.stopped(now, ReasonLinkDown)
			r.state, r.masterDownAt = Fault, time.Time{}
			acts[len(acts)-1] = StateChanged{From: HandingOver, To: Fault, Reason: ReasonLinkDown}
			return acts
		}
		r.linkDown = true
		return r.stopped(now, ReasonLinkDown)
	}
	return nil
}

// stopped ends Stopping (→ Initialize) or HandingOver (→ Backup, the
// taker as the master we know): the VIPs go.
func (r *Router) stopped(now time.Time, why Reason) []Action {
	from, to := r.state, Initialize
	taker := r.stopTaker
	r.stopAt, r.stopTaker = time.Time{}, netip.Addr{}
	if from == HandingOver {
		to = Backup
		r.state = Backup
		r.masterAdverInterval = r.cfg.AdvertInterval
		r.armMasterDown(now)
		r.master = taker
		r.preemptUntil = time.Time{}
	} else {
		r.state = Initialize
	}
	return []Action{
		DelVIPs{VIPs: slices.Clone(r.cfg.VIPs)},
		StateChanged{From: from, To: to, Reason: why},
	}
}

// timeout fires whichever timer is due; an early Timeout does nothing.
func (r *Router) timeout(now time.Time) []Action {
	switch r.state {
	case Backup:
		if now.Before(r.masterDownAt) {
			if r.Yielding() && !now.Before(r.yieldUntil) {
				return r.endYield() // nobody announced: the wait is over
			}
			return nil
		}
		// (becomeMaster keeps the VIPs of a yield still running.)
		why := ReasonMasterDown
		switch r.cause {
		case downResigned:
			why = ReasonPeerResigned
		case downPreempting:
			why = ReasonPreemptLower
		}
		return r.becomeMaster(now, why)
	case Master:
		if now.Before(r.adverAt) {
			return nil
		}
		// RFC 3768 §6.4.3: "If the Adver_Timer fires, then: o Send an
		// ADVERTISEMENT o Reset the Adver_Timer to
		// Advertisement_Interval".
		return r.sendAdvert(now)
	}
	return nil
}

// becomeMaster implements RFC 3768 §6.4.2: "If the Master_Down_Timer
// fires, then: o Send an ADVERTISEMENT o Broadcast a gratuitous ARP
// request containing the virtual router MAC address for each IP address
// associated with the virtual router o Set the Adver_Timer to
// Advertisement_Interval o Transition to the {Master} state".
// The VIPs are added between the advert and the ARPs, as keepalived does.
func (r *Router) becomeMaster(now time.Time, why Reason) []Action {
	r.state = Master
	r.masterDownAt = time.Time{}
	r.adverAt = now.Add(r.cfg.AdvertInterval)
	// While we are Master, the master's interval is ours.
	r.masterAdverInterval = r.cfg.AdvertInterval
	r.master = netip.Addr{}
	acts := []Action{SendAdvert{Priority: r.prio, Count: 1}}
	if r.Yielding() {
		// Still ours from before the preemption: announce them again.
		r.yielding, r.yieldTo, r.yieldUntil = false, netip.Addr{}, time.Time{}
	} else {
		acts = append(acts, AddVIPs{VIPs: slices.Clone(r.cfg.VIPs)})
	}
	return append(acts,
		Announce{VIPs: addrs(r.cfg.VIPs)},
		StateChanged{From: Backup, To: Master, Reason: why},
	)
}

// sendAdvert sends one advertisement and restarts the Adver_Timer.
func (r *Router) sendAdvert(now time.Time) []Action {
	r.adverAt = now.Add(r.cfg.AdvertInterval)
	return []Action{SendAdvert{Priority: r.prio, Count: 1}}
}

func (r *Router) advert(now time.Time, a AdvertReceived) []Action {
	if a.Src == r.cfg.Addr {
		return nil // our own packet looped back
	}
	switch r.state {
	case Backup:
		var acts []Action
		if r.yielding && a.Src == r.yieldTo && a.Priority != 0 {
			// The preempting master's third advertisement: by now it
			// holds the VIPs (keepalived 1.3.9, answering a lower
			// master at once, adds them two intervals after that
			// answer).
			if r.yieldHeard++; r.yieldHeard >= yieldAdverts {
				acts = r.endYield()
			}
		}
		return append(acts, r.backupAdvert(now, a)...)
	case Master:
		return r.masterAdvert(now, a)
	}
	// Initialize and Fault ignore advertisements.
	return nil
}

// backupAdvert implements RFC 3768 §6.4.2 "If an ADVERTISEMENT is
// received" and RFC 5798 §6.4.2 (420)-(470).
func (r *Router) backupAdvert(now time.Time, a AdvertReceived) []Action {
	if a.Priority == 0 {
		if a.Src == r.master {
			r.master = netip.Addr{}
		}
		// Skew_Time exists so that, of several backups, the one with the
		// highest priority wins. The only backup of a pair has nobody to
		// wait for: it takes over at once.
		if r.cfg.Pair {
			return r.becomeMaster(now, ReasonPeerResigned)
		}
		// "If the Priority in the ADVERTISEMENT is Zero, then: o Set the
		// Master_Down_Timer to Skew_Time".
		r.masterDownAt = now.Add(r.SkewTime())
		r.cause = downResigned
		return nil
	}
	r.master = a.Src
	// "If Preempt_Mode is False, or If the Priority in the
	// ADVERTISEMENT is greater than or equal to the local Priority,
	// then: o Reset the Master_Down_Timer to Master_Down_Interval
	// else: o Discard the ADVERTISEMENT".
	if !r.accepts(now, a.Priority) {
		r.cause = downPreempting
		return nil
	}
	r.learnInterval(a.Interval)
	r.armMasterDown(now)
	return nil
}

// accepts decides whether a Backup accepts a non-zero priority: the
// RFC's rule, widened by preempt_delay and the holds (unhealthy, VIPs
// failed), which all act as if Preempt_Mode were False for a while.
func (r *Router) accepts(now time.Time, prio uint8) bool {
	if prio >= r.prio {
		// keepalived stops a running preempt_delay here: the next
		// lower-priority master starts it again.
		r.preemptUntil = time.Time{}
		return true
	}
	if held, _ := r.Held(now); !r.cfg.Preempt || held {
		return true
	}
	if r.cfg.PreemptDelay > 0 {
		if r.preemptUntil.IsZero() {
			r.preemptUntil = now.Add(r.cfg.PreemptDelay)
		}
		if now.Before(r.preemptUntil) {
			return true
		}
	}
	return false
}

// learnInterval implements RFC 5798 §6.4.2 "(450) @ Set
// Master_Adver_Interval to Adver Interval contained in the ADVERTISEMENT
// (455) @ Recompute the Master_Down_Interval". v2 has no such rule: its
// advertised interval must equal ours (the wire layer checks it).
func (r *Router) learnInterval(d time.Duration) {
	if r.cfg.Version == 3 && d > 0 {
		r.masterAdverInterval = d
	}
}

// masterAdvert implements RFC 3768 §6.4.3 / RFC 5798 §6.4.3 "If an
// ADVERTISEMENT is received", with keepalived's answer to a lower
// priority in place of the RFC's discard.
func (r *Router) masterAdvert(now time.Time, a AdvertReceived) []Action {
	// "If the Priority in the ADVERTISEMENT is Zero, then: o Send an
	// ADVERTISEMENT o Reset the Adver_Timer to Advertisement_Interval".
	if a.Priority == 0 {
		return r.sendAdvert(now)
	}
	// "If the Priority in the ADVERTISEMENT is greater than the local
	// Priority, or If the Priority in the ADVERTISEMENT is equal to the
	// local Priority and the primary IP Address of the sender is greater
	// than the local primary IP Address, then: o Cancel Adver_Timer
	// o Set Master_Down_Timer to Master_Down_Interval o Transition to
	// the {Backup} state".
	higher := a.Priority > r.prio
	if higher || (a.Priority == r.prio && a.Src.Compare(r.cfg.Addr) > 0) {
		why := ReasonTieBreak
		if higher {
			why = ReasonPreempted
		}
		acts := r.leaveMaster(now, why)
		r.master = a.Src
		// RFC 5798 §6.4.3 "(745) -@ Set Master_Adver_Interval to Adver
		// Interval contained in the ADVERTISEMENT (750) -@ Recompute the
		// Skew_Time".
		r.learnInterval(a.Interval)
		r.armMasterDown(now)
		// Make before break: the RFC drops the VIPs here, but the new
		// master sends this advertisement before it adds and announces
		// them, so its clients would lose the time in between (a
		// request times out). We keep them, announcing nothing, until it
		// announces them (PeerAnnounced) or its third advertisement, at
		// most two of its intervals: keepalived 1.3.9 answering a lower
		// master at once adds them two intervals after that answer.
		r.yielding, r.yieldTo, r.yieldHeard = true, a.Src, 0
		r.yieldUntil = now.Add(yieldAdverts*r.MasterAdverInterval() + handOverMargin)
		return acts[1:] // the StateChanged; DelVIPs waits for endYield
	}
	// The RFC says "else: o Discard ADVERTISEMENT". keepalived instead
	// answers a lower-priority master at once with an advertisement and
	// gratuitous ARPs: after a partition heals this makes the other
	// master step down and the switches relearn the VIP's port now,
	// not one interval later. The advertisement answers every time (it
	// restarts our Adver_Timer, so it adds at most one per interval of
	// the other master); the ARPs at most once per HealAnnounceEvery
	// within one episode. A lower master heard after a Master_Down
	// interval of silence is a new episode (a new partition healed, or
	// the crossing adverts of a preemption long ago): it gets its ARPs at
	// once, or its clients would stay with it for the rest of the limit.
	acts := r.sendAdvert(now)
	silence := r.MasterDownInterval()
	if r.cfg.Version == 3 && a.Interval > 0 {
		// A lower master that advertises more slowly than we do (v3
		// intervals may differ) is silent for longer between its adverts
		// within one episode: its own Master_Down_Interval (Skew_Time is
		// under one of its intervals).
		silence = max(silence, 4*a.Interval)
	}
	newEpisode := r.lastLower.IsZero() || now.Sub(r.lastLower) > silence
	r.lastLower = now
	if newEpisode || now.Sub(r.lastHeal) >= HealAnnounceEvery {
		r.lastHeal = now
		acts = append(acts, Announce{VIPs: addrs(r.cfg.VIPs), Heal: true})
	}
	return acts
}

// endYield ends a yield: the VIPs go now (none if not yielding).
func (r *Router) endYield() []Action {
	if !r.Yielding() {
		return nil
	}
	r.yielding, r.yieldTo, r.yieldUntil = false, netip.Addr{}, time.Time{}
	return []Action{DelVIPs{VIPs: slices.Clone(r.cfg.VIPs)}}
}

// leaveMaster is every Master → Backup transition: the VIPs go, the
// Adver_Timer stops, and the Master_Down_Timer starts knowing nothing of
// the next master (callers that know it set it after).
func (r *Router) leaveMaster(now time.Time, why Reason) []Action {
	r.state = Backup
	r.adverAt = time.Time{}
	r.master = netip.Addr{}
	r.masterAdverInterval = r.cfg.AdvertInterval
	r.armMasterDown(now)
	r.preemptUntil = time.Time{}
	return []Action{
		DelVIPs{VIPs: slices.Clone(r.cfg.VIPs)},
		StateChanged{From: Master, To: Backup, Reason: why},
	}
}

// resign hands mastership over at once: ResignAdverts priority-0
// advertisements (a backup takes over after Skew_Time instead of
// Master_Down), then the VIPs go. The caller's hold (unhealthy, VIPs
// failed) keeps us from preempting back; if no peer takes over, the
// Master_Down_Timer brings us back to Master.
func (r *Router) resign(now time.Time, why Reason) []Action {
	return append([]Action{SendAdvert{Priority: 0, Count: r.cfg.ResignAdverts}}, r.leaveMaster(now, why)...)
}

// health applies a Health verdict. An unhealthy master does not merely
// advertise its lower priority: a backup would discard that and wait a
// full Master_Down. It resigns.
func (r *Router) health(now time.Time, healthy bool) []Action {
	was := r.healthy
	r.healthy = healthy
	r.prio = r.effectivePriority()
	if was && !healthy && r.state == Master {
		return r.resign(now, ReasonUnhealthy)
	}
	return nil
}

// vipsFailed resigns a master that cannot hold its VIPs and holds off
// preemption for the current backoff, which then doubles.
//
// Alone, the Master_Down_Timer would make it master again one
// Master_Down_Interval later, to fail and resign again, over and over (30
// times a second at 10 ms adverts, each with its priority-0 adverts, log
// lines and STATUS=). So the timer first runs to the end of the hold: an
// advertisement restarts it as usual, so a peer that took over and then
// went silent is still replaced after Master_Down_Interval.
func (r *Router) vipsFailed(now time.Time) []Action {
	if r.state != Master {
		return nil
	}
	r.vipHoldUntil = now.Add(r.vipBackoff)
	r.vipBackoff = min(2*r.vipBackoff, VIPFailHoldMax)
	acts := r.resign(now, ReasonVIPsFailed)
	if r.masterDownAt.Before(r.vipHoldUntil) {
		r.masterDownAt = r.vipHoldUntil
	}
	return acts
}

// linkDownInput moves to Fault. A Master sends nothing: the link is gone.
func (r *Router) linkDownInput() []Action {
	from := r.state
	switch from {
	case Initialize:
		r.linkDown = true
		return nil
	case Fault:
		return nil
	}
	acts := r.endYield()
	if from == Master {
		acts = append(acts, DelVIPs{VIPs: slices.Clone(r.cfg.VIPs)})
	}
	r.state = Fault
	r.masterDownAt, r.adverAt = time.Time{}, time.Time{}
	r.master = netip.Addr{}
	return append(acts, StateChanged{From: from, To: Fault, Reason: ReasonLinkDown})
}

// linkUpInput leaves Fault as Startup would enter Backup.
func (r *Router) linkUpInput(now time.Time) []Action {
	switch r.state {
	case Initialize:
		r.linkDown = false
		return nil
	case Fault:
		return r.enterBackupFresh(now, Fault, ReasonLinkUp)
	}
	return nil
}
