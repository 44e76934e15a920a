package fsm

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// State is a VRRP router state. Initialize, Backup and Master are the
// states of RFC 3768/5798 §6.4; Fault is keepalived's state for a router
// whose link is down; Stopping is a master's graceful stop and HandingOver
// a master's planned hand-over (maintenance): both keep the VIPs until a
// peer holds them (make before break).
type State uint8

// The states. The zero value is Initialize.
const (
	Initialize State = iota
	Backup
	Master
	Fault
	Stopping
	HandingOver
)

// String returns the state in keepalived's spelling ("INIT", "BACKUP",
// "MASTER", "FAULT"), which users' scripts and logs already know, and
// "STOPPING".
func (s State) String() string {
	switch s {
	case Initialize:
		return "INIT"
	case Backup:
		return "BACKUP"
	case Master:
		return "MASTER"
	case Fault:
		return "FAULT"
	case Stopping:
		return "STOPPING"
	case HandingOver:
		return "HANDOVER"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// holdsVIPs reports whether the VIPs belong on the interface in state s.
func (s State) holdsVIPs() bool { return s == Master || s == Stopping || s == HandingOver }

// leaving reports whether s is a master's make-before-break exit.
func (s State) leaving() bool { return s == Stopping || s == HandingOver }

// Reason says why a state change happened. Its String is a stable
// snake_case name for logs, metrics labels and the status document.
type Reason uint8

// The reasons. The zero value, ReasonUnknown, is never produced by the
// Router; it marks a StateChanged built by hand without a reason.
const (
	ReasonUnknown Reason = iota
	// ReasonStartup: Initialize → Backup on Startup.
	ReasonStartup
	// ReasonMasterDown: Backup → Master because the Master_Down_Timer
	// fired with no usable advertisement.
	ReasonMasterDown
	// ReasonPeerResigned: Backup → Master after Skew_Time because the
	// master sent a priority-0 advertisement (graceful stop or resign).
	ReasonPeerResigned
	// ReasonPreemptLower: Backup → Master after discarding the
	// advertisements of a lower-priority master (preemption).
	ReasonPreemptLower
	// ReasonPreempted: Master → Backup on an advertisement with a higher
	// priority.
	ReasonPreempted
	// ReasonTieBreak: Master → Backup on an advertisement with our
	// priority from a higher primary address.
	ReasonTieBreak
	// ReasonShutdown: Master → Stopping, or Backup/Fault → Initialize,
	// on Shutdown.
	ReasonShutdown
	// ReasonLinkDown: → Fault because the link went down (also
	// Initialize → Fault on Startup while the link is down, and
	// Stopping → Initialize).
	ReasonLinkDown
	// ReasonLinkUp: Fault → Backup because the link came back.
	ReasonLinkUp
	// ReasonUnhealthy: Master → Backup because HAProxy became unhealthy
	// (a resign: priority-0 advertisements first).
	ReasonUnhealthy
	// ReasonVIPsFailed: Master → Backup because the VIPs could not be
	// put on the interface (a resign).
	ReasonVIPsFailed
	// ReasonPeerTookOver: Stopping → Initialize once the new master holds
	// the VIPs (its gratuitous ARP, or its second advertisement).
	ReasonPeerTookOver
	// ReasonNoPeer: Stopping → Initialize because no peer took over
	// within the hand-over wait.
	ReasonNoPeer
	// ReasonMaintenance: Master → HandingOver because the node was put in
	// maintenance (a planned hand-over).
	ReasonMaintenance
)

var reasonNames = [...]string{
	ReasonUnknown:      "unknown",
	ReasonStartup:      "startup",
	ReasonMasterDown:   "master_down",
	ReasonPeerResigned: "peer_resigned",
	ReasonPreemptLower: "preempt_lower_priority",
	ReasonPreempted:    "preempted",
	ReasonTieBreak:     "tie_break",
	ReasonShutdown:     "shutdown",
	ReasonLinkDown:     "link_down",
	ReasonLinkUp:       "link_up",
	ReasonUnhealthy:    "unhealthy",
	ReasonVIPsFailed:   "vips_failed",
	ReasonPeerTookOver: "peer_took_over",
	ReasonNoPeer:       "no_peer",
	ReasonMaintenance:  "maintenance",
}

// String returns the reason's stable snake_case name.
func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return fmt.Sprintf("reason_%d", uint8(r))
}

// Input is an event stepped into the Router: a timer, a received
// advertisement, or a fact reported by the daemon (link, health, VIPs).
type Input interface{ isInput() }

// Startup starts the router (RFC §6.4.1 "Startup event").
type Startup struct{}

// Shutdown stops the router gracefully (RFC §6.4 "Shutdown event"). A
// Master sends ResignAdverts priority-0 advertisements and enters
// Stopping, keeping the VIPs until a peer holds them (its gratuitous ARP,
// PeerAnnounced, or its second advertisement) or the hand-over wait has
// passed; any other state goes to Initialize at once.
type Shutdown struct{}

// PeerAnnounced says another host sent a gratuitous ARP for one of our
// VIPs: it holds them now. It ends Stopping, HandingOver and a yield
// (Router.Yielding); elsewhere it means nothing.
type PeerAnnounced struct{}

// Timeout tells the router that the caller's timer reached NextDeadline.
// An early or spurious Timeout does nothing.
type Timeout struct{}

// AdvertReceived is a VRRP advertisement that the wire layer has already
// validated (version, VRID, auth, checksum, TTL, address list).
type AdvertReceived struct {
	Src      netip.Addr    // the sender's primary address (IP source)
	Priority uint8         // 0 means the master is leaving
	Interval time.Duration // the advertised interval; v3 backups adopt it
}

// Health is the HAProxy tracker's verdict. While unhealthy the effective
// priority is the configured one plus Config.HealthWeight, and preemption
// is held off (a lower-priority master is accepted). A Master that turns
// unhealthy resigns: priority-0 advertisements, VIPs dropped, Backup.
type Health struct{ Healthy bool }

// VIPsFailed says the VIPs could not be put on the interface within the
// caller's bound. A Master resigns, and preemption is held off for a
// backoff that doubles with every failure (VIPFailHold up to
// VIPFailHoldMax), after which it tries again. Until an advertisement is
// heard, its Master_Down_Timer runs to the end of the hold too: alone, it
// tries again after the hold, not every Master_Down_Interval.
type VIPsFailed struct{}

// VIPsHeld says every VIP is on the interface: the VIPsFailed backoff
// starts again from VIPFailHold.
type VIPsHeld struct{}

// Maintenance puts the node in maintenance (On) or takes it out. In
// maintenance the effective priority is 1 and preemption is held off; a
// Master hands over make-before-break (HandingOver: priority-0
// advertisements, the VIPs kept until the peer holds them) and stays
// Backup. It ends at Until (zero: only with Maintenance{On: false}).
type Maintenance struct {
	On    bool
	Until time.Time
}

// LinkDown says the VRRP interface lost its link: → Fault.
type LinkDown struct{}

// LinkUp says the VRRP interface has its link again: Fault → Backup.
type LinkUp struct{}

func (Startup) isInput()        {}
func (Shutdown) isInput()       {}
func (Timeout) isInput()        {}
func (AdvertReceived) isInput() {}
func (Health) isInput()         {}
func (PeerAnnounced) isInput()  {}
func (Maintenance) isInput()    {}
func (VIPsFailed) isInput()     {}
func (VIPsHeld) isInput()       {}
func (LinkDown) isInput()       {}
func (LinkUp) isInput()         {}

// Action is something the caller must do, in the order returned.
type Action interface{ isAction() }

// SendAdvert sends Count (≥ 1) advertisements back to back carrying
// Priority; the caller fills in the rest from its configuration.
type SendAdvert struct {
	Priority uint8
	Count    int
}

// AddVIPs says these virtual addresses must be on the interface (and kept
// there: the caller reconciles, it does not fire and forget).
type AddVIPs struct{ VIPs []netip.Prefix }

// DelVIPs says these virtual addresses must no longer be on the interface.
type DelVIPs struct{ VIPs []netip.Prefix }

// Announce asks for gratuitous ARPs for these addresses, once each is on
// the interface; the caller owns the repeat count and the delayed second
// burst. Heal marks the answer to a lower-priority master (split-brain
// heal), which the Router sends at most once per HealAnnounceEvery.
type Announce struct {
	VIPs []netip.Addr
	Heal bool
}

// StateChanged reports a transition. It is always the last action of the
// Step that made it, so the caller's observers see the VIPs already moved.
type StateChanged struct {
	From, To State
	Reason   Reason
}

func (SendAdvert) isAction()   {}
func (AddVIPs) isAction()      {}
func (DelVIPs) isAction()      {}
func (Announce) isAction()     {}
func (StateChanged) isAction() {}

// Config is the router's configuration. New and Reconfigure clamp values
// out of range (see Config.Validate for the rules) rather than fail, so a
// caller that wants to reject bad input calls Validate first.
type Config struct {
	Version        int           // 2 (RFC 3768) or 3 (RFC 5798)
	Priority       uint8         // configured priority, 1..254
	AdvertInterval time.Duration // our Advertisement_Interval
	Preempt        bool
	// PreemptDelay (keepalived preempt_delay): with Preempt on, a
	// lower-priority master is still accepted until this much time has
	// passed since Startup/LinkUp, or since the first lower-priority
	// advertisement seen after entering Backup. Zero preempts at once.
	PreemptDelay time.Duration
	Addr         netip.Addr // our primary IPv4 address (tie-break)
	// VIPs are the virtual addresses, held while Master or Stopping.
	VIPs []netip.Prefix
	// Pair says the virtual router has exactly two members, this one and
	// one peer: as Backup, a priority-0 advertisement (the master leaving)
	// makes us Master at once instead of after Skew_Time, which only
	// serves to let the best of several backups win.
	Pair bool
	// HealthWeight is added to Priority while HAProxy is unhealthy
	// (normally negative); the sum is clamped to 1..254, here and only
	// here.
	HealthWeight int
	// ResignAdverts is how many priority-0 advertisements a resign or a
	// graceful stop sends (default 3 when 0).
	ResignAdverts int
}

// DefaultResignAdverts is the number of priority-0 advertisements sent on
// a resign or a graceful stop when Config.ResignAdverts is 0: more than
// one, so a single lost packet does not turn a fast hand-over into a full
// Master_Down wait.
const DefaultResignAdverts = 3

// HealAnnounceEvery bounds how often a Master answers lower-priority
// masters with gratuitous ARPs (keepalived's garp_lower_prio_delay): under
// one-way loss it hears one at every advertisement interval, and each
// answer costs a burst of ARPs and, in a cloud, an API check.
const HealAnnounceEvery = 5 * time.Second

// VIPFailHold and VIPFailHoldMax bound how long a node that could not
// hold its VIPs leaves the pair to its peer before it tries again.
const (
	VIPFailHold    = 10 * time.Second
	VIPFailHoldMax = 5 * time.Minute
)

// handOverMargin is added to the longest Skew_Time a peer can wait before
// a stopping master gives up waiting for it: time for the peer's new
// advertisement to arrive.
const handOverMargin = 100 * time.Millisecond

// yieldAdverts is how many of the preempting master's intervals a yield
// lasts at most without its announcement: its third advertisement (two
// after the one that preempted us) ends it. keepalived 1.3.9, answering a
// lower-priority master at once, adds the VIPs two intervals after that
// answer (measured: TestKeepalivedInterop).
const yieldAdverts = 2

// ErrInvalidConfig is wrapped by every error Config.Validate returns.
var ErrInvalidConfig = errors.New("fsm: invalid config")

// Validate reports every problem in c at once (errors.Join), each naming
// its field and wrapping ErrInvalidConfig. New clamps the same values:
// Version other than 3 → 2, Priority to 1..254, AdvertInterval ≤ 0 → 1s,
// PreemptDelay < 0 → 0, ResignAdverts ≤ 0 → DefaultResignAdverts; the
// effective priority (Priority + HealthWeight) is clamped to 1..254.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...))
	}
	if c.Version != 2 && c.Version != 3 {
		bad("Version %d: must be 2 or 3", c.Version)
	}
	if c.Priority < 1 || c.Priority > 254 {
		bad("Priority %d: must be 1..254 (255 is the address owner's, which we never are)", c.Priority)
	}
	if c.AdvertInterval <= 0 {
		bad("AdvertInterval %v: must be positive", c.AdvertInterval)
	}
	if c.PreemptDelay < 0 {
		bad("PreemptDelay %v: must not be negative", c.PreemptDelay)
	}
	if c.ResignAdverts < 0 {
		bad("ResignAdverts %d: must not be negative", c.ResignAdverts)
	}
	if !c.Addr.IsValid() {
		bad("Addr: the primary address is required for the tie-break")
	}
	if c.HealthWeight < -254 || c.HealthWeight > 0 {
		bad("HealthWeight %d: must be -254..0", c.HealthWeight)
	}
	return errors.Join(errs...)
}

// normalize clamps c as Validate's documentation says.
func (c Config) normalize() Config {
	if c.Version != 3 {
		c.Version = 2
	}
	c.Priority = clampPriority(int(c.Priority))
	if c.AdvertInterval <= 0 {
		c.AdvertInterval = time.Second
	}
	if c.PreemptDelay < 0 {
		c.PreemptDelay = 0
	}
	if c.ResignAdverts <= 0 {
		c.ResignAdverts = DefaultResignAdverts
	}
	c.VIPs = slices.Clone(c.VIPs)
	return c
}

// clampPriority keeps a priority in 1..254: 0 is reserved for a master
// that leaves, 255 for the address owner, which we never are.
func clampPriority(p int) uint8 {
	return uint8(min(max(p, 1), 254))
}
