package appliance

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/proxypair/proxypair/appliance/config"
	"github.com/proxypair/proxypair/appliance/control"
	"github.com/proxypair/proxypair/appliance/fsm"
	"github.com/proxypair/proxypair/healthcheck"
)

// Health is the HAProxy tracker as the instance sees it: a stream of
// verdicts and the latest check results.
type Health interface {
	// Events delivers every change of verdict, latest state first: a slow
	// reader sees the newest one.
	Events() <-chan HealthEvent
	// Checks returns each check's latest result.
	Checks() []control.HealthCheck
}

// HealthEvent is one verdict of the tracker.
type HealthEvent struct {
	Healthy bool
	Reason  string // why unhealthy
}

// effectivePriority is the configured priority, lowered by health.weight
// while HAProxy is unhealthy, clamped to 1..254.
func (in *instance) effectivePriority() uint8 {
	p := in.cfg.Priority
	if !in.healthy {
		p += in.weight
	}
	return uint8(min(max(p, 1), 254))
}

// healthChanged applies a verdict. An unhealthy master does not merely
// advertise its lower priority: a backup would discard that and wait a full
// Master_Down. It resigns (priority-0 adverts, so a healthy peer takes over
// after Skew_Time) and stays backup with the lowered priority; if no peer
// takes over it becomes master again after Master_Down and stays.
func (in *instance) healthChanged(now time.Time, ev HealthEvent) {
	if ev.Healthy == in.healthy && ev.Reason == in.healthWhy {
		return
	}
	was := in.healthy
	in.healthy, in.healthWhy = ev.Healthy, ev.Reason
	if ev.Healthy != was {
		in.healthSince = now
	}
	prio := in.effectivePriority()
	if ev.Healthy {
		if !was {
			in.log.Info("haproxy healthy again", "priority", prio)
		}
	} else {
		in.log.Warn("haproxy unhealthy", "reason", ev.Reason, "priority", prio, "state", in.r.State().String())
	}
	in.step(now, fsm.SetPriority{Priority: prio})
	if !ev.Healthy && was && in.r.State() == fsm.Master {
		in.step(now, fsm.Resign{Reason: "haproxy unhealthy: " + ev.Reason})
	}
	in.notifier.Status(in.statusLine())
}

func (in *instance) healthStatus() *control.Health {
	return &control.Health{
		Healthy: in.healthy,
		Reason:  in.healthWhy,
		Since:   in.healthSince,
		Checks:  in.health.Checks(),
	}
}

// trackerHealth runs a healthcheck.Tracker for the instance.
type trackerHealth struct {
	t  *healthcheck.Tracker
	ch chan HealthEvent
}

// startHealth starts the tracker; it runs until ctx ends.
func startHealth(ctx context.Context, c config.Health, log *slog.Logger) (*trackerHealth, error) {
	t, err := healthcheck.New(healthcheck.Config{
		Interval: c.Interval,
		Fall:     c.Fall,
		Rise:     c.Rise,
		HAProxy: healthcheck.HAProxyConfig{
			Socket:       c.HAProxy.Socket,
			Backends:     c.HAProxy.Backends,
			MinServersUp: c.HAProxy.MinServersUp,
			SystemdUnit:  c.HAProxy.SystemdUnit,
		},
	}, log.With("component", "health"))
	if err != nil {
		return nil, fmt.Errorf("health: %w", err)
	}
	h := &trackerHealth{t: t, ch: make(chan HealthEvent)}
	events := make(chan healthcheck.Event)
	go func() {
		if err := t.Run(ctx, events); err != nil {
			log.Error("health tracker stopped", "err", err)
		}
	}()
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case ev := <-events:
				select {
				case h.ch <- HealthEvent{Healthy: ev.Healthy, Reason: ev.Reason}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return h, nil
}

func (h *trackerHealth) Events() <-chan HealthEvent { return h.ch }

func (h *trackerHealth) Checks() []control.HealthCheck {
	snap := h.t.Snapshot()
	out := make([]control.HealthCheck, len(snap.Checks))
	for i, c := range snap.Checks {
		out[i] = control.HealthCheck{Name: c.Name, OK: c.OK, Detail: c.Detail, At: c.At}
	}
	return out
}
