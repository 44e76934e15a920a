package appliance

import (
	"context"
	"time"

	"github.com/proxypair/proxypair/appliance/control"
	"github.com/proxypair/proxypair/appliance/fsm"
)

// A reload can give the instance a new health tracker or a new cloud
// claimer without restarting it: the goroutines that feed the loop from
// them are stopped and started again here, on the loop.

// startHealth forwards the tracker's verdicts to the loop until stopHealth.
func (in *instance) startHealth() {
	if in.health == nil {
		return
	}
	ctx, cancel := context.WithCancel(in.effects)
	in.healthStop = cancel
	events := in.health.Events()
	go func() {
		for {
			select {
			case h := <-events:
				in.post(ctx, healthEvent{h})
			case <-ctx.Done():
				return
			}
		}
	}()
}

func (in *instance) stopHealth() {
	if in.healthStop != nil {
		in.healthStop()
		in.healthStop = nil
	}
}

// setHealth replaces the health tracker (nil: tracking off). The verdict
// stands until the new tracker gives its first; with tracking off the node
// counts as healthy.
func (in *instance) setHealth(now time.Time, h Health) {
	in.stopHealth()
	in.health = h
	in.startHealth()
	if h == nil && !in.healthy {
		in.healthy, in.healthWhy, in.healthSince = true, "", now
		in.step(now, fsm.Health{Healthy: true})
	}
	in.notifier.Status(in.statusLine())
}

// startClaims runs the cloud claim loop for the claimer, if any.
func (in *instance) startClaims() {
	if in.claimer == nil {
		return
	}
	ctx, cancel := context.WithCancel(in.effects)
	in.claimsStop = cancel
	in.cloud = control.Cloud{Provider: in.provider, State: control.ClaimIdle}
	in.claims = newClaims(in.claimer, in.provider, in.log.With("component", "cloud"),
		func(c control.Cloud) { in.post(ctx, cloudEvent{c}) })
	go in.claims.run(ctx)
	in.updateClaims()
}

func (in *instance) stopClaims() {
	if in.claimsStop != nil {
		in.claimsStop()
		in.claimsStop, in.claims = nil, nil
	}
}

// setClaimer replaces the cloud claimer (nil: no cloud). A new claimer
// claims what is held, if we are master, at once.
func (in *instance) setClaimer(c Claimer, provider string) {
	in.stopClaims()
	in.claimer, in.provider = c, provider
	in.startClaims()
}
