package fsm

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// State is a VRRP router state. Initialize, Backup and Master are the
// states of RFC 3768/5798 §6.4; Fault is keepalived's state for a router
// whose link is down.
type State uint8

// The states. The zero value is Initialize.
const (
	Initialize State = iota
	Backup
	Master
	Fault
)

// String returns the state in keepalived's spelling ("INIT", "BACKUP",
// "MASTER", "FAULT"), which users' scripts and logs already know.
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
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

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
	// ReasonShutdown: any state → Initialize on Shutdown.
	ReasonShutdown
	// ReasonLinkDown: → Fault because the link went down (also
	// Initialize → Fault on Startup while the link is down).
	ReasonLinkDown
	// ReasonLinkUp: Fault → Backup because the link came back.
	ReasonLinkUp
	// ReasonResign: Master → Backup on Resign.
	ReasonResign
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
	ReasonResign:       "resign",
}

// String returns the reason's stable snake_case name.
func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return fmt.Sprintf("reason_%d", uint8(r))
}

// Input is an event stepped into the Router: a timer, a received
// advertisement, or a signal from the daemon or the health tracker.
type Input interface{ isInput() }

// Startup starts the router (RFC §6.4.1 "Startup event"). It also clears
// a resign hold.
type Startup struct{}

// Shutdown stops the router (RFC §6.4 "Shutdown event"): as Master it
// sends one priority-0 advertisement and drops the VIPs.
type Shutdown struct{}

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

// SetPriority sets the effective priority (from the health tracker). It
// is clamped to 1..254. Raising the priority clears a resign hold.
type SetPriority struct{ Priority uint8 }

// Resign asks a Master to hand over at once: it sends priority-0
// advertisements, drops the VIPs and becomes Backup with a hold (see the
// package documentation). As Backup it only sets the hold.
type Resign struct{ Reason string }

// LinkDown says the VRRP interface lost its link: → Fault.
type LinkDown struct{}

// LinkUp says the VRRP interface has its link again: Fault → Backup.
type LinkUp struct{}

func (Startup) isInput()        {}
func (Shutdown) isInput()       {}
func (Timeout) isInput()        {}
func (AdvertReceived) isInput() {}
func (SetPriority) isInput()    {}
func (Resign) isInput()         {}
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

// AddVIPs adds the virtual addresses to the interface.
type AddVIPs struct{}

// DelVIPs removes the virtual addresses from the interface.
type DelVIPs struct{}

// Announce starts gratuitous ARPs for the VIPs; the caller owns the
// repeat count and the delayed second burst.
type Announce struct{}

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
	// ResignAdverts is how many priority-0 advertisements Resign sends
	// (default 3 when 0).
	ResignAdverts int
}

// DefaultResignAdverts is the number of priority-0 advertisements sent on
// Resign when Config.ResignAdverts is 0: more than one, so a single lost
// packet does not turn a fast hand-over into a full Master_Down wait.
const DefaultResignAdverts = 3

// ErrInvalidConfig is wrapped by every error Config.Validate returns.
var ErrInvalidConfig = errors.New("fsm: invalid config")

// Validate reports every problem in c at once (errors.Join), each naming
// its field and wrapping ErrInvalidConfig. New clamps the same values:
// Version other than 3 → 2, Priority to 1..254, AdvertInterval ≤ 0 → 1s,
// PreemptDelay < 0 → 0, ResignAdverts ≤ 0 → DefaultResignAdverts.
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
	return errors.Join(errs...)
}

// normalize clamps c as Validate's documentation says.
func (c Config) normalize() Config {
	if c.Version != 3 {
		c.Version = 2
	}
	c.Priority = clampPriority(c.Priority)
	if c.AdvertInterval <= 0 {
		c.AdvertInterval = time.Second
	}
	if c.PreemptDelay < 0 {
		c.PreemptDelay = 0
	}
	if c.ResignAdverts <= 0 {
		c.ResignAdverts = DefaultResignAdverts
	}
	return c
}

func clampPriority(p uint8) uint8 {
	switch {
	case p < 1:
		return 1
	case p > 254:
		return 254
	}
	return p
}
