package appliance

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/proxypair/proxypair/appliance/config"
	"github.com/proxypair/proxypair/appliance/control"
	"github.com/proxypair/proxypair/appliance/fsm"
)

func (in *instance) changed(now time.Time, c fsm.StateChanged) {
	in.since = now
	in.counts.transition(c)
	in.transitions = append(in.transitions, control.Transition{
		At: now, From: c.From.String(), To: c.To.String(), Reason: c.Reason.String(),
	})
	if n := len(in.transitions); n > maxTransitions {
		in.transitions = slices.Delete(in.transitions, 0, n-maxTransitions)
	}
	attrs := []any{"from", c.From.String(), "to", c.To.String(), "reason", c.Reason.String(), "priority", in.r.Priority()}
	if m := in.r.Master(); m.IsValid() {
		attrs = append(attrs, "master", m)
	}
	in.log.Info("state changed", attrs...)
	in.notifier.Status(in.statusLine())
	in.runHooks(now, c)
}

// statusLine is the one-line state systemd shows (STATUS=), at most
// maxStatusLine bytes.
func (in *instance) statusLine() string {
	line := in.r.State().String() + " prio " + itoa(int(in.r.Priority()))
	switch {
	case in.health == nil:
	case in.healthy:
		line += " haproxy ok"
	default:
		line += " haproxy DOWN: " + in.healthWhy
	}
	if m := in.maintenanceStatus(); m != nil {
		line += "; maintenance"
		if !m.Until.IsZero() {
			line += " until " + m.Until.UTC().Format("15:04:05Z")
		}
	}
	if p := in.vips.problem(); p != "" {
		line += "; " + p
	}
	if _, until := in.r.Held(time.Now()); !until.IsZero() {
		line += "; could not hold the VIPs: leaving them to the peer until " + until.UTC().Format("15:04:05Z")
	}
	return truncate(line, maxStatusLine)
}

// snapshot is the instance's part of the status document, from what the
// loop already knows (the keeper's last report for the VIPs): it makes no
// system call, so a status poll cannot stall the adverts.
func (in *instance) snapshot(now time.Time) control.Instance {
	st := control.Instance{
		Name:               in.cfg.InstanceName(),
		Interface:          in.cfg.Interface,
		VRID:               in.cfg.VRID,
		Version:            in.cfg.Version,
		State:              in.r.State().String(),
		Since:              in.since,
		ConfiguredPriority: in.cfg.Priority,
		EffectivePriority:  int(in.r.Priority()),
		AdvertInterval:     control.Duration(in.cfg.AdvertInterval),
		MasterAdverInt:     control.Duration(in.r.MasterAdverInterval()),
		Source:             in.src.String(),
		VIPs:               prefixStrings(in.cfg.VirtualIPs),
		VIPsHeld:           prefixStrings(in.vips.Held),
		VIPProblem:         in.vips.problem(),
		Link:               "up",
		AdvertsSent:        in.sent,
		AdvertsReceived:    in.received,
		Drops:              in.drops.snapshot(),
		Transitions:        slices.Clone(in.transitions),
		MasterAdvertAt:     in.counts.masterAdvertAt(in.r),
		Counters:           in.counts.snapshot(in.sendErrs, in.drops.authUnknown),
	}
	if _, until := in.r.Held(now); !until.IsZero() {
		st.PreemptHeldUntil = until
	}
	if m := in.r.Master(); m.IsValid() {
		st.Master = m.String()
	}
	switch {
	case !in.link.Exists:
		st.Link = "missing"
	case !in.linkUp:
		st.Link = "down"
	}
	if in.claims != nil {
		c := in.cloud
		st.Cloud = &c
	}
	if in.health != nil {
		st.Health = in.healthStatus()
	}
	st.Maintenance = in.maintenanceStatus()
	st.Heard = in.heard.snapshot()
	if t := in.lastResign; t != nil {
		c := *t
		st.LastResign = &c
	}
	if t := in.lastTakeover; t != nil {
		c := *t
		st.LastTakeover = &c
	}
	for _, p := range in.recv.peers {
		st.Peers = append(st.Peers, p.String())
	}
	return st
}

// reconfigure applies a reloaded config; the caller has kept the keys that
// need a restart at their running values.
func (in *instance) reconfigure(now time.Time, cfg config.VRRP, weight int) error {
	// Start-up refuses this too (openHost); only the running node knows
	// its source address.
	if slices.Contains(cfg.UnicastPeers, in.src) {
		return fmt.Errorf("vrrp.unicast_peers: %v is this node's own advert source: list the peer's address, not ours", in.src)
	}
	rc, err := newReceiver(cfg, in.src, in.drops)
	if err != nil {
		return err
	}
	reopen := (len(cfg.UnicastPeers) == 0) != (len(in.cfg.UnicastPeers) == 0)
	in.cfg, in.weight, in.recv = cfg, weight, rc
	in.keeper.setConfig(cfg.VirtualIPs, cfg.GARP)
	in.apply(now, in.r.Reconfigure(now, in.fsmConfig()))
	if reopen && in.conn != nil {
		// Multicast ↔ unicast: the sockets join the group or not.
		in.closeConn()
		in.linkChanged(now, in.link)
	}
	in.notifier.Status(in.statusLine())
	return nil
}

func prefixStrings(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

func itoa(n int) string { return strconv.Itoa(n) }

// truncate cuts s to at most n bytes, on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}
