package fsm

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

// t0 is the virtual epoch of every scenario.
var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// noDeadline in a step's next field means NextDeadline must report none.
const noDeadline = time.Duration(-1)

var (
	addrLow  = netip.MustParseAddr("198.18.0.1")
	addrSelf = netip.MustParseAddr("198.18.0.2")
	addrHigh = netip.MustParseAddr("198.18.0.3")
)

// Exact timer values, written out so that a formula error cannot hide in
// a helper that repeats it.
const (
	// v2, 1 s: Skew = (256-100)/256 s, Master_Down = 3 s + Skew.
	v2p100Skew = 609375 * time.Microsecond
	v2p100Down = 3*time.Second + v2p100Skew // 3.609375 s
	// v2, 1 s, priority 200: Skew = 56/256 s.
	v2p200Down = 3*time.Second + 218750*time.Microsecond // 3.21875 s
	// v2, 1 s, priority 150: Skew = 106/256 s.
	v2p150Down = 3*time.Second + 414062500*time.Nanosecond // 3.4140625 s
	// v2, 3 s, priority 100.
	v2p100i3Down = 9*time.Second + v2p100Skew // 9.609375 s
	// v3, Master_Adver_Interval 50 ms, priority 100: Skew = 156*50ms/256.
	v3p100i50Skew = 30468750 * time.Nanosecond // 30.46875 ms
	v3p100i50Down = 150*time.Millisecond + v3p100i50Skew
	// v3, 200 ms, priority 100: Skew = 156*200ms/256 = 121.875 ms.
	v3p100i200Skew = 121875 * time.Microsecond
	v3p100i200Down = 600*time.Millisecond + v3p100i200Skew // 721.875 ms
	// v3, 100 ms, priority 100: Skew = 60.9375 ms.
	v3p100i100Down = 300*time.Millisecond + 60937500*time.Nanosecond
	// v3, 1 s, priority 100 (v3 with v2's numbers).
	v3p100i1sDown = v2p100Down
)

// reconfigure lets a scenario row call Router.Reconfigure.
type reconfigure struct{ c Config }

func (reconfigure) isInput() {}

// step is one row of a scenario: at virtual time at, step in, and expect
// exactly want, then state and the next deadline (offset from t0).
type step struct {
	at    time.Duration
	in    Input
	want  []Action
	state State
	next  time.Duration
	check func(t *testing.T, r *Router) // optional extra assertions
}

func v2Config(prio uint8) Config {
	return Config{Version: 2, Priority: prio, AdvertInterval: time.Second, Preempt: true, Addr: addrSelf}
}

func v3Config(prio uint8, iv time.Duration) Config {
	return Config{Version: 3, Priority: prio, AdvertInterval: iv, Preempt: true, Addr: addrSelf}
}

var (
	vipA = netip.MustParsePrefix("198.18.0.100/24")
	vipB = netip.MustParsePrefix("198.18.0.101/24")
	vipC = netip.MustParsePrefix("198.18.0.102/32")
)

func withVIPs(c Config, vips ...netip.Prefix) Config {
	c.VIPs = vips
	return c
}

// Action shorthands.
func changed(from, to State, why Reason) StateChanged {
	return StateChanged{From: from, To: to, Reason: why}
}
func send(p uint8) SendAdvert { return SendAdvert{Priority: p, Count: 1} }
func takeover(p uint8, why Reason) []Action {
	return []Action{send(p), AddVIPs{}, Announce{}, changed(Backup, Master, why)}
}

// takeoverVIPs is takeover for a config with VIPs.
func takeoverVIPs(p uint8, why Reason, vips ...netip.Prefix) []Action {
	as := make([]netip.Addr, len(vips))
	for i, v := range vips {
		as[i] = v.Addr()
	}
	return []Action{send(p), AddVIPs{VIPs: vips}, Announce{VIPs: as}, changed(Backup, Master, why)}
}
func adv(src netip.Addr, p uint8) AdvertReceived {
	return AdvertReceived{Src: src, Priority: p, Interval: time.Second}
}
func acts(a ...Action) []Action { return a }

func runScenario(t *testing.T, c Config, steps []step) *Router {
	t.Helper()
	r := New(c)
	for i, s := range steps {
		now := t0.Add(s.at)
		var got []Action
		if rc, ok := s.in.(reconfigure); ok {
			got = r.Reconfigure(now, rc.c)
		} else {
			got = r.Step(now, s.in)
		}
		where := fmt.Sprintf("step %d (at %v, %T%+v)", i, s.at, s.in, s.in)
		if !sameActions(got, s.want) {
			t.Fatalf("%s: actions\n got  %s\n want %s", where, fmtActions(got), fmtActions(s.want))
		}
		if r.State() != s.state {
			t.Fatalf("%s: state = %v, want %v", where, r.State(), s.state)
		}
		d, ok := r.NextDeadline()
		switch {
		case s.next == noDeadline && ok:
			t.Fatalf("%s: NextDeadline = %v, want none", where, d.Sub(t0))
		case s.next != noDeadline && !ok:
			t.Fatalf("%s: NextDeadline = none, want %v", where, s.next)
		case ok && !d.Equal(t0.Add(s.next)):
			t.Fatalf("%s: NextDeadline = %v, want %v", where, d.Sub(t0), s.next)
		}
		if s.check != nil {
			s.check(t, r)
			if t.Failed() {
				t.FailNow()
			}
		}
	}
	return r
}

func sameActions(a, b []Action) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return reflect.DeepEqual(a, b)
}

func fmtActions(as []Action) string {
	if len(as) == 0 {
		return "[]"
	}
	parts := make([]string, len(as))
	for i, a := range as {
		parts[i] = strings.TrimPrefix(fmt.Sprintf("%T%+v", a, a), "fsm.")
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// Assertion helpers for step.check.
func wantMaster(a netip.Addr) func(*testing.T, *Router) {
	return func(t *testing.T, r *Router) {
		t.Helper()
		if r.Master() != a {
			t.Errorf("Master() = %v, want %v", r.Master(), a)
		}
	}
}

func wantPriority(p uint8) func(*testing.T, *Router) {
	return func(t *testing.T, r *Router) {
		t.Helper()
		if r.Priority() != p {
			t.Errorf("Priority() = %d, want %d", r.Priority(), p)
		}
	}
}

// wantHeld checks whether preemption is held off at virtual time at.
func wantHeld(at time.Duration, h bool) func(*testing.T, *Router) {
	return func(t *testing.T, r *Router) {
		t.Helper()
		if got, _ := r.Held(t0.Add(at)); got != h {
			t.Errorf("Held(%v) = %v, want %v", at, got, h)
		}
	}
}

// wantYielding checks Router.Yielding.
func wantYielding(y bool) func(*testing.T, *Router) {
	return func(t *testing.T, r *Router) {
		t.Helper()
		if got := r.Yielding(); got != y {
			t.Errorf("Yielding() = %v, want %v", got, y)
		}
	}
}

// wantVIPs checks Router.VIPs.
func wantVIPs(want ...netip.Prefix) func(*testing.T, *Router) {
	return func(t *testing.T, r *Router) {
		t.Helper()
		if got := r.VIPs(); !reflect.DeepEqual(got, nilIfEmpty(want)) {
			t.Errorf("VIPs() = %v, want %v", got, want)
		}
	}
}

func nilIfEmpty(ps []netip.Prefix) []netip.Prefix {
	if len(ps) == 0 {
		return nil
	}
	return ps
}

func wantTimers(mai, skew, down time.Duration) func(*testing.T, *Router) {
	return func(t *testing.T, r *Router) {
		t.Helper()
		if got := r.MasterAdverInterval(); got != mai {
			t.Errorf("MasterAdverInterval() = %v, want %v", got, mai)
		}
		if got := r.SkewTime(); got != skew {
			t.Errorf("SkewTime() = %v, want %v", got, skew)
		}
		if got := r.MasterDownInterval(); got != down {
			t.Errorf("MasterDownInterval() = %v, want %v", got, down)
		}
	}
}

func all(fs ...func(*testing.T, *Router)) func(*testing.T, *Router) {
	return func(t *testing.T, r *Router) {
		t.Helper()
		for _, f := range fs {
			f(t, r)
		}
	}
}

// toMasterV2VIPs is toMasterV2 for a config with VIPs.
func toMasterV2VIPs(p uint8, down time.Duration, vips ...netip.Prefix) []step {
	return []step{
		{at: 0, in: Startup{}, want: acts(changed(Initialize, Backup, ReasonStartup)), state: Backup, next: down, check: wantVIPs()},
		{at: down, in: Timeout{}, want: takeoverVIPs(p, ReasonMasterDown, vips...), state: Master, next: down + time.Second, check: wantVIPs(vips...)},
	}
}

// toMasterV2 are the rows that bring a v2, 1 s router of priority p from
// Initialize to Master at its Master_Down_Interval.
func toMasterV2(p uint8, down time.Duration) []step {
	return []step{
		{at: 0, in: Startup{}, want: acts(changed(Initialize, Backup, ReasonStartup)), state: Backup, next: down},
		{at: down, in: Timeout{}, want: takeover(p, ReasonMasterDown), state: Master, next: down + time.Second},
	}
}

func rows(parts ...[]step) []step {
	var out []step
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestScenarios(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		steps []step
	}{
		{
			name: "v2 startup, Master_Down fires, Adver_Timer repeats",
			cfg:  v2Config(100),
			steps: []step{
				{at: 0, in: Startup{}, want: acts(changed(Initialize, Backup, ReasonStartup)), state: Backup, next: v2p100Down,
					check: all(wantTimers(time.Second, v2p100Skew, v2p100Down), wantMaster(netip.Addr{}))},
				{at: time.Second, in: Startup{}, want: nil, state: Backup, next: v2p100Down},
				{at: 2 * time.Second, in: Timeout{}, want: nil, state: Backup, next: v2p100Down}, // early: nothing
				{at: v2p100Down, in: Timeout{}, want: takeover(100, ReasonMasterDown), state: Master, next: v2p100Down + time.Second,
					check: wantMaster(addrSelf)},
				{at: 4 * time.Second, in: Timeout{}, want: nil, state: Master, next: v2p100Down + time.Second},
				{at: v2p100Down + time.Second, in: Timeout{}, want: acts(send(100)), state: Master, next: v2p100Down + 2*time.Second},
				// A late Timeout sends once and re-arms from now, without catching up.
				{at: v2p100Down + 5*time.Second, in: Timeout{}, want: acts(send(100)), state: Master, next: v2p100Down + 6*time.Second},
			},
		},
		{
			name: "backup accepts higher and equal priority and restarts Master_Down_Timer",
			cfg:  v2Config(100),
			steps: []step{
				{at: 0, in: Startup{}, want: acts(changed(Initialize, Backup, ReasonStartup)), state: Backup, next: v2p100Down},
				{at: time.Second, in: adv(addrHigh, 200), state: Backup, next: time.Second + v2p100Down, check: wantMaster(addrHigh)},
				{at: 2 * time.Second, in: adv(addrLow, 100), state: Backup, next: 2*time.Second + v2p100Down, check: wantMaster(addrLow)},
				{at: 5 * time.Second, in: Timeout{}, state: Backup, next: 2*time.Second + v2p100Down},
			},
		},
		{
			// The daemon's loop may read a packet after the deadline
			// passed but before it steps Timeout: the advert still counts.
			name: "advert stepped after the deadline, before Timeout, keeps us Backup",
			cfg:  v2Config(100),
			steps: []step{
				{at: 0, in: Startup{}, want: acts(changed(Initialize, Backup, ReasonStartup)), state: Backup, next: v2p100Down},
				{at: 4 * time.Second, in: adv(addrHigh, 200), state: Backup, next: 4*time.Second + v2p100Down},
				{at: 4 * time.Second, in: Timeout{}, state: Backup, next: 4*time.Second + v2p100Down},
			},
		},
		{
			name: "preempt: lower priority discarded, takeover is preempt_lower_priority",
			cfg:  v2Config(100),
			steps: []step{
				{at: 0, in: Startup{}, want: acts(changed(Initialize, Backup, ReasonStartup)), state: Backup, next: v2p100Down},
				{at: time.Second, in: adv(addrLow, 50), state: Backup, next: v2p100Down, check: wantMaster(addrLow)},
				{at: 2 * time.Second, in: adv(addrLow, 50), state: Backup, next: v2p100Down},
				{at: 3 * time.Second, in: adv(addrLow, 99), state: Backup, next: v2p100Down},
				{at: v2p100Down, in: Timeout{}, want: takeover(100, ReasonPreemptLower), state: Master, next: v2p100Down + time.Second},
			},
		},
		{
			name: "preempt off: lower priority accepted",
			cfg:  Config{Version: 2, Priority: 100, AdvertInterval: time.Second, Addr: addrSelf},
			steps: []step{
				{at: 0, in: Startup{}, want: acts(changed(Initialize, Backup, ReasonStartup)), state: Backup, next: v2p100Down},
				{at: time.Second, in: adv(addrLow, 50), state: Backup, next: time.Second + v2p100Down},
				{at: 4 * time.Second, in: adv(addrLow, 50), state: Backup, next: 4*time.Second + v2p100Down, check: wantMaster(addrLow)},
			},
		},
		{
			name: "priority 0 sets the timer to Skew_Time, takeover is peer_resigned",
			cfg:  v2Config(100),
			steps: []step{
				{at: 0, in: Startup{}, want: acts(changed(Initialize, Backup, ReasonStartup)), state: Backup, next: v2p100Down},
				{at: time.Second, in: adv(addrHigh, 200), state: Backup, next: time.Second + v2p100Down},
				{at: 2 * time.Second, in: adv(addrHigh, 0), state: Backup, next: 2*time.Second + v2p100Skew, check: wantMaster(netip.Addr{})},
				{at: 2*time.Second + v2p100Skew, in: Timeout{}, want: takeover(100, ReasonPeerResigned), state: Master,
					next: 3*time.Second + v2p100Skew},
			},
		},
		{
			name: "pair: the only backup takes over at once on priority 0, not after Skew_Time",
			cfg:  Config{Version: 2, Priority: 100, AdvertInterval: time.Second, Preempt: true, Addr: addrSelf, Pair: true},
			steps: []step{
				{at: 0, in: Startup{}, want: acts(changed(Initialize, Backup, ReasonStartup)), state: Backup, next: v2p100Down},
				{at: time.Second, in: adv(addrHigh, 200), state: Backup, next: time.Second + v2p100Down, check: wantMaster(addrHigh)},
				{at: 2 * time.Second, in: adv(addrHigh, 0), want: takeover(100, ReasonPeerResigned), state: Master, next: 3 * time.Second},
			},
		},
		{
			name: "pair: a non-zero priority, or no pair, keeps the RFC's rules",
			cfg:  v2Config(100),
			steps: []step{
				{at: 0, in: Startup{}, want: acts(changed(Initialize, Backup, ReasonStartup)), state: Backup, next: v2p100Down},
				{at: time.Second, in: adv(addrHigh, 0), state: Backup, next: time.Second + v2p100Skew},
			},
		},
		{
			name: "pair: held or unhealthy, the only backup still takes over: someone must be master",
			cfg:  Config{Version: 3, Priority: 100, AdvertInterval: 10 * time.Millisecond, Preempt: true, Addr: addrSelf, Pair: true, HealthWeight: -254},
			steps: []step{
				{at: 0, in: Startup{}, want: acts(changed(Initialize, Backup, ReasonStartup)), state: Backup, next: 36093750 * time.Nanosecond},
				{at: time.Millisecond, in: Health{Healthy: false}, state: Backup, next: 36093750 * time.Nanosecond},
				{at: 5 * time.Millisecond, in: AdvertReceived{Src: addrHigh, Priority: 0, Interval: 10 * time.Millisecond}, want: takeover(1, ReasonPeerResigned),
					state: Master, next: 15 * time.Millisecond},
			},
		},
		{
			name: "maintenance on a master: a planned hand-over, make before break, then a held backup at priority 1",
			cfg:  withVIPs(v2Config(200), vipA),
			steps: rows(toMasterV2VIPs(200, v2p200Down, vipA), []step{
				{at: 4 * time.Second, in: Maintenance{On: true, Until: t0.Add(60 * time.Second)},
					want:  acts(SendAdvert{Priority: 0, Count: 3}, changed(Master, HandingOver, ReasonMaintenance)),
					state: HandingOver, next: 5100 * time.Millisecond, check: all(wantPriority(1), wantVIPs(vipA))},
				// The peer's first advert as master, then its ARP: it holds the VIP.
				{at: 4609375 * time.Microsecond, in: adv(addrLow, 100), state: HandingOver, next: 5709375 * time.Microsecond, check: wantVIPs(vipA)},
				{at: 4609400 * time.Microsecond, in: PeerAnnounced{}, want: acts(DelVIPs{VIPs: []netip.Prefix{vipA}}, changed(HandingOver, Backup, ReasonPeerTookOver)),
					state: Backup, next: 4609400*time.Microsecond + 3*time.Second + 255*time.Second/256,
					check: all(wantVIPs(), wantMaster(addrLow), wantHeld(5*time.Second, true))},
				// Held: the lower-priority master is accepted, we never take it back.
				{at: 5609375 * time.Microsecond, in: adv(addrLow, 100), state: Backup, next: 5609375*time.Microsecond + 3*time.Second + 255*time.Second/256},
				// The end of maintenance is a deadline of its own.
				{at: 59 * time.Second, in: adv(addrLow, 100), state: Backup, next: 60 * time.Second},
				{at: 60 * time.Second, in: Timeout{}, state: Backup, next: 59*time.Second + 3*time.Second + 255*time.Second/256,
					check: all(wantPriority(200), wantHeld(60*time.Second, false))},
				{at: 61 * time.Second, in: adv(addrLow, 100), state: Backup, next: 59*time.Second + 3*time.Second + 255*time.Second/256},
				{at: 59*time.Second + 3*time.Second + 255*time.Second/256, in: Timeout{}, want: takeoverVIPs(200, ReasonPreemptLower, vipA), state: Master,
					next: 60*time.Second + 3*time.Second + 255*time.Second/256},
			}),
		},
		{
			name: "maintenance as backup: priority 1, held; the master dying still makes us master; ending it restores the priority",
			cfg:  v2Config(200),
			steps: []step{
				{at: 0, in: Startup{}, want: acts(changed(Initialize, Backup, ReasonStartup)), state: Backup, next: v2p200Down},
				{at: time.Second, in: Maintenance{On: true}, state: Backup, next: v2p200Down, check: all(wantPriority(1), wantHeld(time.Second, true))},
				{at: 2 * time.Second, in: adv(addrLow, 100), state: Backup, next: 5*time.Second + 255*time.Second/256},
				// The peer is gone: someone must serve.
				{at: 5*time.Second + 255*time.Second/256, in: Timeout{}, want: takeover(1, ReasonMasterDown), state: Master,
					next: 6*time.Second + 255*time.Second/256},
				{at: 7 * time.Second, in: Maintenance{On: false}, state: Master, next: 6*time.Second + 255*time.Second/256, check: wantPriority(200)},
			},
		},
		{
			// Found by FuzzRouter (testdata/fuzz/FuzzRouter/5a8bb991b8689726):
			// a maintenance whose end had passed left a deadline in the past.
			name: "maintenance that has already ended is none",
			cfg:  v2Config(200),
			steps: []step{
				{at: 9 * time.Second, in: Maintenance{On: true, Until: t0.Add(4 * time.Second)}, state: Initialize, next: noDeadline,
					check: all(wantPriority(200), wantHeld(9*time.Second, false))},
			},
		},
		{
			name: "a stop during a planned hand-over: the same wait, then the process ends",
			cfg:  withVIPs(v2Config(200), vipA),
			steps: rows(toMasterV2VIPs(200, v2p200Down, vipA), []step{
				{at: 4 * time.Second, in: Maintenance{On: true}, want: acts(SendAdvert{Priority: 0, Count: 3}, changed(Master, HandingOver, ReasonMaintenance)),
					state: HandingOver, next: 5100 * time.Millisecond},
				{at: 4200 * time.Millisecond, in: Shutdown{}, want: acts(changed(HandingOver, Stopping, ReasonShutdown)), state: Stopping, next: 5100 * time.Millisecond},
				{at: 5100 * time.Millisecond, in: Timeout{}, want: acts(DelVIPs{VIPs: []netip.Prefix{vipA}}, changed(Stopping, Initialize, ReasonNoPeer)),
					state: Initialize, next: noDeadline},
			}),
		},
		{
			name: "a link lost during a planned hand-over: FAULT",
			cfg:  withVIPs(v2Config(200), vipA),
			steps: rows(toMasterV2VIPs(200, v2p200Down, vipA), []step{
				{at: 4 * time.Second, in: Maintenance{On: true}, want: acts(SendAdvert{Priority: 0, Count: 3}, changed(Master, HandingOver, ReasonMaintenance)),
					state: HandingOver, next: 5100 * time.Millisecond},
				{at: 4200 * time.Millisecond, in: LinkDown{}, want: acts(DelVIPs{VIPs: []netip.Prefix{vipA}}, changed(HandingOver, Fault, ReasonLinkDown)),
					state: Fault, next: noDeadline, check: wantVIPs()},
				{at: 5 * time.Second, in: LinkUp{}, want: acts(changed(Fault, Backup, ReasonLinkUp)), state: Backup, next: 5*time.Second + 3*time.Second + 255*time.Second/256},
			}),
		},
		{
			name: "v3 timers at 50 ms, interval learning on accept and on stepping down",
			cfg:  v3Config(100, 50*time.Millisecond),
			steps: []step{
				{at: 0, in: Startup{}, want: acts(changed(Initialize, Backup, ReasonStartup)), state: Backup, next: v3p100i50Down,
					check: wantTimers(50*time.Millisecond, v3p100i50Skew, 180468750*time.Nanosecond)},
				// RFC 5798 §6.4.2 (450): the backup adopts the master's 200 ms.
				{at: 100 * time.Millisecond, in: AdvertReceived{Src: addrHigh, Priority: 200, Interval: 200 * time.Millisecond},
					state: Backup, next: 100*time.Millisecond + v3p100i200Down,
					check: wantTimers(200*time.Millisecond, v3p100i200Skew, v3p100i200Down)},
				// Priority 0: Skew_Time of the learned interval.
				{at: 300 * time.Millisecond, in: AdvertReceived{Src: addrHigh, Priority: 0, Interval: 200 * time.Millisecond},
					state: Backup, next: 300*time.Millisecond + v3p100i200Skew},
				{at: 300*time.Millisecond + v3p100i200Skew, in: Timeout{}, want: takeover(100, ReasonPeerResigned), state: Master,
					next: 350*time.Millisecond + v3p100i200Skew, check: wantTimers(50*time.Millisecond, v3p100i50Skew, v3p100i50Down)},
				// RFC 5798 §6.4.3 (745): stepping down learns the new master's
				// 100 ms; the VIPs stay (yielding) for at most two of them.
				{at: 500 * time.Millisecond, in: AdvertReceived{Src: addrHigh, Priority: 200, Interval: 100 * time.Millisecond},
					want: acts(changed(Master, Backup, ReasonPreempted)), state: Backup,
					next: 700*time.Millisecond + handOverMargin, check: wantMaster(addrHigh)},
				// An interval of 0 is never learned.
				{at: 600 * time.Millisecond, in: AdvertReceived{Src: addrHigh, Priority: 200},
					state: Backup, next: 700*time.Millisecond + handOverMargin},
				// Its third advert ends the yield.
				{at: 700 * time.Millisecond, in: AdvertReceived{Src: addrHigh, Priority: 200},
					want: acts(DelVIPs{}), state: Backup, next: 700*time.Millisecond + v3p100i100Down},
			},
		},
		{
			name: "v3 discarded lower priority does not teach its interval",
			cfg:  v3Config(100, time.Second),
			steps: []step{
				{at: 0, in: Startup{}, want: acts(changed(Initialize, Backup, ReasonStartup)), state: Backup, next: v3p100i1sDown},
				{at: time.Second, in: AdvertReceived{Src: addrLow, Priority: 50, Interval: 5 * time.Second}, state: Backup,
					next: v3p100i1sDown, check: wantTimers(time.Second, v2p100Skew, v3p100i1sDown)},
			},
		},
		{
			name: "v3 preempt off: lower priority accepted and its interval learned",
			cfg:  Config{Version: 3, Priority: 100, AdvertInterval: time.Second, Addr: addrSelf},
			steps: []step{
				{at: 0, in: Startup{}, want: acts(changed(Initialize, Backup, ReasonStartup)), state: Backup, next: v3p100i1sDown},
				{at: time.Second, in: AdvertReceived{Src: addrLow, Priority: 50, Interval: 200 * time.Millisecond}, state: Backup,
					next: time.Second + v3p100i200Down, check: wantTimers(200*time.Millisecond, v3p100i200Skew, v3p100i200Down)},
			},
		},
		{
			name: "v2 never learns the advertised interval",
			cfg:  v2Config(100),
			steps: []step{
				{at: 0, in: Startup{}, want: acts(changed(Initialize, Backup, ReasonStartup)), state: Backup, next: v2p100Down},
				{at: time.Second, in: AdvertReceived{Src: addrHigh, Priority: 200, Interval: 5 * time.Second}, state: Backup,
					next: time.Second + v2p100Down, check: wantTimers(time.Second, v2p100Skew, v2p100Down)},
			},
		},
		{
			name: "master: priority 0 answered at once, Adver_Timer restarts",
			cfg:  v2Config(100),
			steps: rows(toMasterV2(100, v2p100Down), []step{
				{at: 4 * time.Second, in: adv(addrLow, 0), want: acts(send(100)), state: Master, next: 5 * time.Second},
			}),
		},
		{
			name: "master: lower priority gets the split-brain heal (advert + ARP), state unchanged",
			cfg:  v2Config(100),
			steps: rows(toMasterV2(100, v2p100Down), []step{
				{at: 4 * time.Second, in: adv(addrHigh, 99), want: acts(send(100), Announce{Heal: true}), state: Master, next: 5 * time.Second},
				// Every lower advert is answered with an advert, but the
				// ARPs (and a cloud check) at most once per HealAnnounceEvery.
				{at: 4500 * time.Millisecond, in: adv(addrLow, 1), want: acts(send(100)), state: Master, next: 5500 * time.Millisecond},
				{at: 5500 * time.Millisecond, in: adv(addrLow, 1), want: acts(send(100)), state: Master, next: 6500 * time.Millisecond},
				{at: 6500 * time.Millisecond, in: adv(addrLow, 1), want: acts(send(100)), state: Master, next: 7500 * time.Millisecond},
				{at: 7500 * time.Millisecond, in: adv(addrLow, 1), want: acts(send(100)), state: Master, next: 8500 * time.Millisecond},
				{at: 8500 * time.Millisecond, in: adv(addrLow, 1), want: acts(send(100)), state: Master, next: 9500 * time.Millisecond},
				{at: 8999 * time.Millisecond, in: adv(addrLow, 1), want: acts(send(100)), state: Master, next: 9999 * time.Millisecond},
				{at: 9 * time.Second, in: adv(addrLow, 1), want: acts(send(100), Announce{Heal: true}), state: Master, next: 10 * time.Second},
				// Silence longer than Master_Down_Interval (3.609375 s), then
				// a lower master again: a new episode (another partition
				// healed) gets its ARPs at once, 4 s after the last ones.
				{at: 13 * time.Second, in: adv(addrLow, 1), want: acts(send(100), Announce{Heal: true}), state: Master, next: 14 * time.Second},
			}),
		},
		{
			name: "master: higher priority → backup, preempted; the VIPs stay until the new master announces them",
			cfg:  withVIPs(v2Config(100), vipA),
			steps: rows(toMasterV2VIPs(100, v2p100Down, vipA), []step{
				// Make before break: it sends this advert before it adds
				// the VIPs. We keep them (Yielding) two intervals at most.
				{at: 4 * time.Second, in: adv(addrLow, 101), want: acts(changed(Master, Backup, ReasonPreempted)),
					state: Backup, next: 6*time.Second + handOverMargin, check: all(wantMaster(addrLow), wantVIPs(vipA), wantYielding(true))},
				// Its gratuitous ARP: it holds them now.
				{at: 4*time.Second + time.Millisecond, in: PeerAnnounced{}, want: acts(DelVIPs{VIPs: []netip.Prefix{vipA}}),
					state: Backup, next: 4*time.Second + v2p100Down, check: all(wantVIPs(), wantYielding(false))},
				{at: 4*time.Second + 2*time.Millisecond, in: PeerAnnounced{}, state: Backup, next: 4*time.Second + v2p100Down},
			}),
		},
		{
			name: "preempted: nobody announces, the yield ends after two intervals",
			cfg:  withVIPs(v2Config(100), vipA),
			steps: rows(toMasterV2VIPs(100, v2p100Down, vipA), []step{
				{at: 4 * time.Second, in: adv(addrLow, 101), want: acts(changed(Master, Backup, ReasonPreempted)),
					state: Backup, next: 6*time.Second + handOverMargin, check: wantVIPs(vipA)},
				// Another router's advert does not end it; a priority-0
				// one from the new master does not either.
				{at: 4500 * time.Millisecond, in: adv(addrHigh, 50), state: Backup, next: 6*time.Second + handOverMargin, check: wantVIPs(vipA)},
				{at: 6*time.Second + handOverMargin, in: Timeout{}, want: acts(DelVIPs{VIPs: []netip.Prefix{vipA}}),
					state: Backup, next: 4*time.Second + v2p100Down, check: wantVIPs()},
			}),
		},
		{
			name: "preempted: the VIPs yielded go at once on a dead link",
			cfg:  withVIPs(v2Config(100), vipA),
			steps: rows(toMasterV2VIPs(100, v2p100Down, vipA), []step{
				{at: 4 * time.Second, in: adv(addrLow, 101), want: acts(changed(Master, Backup, ReasonPreempted)),
					state: Backup, next: 6*time.Second + handOverMargin, check: wantVIPs(vipA)},
				{at: 4100 * time.Millisecond, in: LinkDown{}, want: acts(DelVIPs{VIPs: []netip.Prefix{vipA}}, changed(Backup, Fault, ReasonLinkDown)),
					state: Fault, next: noDeadline, check: wantVIPs()},
			}),
		},
		{
			name: "preempted: a stop during the yield drops the VIPs at once",
			cfg:  withVIPs(v2Config(100), vipA),
			steps: rows(toMasterV2VIPs(100, v2p100Down, vipA), []step{
				{at: 4 * time.Second, in: adv(addrLow, 101), want: acts(changed(Master, Backup, ReasonPreempted)),
					state: Backup, next: 6*time.Second + handOverMargin, check: wantVIPs(vipA)},
				{at: 4100 * time.Millisecond, in: Shutdown{}, want: acts(DelVIPs{VIPs: []netip.Prefix{vipA}}, changed(Backup, Initialize, ReasonShutdown)),
					state: Initialize, next: noDeadline, check: all(wantVIPs(), wantYielding(false))},
			}),
		},
		{
			name: "preempted: a reload with a new VIP set ends the yield, dropping the old set",
			cfg:  withVIPs(v2Config(100), vipA),
			steps: rows(toMasterV2VIPs(100, v2p100Down, vipA), []step{
				{at: 4 * time.Second, in: adv(addrLow, 101), want: acts(changed(Master, Backup, ReasonPreempted)),
					state: Backup, next: 6*time.Second + handOverMargin, check: wantVIPs(vipA)},
				{at: 4100 * time.Millisecond, in: reconfigure{withVIPs(v2Config(100), vipB)}, want: acts(DelVIPs{VIPs: []netip.Prefix{vipA}}),
					state: Backup, next: 4*time.Second + v2p100Down, check: all(wantVIPs(), wantYielding(false))},
			}),
		},
		{
			name: "preempted: the new master resigns during the yield (pair) → master again, the VIPs never left",
			cfg:  withVIPs(Config{Version: 2, Priority: 100, AdvertInterval: time.Second, Preempt: true, Addr: addrSelf, Pair: true}, vipA),
			steps: rows(toMasterV2VIPs(100, v2p100Down, vipA), []step{
				{at: 4 * time.Second, in: adv(addrLow, 101), want: acts(changed(Master, Backup, ReasonPreempted)),
					state: Backup, next: 6*time.Second + handOverMargin, check: wantVIPs(vipA)},
				{at: 4100 * time.Millisecond, in: adv(addrLow, 0),
					want:  acts(send(100), Announce{VIPs: []netip.Addr{vipA.Addr()}}, changed(Backup, Master, ReasonPeerResigned)),
					state: Master, next: 5100 * time.Millisecond, check: all(wantVIPs(vipA), wantYielding(false))},
			}),
		},
		{
			name: "tie-break: equal priority from a higher address → backup",
			cfg:  v2Config(100),
			steps: rows(toMasterV2(100, v2p100Down), []step{
				{at: 4 * time.Second, in: adv(addrHigh, 100), want: acts(changed(Master, Backup, ReasonTieBreak)),
					state: Backup, next: 6*time.Second + handOverMargin, check: wantMaster(addrHigh)},
				// Its third advert: the VIPs go.
				{at: 5 * time.Second, in: adv(addrHigh, 100), state: Backup, next: 6*time.Second + handOverMargin},
				{at: 6 * time.Second, in: adv(addrHigh, 100), want: acts(DelVIPs{}),
					state: Backup, next: 6*time.Second + v2p100Down},
			}),
		},
		{
			name: "tie-break: equal priority from a lower address → we stay and heal",
			cfg:  v2Config(100),
			steps: rows(toMasterV2(100, v2p100Down), []step{
				{at: 4 * time.Second, in: adv(addrLow, 100), want: acts(send(100), Announce{Heal: true}), state: Master, next: 5 * time.Second},
			}),
		},
		{
			name: "our own advert looped back is ignored",
			cfg:  v2Config(100),
			steps: rows(toMasterV2(100, v2p100Down), []step{
				{at: 4 * time.Second, in: adv(addrSelf, 100), state: Master, next: v2p100Down + time.Second},
				{at: 4 * time.Second, in: adv(addrSelf, 0), state: Master, next: v2p100Down + time.Second},
			}),
		},
		{
			name: "shutdown from Initialize does nothing; adverts in Initialize are ignored",
			cfg:  v2Config(100),
			steps: []step{
				{at: 0, in: Shutdown{}, state: Initialize, next: noDeadline},
				{at: 0, in: adv(addrHigh, 0), state: Initialize, next: noDeadline},
				{at: 0, in: Timeout{}, state: Initialize, next: noDeadline},
				{at: 0, in: nil, state: Initialize, next: noDeadline},
			},
		},
		{
			name: "shutdown from Backup, then restart",
			cfg:  v2Config(100),
			steps: []step{
				{at: 0, in: Startup{}, want: acts(changed(Initialize, Backup, ReasonStartup)), state: Backup, next: v2p100Down},
				{at: time.Second, in: Shutdown{}, want: acts(changed(Backup, Initialize, ReasonShutdown)), state: Initialize, next: noDeadline,
					check: wantMaster(netip.Addr{})},
				{at: 2 * time.Second, in: Startup{}, want: acts(changed(Initialize, Backup, ReasonStartup)), state: Backup, next: 2*time.Second + v2p100Down},
			},
		},
		{
			name: "shutdown from Master: three priority-0 adverts, VIPs kept until the new master's advert",
			cfg:  withVIPs(v2Config(100), vipA),
			steps: rows(toMasterV2VIPs(100, v2p100Down, vipA), []step{
				{at: 4 * time.Second, in: Shutdown{}, want: acts(SendAdvert{Priority: 0, Count: 3}, changed(Master, Stopping, ReasonShutdown)),
					state: Stopping, next: 4*time.Second + 1100*time.Millisecond, check: all(wantMaster(netip.Addr{}), wantVIPs(vipA))},
				// Nothing but the new master's advert or the wait ends it.
				{at: 4100 * time.Millisecond, in: Timeout{}, state: Stopping, next: 5100 * time.Millisecond},
				{at: 4200 * time.Millisecond, in: adv(addrLow, 0), state: Stopping, next: 5100 * time.Millisecond},
				{at: 4300 * time.Millisecond, in: adv(addrSelf, 100), state: Stopping, next: 5100 * time.Millisecond},
				{at: 4300 * time.Millisecond, in: Health{Healthy: false}, state: Stopping, next: 5100 * time.Millisecond},
				{at: 4300 * time.Millisecond, in: VIPsFailed{}, state: Stopping, next: 5100 * time.Millisecond},
				{at: 4300 * time.Millisecond, in: Shutdown{}, state: Stopping, next: 5100 * time.Millisecond},
				{at: 4300 * time.Millisecond, in: Startup{}, state: Stopping, next: 5100 * time.Millisecond},
				// The new master's first advert may come before it has the
				// VIPs (keepalived 1.3.9 adds them one interval later): the
				// wait now covers that interval.
				{at: 4609375 * time.Microsecond, in: adv(addrLow, 100), state: Stopping, next: 5709375 * time.Microsecond, check: wantVIPs(vipA)},
				// Its second advert: it holds them.
				{at: 5609375 * time.Microsecond, in: adv(addrLow, 100), want: acts(DelVIPs{VIPs: []netip.Prefix{vipA}}, changed(Stopping, Initialize, ReasonPeerTookOver)),
					state: Initialize, next: noDeadline, check: wantVIPs()},
				{at: 6 * time.Second, in: Timeout{}, state: Initialize, next: noDeadline},
			}),
		},
		{
			name: "shutdown from Master: the new master's gratuitous ARP ends the wait at once",
			cfg:  withVIPs(v2Config(100), vipA),
			steps: rows(toMasterV2VIPs(100, v2p100Down, vipA), []step{
				{at: 4 * time.Second, in: Shutdown{}, want: acts(SendAdvert{Priority: 0, Count: 3}, changed(Master, Stopping, ReasonShutdown)),
					state: Stopping, next: 5100 * time.Millisecond},
				{at: 4609375 * time.Microsecond, in: adv(addrLow, 100), state: Stopping, next: 5709375 * time.Microsecond},
				{at: 4609400 * time.Microsecond, in: PeerAnnounced{}, want: acts(DelVIPs{VIPs: []netip.Prefix{vipA}}, changed(Stopping, Initialize, ReasonPeerTookOver)),
					state: Initialize, next: noDeadline},
				// Outside Stopping it means nothing.
				{at: 5 * time.Second, in: PeerAnnounced{}, state: Initialize, next: noDeadline},
			}),
		},
		{
			name: "shutdown from Master: a taker that never announces leaves after one of its intervals",
			cfg:  withVIPs(v2Config(100), vipA),
			steps: rows(toMasterV2VIPs(100, v2p100Down, vipA), []step{
				{at: 4 * time.Second, in: Shutdown{}, want: acts(SendAdvert{Priority: 0, Count: 3}, changed(Master, Stopping, ReasonShutdown)),
					state: Stopping, next: 5100 * time.Millisecond},
				{at: 4609375 * time.Microsecond, in: adv(addrLow, 100), state: Stopping, next: 5709375 * time.Microsecond},
				{at: 5709375 * time.Microsecond, in: Timeout{}, want: acts(DelVIPs{VIPs: []netip.Prefix{vipA}}, changed(Stopping, Initialize, ReasonNoPeer)),
					state: Initialize, next: noDeadline},
			}),
		},
		{
			name: "shutdown from Master with no taker: the VIPs go after the hand-over wait",
			cfg:  withVIPs(v2Config(100), vipA),
			steps: rows(toMasterV2VIPs(100, v2p100Down, vipA), []step{
				{at: 4 * time.Second, in: Shutdown{}, want: acts(SendAdvert{Priority: 0, Count: 3}, changed(Master, Stopping, ReasonShutdown)),
					state: Stopping, next: 5100 * time.Millisecond},
				{at: 5100 * time.Millisecond, in: Timeout{}, want: acts(DelVIPs{VIPs: []netip.Prefix{vipA}}, changed(Stopping, Initialize, ReasonNoPeer)),
					state: Initialize, next: noDeadline},
			}),
		},
		{
			name: "shutdown from Master, v3: the wait is one interval plus the margin; a dead link ends it",
			cfg:  withVIPs(v3Config(100, 50*time.Millisecond), vipA),
			steps: []step{
				{at: 0, in: Startup{}, want: acts(changed(Initialize, Backup, ReasonStartup)), state: Backup, next: v3p100i50Down},
				{at: v3p100i50Down, in: Timeout{}, want: takeoverVIPs(100, ReasonMasterDown, vipA), state: Master, next: v3p100i50Down + 50*time.Millisecond},
				{at: time.Second, in: Shutdown{}, want: acts(SendAdvert{Priority: 0, Count: 3}, changed(Master, Stopping, ReasonShutdown)),
					state: Stopping, next: 1150 * time.Millisecond},
				{at: 1100 * time.Millisecond, in: LinkDown{}, want: acts(DelVIPs{VIPs: []netip.Prefix{vipA}}, changed(Stopping, Initialize, ReasonLinkDown)),
					state: Initialize, next: noDeadline},
				// The dead link is remembered for the next Startup.
				{at: 1200 * time.Millisecond, in: Startup{}, want: acts(changed(Initialize, Fault, ReasonLinkDown)), state: Fault, next: noDeadline},
			},
		},
		{
			name: "shutdown from Fault; a later Startup remembers the dead link",
			cfg:  v2Config(100),
			steps: []step{
				{at: 0, in: Startup{}, want: acts(changed(Initialize, Backup, ReasonStartup)), state: Backup, next: v2p100Down},
				{at: time.Second, in: LinkDown{}, want: acts(changed(Backup, Fault, ReasonLinkDown)), state: Fault, next: noDeadline},
				{at: 2 * time.Second, in: Shutdown{}, want: acts(changed(Fault, Initialize, ReasonShutdown)), state: Initialize, next: noDeadline},
				{at: 3 * time.Second, in: Startup{}, want: acts(changed(Initialize, Fault, ReasonLinkDown)), state: Fault, next: noDeadline},
				{at: 4 * time.Second, in: LinkUp{}, want: acts(changed(Fault, Backup, ReasonLinkUp)), state: Backup, next: 4*time.Second + v2p100Down},
			},
		},
		{
			name: "link down and up",
			cfg:  v2Config(100),
			steps: rows(toMasterV2(100, v2p100Down), []step{
				{at: 4 * time.Second, in: LinkUp{}, state: Master, next: v2p100Down + time.Second},
				{at: 4 * time.Second, in: LinkDown{}, want: acts(DelVIPs{}, changed(Master, Fault, ReasonLinkDown)), state: Fault, next: noDeadline,
					check: wantMaster(netip.Addr{})},
				{at: 5 * time.Second, in: adv(addrHigh, 0), state: Fault, next: noDeadline},
				{at: 5 * time.Second, in: Timeout{}, state: Fault, next: noDeadline},
				{at: 5 * time.Second, in: LinkDown{}, state: Fault, next: noDeadline},
				{at: 5 * time.Second, in: Health{Healthy: false}, state: Fault, next: noDeadline},
				{at: 5 * time.Second, in: VIPsFailed{}, state: Fault, next: noDeadline},
				{at: 5 * time.Second, in: Health{Healthy: true}, state: Fault, next: noDeadline},
				{at: 6 * time.Second, in: LinkUp{}, want: acts(changed(Fault, Backup, ReasonLinkUp)), state: Backup, next: 6*time.Second + v2p100Down},
				{at: 7 * time.Second, in: LinkUp{}, state: Backup, next: 6*time.Second + v2p100Down},
				{at: 8 * time.Second, in: LinkDown{}, want: acts(changed(Backup, Fault, ReasonLinkDown)), state: Fault, next: noDeadline},
			}),
		},
		{
			name: "link down before startup, up before startup",
			cfg:  v2Config(100),
			steps: []step{
				{at: 0, in: LinkDown{}, state: Initialize, next: noDeadline},
				{at: 0, in: LinkUp{}, state: Initialize, next: noDeadline},
				{at: 0, in: Startup{}, want: acts(changed(Initialize, Backup, ReasonStartup)), state: Backup, next: v2p100Down},
			},
		},
		{
			name: "health weight lowers the effective priority, clamped to 1..254, and never emits actions outside Master",
			cfg:  Config{Version: 2, Priority: 100, AdvertInterval: time.Second, Preempt: true, Addr: addrSelf, HealthWeight: -254},
			steps: []step{
				{at: 0, in: Health{Healthy: false}, state: Initialize, next: noDeadline, check: all(wantPriority(1), wantHeld(0, true))},
				{at: 0, in: Health{Healthy: true}, state: Initialize, next: noDeadline, check: all(wantPriority(100), wantHeld(0, false))},
				{at: 0, in: reconfigure{Config{Version: 2, Priority: 254, AdvertInterval: time.Second, Preempt: true, Addr: addrSelf, HealthWeight: -10}},
					state: Initialize, next: noDeadline, check: wantPriority(254)},
				{at: 0, in: Health{Healthy: false}, state: Initialize, next: noDeadline, check: wantPriority(244)},
				{at: 0, in: Startup{}, want: acts(changed(Initialize, Backup, ReasonStartup)), state: Backup,
					next: 3*time.Second + 46875*time.Microsecond}, // Skew (256-244)/256 s
			},
		},
		{
			name: "unhealthy as Backup: priority lowered, preemption held until healthy again",
			cfg:  Config{Version: 2, Priority: 200, AdvertInterval: time.Second, Preempt: true, Addr: addrSelf, HealthWeight: -50},
			steps: []step{
				{at: 0, in: Startup{}, want: acts(changed(Initialize, Backup, ReasonStartup)), state: Backup, next: v2p200Down},
				{at: time.Second, in: Health{Healthy: false}, state: Backup, next: v2p200Down, check: all(wantPriority(150), wantHeld(time.Second, true))},
				// 100 < 150, but the hold accepts it: an unhealthy node must not preempt.
				{at: 2 * time.Second, in: adv(addrLow, 100), state: Backup, next: 2*time.Second + v2p150Down, check: wantMaster(addrLow)},
				{at: 3 * time.Second, in: Health{Healthy: true}, state: Backup, next: 2*time.Second + v2p150Down, check: all(wantPriority(200), wantHeld(3*time.Second, false))},
				{at: 4 * time.Second, in: adv(addrLow, 100), state: Backup, next: 2*time.Second + v2p150Down},
				{at: 2*time.Second + v2p150Down, in: Timeout{}, want: takeover(200, ReasonPreemptLower), state: Master, next: 3*time.Second + v2p150Down},
			},
		},
		{
			name: "unhealthy as Master: resign with three priority-0 adverts; no preempting back while unhealthy",
			cfg:  Config{Version: 2, Priority: 200, AdvertInterval: time.Second, Preempt: true, Addr: addrSelf, HealthWeight: -254},
			steps: rows(toMasterV2(200, v2p200Down), []step{
				{at: 10 * time.Second, in: Health{Healthy: false},
					want:  acts(SendAdvert{Priority: 0, Count: 3}, DelVIPs{}, changed(Master, Backup, ReasonUnhealthy)),
					state: Backup, next: 10*time.Second + 3*time.Second + 255*time.Second/256, check: all(wantPriority(1), wantMaster(netip.Addr{}))},
				// The peer (priority 100) took over after its Skew; we accept it.
				{at: 10*time.Second + v2p100Skew, in: adv(addrLow, 100), state: Backup, next: 13*time.Second + v2p100Skew + 255*time.Second/256,
					check: wantMaster(addrLow)},
				// Repeated unhealthy verdicts change nothing.
				{at: 11 * time.Second, in: Health{Healthy: false}, state: Backup, next: 13*time.Second + v2p100Skew + 255*time.Second/256},
				// Healthy again: the priority and preemption come back.
				{at: 12 * time.Second, in: Health{Healthy: true}, state: Backup, next: 13*time.Second + v2p100Skew + 255*time.Second/256,
					check: all(wantPriority(200), wantHeld(12*time.Second, false))},
				{at: 12*time.Second + v2p100Skew, in: adv(addrLow, 100), state: Backup, next: 13*time.Second + v2p100Skew + 255*time.Second/256},
				{at: 13*time.Second + v2p100Skew + 255*time.Second/256, in: Timeout{}, want: takeover(200, ReasonPreemptLower), state: Master,
					next: 14*time.Second + v2p100Skew + 255*time.Second/256},
			}),
		},
		{
			// A weight of 0 once left the hold set forever (it was cleared
			// only by a rising priority): the node never preempted again.
			name: "health weight 0: the hold ends with the unhealthy verdict",
			cfg:  Config{Version: 2, Priority: 200, AdvertInterval: time.Second, Preempt: true, Addr: addrSelf, HealthWeight: 0},
			steps: rows(toMasterV2(200, v2p200Down), []step{
				{at: 10 * time.Second, in: Health{Healthy: false},
					want:  acts(SendAdvert{Priority: 0, Count: 3}, DelVIPs{}, changed(Master, Backup, ReasonUnhealthy)),
					state: Backup, next: 10*time.Second + v2p200Down, check: wantPriority(200)},
				{at: 11 * time.Second, in: adv(addrLow, 100), state: Backup, next: 11*time.Second + v2p200Down, check: wantHeld(11*time.Second, true)},
				{at: 12 * time.Second, in: Health{Healthy: true}, state: Backup, next: 11*time.Second + v2p200Down, check: wantHeld(12*time.Second, false)},
				{at: 12 * time.Second, in: adv(addrLow, 100), state: Backup, next: 11*time.Second + v2p200Down},
				{at: 11*time.Second + v2p200Down, in: Timeout{}, want: takeover(200, ReasonPreemptLower), state: Master, next: 12*time.Second + v2p200Down},
			}),
		},
		{
			name: "unhealthy with no taker: back to Master after Master_Down, and stay",
			cfg:  Config{Version: 2, Priority: 200, AdvertInterval: time.Second, Preempt: true, Addr: addrSelf, HealthWeight: -254},
			steps: rows(toMasterV2(200, v2p200Down), []step{
				{at: 10 * time.Second, in: Health{Healthy: false}, want: acts(SendAdvert{Priority: 0, Count: 3}, DelVIPs{}, changed(Master, Backup, ReasonUnhealthy)),
					state: Backup, next: 13*time.Second + 255*time.Second/256},
				{at: 13*time.Second + 255*time.Second/256, in: Timeout{}, want: takeover(1, ReasonMasterDown), state: Master,
					next: 14*time.Second + 255*time.Second/256, check: wantHeld(14*time.Second, true)},
				{at: 14*time.Second + 255*time.Second/256, in: Timeout{}, want: acts(send(1)), state: Master, next: 15*time.Second + 255*time.Second/256},
				// Still unhealthy: no second resign.
				{at: 15 * time.Second, in: Health{Healthy: false}, state: Master, next: 15*time.Second + 255*time.Second/256},
			}),
		},
		{
			name: "a priority-0 advert hands over to an unhealthy backup: someone must be master",
			cfg:  Config{Version: 2, Priority: 200, AdvertInterval: time.Second, Preempt: true, Addr: addrSelf, HealthWeight: -254},
			steps: []step{
				{at: 0, in: Startup{}, want: acts(changed(Initialize, Backup, ReasonStartup)), state: Backup, next: v2p200Down},
				{at: time.Second, in: Health{Healthy: false}, state: Backup, next: v2p200Down},
				{at: 2 * time.Second, in: adv(addrLow, 100), state: Backup, next: 5*time.Second + 255*time.Second/256},
				{at: 3 * time.Second, in: adv(addrLow, 0), state: Backup, next: 3*time.Second + 255*time.Second/256},
				{at: 3*time.Second + 255*time.Second/256, in: Timeout{}, want: takeover(1, ReasonPeerResigned), state: Master,
					next: 4*time.Second + 255*time.Second/256},
			},
		},
		{
			name: "ResignAdverts configures the priority-0 burst",
			cfg:  Config{Version: 2, Priority: 200, AdvertInterval: time.Second, Preempt: true, Addr: addrSelf, ResignAdverts: 5},
			steps: rows(toMasterV2(200, v2p200Down), []step{
				{at: 10 * time.Second, in: Health{Healthy: false}, want: acts(SendAdvert{Priority: 0, Count: 5}, DelVIPs{}, changed(Master, Backup, ReasonUnhealthy)),
					state: Backup, next: 10*time.Second + v2p200Down},
			}),
		},
		{
			name: "VIPs failed as Master: resign, hold off preemption for the backoff, then try again",
			cfg:  withVIPs(v2Config(200), vipA),
			steps: rows(toMasterV2VIPs(200, v2p200Down, vipA), []step{
				// Until a peer speaks, the Master_Down_Timer waits for the hold.
				{at: 10 * time.Second, in: VIPsFailed{}, want: acts(SendAdvert{Priority: 0, Count: 3}, DelVIPs{VIPs: []netip.Prefix{vipA}}, changed(Master, Backup, ReasonVIPsFailed)),
					state: Backup, next: 20 * time.Second, check: all(wantHeld(10*time.Second, true), wantHeld(20*time.Second, false), wantVIPs())},
				// The peer took over; we keep accepting its lower priority for VIPFailHold.
				{at: 11 * time.Second, in: adv(addrLow, 100), state: Backup, next: 11*time.Second + v2p200Down},
				{at: 19 * time.Second, in: adv(addrLow, 100), state: Backup, next: 19*time.Second + v2p200Down},
				// The hold is over: preempt and try again.
				{at: 20 * time.Second, in: adv(addrLow, 100), state: Backup, next: 19*time.Second + v2p200Down},
				{at: 19*time.Second + v2p200Down, in: Timeout{}, want: takeoverVIPs(200, ReasonPreemptLower, vipA), state: Master, next: 20*time.Second + v2p200Down},
				// Failing again doubles the hold (20 s)...
				{at: 23 * time.Second, in: VIPsFailed{}, want: acts(SendAdvert{Priority: 0, Count: 3}, DelVIPs{VIPs: []netip.Prefix{vipA}}, changed(Master, Backup, ReasonVIPsFailed)),
					state: Backup, next: 43 * time.Second, check: all(wantHeld(42*time.Second, true), wantHeld(43*time.Second, false))},
				// The peer's advertisement restarts the timer as usual.
				{at: 24 * time.Second, in: adv(addrLow, 100), state: Backup, next: 24*time.Second + v2p200Down},
				{at: 42 * time.Second, in: adv(addrLow, 100), state: Backup, next: 42*time.Second + v2p200Down},
				{at: 43 * time.Second, in: adv(addrLow, 100), state: Backup, next: 42*time.Second + v2p200Down},
				{at: 42*time.Second + v2p200Down, in: Timeout{}, want: takeoverVIPs(200, ReasonPreemptLower, vipA), state: Master, next: 43*time.Second + v2p200Down},
				// ...until the VIPs are held: the next hold is VIPFailHold again.
				{at: 46 * time.Second, in: VIPsHeld{}, state: Master, next: 46*time.Second + 218750*time.Microsecond},
				{at: 50 * time.Second, in: VIPsFailed{}, want: acts(SendAdvert{Priority: 0, Count: 3}, DelVIPs{VIPs: []netip.Prefix{vipA}}, changed(Master, Backup, ReasonVIPsFailed)),
					state: Backup, next: 60 * time.Second, check: all(wantHeld(59*time.Second, true), wantHeld(60*time.Second, false))},
				// VIPsFailed outside Master changes nothing.
				{at: 51 * time.Second, in: VIPsFailed{}, state: Backup, next: 60 * time.Second, check: wantHeld(60*time.Second, false)},
			}),
		},
		{
			// Alone, each attempt comes at the end of the hold, not one
			// Master_Down_Interval after the resign.
			name: "the VIPs-failed hold is capped at VIPFailHoldMax",
			cfg:  v2Config(200),
			steps: func() []step {
				st := toMasterV2(200, v2p200Down)
				at := 10 * time.Second
				hold := VIPFailHold
				for range 8 { // 10 s, 20 s, ... capped at 5 min
					st = append(st,
						step{at: at, in: VIPsFailed{}, want: acts(SendAdvert{Priority: 0, Count: 3}, DelVIPs{}, changed(Master, Backup, ReasonVIPsFailed)),
							state: Backup, next: at + hold},
						step{at: at + hold, in: Timeout{}, want: takeover(200, ReasonMasterDown), state: Master, next: at + hold + time.Second})
					at += hold + time.Second
					hold = min(2*hold, VIPFailHoldMax)
				}
				return append(st, step{at: at, in: VIPsFailed{}, want: acts(SendAdvert{Priority: 0, Count: 3}, DelVIPs{}, changed(Master, Backup, ReasonVIPsFailed)),
					state: Backup, next: at + VIPFailHoldMax, check: all(wantHeld(at+VIPFailHoldMax-time.Nanosecond, true), wantHeld(at+VIPFailHoldMax, false))})
			}(),
		},
		{
			name: "preempt_delay counts from startup",
			cfg:  Config{Version: 2, Priority: 200, AdvertInterval: time.Second, Preempt: true, PreemptDelay: 10 * time.Second, Addr: addrSelf},
			steps: []step{
				{at: 0, in: Startup{}, want: acts(changed(Initialize, Backup, ReasonStartup)), state: Backup, next: v2p200Down},
				{at: 1 * time.Second, in: adv(addrLow, 100), state: Backup, next: 1*time.Second + v2p200Down},
				{at: 9 * time.Second, in: adv(addrLow, 100), state: Backup, next: 9*time.Second + v2p200Down},
				// 10 s after startup: discarded from now on.
				{at: 10 * time.Second, in: adv(addrLow, 100), state: Backup, next: 9*time.Second + v2p200Down},
				{at: 11 * time.Second, in: adv(addrLow, 100), state: Backup, next: 9*time.Second + v2p200Down},
				{at: 9*time.Second + v2p200Down, in: Timeout{}, want: takeover(200, ReasonPreemptLower), state: Master,
					next: 10*time.Second + v2p200Down},
				// Preempted by a higher master, which then drops below us: the
				// delay starts again at its first lower advert (21 s).
				{at: 20 * time.Second, in: adv(addrHigh, 250), want: acts(changed(Master, Backup, ReasonPreempted)),
					state: Backup, next: 22*time.Second + handOverMargin},
				{at: 21 * time.Second, in: adv(addrHigh, 150), state: Backup, next: 22*time.Second + handOverMargin},
				{at: 22 * time.Second, in: adv(addrHigh, 150), want: acts(DelVIPs{}), state: Backup, next: 22*time.Second + v2p200Down},
				{at: 30 * time.Second, in: adv(addrHigh, 150), state: Backup, next: 30*time.Second + v2p200Down},
				{at: 31 * time.Second, in: adv(addrHigh, 150), state: Backup, next: 30*time.Second + v2p200Down},
				{at: 30*time.Second + v2p200Down, in: Timeout{}, want: takeover(200, ReasonPreemptLower), state: Master,
					next: 31*time.Second + v2p200Down},
			},
		},
		{
			name: "preempt_delay restarts at the first lower advert after a higher one",
			cfg:  Config{Version: 2, Priority: 200, AdvertInterval: time.Second, Preempt: true, PreemptDelay: 10 * time.Second, Addr: addrSelf},
			steps: []step{
				{at: 0, in: Startup{}, want: acts(changed(Initialize, Backup, ReasonStartup)), state: Backup, next: v2p200Down},
				{at: 2 * time.Second, in: adv(addrHigh, 250), state: Backup, next: 2*time.Second + v2p200Down},
				// The higher master drops to 150 at 3 s: delay runs 3 s .. 13 s,
				// beyond the startup window (10 s).
				{at: 3 * time.Second, in: adv(addrHigh, 150), state: Backup, next: 3*time.Second + v2p200Down},
				{at: 12 * time.Second, in: adv(addrHigh, 150), state: Backup, next: 12*time.Second + v2p200Down},
				{at: 13 * time.Second, in: adv(addrHigh, 150), state: Backup, next: 12*time.Second + v2p200Down},
				{at: 12*time.Second + v2p200Down, in: Timeout{}, want: takeover(200, ReasonPreemptLower), state: Master,
					next: 13*time.Second + v2p200Down},
			},
		},
		{
			name: "preempt_delay counts from LinkUp",
			cfg:  Config{Version: 2, Priority: 200, AdvertInterval: time.Second, Preempt: true, PreemptDelay: 5 * time.Second, Addr: addrSelf},
			steps: []step{
				{at: 0, in: Startup{}, want: acts(changed(Initialize, Backup, ReasonStartup)), state: Backup, next: v2p200Down},
				{at: 1 * time.Second, in: LinkDown{}, want: acts(changed(Backup, Fault, ReasonLinkDown)), state: Fault, next: noDeadline},
				{at: 20 * time.Second, in: LinkUp{}, want: acts(changed(Fault, Backup, ReasonLinkUp)), state: Backup, next: 20*time.Second + v2p200Down},
				{at: 24 * time.Second, in: adv(addrLow, 100), state: Backup, next: 24*time.Second + v2p200Down},
				{at: 25 * time.Second, in: adv(addrLow, 100), state: Backup, next: 24*time.Second + v2p200Down},
			},
		},
		{
			name: "Reconfigure as Backup: timer brought forward, never pushed back",
			cfg:  Config{Version: 2, Priority: 100, AdvertInterval: 3 * time.Second, Preempt: true, Addr: addrSelf},
			steps: []step{
				{at: 0, in: Startup{}, want: acts(changed(Initialize, Backup, ReasonStartup)), state: Backup, next: v2p100i3Down},
				{at: time.Second, in: reconfigure{v2Config(100)}, state: Backup, next: time.Second + v2p100Down,
					check: wantTimers(time.Second, v2p100Skew, v2p100Down)},
				{at: 2 * time.Second, in: reconfigure{Config{Version: 2, Priority: 100, AdvertInterval: 3 * time.Second, Preempt: true, Addr: addrSelf}},
					state: Backup, next: time.Second + v2p100Down},
				// Priority and preempt change; the known master and its lower priority now count.
				{at: 3 * time.Second, in: adv(addrLow, 150), state: Backup, next: 3*time.Second + v2p100i3Down},
				{at: 4 * time.Second, in: reconfigure{v2Config(200)}, state: Backup, next: 4*time.Second + v2p200Down, check: wantPriority(200)},
				{at: 5 * time.Second, in: adv(addrLow, 150), state: Backup, next: 4*time.Second + v2p200Down},
			},
		},
		{
			name: "Reconfigure as Master: an advert at once when priority or interval change",
			cfg:  v2Config(100),
			steps: rows(toMasterV2(100, v2p100Down), []step{
				{at: 4 * time.Second, in: reconfigure{v2Config(100)}, state: Master, next: v2p100Down + time.Second},
				{at: 4 * time.Second, in: reconfigure{v2Config(150)}, want: acts(send(150)), state: Master, next: 5 * time.Second,
					check: wantPriority(150)},
				{at: 4500 * time.Millisecond, in: reconfigure{Config{Version: 2, Priority: 150, AdvertInterval: 2 * time.Second, Preempt: true, Addr: addrSelf}},
					want: acts(send(150)), state: Master, next: 6500 * time.Millisecond},
				{at: 6500 * time.Millisecond, in: Timeout{}, want: acts(send(150)), state: Master, next: 8500 * time.Millisecond},
			}),
		},
		{
			name: "Reconfigure recomputes the effective priority: an unhealthy node stays lowered",
			cfg:  Config{Version: 2, Priority: 100, AdvertInterval: time.Second, Preempt: true, Addr: addrSelf, HealthWeight: -60},
			steps: []step{
				{at: 0, in: Health{Healthy: false}, state: Initialize, next: noDeadline, check: wantPriority(40)},
				{at: 0, in: reconfigure{Config{Version: 2, Priority: 100, AdvertInterval: time.Second, Addr: addrSelf, HealthWeight: -60}}, state: Initialize, next: noDeadline,
					check: wantPriority(40)},
				{at: 0, in: Startup{}, want: acts(changed(Initialize, Backup, ReasonStartup)), state: Backup,
					next: 3*time.Second + 843750*time.Microsecond}, // Skew (256-40)/256 = 0.84375 s
				// Preempt is off now: a lower master is accepted.
				{at: time.Second, in: adv(addrLow, 20), state: Backup, next: 4*time.Second + 843750*time.Microsecond},
			},
		},
		{
			name: "Reconfigure as Master: VIPs added are added and announced, VIPs gone are dropped, peers told at once",
			cfg:  withVIPs(v2Config(100), vipA, vipB),
			steps: rows(toMasterV2VIPs(100, v2p100Down, vipA, vipB), []step{
				{at: 4 * time.Second, in: reconfigure{withVIPs(v2Config(100), vipA, vipC)},
					want:  acts(send(100), AddVIPs{VIPs: []netip.Prefix{vipC}}, Announce{VIPs: []netip.Addr{vipC.Addr()}}, DelVIPs{VIPs: []netip.Prefix{vipB}}),
					state: Master, next: 5 * time.Second, check: wantVIPs(vipA, vipC)},
				// The same address with another prefix is a new VIP: added before the old one goes.
				{at: 4500 * time.Millisecond, in: reconfigure{withVIPs(v2Config(100), netip.MustParsePrefix("198.18.0.100/32"), vipC)},
					want: acts(send(100), AddVIPs{VIPs: []netip.Prefix{netip.MustParsePrefix("198.18.0.100/32")}},
						Announce{VIPs: []netip.Addr{vipA.Addr()}}, DelVIPs{VIPs: []netip.Prefix{vipA}}),
					state: Master, next: 5500 * time.Millisecond},
				// Unchanged: nothing.
				{at: 5 * time.Second, in: reconfigure{withVIPs(v2Config(100), netip.MustParsePrefix("198.18.0.100/32"), vipC)}, state: Master, next: 5500 * time.Millisecond},
			}),
		},
		{
			name: "Reconfigure as Backup or Stopping: VIP changes follow the state",
			cfg:  withVIPs(v2Config(100), vipA),
			steps: rows(toMasterV2VIPs(100, v2p100Down, vipA), []step{
				{at: 4 * time.Second, in: Shutdown{}, want: acts(SendAdvert{Priority: 0, Count: 3}, changed(Master, Stopping, ReasonShutdown)),
					state: Stopping, next: 5100 * time.Millisecond},
				{at: 4100 * time.Millisecond, in: reconfigure{withVIPs(v2Config(100), vipB)},
					want:  acts(AddVIPs{VIPs: []netip.Prefix{vipB}}, Announce{VIPs: []netip.Addr{vipB.Addr()}}, DelVIPs{VIPs: []netip.Prefix{vipA}}),
					state: Stopping, next: 5100 * time.Millisecond, check: wantVIPs(vipB)},
				{at: 5100 * time.Millisecond, in: Timeout{}, want: acts(DelVIPs{VIPs: []netip.Prefix{vipB}}, changed(Stopping, Initialize, ReasonNoPeer)),
					state: Initialize, next: noDeadline},
				{at: 6 * time.Second, in: Startup{}, want: acts(changed(Initialize, Backup, ReasonStartup)), state: Backup, next: 6*time.Second + v2p100Down},
				{at: 7 * time.Second, in: reconfigure{withVIPs(v2Config(100), vipA, vipC)}, state: Backup, next: 6*time.Second + v2p100Down, check: wantVIPs()},
				{at: 6*time.Second + v2p100Down, in: Timeout{}, want: takeoverVIPs(100, ReasonMasterDown, vipA, vipC), state: Master,
					next: 7*time.Second + v2p100Down},
			}),
		},
		{
			// SIGHUP on an unhealthy master once sent one advert at the
			// healthy priority before the daemon lowered it again.
			name: "Reconfigure on an unhealthy master advertises the lowered priority",
			cfg:  Config{Version: 2, Priority: 200, AdvertInterval: time.Second, Preempt: true, Addr: addrSelf, HealthWeight: -100},
			steps: []step{
				{at: 0, in: Startup{}, want: acts(changed(Initialize, Backup, ReasonStartup)), state: Backup, next: v2p200Down},
				{at: time.Second, in: Health{Healthy: false}, state: Backup, next: v2p200Down},
				// Alone: Master_Down (armed at priority 200) makes us master at 100.
				{at: v2p200Down, in: Timeout{}, want: takeover(100, ReasonMasterDown), state: Master, next: v2p200Down + time.Second},
				{at: 4 * time.Second, in: reconfigure{Config{Version: 2, Priority: 220, AdvertInterval: time.Second, Preempt: true, Addr: addrSelf, HealthWeight: -100}},
					want: acts(send(120)), state: Master, next: 5 * time.Second, check: wantPriority(120)},
				{at: 5 * time.Second, in: Timeout{}, want: acts(send(120)), state: Master, next: 6 * time.Second},
				{at: 5500 * time.Millisecond, in: Health{Healthy: true}, state: Master, next: 6 * time.Second, check: wantPriority(220)},
				{at: 6 * time.Second, in: Timeout{}, want: acts(send(220)), state: Master, next: 7 * time.Second},
			},
		},
		{
			name: "Reconfigure v3: keeps the learned interval; a version change resets it",
			cfg:  v3Config(100, time.Second),
			steps: []step{
				{at: 0, in: Startup{}, want: acts(changed(Initialize, Backup, ReasonStartup)), state: Backup, next: v3p100i1sDown},
				{at: 100 * time.Millisecond, in: AdvertReceived{Src: addrHigh, Priority: 200, Interval: 200 * time.Millisecond},
					state: Backup, next: 100*time.Millisecond + v3p100i200Down},
				{at: 200 * time.Millisecond, in: reconfigure{v3Config(100, 50*time.Millisecond)}, state: Backup,
					next: 100*time.Millisecond + v3p100i200Down, check: wantTimers(200*time.Millisecond, v3p100i200Skew, v3p100i200Down)},
				{at: 300 * time.Millisecond, in: reconfigure{v2Config(100)}, state: Backup,
					next: 100*time.Millisecond + v3p100i200Down, check: wantTimers(time.Second, v2p100Skew, v2p100Down)},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runScenario(t, tt.cfg, tt.steps)
		})
	}
}

func TestStateString(t *testing.T) {
	for s, want := range map[State]string{Initialize: "INIT", Backup: "BACKUP", Master: "MASTER", Fault: "FAULT", Stopping: "STOPPING", HandingOver: "HANDOVER", State(9): "State(9)"} {
		if got := s.String(); got != want {
			t.Errorf("State(%d).String() = %q, want %q", uint8(s), got, want)
		}
	}
}

func TestReasonString(t *testing.T) {
	want := map[Reason]string{
		ReasonUnknown:      "unknown",
		ReasonStartup:      "startup",
		ReasonMasterDown:   "master_down",
		ReasonPeerResigned: "peer_resigned",
		ReasonPreemptLower: "preempt_lower_priority",
		ReasonPreempted:    "preempted",
		ReasonTieBreak:     "tie_break",
		ReasonShutdown:     "shutdown",
		ReasonLinkDown:     "link_down",
		ReasonLinkUp:       "link_up",
		ReasonUnhealthy:    "unhealthy",
		ReasonVIPsFailed:   "vips_failed",
		ReasonPeerTookOver: "peer_took_over",
		ReasonNoPeer:       "no_peer",
		ReasonMaintenance:  "maintenance",
		Reason(200):        "reason_200",
	}
	for r, w := range want {
		if got := r.String(); got != w {
			t.Errorf("Reason(%d).String() = %q, want %q", uint8(r), got, w)
		}
	}
	// Every named reason has a name of its own.
	seen := map[string]Reason{}
	for r := ReasonUnknown; r <= ReasonMaintenance; r++ {
		n := r.String()
		if prev, dup := seen[n]; dup {
			t.Errorf("reasons %d and %d share the name %q", prev, r, n)
		}
		seen[n] = r
	}
}

func TestConfigValidate(t *testing.T) {
	good := v2Config(100)
	if err := good.Validate(); err != nil {
		t.Fatalf("Validate(%+v) = %v, want nil", good, err)
	}
	tests := []struct {
		name   string
		mutate func(*Config)
		want   []string
	}{
		{"version", func(c *Config) { c.Version = 4 }, []string{"Version 4"}},
		{"priority 0", func(c *Config) { c.Priority = 0 }, []string{"Priority 0"}},
		{"priority 255", func(c *Config) { c.Priority = 255 }, []string{"Priority 255"}},
		{"interval", func(c *Config) { c.AdvertInterval = 0 }, []string{"AdvertInterval 0s"}},
		{"preempt delay", func(c *Config) { c.PreemptDelay = -time.Second }, []string{"PreemptDelay -1s"}},
		{"resign adverts", func(c *Config) { c.ResignAdverts = -1 }, []string{"ResignAdverts -1"}},
		{"addr", func(c *Config) { c.Addr = netip.Addr{} }, []string{"Addr"}},
		{"health weight", func(c *Config) { c.HealthWeight = 1 }, []string{"HealthWeight 1"}},
		{"every problem at once", func(c *Config) { *c = Config{} }, []string{"Version 0", "Priority 0", "AdvertInterval 0s", "Addr"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.mutate(&c)
			err := c.Validate()
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("Validate() = %v, want an error wrapping ErrInvalidConfig", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to name %q", err, w)
				}
			}
			if n := strings.Count(err.Error(), "fsm: invalid config"); n != len(tt.want) {
				t.Errorf("Validate() reported %d problems, want %d: %q", n, len(tt.want), err)
			}
		})
	}
}

func TestNewClampsConfig(t *testing.T) {
	r := New(Config{Version: 7, Priority: 255, AdvertInterval: -time.Second, PreemptDelay: -time.Second, Addr: addrSelf})
	if got := r.Priority(); got != 254 {
		t.Errorf("Priority() = %d, want 254", got)
	}
	if got := r.MasterAdverInterval(); got != time.Second {
		t.Errorf("MasterAdverInterval() = %v, want 1s", got)
	}
	// Version 7 → 2: Skew is (256-254)/256 s whatever the interval.
	if got, want := r.SkewTime(), 7812500*time.Nanosecond; got != want {
		t.Errorf("SkewTime() = %v, want %v", got, want)
	}
	r.Step(t0, Startup{})
	r.Step(t0.Add(r.MasterDownInterval()), Timeout{})
	got := r.Step(t0.Add(10*time.Second), Health{Healthy: false})
	if want := (SendAdvert{Priority: 0, Count: DefaultResignAdverts}); len(got) == 0 || got[0] != want {
		t.Errorf("resign actions = %s, want first %+v", fmtActions(got), want)
	}
	if New(Config{Priority: 0}).Priority() != 1 {
		t.Errorf("New with Priority 0: Priority() != 1")
	}
}

// TestHealEpisodeSpansSlowerLowerMaster: under one-way loss a v3 master
// with a short interval hears a lower master that advertises more slowly
// (intervals differ during a rolling change; RFC 5798 backups learn the
// master's). Each of its adverts comes after more than our own
// Master_Down_Interval, yet it is one episode: the ARPs stay at most once
// per HealAnnounceEvery, not one burst per advert of the lower master.
func TestHealEpisodeSpansSlowerLowerMaster(t *testing.T) {
	const iv = 10 * time.Millisecond
	down := 3*iv + 156*iv/256 // priority 100
	slow := func(at time.Duration, heal bool) step {
		want := acts(send(100))
		if heal {
			want = append(want, Announce{Heal: true})
		}
		return step{at: at, in: AdvertReceived{Src: addrLow, Priority: 50, Interval: time.Second},
			want: want, state: Master, next: at + iv}
	}
	runScenario(t, v3Config(100, iv), []step{
		{at: 0, in: Startup{}, want: acts(changed(Initialize, Backup, ReasonStartup)), state: Backup, next: down},
		{at: down, in: Timeout{}, want: takeover(100, ReasonMasterDown), state: Master, next: down + iv},
		slow(time.Second, true),
		slow(2*time.Second, false),
		slow(3*time.Second, false),
		slow(4*time.Second, false),
		slow(5*time.Second, false),
		slow(6*time.Second, true),
		// Silence for longer than its own Master_Down_Interval (under
		// 4 s): a new episode, answered at once.
		slow(10500*time.Millisecond, true),
	})
}
