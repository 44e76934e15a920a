package appliance

import (
	"context"
	"time"

	"github.com/proxypair/proxypair/appliance/config"
	"github.com/proxypair/proxypair/appliance/fsm"
	"github.com/proxypair/proxypair/appliance/hooks"
)

// Hooks takes each transition for the notify hooks (hooks.Runner). It is
// called on the VRRP loop, so it must only queue: never wait for a hook.
type Hooks interface {
	Notify(hooks.Transition)
}

// hookKind says which notify hooks a transition into state runs.
//
//   - MASTER, BACKUP, FAULT: their own hooks (BACKUP at start-up too, as
//     keepalived).
//   - STOPPING (a master's make-before-break stop) and HANDOVER (a planned
//     hand-over): none; the node still holds the VIPs until the peer has
//     them. The BACKUP after a hand-over runs the backup hooks.
//   - INIT: stop. A running instance only returns to INIT when it stops —
//     the daemon stops, or a reload restarts it with a new identity — a
//     master once its VIPs are gone (after STOPPING), a backup or a faulty
//     node at once.
func hookKind(state fsm.State) (hooks.Kind, bool) {
	switch state {
	case fsm.Master:
		return hooks.Master, true
	case fsm.Backup:
		return hooks.Backup, true
	case fsm.Fault:
		return hooks.Fault, true
	case fsm.Initialize:
		return hooks.Stop, true
	}
	return 0, false
}

// runHooks hands a transition to the notify hooks.
func (in *instance) runHooks(now time.Time, c fsm.StateChanged) {
	if in.hooks == nil {
		return
	}
	kind, ok := hookKind(c.To)
	if !ok {
		return
	}
	from := c.From
	if from == fsm.Stopping {
		// Only a master stops make-before-break: to its hooks, it was
		// MASTER until the stop.
		from = fsm.Master
	}
	in.hooks.Notify(hooks.Transition{
		Kind:      kind,
		From:      from.String(),
		Reason:    c.Reason.String(),
		Priority:  int(in.r.Priority()),
		VIPs:      in.cfg.VirtualIPs,
		Interface: in.cfg.Interface,
		VRID:      in.cfg.VRID,
		Instance:  in.cfg.InstanceName(),
		At:        now,
	})
}

func hookCommands(n config.Notify) hooks.Commands {
	return hooks.Commands{Master: n.Master, Backup: n.Backup, Fault: n.Fault, Stop: n.Stop, Timeout: n.Timeout}
}

// stopHooks lets the queued hooks, the stop hooks last, run to the end,
// for at most one hook timeout in all (then the runner kills what runs).
func stopHooks(r *hooks.Runner) {
	ctx, cancel := context.WithTimeout(context.Background(), r.Timeout())
	defer cancel()
	r.Close(ctx)
}
