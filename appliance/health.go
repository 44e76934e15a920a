package appliance

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/proxypair/proxypair/appliance/config"
	"github.com/proxypair/proxypair/appliance/control"
	"github.com/proxypair/proxypair/appliance/fsm"
	"github.com/proxypair/proxypair/healthcheck"
)

// healthChanged applies a verdict: the state machine lowers the effective
// priority and, as master, resigns at once (priority-0 adverts first, so
// the healthy peer takes over after Skew_Time instead of Master_Down). The
// log and STATUS= come after the packets.
func (in *instance) healthChanged(now time.Time, ev healthcheck.Event) {
	if ev.Healthy == in.healthy && ev.Reason == in.healthWhy {
		return
	}
	was := in.healthy
	in.healthy, in.healthWhy = ev.Healthy, ev.Reason
	state := in.r.State()
	if !ev.Healthy && state == fsm.Master {
		in.lastResign = &control.ResignTiming{Detected: ev.At, Handled: now}
	}
	in.step(now, fsm.Health{Healthy: ev.Healthy})
	if ev.Healthy != was {
		in.healthSince = now
	}
	if ev.Healthy {
		if !was {
			in.log.Info("haproxy healthy again", "priority", in.r.Priority())
		}
	} else {
		in.log.Warn("haproxy unhealthy", "reason", truncate(ev.Reason, 512), "priority", in.r.Priority(), "state", state.String())
	}
	in.notifier.Status(in.statusLine())
}

// healthStatus is the verdict for the status document; the caller adds
// the tracker's per-check results off the loop.
func (in *instance) healthStatus() *control.Health {
	return &control.Health{Healthy: in.healthy, Reason: in.healthWhy, Since: in.healthSince}
}

// HealthSocketWarning says what happens when health tracking is on but
// nothing is at the HAProxy socket path ("" when the socket is there or
// tracking is off): the first-run trap of a node that never wins.
func HealthSocketWarning(cfg *config.Config) string {
	if !cfg.Health.Enabled {
		return ""
	}
	path := cfg.Health.HAProxy.Socket
	fi, err := os.Stat(path)
	if err == nil && fi.Mode()&os.ModeSocket != 0 {
		return ""
	}
	what := "does not exist"
	if err == nil {
		what = "is not a socket"
	}
	return fmt.Sprintf("%s %s: with health tracking on, HAProxy counts as down, so this node runs at priority %d and never wins the VIP. "+
		"Give HAProxy a runtime API socket for proxypair (haproxy.cfg: `stats socket %s mode 660 group proxypair level user`), "+
		"point health.haproxy.socket at the one it has, or set health.enabled: false",
		path, what, max(1, min(254, cfg.VRRP.Priority+cfg.Health.Weight)), path)
}

// trackerHealth runs a healthcheck.Tracker for the instance.
type trackerHealth struct {
	t      *healthcheck.Tracker
	events chan healthcheck.Event
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
	h := &trackerHealth{t: t, events: make(chan healthcheck.Event)}
	go func() {
		if err := t.Run(ctx, h.events); err != nil {
			log.Error("health tracker stopped", "err", err)
		}
	}()
	return h, nil
}

// Events delivers the tracker's verdicts (latest wins: Run never blocks on
// a slow reader).
func (h *trackerHealth) Events() <-chan healthcheck.Event { return h.events }

func (h *trackerHealth) Checks() []control.HealthCheck {
	snap := h.t.Snapshot()
	out := make([]control.HealthCheck, len(snap.Checks))
	for i, c := range snap.Checks {
		out[i] = control.HealthCheck{Name: c.Name, OK: c.OK, Detail: c.Detail, At: c.At, Duration: control.Duration(c.Duration)}
	}
	return out
}
