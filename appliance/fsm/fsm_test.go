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

// Action shorthands.
func changed(from, to State, why Reason) StateChanged {
	return StateChanged{From: from, To: to, Reason: why}
}
func send(p uint8) SendAdvert { return SendAdvert{Priority: p, Count: 1} }
func takeover(p uint8, why Reason) []Action {
	return []Action{send(p), AddVIPs{}, Announce{}, changed(Backup, Master, why)}
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

func wantHolding(h bool) func(*testing.T, *Router) {
	return func(t *testing.T, r *Router) {
		t.Helper()
		if r.Holding() != h {
			t.Errorf("Holding() = %v, want %v", r.Holding(), h)
		}
	}
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
				// RFC 5798 §6.4.3 (745): stepping down learns the new master's 100 ms.
				{at: 500 * time.Millisecond, in: AdvertReceived{Src: addrHigh, Priority: 200, Interval: 100 * time.Millisecond},
					want: acts(DelVIPs{}, changed(Master, Backup, ReasonPreempted)), state: Backup,
					next: 500*time.Millisecond + v3p100i100Down, check: wantMaster(addrHigh)},
				// An interval of 0 is never learned.
				{at: 600 * time.Millisecond, in: AdvertReceived{Src: addrHigh, Priority: 200},
					state: Backup, next: 600*time.Millisecond + v3p100i100Down},
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
				{at: 4 * time.Second, in: adv(addrHigh, 99), want: acts(send(100), Announce{}), state: Master, next: 5 * time.Second},
				{at: 4500 * time.Millisecond, in: adv(addrLow, 1), want: acts(send(100), Announce{}), state: Master, next: 5500 * time.Millisecond},
			}),
		},
		{
			name: "master: higher priority → backup, preempted",
			cfg:  v2Config(100),
			steps: rows(toMasterV2(100, v2p100Down), []step{
				{at: 4 * time.Second, in: adv(addrLow, 101), want: acts(DelVIPs{}, changed(Master, Backup, ReasonPreempted)),
					state: Backup, next: 4*time.Second + v2p100Down, check: wantMaster(addrLow)},
			}),
		},
		{
			name: "tie-break: equal priority from a higher address → backup",
			cfg:  v2Config(100),
			steps: rows(toMasterV2(100, v2p100Down), []step{
				{at: 4 * time.Second, in: adv(addrHigh, 100), want: acts(DelVIPs{}, changed(Master, Backup, ReasonTieBreak)),
					state: Backup, next: 4*time.Second + v2p100Down, check: wantMaster(addrHigh)},
			}),
		},
		{
			name: "tie-break: equal priority from a lower address → we stay and heal",
			cfg:  v2Config(100),
			steps: rows(toMasterV2(100, v2p100Down), []step{
				{at: 4 * time.Second, in: adv(addrLow, 100), want: acts(send(100), Announce{}), state: Master, next: 5 * time.Second},
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
			name: "shutdown from Master: one priority-0 advert, then the VIPs go",
			cfg:  v2Config(100),
			steps: rows(toMasterV2(100, v2p100Down), []step{
				{at: 4 * time.Second, in: Shutdown{}, want: acts(SendAdvert{Priority: 0, Count: 1}, DelVIPs{}, changed(Master, Initialize, ReasonShutdown)),
					state: Initialize, next: noDeadline, check: wantMaster(netip.Addr{})},
				{at: 5 * time.Second, in: Timeout{}, state: Initialize, next: noDeadline},
			}),
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
				{at: 5 * time.Second, in: Resign{}, state: Fault, next: noDeadline},
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
			name: "SetPriority clamps to 1..254 and never emits actions",
			cfg:  v2Config(100),
			steps: []step{
				{at: 0, in: SetPriority{Priority: 0}, state: Initialize, next: noDeadline, check: wantPriority(1)},
				{at: 0, in: SetPriority{Priority: 255}, state: Initialize, next: noDeadline, check: wantPriority(254)},
				{at: 0, in: SetPriority{Priority: 120}, state: Initialize, next: noDeadline, check: wantPriority(120)},
			},
		},
		{
			name: "SetPriority as Master: later adverts carry it",
			cfg:  v2Config(100),
			steps: rows(toMasterV2(100, v2p100Down), []step{
				{at: 4 * time.Second, in: SetPriority{Priority: 50}, state: Master, next: v2p100Down + time.Second},
				{at: v2p100Down + time.Second, in: Timeout{}, want: acts(send(50)), state: Master, next: v2p100Down + 2*time.Second},
				// 50 < 60: now the peer's 60 preempts us.
				{at: 5 * time.Second, in: adv(addrLow, 60), want: acts(DelVIPs{}, changed(Master, Backup, ReasonPreempted)),
					state: Backup, next: 8*time.Second + 804687500*time.Nanosecond}, // Skew (256-50)/256 = 0.8046875 s
			}),
		},
		{
			name: "SetPriority as Backup: the next timer reset uses it",
			cfg:  v2Config(100),
			steps: []step{
				{at: 0, in: Startup{}, want: acts(changed(Initialize, Backup, ReasonStartup)), state: Backup, next: v2p100Down},
				{at: time.Second, in: SetPriority{Priority: 200}, state: Backup, next: v2p100Down},
				{at: 2 * time.Second, in: adv(addrHigh, 250), state: Backup, next: 2*time.Second + v2p200Down},
			},
		},
		{
			name: "resign with a taker: hold keeps the lower-priority master, raise clears it",
			cfg:  v2Config(200),
			steps: rows(toMasterV2(200, v2p200Down), []step{
				{at: 10 * time.Second, in: Resign{Reason: "haproxy down"},
					want:  acts(SendAdvert{Priority: 0, Count: 3}, DelVIPs{}, changed(Master, Backup, ReasonResign)),
					state: Backup, next: 10*time.Second + v2p200Down, check: all(wantHolding(true), wantMaster(netip.Addr{}))},
				// The peer (priority 100) took over after its Skew; we accept it.
				{at: 10*time.Second + v2p100Skew, in: adv(addrLow, 100), state: Backup, next: 10*time.Second + v2p100Skew + v2p200Down,
					check: wantMaster(addrLow)},
				{at: 11*time.Second + v2p100Skew, in: adv(addrLow, 100), state: Backup, next: 11*time.Second + v2p100Skew + v2p200Down},
				// Equal or lower effective priority keeps the hold.
				{at: 12 * time.Second, in: SetPriority{Priority: 200}, state: Backup, next: 11*time.Second + v2p100Skew + v2p200Down, check: wantHolding(true)},
				{at: 12 * time.Second, in: SetPriority{Priority: 150}, state: Backup, next: 11*time.Second + v2p100Skew + v2p200Down, check: wantHolding(true)},
				{at: 12*time.Second + v2p100Skew, in: adv(addrLow, 100), state: Backup, next: 12*time.Second + v2p100Skew + v2p150Down},
				// Raising the priority (healthy again) clears the hold: preemption resumes.
				{at: 13 * time.Second, in: SetPriority{Priority: 200}, state: Backup, next: 12*time.Second + v2p100Skew + v2p150Down, check: wantHolding(false)},
				{at: 13*time.Second + v2p100Skew, in: adv(addrLow, 100), state: Backup, next: 12*time.Second + v2p100Skew + v2p150Down},
				{at: 12*time.Second + v2p100Skew + v2p150Down, in: Timeout{}, want: takeover(200, ReasonPreemptLower), state: Master,
					next: 13*time.Second + v2p100Skew + v2p150Down},
			}),
		},
		{
			name: "resign without a taker: back to Master after Master_Down, and stay",
			cfg:  v2Config(200),
			steps: rows(toMasterV2(200, v2p200Down), []step{
				{at: 10 * time.Second, in: Resign{}, want: acts(SendAdvert{Priority: 0, Count: 3}, DelVIPs{}, changed(Master, Backup, ReasonResign)),
					state: Backup, next: 10*time.Second + v2p200Down},
				{at: 10*time.Second + v2p200Down, in: Timeout{}, want: takeover(200, ReasonMasterDown), state: Master,
					next: 11*time.Second + v2p200Down, check: wantHolding(true)},
				{at: 11*time.Second + v2p200Down, in: Timeout{}, want: acts(send(200)), state: Master, next: 12*time.Second + v2p200Down},
			}),
		},
		{
			name: "resign as Backup only sets the hold; Startup clears it",
			cfg:  v2Config(200),
			steps: []step{
				{at: 0, in: Startup{}, want: acts(changed(Initialize, Backup, ReasonStartup)), state: Backup, next: v2p200Down},
				{at: time.Second, in: Resign{}, state: Backup, next: v2p200Down, check: wantHolding(true)},
				{at: 2 * time.Second, in: adv(addrLow, 100), state: Backup, next: 2*time.Second + v2p200Down},
				// A priority-0 advert still hands over, hold or not: someone must be master.
				{at: 3 * time.Second, in: adv(addrLow, 0), state: Backup, next: 3*time.Second + 218750*time.Microsecond},
				{at: 3*time.Second + 218750*time.Microsecond, in: Timeout{}, want: takeover(200, ReasonPeerResigned), state: Master,
					next: 4*time.Second + 218750*time.Microsecond},
				{at: 5 * time.Second, in: Shutdown{}, want: acts(SendAdvert{Priority: 0, Count: 1}, DelVIPs{}, changed(Master, Initialize, ReasonShutdown)),
					state: Initialize, next: noDeadline, check: wantHolding(true)},
				{at: 6 * time.Second, in: Startup{}, want: acts(changed(Initialize, Backup, ReasonStartup)), state: Backup,
					next: 6*time.Second + v2p200Down, check: wantHolding(false)},
			},
		},
		{
			name: "ResignAdverts configures the priority-0 burst",
			cfg:  Config{Version: 2, Priority: 200, AdvertInterval: time.Second, Preempt: true, Addr: addrSelf, ResignAdverts: 5},
			steps: rows(toMasterV2(200, v2p200Down), []step{
				{at: 10 * time.Second, in: Resign{}, want: acts(SendAdvert{Priority: 0, Count: 5}, DelVIPs{}, changed(Master, Backup, ReasonResign)),
					state: Backup, next: 10*time.Second + v2p200Down},
			}),
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
				{at: 20 * time.Second, in: adv(addrHigh, 250), want: acts(DelVIPs{}, changed(Master, Backup, ReasonPreempted)),
					state: Backup, next: 20*time.Second + v2p200Down},
				{at: 21 * time.Second, in: adv(addrHigh, 150), state: Backup, next: 21*time.Second + v2p200Down},
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
			name: "Reconfigure keeps the effective priority when the configured one is unchanged",
			cfg:  v2Config(100),
			steps: []step{
				{at: 0, in: SetPriority{Priority: 40}, state: Initialize, next: noDeadline},
				{at: 0, in: reconfigure{Config{Version: 2, Priority: 100, AdvertInterval: time.Second, Addr: addrSelf}}, state: Initialize, next: noDeadline,
					check: wantPriority(40)},
				{at: 0, in: Startup{}, want: acts(changed(Initialize, Backup, ReasonStartup)), state: Backup,
					next: 3*time.Second + 843750*time.Microsecond}, // Skew (256-40)/256 = 0.84375 s
				// Preempt is off now: a lower master is accepted.
				{at: time.Second, in: adv(addrLow, 20), state: Backup, next: 4*time.Second + 843750*time.Microsecond},
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
	for s, want := range map[State]string{Initialize: "INIT", Backup: "BACKUP", Master: "MASTER", Fault: "FAULT", State(9): "State(9)"} {
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
		ReasonResign:       "resign",
		Reason(200):        "reason_200",
	}
	for r, w := range want {
		if got := r.String(); got != w {
			t.Errorf("Reason(%d).String() = %q, want %q", uint8(r), got, w)
		}
	}
	// Every named reason has a name of its own.
	seen := map[string]Reason{}
	for r := ReasonUnknown; r <= ReasonResign; r++ {
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
	got := r.Step(t0.Add(10*time.Second), Resign{})
	if want := (SendAdvert{Priority: 0, Count: DefaultResignAdverts}); len(got) == 0 || got[0] != want {
		t.Errorf("Resign actions = %s, want first %+v", fmtActions(got), want)
	}
	if New(Config{Priority: 0}).Priority() != 1 {
		t.Errorf("New with Priority 0: Priority() != 1")
	}
}
