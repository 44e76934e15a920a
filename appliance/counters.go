package appliance

import (
	"cmp"
	"slices"
	"time"

	"github.com/proxypair/proxypair/appliance/control"
	"github.com/proxypair/proxypair/appliance/fsm"
)

// counters are the instance's lifetime counts behind control.Counters
// (and so the metrics). Like the rest of the instance's state they belong
// to the loop: plain fields, no atomics, read only by snapshot.
type counters struct {
	becomeMaster  uint64
	releaseMaster uint64
	priZeroRcvd   uint64
	priZeroSent   uint64
	transitions   map[transitionKind]uint64

	lastSent    time.Time // our last advert that went out
	masterHeard time.Time // the last accepted advert with a non-zero priority
}

// transitionKind is one kind of state change, as the metrics label it.
type transitionKind struct {
	from, to fsm.State
	reason   fsm.Reason
}

// transition counts a state change.
func (c *counters) transition(s fsm.StateChanged) {
	if c.transitions == nil {
		c.transitions = map[transitionKind]uint64{}
	}
	c.transitions[transitionKind{s.From, s.To, s.Reason}]++
	switch {
	case s.To == fsm.Master:
		c.becomeMaster++
	case s.From == fsm.Master:
		c.releaseMaster++
	}
}

// received counts an accepted advert, received at at.
func (c *counters) received(at time.Time, prio uint8) {
	if prio == 0 {
		c.priZeroRcvd++
		return
	}
	c.masterHeard = at
}

// sent counts an advert that went out.
func (c *counters) sent(at time.Time, prio uint8) {
	c.lastSent = at
	if prio == 0 {
		c.priZeroSent++
	}
}

// masterAdvertAt is when the current master last advertised, as far as
// this node knows: our own last advert while Master, the master's last
// accepted one while Backup, zero otherwise.
func (c *counters) masterAdvertAt(r *fsm.Router) time.Time {
	switch r.State() {
	case fsm.Master:
		return c.lastSent
	case fsm.Backup:
		if r.Master().IsValid() {
			return c.masterHeard
		}
	}
	return time.Time{}
}

// snapshot returns the counts for the status document, with the ones
// other parts of the instance keep.
func (c *counters) snapshot(sendErrs, authUnknown uint64) control.Counters {
	out := control.Counters{
		BecomeMaster:         c.becomeMaster,
		ReleaseMaster:        c.releaseMaster,
		PriorityZeroReceived: c.priZeroRcvd,
		PriorityZeroSent:     c.priZeroSent,
		SendErrors:           sendErrs,
		AuthTypeUnknown:      authUnknown,
		Transitions:          make([]control.TransitionCount, 0, len(c.transitions)),
	}
	for k, n := range c.transitions {
		out.Transitions = append(out.Transitions, control.TransitionCount{
			From: k.from.String(), To: k.to.String(), Reason: k.reason.String(), Count: n,
		})
	}
	slices.SortFunc(out.Transitions, func(a, b control.TransitionCount) int {
		return cmp.Or(cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To), cmp.Compare(a.Reason, b.Reason))
	})
	return out
}
