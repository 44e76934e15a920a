package appliance

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/proxypair/proxypair/appliance/cloud/ncp"
	"github.com/proxypair/proxypair/appliance/config"
	"github.com/proxypair/proxypair/appliance/control"
)

// newClaimer returns the Claimer for cloud.provider, or nil when the network
// follows gratuitous ARP (no provider).
func newClaimer(c config.Cloud, iface string, log *slog.Logger) (*ncp.Claimer, error) {
	switch c.Provider {
	case "":
		return nil, nil
	case "ncp":
		cl, err := ncp.NewClaimer(ncp.Config{
			Site:               c.Site,
			Region:             c.Region,
			NetworkInterfaceNo: c.NetworkInterfaceNo,
			Device:             iface,
			AccessKey:          c.AccessKey,
			SecretKey:          c.SecretKey,
			APIBaseURL:         c.APIURL,
			MetadataBaseURL:    c.MetadataURL,
		}, log.With("cloud", "ncp"))
		if err != nil {
			return nil, fmt.Errorf("cloud: %w", err)
		}
		return cl, nil
	}
	return nil, fmt.Errorf("cloud.provider %q is not supported", c.Provider)
}

// prepareNCP checks the cloud set-up (keys, region, our NIC) in the
// background at start-up, so a broken one shows in the log now rather than
// at the first failover. It never delays VRRP.
func prepareNCP(ctx context.Context, c *ncp.Claimer, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	nic, err := c.Prepare(ctx)
	if err != nil {
		log.Error("cloud: NCP set-up check failed; failover will retry the API", "err", err)
		return
	}
	log.Info("cloud: NCP ready", "nic", nic.NetworkInterfaceNo, "ip", nic.IP, "secondary_ips", nic.SecondaryIPs,
		"credentials", c.CredentialsSource())
}

// Timings of the claim loop.
const (
	// verifyFirst is the first check after a claim: a request of the
	// peer's cancelled claim may still land after ours.
	verifyFirst = 5 * time.Second
	// verifyEvery is the periodic check while master (keepalived's #950:
	// nothing re-checked that the VIP is still routed here).
	verifyEvery = 30 * time.Second
	// verifySoonest bounds how often a hint (a lower-priority master
	// heard: split brain) may trigger an early check.
	verifySoonest = 5 * time.Second
	// claimRetryFirst and claimRetryMax bound the wait between claims that
	// failed for good (a Claim retries transient errors itself).
	claimRetryFirst = 5 * time.Second
	claimRetryMax   = time.Minute
)

// claims keeps the cloud routing the VIPs to us while we hold them as
// master, in its own goroutine: it claims them, verifies early and then
// periodically, claims again whatever the cloud routes elsewhere, and
// retries failed claims with backoff — a master never gives up. Leaving
// master cancels a running call. An announce (split brain) asks only for an
// early check: a running or just-made claim is never started again.
type claims struct {
	c      Claimer
	log    *slog.Logger
	report func(control.Cloud)

	mu     sync.Mutex // guards want and soon, set by the instance loop
	want   []netip.Addr
	soon   bool
	notify chan struct{}

	// Owned by the claims goroutine.
	st        control.Cloud
	claimed   []netip.Addr // covered by the last successful claim
	nextClaim time.Time    // no claim before (backoff after a failure)
	nextCheck time.Time    // the next verify
	retry     time.Duration
}

func newClaims(c Claimer, provider string, log *slog.Logger, report func(control.Cloud)) *claims {
	return &claims{c: c, log: log, report: report, notify: make(chan struct{}, 1),
		st: control.Cloud{Provider: provider, State: control.ClaimIdle}, retry: claimRetryFirst}
}

// set says which VIPs must be routed to us: the ones we hold while master,
// none otherwise. It never blocks.
func (c *claims) set(vips []netip.Addr) {
	c.mu.Lock()
	changed := !slices.Equal(c.want, vips)
	c.want = slices.Clone(vips)
	c.mu.Unlock()
	if changed {
		c.poke()
	}
}

// verifySoon asks for an early check (split brain: the other master may
// have claimed the VIPs); at most one per verifySoonest is made.
func (c *claims) verifySoon() {
	c.mu.Lock()
	c.soon = true
	c.mu.Unlock()
	c.poke()
}

func (c *claims) poke() {
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// callResult is what a Claim or Verify call running in its own goroutine
// reports.
type callResult struct {
	verify  bool
	vips    []netip.Addr
	claim   ncp.ClaimResult
	checked ncp.VerifyResult
	err     error
	ctxErr  error
}

// run keeps the routing true until ctx ends.
func (c *claims) run(ctx context.Context) {
	var (
		cancelCall context.CancelFunc // the running call; nil when none
		results    = make(chan callResult, 1)
		timer      = time.NewTimer(time.Hour)
	)
	defer timer.Stop()
	defer func() {
		if cancelCall != nil {
			cancelCall()
			<-results
		}
	}()
	for {
		c.mu.Lock()
		want, soon := slices.Clone(c.want), c.soon
		c.mu.Unlock()
		now := time.Now()
		wake := time.Duration(-1)
		switch {
		case len(want) == 0:
			if cancelCall != nil {
				cancelCall() // its result marks the claim cancelled
			} else if c.st.State != control.ClaimIdle && c.st.State != control.ClaimCancelled {
				c.setState(control.ClaimIdle, nil)
			}
			c.claimed, c.nextClaim, c.retry = nil, time.Time{}, claimRetryFirst
		case cancelCall != nil:
			// One call at a time: a verify during a half-done claim could
			// start a second claim.
		default:
			missing := without(want, c.claimed)
			if soon {
				// An early check, but not more than one per verifySoonest.
				if early := c.st.LastVerify.Add(verifySoonest); early.Before(c.nextCheck) {
					c.nextCheck = early
				}
			}
			switch {
			case len(missing) > 0 && !now.Before(c.nextClaim):
				cancelCall = c.start(ctx, results, false, missing)
			case len(missing) > 0:
				wake = c.nextClaim.Sub(now)
			case !now.Before(c.nextCheck):
				c.mu.Lock()
				c.soon = false
				c.mu.Unlock()
				cancelCall = c.start(ctx, results, true, want)
			default:
				wake = c.nextCheck.Sub(now)
			}
		}
		timer.Stop()
		if wake >= 0 {
			timer.Reset(wake)
		}
		select {
		case <-ctx.Done():
			return
		case <-c.notify:
		case <-timer.C:
		case r := <-results:
			cancelCall = nil
			c.finish(r)
		}
	}
}

// start runs one Claim (or Verify) of vips in its own goroutine.
func (c *claims) start(ctx context.Context, results chan<- callResult, verify bool, vips []netip.Addr) context.CancelFunc {
	callCtx, cancel := context.WithCancel(ctx)
	if !verify {
		c.log.Info("cloud: claiming VIPs", "provider", c.st.Provider, "vips", vips)
		c.setState(control.ClaimClaiming, func(s *control.Cloud) { s.LastAttempt, s.Error, s.NextTry = time.Now(), "", time.Time{} })
	}
	go func() {
		r := callResult{verify: verify, vips: vips}
		if verify {
			r.checked, r.err = c.c.Verify(callCtx, vips)
		} else {
			r.claim, r.err = c.c.Claim(callCtx, vips)
		}
		r.ctxErr = callCtx.Err()
		results <- r
	}()
	return cancel
}

// finish records a call's result and plans the next one.
func (c *claims) finish(r callResult) {
	now := time.Now()
	switch {
	case r.ctxErr != nil && !r.verify:
		c.setState(control.ClaimCancelled, func(s *control.Cloud) { s.Attempts = r.claim.Attempts })
	case r.ctxErr != nil:
	case r.verify && r.err != nil:
		c.log.Warn("cloud: checking the VIPs' routing failed; will check again", "provider", c.st.Provider, "err", r.err)
		c.setState(c.st.State, func(s *control.Cloud) { s.VerifyError, s.LastVerify = r.err.Error(), now })
		c.nextCheck = now.Add(verifyEvery)
	case r.verify:
		if len(r.checked.Missing) > 0 {
			c.log.Warn("cloud: the VIPs are routed elsewhere while we are master; claiming them again",
				"provider", c.st.Provider, "missing", r.checked.Missing)
			c.claimed = without(c.claimed, r.checked.Missing)
		}
		c.setState(c.st.State, func(s *control.Cloud) { s.VerifyError, s.LastVerify = "", now })
		c.nextCheck = now.Add(verifyEvery)
	case r.err != nil:
		c.log.Error("cloud: claiming VIPs failed; the network may still send VIP traffic to the peer",
			"provider", c.st.Provider, "attempts", r.claim.Attempts, "latency", r.claim.Latency, "retry_in", c.retry, "err", r.err)
		c.nextClaim = now.Add(c.retry)
		c.setState(control.ClaimRetrying, func(s *control.Cloud) {
			s.Attempts, s.Latency, s.Error, s.NextTry = r.claim.Attempts, control.Duration(r.claim.Latency), r.err.Error(), c.nextClaim
			s.Failures++
		})
		c.retry = min(2*c.retry, claimRetryMax)
	default:
		c.log.Info("cloud: VIPs claimed", "provider", c.st.Provider, "vips", r.vips, "attempts", r.claim.Attempts, "latency", r.claim.Latency)
		c.claimed = append(c.claimed, r.vips...)
		c.retry = claimRetryFirst
		c.nextCheck = now.Add(verifyFirst)
		c.setState(control.ClaimClaimed, func(s *control.Cloud) {
			s.Attempts, s.Latency, s.Error, s.Claims = r.claim.Attempts, control.Duration(r.claim.Latency), "", s.Claims+1
		})
	}
}

func (c *claims) setState(s control.ClaimState, f func(*control.Cloud)) {
	c.st.State = s
	if f != nil {
		f(&c.st)
	}
	c.report(c.st)
}

// without returns the addresses of a not in b.
func without(a, b []netip.Addr) []netip.Addr {
	var out []netip.Addr
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}
