package ncp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
)

// Config configures a Claimer. Only Device (or NetworkInterfaceNo) is
// required on a VPC server with a Server Role; everything else has a default.
type Config struct {
	Site               string // "public" (default), "gov", "fin"
	Region             string // default: regionCode from metadata
	NetworkInterfaceNo string // default: looked up with getNetworkInterfaceList(instance, Device)
	Device             string // the VRRP interface name, e.g. "eth1"

	// AccessKey and SecretKey are explicit API keys. When both are empty the
	// keys come from NCLOUD_ACCESS_KEY / NCLOUD_SECRET_KEY, and when those
	// are empty too, from the server's Server Role.
	AccessKey, SecretKey string

	APIBaseURL      string        // overrides the site's API gateway (tests)
	MetadataBaseURL string        // overrides http://169.254.169.254 (tests)
	Timeout         time.Duration // per HTTP call; default 5s
}

// Backoff and confirmation defaults. The backoff is short at first because
// every retry is outage time for the VIP, and capped because throttling is
// per account and lasts seconds.
const (
	DefaultBackoffInitial  = 200 * time.Millisecond
	DefaultBackoffMax      = 5 * time.Second
	DefaultConfirmInterval = 500 * time.Millisecond
	DefaultConfirmPolls    = 20
)

// DefaultAuthRetries is how many times one Claim fetches fresh Server Role
// keys and tries again after the gateway rejected the keys it used. One
// refresh replaces keys rotated before their expiry; a second covers new keys
// the gateway did not accept yet. Keys rejected after that will not be
// accepted by more tries.
const DefaultAuthRetries = 2

// Option changes how a Claimer works; tests use them to inject the clock, the
// sleeper and the randomness.
type Option func(*options)

type options struct {
	httpClient     *http.Client
	now            func() time.Time
	sleep          func(context.Context, time.Duration) error
	rand           func() float64
	getenv         func(string) string
	credentials    CredentialsProvider
	backoffInitial time.Duration
	backoffMax     time.Duration
	confirmEvery   time.Duration
	confirmPolls   int
	refreshEarly   time.Duration
}

// WithHTTPClient sets the HTTP client for API gateway calls (not for the
// metadata service, which never goes through a proxy).
func WithHTTPClient(hc *http.Client) Option { return func(o *options) { o.httpClient = hc } }

// WithClock sets the clock used for request timestamps, credential expiry and
// latencies.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithSleep sets how the Claimer waits between tries. sleep must return
// ctx.Err() early when ctx ends.
func WithSleep(sleep func(ctx context.Context, d time.Duration) error) Option {
	return func(o *options) { o.sleep = sleep }
}

// WithRand sets the jitter source: a function returning values in [0, 1).
func WithRand(f func() float64) Option { return func(o *options) { o.rand = f } }

// WithGetenv sets how NCLOUD_ACCESS_KEY / NCLOUD_SECRET_KEY are read.
func WithGetenv(getenv func(string) string) Option { return func(o *options) { o.getenv = getenv } }

// WithCredentials replaces the credentials chain (config, env, Server Role).
func WithCredentials(p CredentialsProvider) Option { return func(o *options) { o.credentials = p } }

// WithBackoff sets the first retry delay and the cap of the exponential
// backoff. Each delay is jittered between half and all of its value.
func WithBackoff(initial, max time.Duration) Option {
	return func(o *options) { o.backoffInitial, o.backoffMax = initial, max }
}

// WithConfirm sets how Claim confirms an assignment: up to polls
// getNetworkInterfaceList calls, interval apart, before it assigns again.
// polls = 0 turns confirmation off: Claim returns once assignSecondaryIps
// succeeded.
func WithConfirm(interval time.Duration, polls int) Option {
	return func(o *options) { o.confirmEvery, o.confirmPolls = interval, polls }
}

// WithRefreshEarly sets how long before their expiry Server Role keys are
// fetched again (default 5 minutes).
func WithRefreshEarly(d time.Duration) Option { return func(o *options) { o.refreshEarly = d } }

// Claimer moves VIPs to this server's network interface through the NCP API.
// It is safe for concurrent use.
type Claimer struct {
	cfg    Config
	site   Site
	log    *slog.Logger
	o      options
	client *Client
	md     *Metadata
	creds  CredentialsProvider

	mu     sync.Mutex // guards region and nicNo, resolved on first use
	region string
	nicNo  string
}

// NewClaimer checks cfg and returns a Claimer. It does no I/O: the region, the
// NIC number and role keys are fetched on first use.
func NewClaimer(cfg Config, log *slog.Logger, opts ...Option) (*Claimer, error) {
	o := options{
		now:            time.Now,
		sleep:          sleepCtx,
		rand:           rand.Float64,
		getenv:         nil,
		backoffInitial: DefaultBackoffInitial,
		backoffMax:     DefaultBackoffMax,
		confirmEvery:   DefaultConfirmInterval,
		confirmPolls:   DefaultConfirmPolls,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	site, err := ParseSite(cfg.Site)
	if err != nil {
		return nil, err
	}
	cfg.Device = strings.TrimSpace(cfg.Device)
	cfg.NetworkInterfaceNo = strings.TrimSpace(cfg.NetworkInterfaceNo)
	cfg.Region = strings.TrimSpace(cfg.Region)
	if cfg.NetworkInterfaceNo == "" && cfg.Device == "" {
		return nil, errors.New("ncp: need the network interface number or the device name (e.g. eth1) to look it up")
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("ncp: timeout %v is negative", cfg.Timeout)
	}
	if o.backoffInitial <= 0 || o.backoffMax < o.backoffInitial {
		return nil, fmt.Errorf("ncp: backoff %v..%v is not a range", o.backoffInitial, o.backoffMax)
	}
	if o.confirmPolls < 0 || (o.confirmPolls > 0 && o.confirmEvery <= 0) {
		return nil, fmt.Errorf("ncp: confirmation every %v, %d times, is not valid", o.confirmEvery, o.confirmPolls)
	}

	md, err := NewMetadata(MetadataConfig{BaseURL: cfg.MetadataBaseURL, Now: o.now, Logger: log})
	if err != nil {
		return nil, err
	}
	creds := o.credentials
	if creds == nil {
		if creds, err = credentialChain(cfg, o, md); err != nil {
			return nil, err
		}
	}
	client, err := NewClient(ClientConfig{
		Site:        site,
		BaseURL:     cfg.APIBaseURL,
		Credentials: creds,
		HTTPClient:  o.httpClient,
		Timeout:     cfg.Timeout,
		Now:         o.now,
	})
	if err != nil {
		return nil, err
	}
	return &Claimer{
		cfg: cfg, site: site, log: log, o: o, client: client, md: md, creds: creds,
		region: cfg.Region, nicNo: cfg.NetworkInterfaceNo,
	}, nil
}

// credentialChain picks the keys: config, then the environment, then the
// Server Role. Half a key pair is an error, not a reason to fall through.
func credentialChain(cfg Config, o options, md *Metadata) (CredentialsProvider, error) {
	if cfg.AccessKey != "" || cfg.SecretKey != "" {
		return StaticCredentials(cfg.AccessKey, cfg.SecretKey, "config")
	}
	p, err := EnvCredentials(o.getenv)
	if err == nil {
		return p, nil
	}
	if !errors.Is(err, ErrNoCredentials) {
		return nil, err
	}
	return NewServerRoleProvider(md, o.now, o.refreshEarly), nil
}

// Client returns the API client the Claimer uses.
func (c *Claimer) Client() *Client { return c.client }

// CredentialsSource names where the API keys come from: "config", "env" or
// "server-role".
func (c *Claimer) CredentialsSource() string { return c.creds.Source() }

// ErrNICNotFound means getNetworkInterfaceList has no NIC for this server
// and device.
var ErrNICNotFound = errors.New("ncp: network interface not found")

// Prepare resolves the region and our NIC now (Claim does it on first use)
// and returns the NIC as the API describes it. Its calls check the keys, the
// region and the NIC number, so the daemon can report a broken setup at
// startup rather than at the first failover. It does not retry.
func (c *Claimer) Prepare(ctx context.Context) (NetworkInterface, error) {
	region, nicNo, err := c.resolve(ctx)
	if err != nil {
		return NetworkInterface{}, err
	}
	return c.getNIC(ctx, region, nicNo)
}

// resolve returns the region and our NIC number, from the config, the cache,
// or metadata and the API.
func (c *Claimer) resolve(ctx context.Context) (region, nicNo string, err error) {
	c.mu.Lock()
	region, nicNo = c.region, c.nicNo
	c.mu.Unlock()
	if region == "" {
		if region, err = c.md.RegionCode(ctx); err != nil {
			return "", "", fmt.Errorf("ncp: region from metadata: %w", err)
		}
		c.mu.Lock()
		c.region = region
		c.mu.Unlock()
	}
	if nicNo != "" {
		return region, nicNo, nil
	}
	instance, err := c.md.ServerInstanceNo(ctx)
	if err != nil {
		return "", "", fmt.Errorf("ncp: server instance from metadata: %w", err)
	}
	nics, err := c.client.GetNetworkInterfaceList(ctx, NetworkInterfaceFilter{
		Region: region, InstanceNo: instance, DeviceName: c.cfg.Device,
	})
	if err != nil {
		return "", "", err
	}
	// Filter again here: a gateway that ignored a filter must not make us
	// claim the VIP for someone else's NIC.
	var found []NetworkInterface
	for _, n := range nics {
		if n.DeviceName == c.cfg.Device && n.InstanceNo == instance {
			found = append(found, n)
		}
	}
	switch len(found) {
	case 0:
		return "", "", fmt.Errorf("%w: no %s on server instance %s in region %s", ErrNICNotFound, c.cfg.Device, instance, region)
	case 1:
	default:
		return "", "", fmt.Errorf("ncp: %d network interfaces are %s of server instance %s; set the number in the config", len(found), c.cfg.Device, instance)
	}
	nicNo = found[0].NetworkInterfaceNo
	c.log.Info("ncp: found our network interface", "iface", c.cfg.Device, "nic", nicNo, "instance", instance, "region", region)
	c.mu.Lock()
	c.nicNo = nicNo
	c.mu.Unlock()
	return region, nicNo, nil
}

func (c *Claimer) getNIC(ctx context.Context, region, nicNo string) (NetworkInterface, error) {
	nics, err := c.client.GetNetworkInterfaceList(ctx, NetworkInterfaceFilter{Region: region, NetworkInterfaceNos: []string{nicNo}})
	if err != nil {
		return NetworkInterface{}, err
	}
	for _, n := range nics {
		if n.NetworkInterfaceNo == nicNo {
			return n, nil
		}
	}
	return NetworkInterface{}, fmt.Errorf("%w: %s in region %s", ErrNICNotFound, nicNo, region)
}

// ClaimResult says what a Claim did.
type ClaimResult struct {
	NetworkInterfaceNo string
	VIPs               []netip.Addr
	Attempts           int  // assignSecondaryIps calls made
	Polls              int  // confirming getNetworkInterfaceList calls made
	Confirmed          bool // our NIC listed every VIP afterwards
	KeyRefreshes       int  // fresh Server Role keys fetched after the gateway rejected ours
	// AssignLatency is from the start of Claim until the last
	// assignSecondaryIps call succeeded; Latency until Claim returned.
	AssignLatency time.Duration
	Latency       time.Duration
}

// Claim makes vips secondary IPs of our NIC. allowReassign=true takes them
// from the peer's NIC in one call. Claim retries with capped exponential
// backoff and jitter on retryable errors (throttling, 5xx, network) until ctx
// is cancelled, confirms with getNetworkInterfaceList until our NIC lists
// every VIP (assigning again if it does not), and returns what it did. Every
// HTTP request uses ctx, so cancelling ctx (leaving master) stops Claim
// promptly.
//
// When the gateway rejects Server Role keys (they may have been rotated
// before their expiry), Claim fetches fresh ones and tries again at once, up
// to DefaultAuthRetries times (later refreshes after the backoff). Keys still
// rejected then, and fixed keys (config, environment) at the first rejection,
// end Claim with an error wrapping ErrCredentialsRejected and the *APIError.
// Any other error that is not retryable (bad NIC, refused VIP) ends it at
// once.
func (c *Claimer) Claim(ctx context.Context, vips []netip.Addr) (ClaimResult, error) {
	start := c.o.now()
	res := ClaimResult{}
	finish := func(err error) (ClaimResult, error) {
		res.Latency = c.o.now().Sub(start)
		return res, err
	}
	vips, err := normalizeVIPs(vips)
	if err != nil {
		return finish(err)
	}
	res.VIPs = vips

	pending := slices.Clone(vips)
	var lastErr error
	failures := 0
	for {
		if err := ctx.Err(); err != nil {
			return finish(c.stopped(&res, err, lastErr))
		}
		err := c.claimOnce(ctx, &res, &pending, start)
		if err == nil {
			c.log.Info("ncp: VIPs claimed", "nic", res.NetworkInterfaceNo, "vips", vips,
				"attempts", res.Attempts, "confirmed", res.Confirmed, "latency", c.o.now().Sub(start))
			return finish(nil)
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return finish(c.stopped(&res, ctxErr, lastErr))
		}
		lastErr = err
		var d time.Duration // until the next try; 0 = at once
		switch {
		case authFailure(err):
			if res.KeyRefreshes == DefaultAuthRetries || !c.refreshable() {
				err = c.keysRejected(err, res.KeyRefreshes)
				c.log.Error("ncp: claiming VIPs failed", "nic", res.NetworkInterfaceNo, "vips", vips,
					"attempts", res.Attempts, "reason", err.Error())
				return finish(err)
			}
			// The client dropped the rejected keys, so the next call
			// fetches fresh ones. The first retry goes at once: rotated
			// keys are the likely cause, and every delay is outage.
			res.KeyRefreshes++
			if res.KeyRefreshes > 1 {
				d = c.backoff(failures, err)
				failures++
			}
			c.log.Warn("ncp: the API gateway rejected the "+c.creds.Source()+" keys; retrying with fresh ones",
				"nic", res.NetworkInterfaceNo, "vips", vips, "refresh", res.KeyRefreshes, "retry_in", d, "reason", err.Error())
		case errors.Is(err, errNotConfirmed):
			d = c.backoff(failures, err)
			failures++
			c.log.Warn("ncp: our NIC does not list the VIPs after assigning; assigning again",
				"nic", res.NetworkInterfaceNo, "vips", pending, "polls", res.Polls, "retry_in", d)
		case Retryable(err):
			d = c.backoff(failures, err)
			failures++
			c.log.Warn("ncp: claiming VIPs failed; retrying", "nic", res.NetworkInterfaceNo, "vips", vips,
				"attempts", res.Attempts, "retry_in", d, "reason", err.Error())
		default:
			c.log.Error("ncp: claiming VIPs failed", "nic", res.NetworkInterfaceNo, "vips", vips,
				"attempts", res.Attempts, "reason", err.Error())
			return finish(err)
		}
		if d > 0 {
			if err := c.o.sleep(ctx, d); err != nil {
				return finish(c.stopped(&res, err, lastErr))
			}
		}
	}
}

// refreshable reports whether our keys can be replaced by fresh ones (Server
// Role keys can; keys from the config or the environment cannot).
func (c *Claimer) refreshable() bool {
	_, ok := c.creds.(invalidator)
	return ok
}

// keysRejected wraps a rejection of our keys, after refreshes fresh sets,
// into an error that says what to fix.
func (c *Claimer) keysRejected(err error, refreshes int) error {
	src := c.creds.Source()
	if !c.refreshable() {
		where := src
		switch src {
		case "config":
			where = "cloud.access_key and cloud.secret_key"
		case "env":
			where = EnvAccessKey + " and " + EnvSecretKey
		}
		return fmt.Errorf("%w: the keys from %s cannot be refreshed; fix them, or remove them to use the Server Role: %w",
			ErrCredentialsRejected, where, err)
	}
	return fmt.Errorf("%w: the %s keys were refreshed %d times and are still rejected; check the role's permission for assignSecondaryIps and getNetworkInterfaceList: %w",
		ErrCredentialsRejected, src, refreshes, err)
}

var errNotConfirmed = errors.New("ncp: our NIC does not list every VIP yet")

// claimOnce resolves our NIC, assigns the pending VIPs (removing each batch
// from pending once assigned) and confirms. It returns errNotConfirmed, with
// pending set to the missing VIPs, when the confirmation polls ran out.
func (c *Claimer) claimOnce(ctx context.Context, res *ClaimResult, pending *[]netip.Addr, start time.Time) error {
	region, nicNo, err := c.resolve(ctx)
	if err != nil {
		return err
	}
	res.NetworkInterfaceNo = nicNo
	for len(*pending) > 0 {
		batch := (*pending)[:min(len(*pending), MaxSecondaryIPsPerCall)]
		res.Attempts++
		_, err := c.client.AssignSecondaryIPs(ctx, AssignSecondaryIPsInput{
			Region: region, NetworkInterfaceNo: nicNo, IPs: batch, AllowReassign: true,
		})
		if err != nil && !c.alreadyOurs(ctx, err, region, nicNo, batch) {
			return err
		}
		*pending = (*pending)[len(batch):]
	}
	res.AssignLatency = c.o.now().Sub(start)
	if c.o.confirmPolls == 0 {
		return nil
	}
	missing, err := c.confirm(ctx, res, region, nicNo)
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		// The assignment succeeded; a policy that allows assigning but not
		// listing must not turn that into a failure.
		c.log.Warn("ncp: VIPs assigned but not confirmed: listing our NIC failed",
			"nic", nicNo, "vips", res.VIPs, "reason", err.Error())
		return nil
	}
	if len(missing) > 0 {
		*pending = missing
		return errNotConfirmed
	}
	res.Confirmed = true
	return nil
}

// alreadyOurs checks, after assignSecondaryIps refused a batch for a reason
// that retrying cannot fix, whether our NIC holds the batch already (NCP may
// refuse to assign an IP to the NIC that has it). Authentication failures are
// not checked: the list call would fail the same way.
func (c *Claimer) alreadyOurs(ctx context.Context, err error, region, nicNo string, batch []netip.Addr) bool {
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Retryable() || apiErr.AuthFailure() {
		return false
	}
	nic, lerr := c.getNIC(ctx, region, nicNo)
	if lerr != nil || !nic.HasSecondaryIPs(batch...) {
		return false
	}
	c.log.Info("ncp: assignSecondaryIps refused, but our NIC has the VIPs already",
		"nic", nicNo, "vips", batch, "reason", apiErr.Error())
	return true
}

// confirm polls our NIC until it lists every VIP, up to confirmPolls times.
// It returns the VIPs still missing after the last poll.
func (c *Claimer) confirm(ctx context.Context, res *ClaimResult, region, nicNo string) ([]netip.Addr, error) {
	missing := slices.Clone(res.VIPs)
	for i := range c.o.confirmPolls {
		if i > 0 {
			if err := c.o.sleep(ctx, c.o.confirmEvery); err != nil {
				return nil, err
			}
		}
		res.Polls++
		nic, err := c.getNIC(ctx, region, nicNo)
		if err != nil {
			if Retryable(err) {
				continue
			}
			return nil, err
		}
		missing = missing[:0:0]
		for _, v := range res.VIPs {
			if !nic.HasSecondaryIPs(v) {
				missing = append(missing, v)
			}
		}
		if len(missing) == 0 {
			return nil, nil
		}
	}
	return missing, nil
}

// VerifyResult is what Verify found: which VIPs our NIC lists as its
// secondary IPs, and so receives the VPC's traffic for.
type VerifyResult struct {
	NetworkInterfaceNo string       // our NIC
	Held               []netip.Addr // VIPs our NIC lists, in the order asked
	// Missing are the VIPs our NIC does not list: NCP routes them to another
	// NIC (the peer claimed them, or a late request of its cancelled claim
	// landed) or to none. Claim(ctx, Missing) takes them back.
	Missing []netip.Addr
}

// HoldsAll reports whether our NIC lists every VIP.
func (r VerifyResult) HoldsAll() bool { return len(r.Missing) == 0 }

// Verify asks NCP which of vips our NIC holds, with one
// getNetworkInterfaceList call for our NIC (the first use of a Claimer may
// also look up the region and our NIC, as Claim does). It is the master's
// periodic check that the VPC still routes the VIPs here.
//
// Verify does not retry and does not claim: the caller verifies on its own
// schedule and claims what is missing. Its errors are typed as Claim's
// (Retryable, *APIError's Throttled and AuthFailure). When the gateway rejects
// Server Role keys, the keys are dropped and the next call fetches fresh ones;
// fixed keys (config, environment) are reported wrapping
// ErrCredentialsRejected.
func (c *Claimer) Verify(ctx context.Context, vips []netip.Addr) (VerifyResult, error) {
	vips, err := normalizeVIPs(vips)
	if err != nil {
		return VerifyResult{}, err
	}
	region, nicNo, err := c.resolve(ctx)
	res := VerifyResult{NetworkInterfaceNo: nicNo}
	var nic NetworkInterface
	if err == nil {
		nic, err = c.getNIC(ctx, region, nicNo)
	}
	if err != nil {
		if authFailure(err) && !c.refreshable() {
			err = c.keysRejected(err, 0)
		}
		return res, fmt.Errorf("ncp: verifying the VIPs: %w", err)
	}
	for _, v := range vips {
		if nic.HasSecondaryIPs(v) {
			res.Held = append(res.Held, v)
		} else {
			res.Missing = append(res.Missing, v)
		}
	}
	c.log.Debug("ncp: verified the VIPs", "nic", nicNo, "held", res.Held, "missing", res.Missing)
	return res, nil
}

// stopped is the error of a Claim ended by its context: it wraps the context's
// error and the last failure, so both errors.Is(err, context.Canceled) and
// errors.As(err, &apiErr) work.
func (c *Claimer) stopped(res *ClaimResult, ctxErr, lastErr error) error {
	c.log.Info("ncp: claim stopped", "nic", res.NetworkInterfaceNo, "vips", res.VIPs, "attempts", res.Attempts, "reason", ctxErr.Error())
	if lastErr == nil {
		return fmt.Errorf("ncp: claim stopped after %d assignSecondaryIps calls: %w", res.Attempts, ctxErr)
	}
	return fmt.Errorf("ncp: claim stopped after %d assignSecondaryIps calls: %w (last error: %w)", res.Attempts, ctxErr, lastErr)
}

// backoff returns the delay before retry n (0-based): initial·2ⁿ capped at
// max, jittered into [d/2, d) so that retries do not march in step, and at
// least the gateway's Retry-After when it sent one (still capped).
func (c *Claimer) backoff(n int, err error) time.Duration {
	d := c.o.backoffMax
	if n < 32 {
		if e := c.o.backoffInitial << n; e > 0 && e < d {
			d = e
		}
	}
	d = d/2 + time.Duration(c.o.rand()*float64(d/2))
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.RetryAfter > d {
		d = min(apiErr.RetryAfter, c.o.backoffMax)
	}
	return d
}

// normalizeVIPs checks the VIPs, unmaps them and drops duplicates.
func normalizeVIPs(vips []netip.Addr) ([]netip.Addr, error) {
	if len(vips) == 0 {
		return nil, errors.New("ncp: no VIPs to claim")
	}
	out := make([]netip.Addr, 0, len(vips))
	for _, v := range vips {
		v = v.Unmap()
		if !v.Is4() {
			return nil, fmt.Errorf("ncp: VIP %v is not an IPv4 address (NCP secondary IPs are IPv4)", v)
		}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out, nil
}

// sleepCtx waits for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
