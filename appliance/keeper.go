package appliance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/proxypair/proxypair/appliance/config"
	"github.com/proxypair/proxypair/appliance/ifwatch"
	"github.com/proxypair/proxypair/appliance/vip"
)

// Reconcile timings of the keeper.
const (
	// resyncEvery is the slow periodic check behind the address events.
	resyncEvery = 10 * time.Second
	// retryFirst and retryMax bound the backoff of failed adds and deletes.
	retryFirst = 50 * time.Millisecond
	retryMax   = 2 * time.Second
	// holdBound is how long a master may fail to hold its VIPs before the
	// keeper reports that it cannot (the state machine then resigns).
	holdBound = time.Second
)

// vipState is what the keeper last saw of the VIPs on the interface.
type vipState struct {
	Wanted  []netip.Prefix // what the state machine wants there
	Held    []netip.Prefix // wanted and on the interface
	Missing []netip.Prefix // wanted and not on the interface
	Foreign []netip.Prefix // wanted and on the interface, but not put there by us
	Stale   []netip.Prefix // ours, not wanted, still there (a delete failing)
	Err     string         // the last add, delete or list failure, "" when converged
	// FailingSince is when the wanted VIPs stopped being all held; zero
	// while they are (or none are wanted).
	FailingSince time.Time
	// Failed: the VIPs could not be held for holdBound, or the error
	// cannot go away by retrying (no permission).
	Failed bool
	// AddedAt and FirstARPAt time the last VIP this sync added on a
	// takeover, and its first gratuitous ARP (zero: none added).
	AddedAt, FirstARPAt time.Time
}

// converged reports whether the interface holds exactly what is wanted.
func (s vipState) converged() bool {
	return len(s.Missing) == 0 && len(s.Stale) == 0 && s.Err == ""
}

// keeper makes the interface hold the VIPs the state machine wants, and
// keeps it so: level-triggered, like a controller. Every want, address
// event (hint), retry timer and slow periodic tick leads to one sync that
// lists the interface, adds what is missing (marked with our label),
// deletes what is ours and not wanted, and reports what it found. It also
// sends the gratuitous ARPs, only for addresses actually held: the first
// of a burst right after the add, the rest from a goroutine per address.
type keeper struct {
	addrs   AddrTable
	label   string
	openARP func() (ARP, error)
	garp    config.GARP
	log     *slog.Logger
	report  func(vipState) // posts to the instance loop

	poke chan struct{} // buffered 1: something to do

	mu         sync.Mutex     // guards the requests below, set by the loop
	configured []netip.Prefix // every VIP of the config, wanted or not
	wanted     []netip.Prefix
	announce   []netip.Addr // to announce once held
	quiet      bool         // keep the wanted VIPs, but announce nothing
	link       *ifwatch.Link

	// Owned by the keeper goroutine.
	arp          ARP            // nil until opened, or when the open failed
	owned        []netip.Prefix // added by us, or seen with our label, and not yet seen gone
	bursts       map[netip.Addr]context.CancelFunc
	lastWanted   []netip.Prefix
	failingSince time.Time
	backoff      time.Duration
	lastErrLog   map[string]time.Time
}

func newKeeper(addrs AddrTable, label string, openARP func() (ARP, error), garp config.GARP, log *slog.Logger, report func(vipState)) *keeper {
	return &keeper{
		addrs: addrs, label: label, openARP: openARP, garp: garp, log: log, report: report,
		poke:       make(chan struct{}, 1),
		bursts:     map[netip.Addr]context.CancelFunc{},
		lastErrLog: map[string]time.Time{},
	}
}

// want sets the VIPs that must be on the interface and which addresses to
// announce once they are. quiet keeps them but sends no gratuitous ARP at
// all — no burst still running, no re-announce — as while a master hands
// them over: one ARP from us after the new master's would take its clients
// back. It never blocks.
func (k *keeper) want(vips []netip.Prefix, announce []netip.Addr, quiet bool) {
	k.mu.Lock()
	k.wanted = slices.Clone(vips)
	k.quiet = quiet
	if quiet {
		k.announce = nil
	} else {
		k.announce = append(k.announce, announce...)
	}
	k.mu.Unlock()
	k.hint()
}

// setConfig sets the configured VIPs and the gratuitous-ARP settings (at
// start and on a reload).
func (k *keeper) setConfig(vips []netip.Prefix, g config.GARP) {
	k.mu.Lock()
	k.configured = slices.Clone(vips)
	k.garp = g
	k.mu.Unlock()
	k.hint()
}

// linkChanged tells the keeper the interface changed (re-created, new
// MAC): the ARP socket is opened again, and held VIPs announced again.
func (k *keeper) linkChanged(l ifwatch.Link) {
	k.mu.Lock()
	k.link = &l
	k.mu.Unlock()
	k.hint()
}

// hint asks for a sync: the addresses may have changed. It never blocks.
func (k *keeper) hint() {
	select {
	case k.poke <- struct{}{}:
	default:
	}
}

// run syncs until ctx ends. The caller waits for the final report of an
// empty want before it cancels ctx.
func (k *keeper) run(ctx context.Context) {
	defer k.stopBursts(nil)
	defer func() {
		if k.arp != nil {
			k.arp.Close()
		}
	}()
	tick := time.NewTicker(resyncEvery)
	defer tick.Stop()
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-k.poke:
		case <-tick.C:
		case <-retry.C:
		}
		if again := k.sync(time.Now()); again > 0 {
			retry.Reset(again)
		} else {
			retry.Stop()
		}
	}
}

// sync makes one pass and returns when to try again (0: only on the next
// event or tick).
func (k *keeper) sync(now time.Time) time.Duration {
	k.mu.Lock()
	wanted := slices.Clone(k.wanted)
	announce := k.announce
	k.announce = nil
	link := k.link
	k.link = nil
	garp := k.garp
	configured := k.configured
	quiet := k.quiet
	k.mu.Unlock()

	if link != nil {
		k.reopenARP()
		// A new MAC (or a new interface): every held VIP must be
		// announced again from it.
		announce = append(announce, addrsOf(wanted)...)
	}
	if quiet {
		announce = nil
	}

	var errs []error
	var permanent bool
	var timing vipState // the fast path's stamps
	// The fast path of a takeover: add what was not wanted before and
	// announce it, before spending a dump on the check.
	var added []netip.Addr
	for _, p := range wanted {
		if slices.Contains(k.lastWanted, p) {
			continue
		}
		if err := k.addrs.Add(p); err != nil {
			errs = append(errs, err)
			permanent = permanent || vip.Permanent(err)
			continue
		}
		addedAt := time.Now()
		added = append(added, p.Addr())
		if quiet {
			continue
		}
		k.arpNow(p.Addr())
		timing.AddedAt, timing.FirstARPAt = addedAt, time.Now()
	}
	k.lastWanted = wanted

	for _, p := range wanted {
		if !slices.Contains(k.owned, p) {
			k.owned = append(k.owned, p)
		}
	}
	st := vipState{Wanted: wanted, AddedAt: timing.AddedAt, FirstARPAt: timing.FirstARPAt}
	list, err := k.list()
	if err != nil {
		// We cannot see the interface (a dump interrupted again and
		// again): that is never "nothing to delete". Add everything
		// wanted again and delete everything of ours that is not (both
		// are idempotent, and Delete touches only our label); what the
		// kernel accepted counts as held until we can look.
		errs = append(errs, err)
		for _, p := range wanted {
			if err := k.addrs.Add(p); err != nil {
				errs = append(errs, err)
				permanent = permanent || vip.Permanent(err)
				st.Missing = append(st.Missing, p)
				continue
			}
			st.Held = append(st.Held, p)
		}
		for _, p := range k.owned {
			if slices.Contains(wanted, p) {
				continue
			}
			if err := k.addrs.Delete(p); err != nil {
				errs = append(errs, err)
				st.Stale = append(st.Stale, p)
			}
		}
	} else {
		changed := false
		for _, p := range wanted {
			switch a, ok := find(list, p); {
			case !ok:
				// Wanted and gone: never added, or removed behind our back
				// (ip addr del, networkd, a DHCP renewal).
				if !slices.Contains(added, p.Addr()) {
					k.logOnce(now, "readd", "a VIP is missing from the interface; adding it", "vip", p)
				}
				if err := k.addrs.Add(p); err != nil {
					errs = append(errs, err)
					permanent = permanent || vip.Permanent(err)
					continue
				}
				changed = true
				if !slices.Contains(added, p.Addr()) {
					added = append(added, p.Addr())
					if !quiet {
						k.arpNow(p.Addr())
					}
				}
			case a.Label != k.label:
				st.Foreign = append(st.Foreign, p)
			}
		}
		// A VIP that is not wanted here but on the interface all the same,
		// put there by someone else: not ours to remove, but another host
		// (or a tool) answers for it next to the master.
		for _, p := range configured {
			if slices.Contains(wanted, p) {
				continue
			}
			if slices.ContainsFunc(list, func(a vip.Addr) bool { return a.Prefix.Addr() == p.Addr() && a.Label != k.label }) {
				st.Foreign = append(st.Foreign, p)
			}
		}
		for _, a := range list {
			if a.Label != k.label || slices.Contains(wanted, a.Prefix) {
				continue
			}
			if err := k.addrs.Delete(a.Prefix); err != nil {
				errs = append(errs, err)
				continue
			}
			changed = true
		}
		if changed {
			// Check what the kernel made of it.
			if list, err = k.list(); err != nil {
				errs = append(errs, err)
			}
		}
		if err == nil {
			for _, p := range wanted {
				if _, ok := find(list, p); ok {
					st.Held = append(st.Held, p)
				} else {
					st.Missing = append(st.Missing, p)
				}
			}
			k.owned = k.owned[:0]
			for _, a := range list {
				if a.Label != k.label {
					continue
				}
				k.owned = append(k.owned, a.Prefix)
				if !slices.Contains(wanted, a.Prefix) {
					st.Stale = append(st.Stale, a.Prefix)
				}
			}
		} else {
			st.Missing = wanted
		}
	}

	// Announce only what is held; the rest waits until it is.
	k.stopBursts(func(a netip.Addr) bool {
		return quiet || !slices.ContainsFunc(wanted, func(p netip.Prefix) bool { return p.Addr() == a })
	})
	if quiet {
		added = nil // kept, not announced
	}
	var pending []netip.Addr
	// Without an ARP socket (it would not open) nothing can be announced:
	// what is held waits, like what is not, and the socket is tried again.
	noARP := (len(announce) > 0 || len(added) > 0) && !k.ensureARP(now)
	for _, a := range dedupe(announce) {
		held := slices.ContainsFunc(st.Held, func(p netip.Prefix) bool { return p.Addr() == a })
		switch {
		case noARP && (held || slices.Contains(added, a)):
			pending = append(pending, a)
		case slices.Contains(added, a):
			k.burst(a, garp, true)
		case held:
			k.arpNow(a)
			k.burst(a, garp, true)
		case slices.ContainsFunc(wanted, func(p netip.Prefix) bool { return p.Addr() == a }):
			pending = append(pending, a)
		}
	}
	for _, a := range added {
		switch {
		case slices.Contains(announce, a):
		case noARP:
			pending = append(pending, a)
		default:
			k.burst(a, garp, true) // re-added behind our back: tell the LAN again
		}
	}
	if len(pending) > 0 {
		k.mu.Lock()
		k.announce = append(pending, k.announce...)
		k.mu.Unlock()
	}

	if len(st.Foreign) > 0 {
		k.logOnce(now, "foreign", "VIPs are on the interface but proxypair did not put them there: it leaves them, and whoever did answers for them too",
			"vips", st.Foreign)
	}
	if len(errs) > 0 {
		st.Err = errors.Join(errs...).Error()
		k.logOnce(now, "err", "VIPs: the interface does not match; retrying", "err", st.Err,
			"missing", st.Missing, "stale", st.Stale)
	}
	if len(st.Missing) > 0 {
		if k.failingSince.IsZero() {
			k.failingSince = now
		}
		st.FailingSince = k.failingSince
		st.Failed = permanent || now.Sub(k.failingSince) >= holdBound
	} else {
		k.failingSince = time.Time{}
	}
	k.report(st)

	if st.converged() && len(pending) == 0 {
		k.backoff = 0
		return 0
	}
	k.backoff = min(max(2*k.backoff, retryFirst), retryMax)
	if !k.failingSince.IsZero() && !st.Failed {
		// Look again when the bound runs out, not a backoff later.
		if left := k.failingSince.Add(holdBound).Sub(now); left < k.backoff {
			return max(left, time.Millisecond)
		}
	}
	return k.backoff
}

// list lists the interface's addresses. An interface that does not exist
// (deleted, not yet created again) holds none: that is a complete answer,
// not a failure to look, so a node in FAULT without its interface neither
// retries nor warns, and a stop need not wait for it.
func (k *keeper) list() ([]vip.Addr, error) {
	list, err := k.addrs.List()
	if errors.Is(err, vip.ErrNoInterface) {
		return nil, nil
	}
	return list, err
}

// find returns the address with p's address and prefix length.
func find(list []vip.Addr, p netip.Prefix) (vip.Addr, bool) {
	for _, a := range list {
		if a.Prefix == p {
			return a, true
		}
	}
	return vip.Addr{}, false
}

func (k *keeper) reopenARP() {
	k.stopBursts(nil)
	if k.arp != nil {
		k.arp.Close()
		k.arp = nil
	}
	k.ensureARP(time.Now())
}

// ensureARP opens the gratuitous-ARP socket unless it is open, and reports
// whether it is. A failure (ENOBUFS, the link down for a moment) is logged
// at a bounded rate and tried again at the next use: it must not silence
// the node's ARPs until the interface changes.
func (k *keeper) ensureARP(now time.Time) bool {
	if k.arp != nil {
		return true
	}
	arp, err := k.openARP()
	if err != nil {
		if last, ok := k.lastErrLog["arp-open"]; !ok || now.Sub(last) >= logEvery {
			k.lastErrLog["arp-open"] = now
			k.log.Error("opening the gratuitous ARP socket failed; trying again", "err", err)
		}
		return false
	}
	k.arp = arp
	return true
}

// arpNow sends one gratuitous ARP for a at once.
func (k *keeper) arpNow(a netip.Addr) {
	if !k.ensureARP(time.Now()) {
		return
	}
	if err := k.arp.Send(a); err != nil {
		k.logOnce(time.Now(), "garp", "gratuitous ARP failed", "vip", a, "err", err)
	}
}

// burst starts the rest of a's gratuitous ARPs (keepalived's
// garp_master_repeat and garp_master_delay); the first was sent.
func (k *keeper) burst(a netip.Addr, g config.GARP, sentFirst bool) {
	if cancel, ok := k.bursts[a]; ok {
		cancel()
	}
	if k.arp == nil || g.Repeat == 0 {
		delete(k.bursts, a)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	k.bursts[a] = cancel
	go announce(ctx, k.arp, []netip.Addr{a}, g, sentFirst, k.log)
}

// stopBursts cancels the bursts of the addresses drop selects (nil: all).
func (k *keeper) stopBursts(drop func(netip.Addr) bool) {
	for a, cancel := range k.bursts {
		if drop == nil || drop(a) {
			cancel()
			delete(k.bursts, a)
		}
	}
}

// logOnce logs a repeated problem at most once per logEvery.
func (k *keeper) logOnce(now time.Time, kind, msg string, attrs ...any) {
	if last, ok := k.lastErrLog[kind]; ok && now.Sub(last) < logEvery {
		return
	}
	k.lastErrLog[kind] = now
	k.log.Warn(msg, attrs...)
}

func addrsOf(ps []netip.Prefix) []netip.Addr {
	out := make([]netip.Addr, len(ps))
	for i, p := range ps {
		out[i] = p.Addr()
	}
	return out
}

func dedupe(as []netip.Addr) []netip.Addr {
	var out []netip.Addr
	for _, a := range as {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// describeVIPs is the one-line VIP problem for status and STATUS=, "" when
// there is none.
func (s vipState) problem() string {
	switch {
	case len(s.Missing) > 0 && s.Err != "":
		return fmt.Sprintf("VIPs %v not held: %s", s.Missing, s.Err)
	case len(s.Missing) > 0:
		return fmt.Sprintf("VIPs %v not held", s.Missing)
	case len(s.Stale) > 0:
		return fmt.Sprintf("VIPs %v still on the interface: %s", s.Stale, s.Err)
	case len(s.Foreign) > 0:
		return fmt.Sprintf("VIPs %v are on the interface but were not put there by proxypair", s.Foreign)
	}
	return ""
}
