package appliance

import (
	"context"
	"log/slog"
	"net/netip"
	"time"

	"github.com/proxypair/proxypair/appliance/config"
)

// announce sends the gratuitous ARPs for a new master: a burst of
// g.Repeat per VIP at once, then another burst after g.Delay (keepalived's
// garp_master_repeat and garp_master_delay). It runs in its own goroutine
// and stops when ctx ends, which the keeper does when the VIPs go. The
// caller has already sent the first ARP of the first burst (sentFirst), so
// that one goes out before anything else.
func announce(ctx context.Context, arp ARP, vips []netip.Addr, g config.GARP, sentFirst bool, log *slog.Logger) {
	burst := func(skip int) bool {
		for i := range g.Repeat {
			if i < skip {
				continue
			}
			if i > 0 && g.Interval > 0 && !wait(ctx, g.Interval) {
				return false
			}
			for _, v := range vips {
				if ctx.Err() != nil {
					return false
				}
				if err := arp.Send(v); err != nil {
					log.Warn("gratuitous ARP failed", "vip", v, "err", err)
				}
			}
		}
		return true
	}
	first := 0
	if sentFirst {
		first = 1
	}
	if !burst(first) || g.Delay <= 0 {
		return
	}
	if wait(ctx, g.Delay) {
		burst(0)
	}
}

// wait waits for d or until ctx ends; it reports whether d passed.
func wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
