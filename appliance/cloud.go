package appliance

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/proxypair/proxypair/appliance/cloud/ncp"
	"github.com/proxypair/proxypair/appliance/config"
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
