package appliance

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	"github.com/proxypair/proxypair/appliance/cloud/ncp"
	"github.com/proxypair/proxypair/appliance/config"
	"github.com/proxypair/proxypair/appliance/control"
)

// newClaimer returns the Claimer for cloud.provider, or nil when the network
// follows gratuitous ARP (no provider).
func newClaimer(c config.Cloud, iface string, log *slog.Logger) (Claimer, error) {
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
		return ncpClaimer{cl}, nil
	}
	return nil, fmt.Errorf("cloud.provider %q is not supported", c.Provider)
}

// ncpClaimer adapts ncp.Claimer to Claimer.
type ncpClaimer struct{ c *ncp.Claimer }

func (n ncpClaimer) Claim(ctx context.Context, vips []netip.Addr) (ClaimResult, error) {
	r, err := n.c.Claim(ctx, vips)
	return ClaimResult{Attempts: r.Attempts, Latency: r.Latency}, err
}

// prepare checks the cloud set-up (keys, region, our NIC) in the
// background at start-up, so a broken one shows in the log now rather than
// at the first failover. It never delays VRRP.
func (n ncpClaimer) prepare(ctx context.Context, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	nic, err := n.c.Prepare(ctx)
	if err != nil {
		log.Error("cloud: NCP set-up check failed; failover will retry the API", "err", err)
		return
	}
	log.Info("cloud: NCP ready", "nic", nic.NetworkInterfaceNo, "ip", nic.IP, "secondary_ips", nic.SecondaryIPs,
		"credentials", n.c.CredentialsSource())
}

// claim moves the VIPs to us through the cloud API, in its own goroutine:
// VRRP goes on at its own pace however slow or down the API is. The result
// comes back to the loop through calls; a claim cancelled by leaving Master
// reports nothing.
func (in *instance) claim(now time.Time) {
	if in.claimer == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	in.stopClaim = cancel
	in.cloud.State, in.cloud.LastAttempt, in.cloud.Error = "claiming", now, ""
	vips := slices.Clone(in.expect.Addresses)
	in.log.Info("cloud: claiming VIPs", "provider", in.provider, "vips", vips)
	go func() {
		res, err := in.claimer.Claim(ctx, vips)
		select {
		case in.calls <- func() { in.claimed(ctx, res, err) }:
		case <-ctx.Done():
		}
	}()
}

func (in *instance) claimed(ctx context.Context, res ClaimResult, err error) {
	if ctx.Err() != nil {
		return // superseded or cancelled while the result was on its way
	}
	in.stopClaim = nil
	in.cloud.Attempts, in.cloud.Latency = res.Attempts, control.Duration(res.Latency)
	if err != nil {
		in.cloud.State, in.cloud.Error = "failed", err.Error()
		in.log.Error("cloud: claiming VIPs failed; the network may still send VIP traffic to the peer",
			"provider", in.provider, "attempts", res.Attempts, "latency", res.Latency, "err", err)
		return
	}
	in.cloud.State = "claimed"
	in.log.Info("cloud: VIPs claimed", "provider", in.provider, "attempts", res.Attempts, "latency", res.Latency)
}
