package fsm

import (
	"container/heap"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// lan is an in-memory LAN in virtual time. Each node owns a Router; a
// SendAdvert from one node is delivered as AdvertReceived to every other
// connected node after the LAN's latency (zero: at the same virtual
// instant, after the current step). Scripted inputs and harness actions
// go through the same event queue, so ties run in the order scheduled.
// Router timers are not queued: the loop asks each Router for its
// NextDeadline, as the daemon's instance loop does.
//
// After every step the harness checks each node's invariants (VIPs held
// exactly while Master, StateChanged consistent and last, deadlines never
// in the past); after every virtual instant it runs the registered
// whole-LAN checks (such as "exactly one Master").
type lan struct {
	t       *testing.T
	now     time.Time
	latency time.Duration
	nodes   []*node
	queue   eventQueue
	seq     uint64
	steps   int
	checks  []func(now time.Time) error
	log     []string

	// garps delivers each Announce to the other nodes as PeerAnnounced
	// (a gratuitous ARP the daemon's watcher reports), after latency.
	garps bool
}

type node struct {
	name      string
	cfg       Config
	r         *Router
	state     State // as told by StateChanged actions
	connected bool
	deaf      bool           // hears nothing, still sends (one-way loss)
	vips      []netip.Prefix // on the interface, as AddVIPs and DelVIPs said
	changes   []change
	sent      []sentAdvert
	announces []time.Duration

	yieldSince *time.Time    // Backup, still holding the VIPs since
	yieldBound time.Duration // how long that may last
	releasedAt time.Duration // the last DelVIPs
}

type change struct {
	at time.Duration
	StateChanged
}

type sentAdvert struct {
	at time.Duration
	SendAdvert
}

type event struct {
	at  time.Time
	seq uint64
	to  *node
	in  Input  // stepped into to.r, or
	fn  func() // a harness action (cut, restore)
	// from is the sender of a delivered advert; nil for scripted inputs.
	from *node
}

type eventQueue []*event

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(*event)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// maxSteps bounds a run so that a livelock fails instead of hanging.
const maxSteps = 1_000_000

func newLAN(t *testing.T, latency time.Duration) *lan {
	t.Helper()
	l := &lan{t: t, now: t0, latency: latency}
	t.Cleanup(func() {
		if t.Failed() {
			const keep = 80
			tail := l.log
			if len(tail) > keep {
				tail = tail[len(tail)-keep:]
			}
			t.Logf("last %d LAN events:\n%s", len(tail), strings.Join(tail, "\n"))
		}
	})
	return l
}

func (l *lan) add(name string, c Config) *node {
	n := &node{name: name, cfg: c, r: New(c), connected: true}
	l.nodes = append(l.nodes, n)
	return n
}

func (l *lan) push(e *event) {
	if e.at.Before(l.now) {
		l.t.Fatalf("event scheduled at %v, before the LAN's now %v", e.at.Sub(t0), l.now.Sub(t0))
	}
	l.seq++
	e.seq = l.seq
	heap.Push(&l.queue, e)
}

// at schedules input in for node n at virtual time d.
func (l *lan) at(d time.Duration, n *node, in Input) {
	l.push(&event{at: t0.Add(d), to: n, in: in})
}

// do schedules a harness action at virtual time d.
func (l *lan) do(d time.Duration, fn func()) {
	l.push(&event{at: t0.Add(d), fn: fn})
}

// cut unplugs n silently: its Router is not told (a partition).
func (l *lan) cut(n *node) {
	n.connected = false
	l.logf("%s cut from the LAN", n.name)
}

// restore plugs n back in.
func (l *lan) restore(n *node) {
	n.connected = true
	l.logf("%s back on the LAN", n.name)
}

func (l *lan) logf(format string, args ...any) {
	l.log = append(l.log, fmt.Sprintf("%12v  ", l.now.Sub(t0))+fmt.Sprintf(format, args...))
}

// whenever registers a check run at the end of every virtual instant.
func (l *lan) whenever(check func(now time.Time) error) { l.checks = append(l.checks, check) }

// nextTime is the earliest queued event or Router deadline.
func (l *lan) nextTime() (time.Time, bool) {
	var next time.Time
	ok := false
	if len(l.queue) > 0 {
		next, ok = l.queue[0].at, true
	}
	for _, n := range l.nodes {
		if d, has := n.r.NextDeadline(); has && (!ok || d.Before(next)) {
			next, ok = d, true
		}
	}
	return next, ok
}

// run processes everything up to and including virtual time until.
func (l *lan) run(until time.Duration) {
	l.t.Helper()
	end := t0.Add(until)
	for {
		next, ok := l.nextTime()
		if !ok || next.After(end) {
			break
		}
		if next.After(l.now) {
			l.endInstant()
			l.now = next
		}
		// Queued events first (deliveries and scripted inputs), then
		// due timers in node order: an advert arriving exactly at a
		// deadline is heard before the deadline fires.
		if len(l.queue) > 0 && !l.queue[0].at.After(l.now) {
			l.process(heap.Pop(&l.queue).(*event))
			continue
		}
		for _, n := range l.nodes {
			if d, has := n.r.NextDeadline(); has && !d.After(l.now) {
				l.step(n, Timeout{})
				break
			}
		}
	}
	l.endInstant()
	if end.After(l.now) {
		l.now = end
	}
}

func (l *lan) endInstant() {
	l.t.Helper()
	for _, c := range l.checks {
		if err := c(l.now); err != nil {
			l.t.Fatalf("at %v: %v (states: %s)", l.now.Sub(t0), err, l.states())
		}
	}
}

func (l *lan) process(e *event) {
	l.t.Helper()
	switch {
	case e.fn != nil:
		e.fn()
	case e.from != nil && (!e.to.connected || !e.from.connected):
		l.logf("%s: advert from %s lost (unplugged)", e.to.name, e.from.name)
	case e.from != nil && e.to.deaf:
		l.logf("%s: advert from %s lost (one-way loss)", e.to.name, e.from.name)
	default:
		l.step(e.to, e.in)
	}
}

func (l *lan) step(n *node, in Input) []Action {
	l.t.Helper()
	l.steps++
	if l.steps > maxSteps {
		l.t.Fatalf("more than %d steps by %v: livelock?", maxSteps, l.now.Sub(t0))
	}
	acts := n.r.Step(l.now, in)
	if _, isTimeout := in.(Timeout); !isTimeout || len(acts) > 0 {
		l.logf("%s %s: %T%+v → %s", n.name, n.state, in, in, fmtActions(acts))
	}
	l.apply(n, acts)
	return acts
}

// reconfigure applies a new configuration to n through Router.Reconfigure,
// with the same checks as a step.
func (l *lan) reconfigure(n *node, c Config) []Action {
	l.t.Helper()
	n.cfg = c
	acts := n.r.Reconfigure(l.now, c)
	l.logf("%s %s: Reconfigure → %s", n.name, n.state, fmtActions(acts))
	l.apply(n, acts)
	return acts
}

// apply carries out n's actions on the LAN and checks n's invariants.
func (l *lan) apply(n *node, acts []Action) {
	l.t.Helper()
	at := l.now.Sub(t0)
	for i, a := range acts {
		switch a := a.(type) {
		case SendAdvert:
			if a.Count < 1 {
				l.t.Fatalf("at %v: %s sent %+v: Count must be ≥ 1", at, n.name, a)
			}
			n.sent = append(n.sent, sentAdvert{at, a})
			if !n.connected {
				continue
			}
			for _, m := range l.nodes {
				if m == n {
					continue
				}
				for range a.Count {
					l.push(&event{
						at:   l.now.Add(l.latency),
						to:   m,
						from: n,
						in:   AdvertReceived{Src: n.cfg.Addr, Priority: a.Priority, Interval: n.cfg.AdvertInterval},
					})
				}
			}
		case AddVIPs:
			for _, p := range a.VIPs {
				if slices.Contains(n.vips, p) {
					l.t.Fatalf("at %v: %s added %v, which it already holds", at, n.name, p)
				}
				n.vips = append(n.vips, p)
			}
		case DelVIPs:
			n.releasedAt = at
			for _, p := range a.VIPs {
				i := slices.Index(n.vips, p)
				if i < 0 {
					l.t.Fatalf("at %v: %s removed %v, which it does not hold", at, n.name, p)
				}
				n.vips = slices.Delete(n.vips, i, i+1)
			}
		case Announce:
			for _, v := range a.VIPs {
				if !slices.ContainsFunc(n.vips, func(p netip.Prefix) bool { return p.Addr() == v }) {
					l.t.Fatalf("at %v: %s announced %v, which it does not hold", at, n.name, v)
				}
			}
			n.announces = append(n.announces, at)
			if l.garps && n.connected {
				for _, m := range l.nodes {
					if m != n {
						l.push(&event{at: l.now.Add(l.latency), to: m, from: n, in: PeerAnnounced{}})
					}
				}
			}
		case StateChanged:
			if i != len(acts)-1 {
				l.t.Fatalf("at %v: %s: StateChanged is not the last action: %s", at, n.name, fmtActions(acts))
			}
			if a.From != n.state || a.From == a.To || a.Reason == ReasonUnknown {
				l.t.Fatalf("at %v: %s: bad %+v while %v", at, n.name, a, n.state)
			}
			n.state = a.To
			n.changes = append(n.changes, change{at, a})
		default:
			l.t.Fatalf("at %v: %s: unknown action %T", at, n.name, a)
		}
	}
	if got := n.r.State(); got != n.state {
		l.t.Fatalf("at %v: %s: State() = %v but the actions said %v", at, n.name, got, n.state)
	}
	// The VIPs are held exactly while Master, Stopping, HandingOver, or
	// Backup yielding to the master that preempted us, and exactly the
	// configured ones, in any order. A yield lasts at most two of the
	// preempting master's intervals (as learned at the preemption) plus
	// the margin.
	want := n.r.VIPs()
	yielding := n.state == Backup && n.r.Yielding()
	if (len(want) > 0) != (n.state == Master || n.state.leaving() || yielding) && len(n.cfg.VIPs) > 0 {
		l.t.Fatalf("at %v: %s: VIPs() = %v in state %v", at, n.name, want, n.state)
	}
	switch {
	case !yielding:
		n.yieldSince = nil
	case n.yieldSince == nil:
		since := l.now
		n.yieldSince, n.yieldBound = &since, yieldAdverts*n.r.MasterAdverInterval()+handOverMargin
	case l.now.Sub(*n.yieldSince) > n.yieldBound:
		l.t.Fatalf("at %v: %s: still yielding %v after it began", at, n.name, l.now.Sub(*n.yieldSince))
	}
	if !sameSet(n.vips, want) {
		l.t.Fatalf("at %v: %s: holds %v but VIPs() = %v in state %v", at, n.name, n.vips, want, n.state)
	}
	d, has := n.r.NextDeadline()
	maint, until := n.r.InMaintenance()
	if want := n.state == Backup || n.state == Master || n.state.leaving() || (maint && !until.IsZero()); has != want {
		l.t.Fatalf("at %v: %s: has deadline = %v in state %v", at, n.name, has, n.state)
	}
	if has && d.Before(l.now) {
		l.t.Fatalf("at %v: %s: deadline %v is in the past", at, n.name, d.Sub(t0))
	}
}

func sameSet(a, b []netip.Prefix) bool {
	if len(a) != len(b) {
		return false
	}
	for _, p := range a {
		if !slices.Contains(b, p) {
			return false
		}
	}
	return true
}

func (l *lan) masters() []*node {
	var ms []*node
	for _, n := range l.nodes {
		if n.r.State() == Master {
			ms = append(ms, n)
		}
	}
	return ms
}

func (l *lan) states() string {
	parts := make([]string, len(l.nodes))
	for i, n := range l.nodes {
		parts[i] = n.name + "=" + n.r.State().String()
	}
	return strings.Join(parts, " ")
}

// tooManyMasters reports more than one Master, except that while the
// LAN has latency a node that became Master less than one latency ago
// may overlap the one its first advert will depose.
func (l *lan) tooManyMasters(now time.Time) error {
	ms := l.masters()
	if len(ms) < 2 {
		return nil
	}
	if l.latency > 0 {
		for _, m := range ms {
			last := m.changes[len(m.changes)-1]
			if now.Sub(t0)-last.at < l.latency {
				return nil
			}
		}
	}
	return fmt.Errorf("%d masters: %v", len(ms), names(ms))
}

// exactlyOneMasterFrom checks, at the end of every virtual instant from d
// on, that exactly one node is Master.
func (l *lan) exactlyOneMasterFrom(d time.Duration) { l.exactlyOneMasterIn(d, -1) }

// exactlyOneMasterIn checks exactly one Master at every instant in
// [from, to]; to < 0 means forever.
func (l *lan) exactlyOneMasterIn(from, to time.Duration) {
	l.whenever(func(now time.Time) error {
		d := now.Sub(t0)
		if d < from || (to >= 0 && d > to) {
			return nil
		}
		if len(l.masters()) == 0 {
			return fmt.Errorf("no master")
		}
		return l.tooManyMasters(now)
	})
}

// atMostOneMaster checks at every instant that there is never more than
// one Master.
func (l *lan) atMostOneMaster() { l.whenever(l.tooManyMasters) }

func (l *lan) wantMaster(n *node) {
	l.t.Helper()
	ms := l.masters()
	if len(ms) != 1 || ms[0] != n {
		l.t.Fatalf("at %v: masters %v, want only %s (states: %s)", l.now.Sub(t0), names(ms), n.name, l.states())
	}
}

func names(ns []*node) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.name
	}
	return out
}

// wantChanges compares a node's whole transition history.
func wantChanges(t *testing.T, n *node, want ...change) {
	t.Helper()
	if len(n.changes) != len(want) {
		t.Fatalf("%s changed state %d times, want %d:\n got  %v\n want %v", n.name, len(n.changes), len(want), n.changes, want)
	}
	for i := range want {
		if n.changes[i] != want[i] {
			t.Fatalf("%s change %d = %+v, want %+v", n.name, i, n.changes[i], want[i])
		}
	}
}

func ch(at time.Duration, from, to State, why Reason) change {
	return change{at, StateChanged{From: from, To: to, Reason: why}}
}

// lanVIPs are every LAN router's VIPs.
var lanVIPs = []netip.Prefix{netip.MustParsePrefix("198.18.0.100/24"), netip.MustParsePrefix("198.18.0.101/24")}

func lanConfig(version int, iv time.Duration, prio uint8, addr string) Config {
	return Config{Version: version, Priority: prio, AdvertInterval: iv, Preempt: true, Addr: netip.MustParseAddr(addr), VIPs: lanVIPs}
}

// startedPair is the usual two-router LAN: A (priority 200, 198.18.0.1) and
// B (priority 100, 198.18.0.2), both started at time 0.
func startedPair(t *testing.T, tm timing) (*lan, *node, *node) {
	l := newLAN(t, tm.latency)
	a := l.add("A", lanConfig(tm.version, tm.iv, 200, "198.18.0.1"))
	b := l.add("B", lanConfig(tm.version, tm.iv, 100, "198.18.0.2"))
	l.at(0, a, Startup{})
	l.at(0, b, Startup{})
	return l, a, b
}

// timing is one flavour of timers the LAN scenarios run under.
type timing struct {
	name    string
	version int
	iv      time.Duration
	latency time.Duration
}

var timings = []timing{
	{"v2 1s", 2, time.Second, 0},
	{"v2 1s latency 3ms", 2, time.Second, 3 * time.Millisecond},
	{"v3 50ms", 3, 50 * time.Millisecond, 0},
	{"v3 50ms latency 1ms", 3, 50 * time.Millisecond, time.Millisecond},
}

// down is Master_Down_Interval for the timing and priority, computed
// independently of the Router (via float seconds, exact for these values).
func (tm timing) down(prio uint8) time.Duration {
	return 3*tm.iv + tm.skew(prio)
}

func (tm timing) skew(prio uint8) time.Duration {
	unit := time.Second
	if tm.version == 3 {
		unit = tm.iv
	}
	return time.Duration(float64(unit) * float64(256-int(prio)) / 256)
}

// TestLANPreemptionMakesBeforeBreaks: a higher-priority router starts
// while a lower one is master. The preempted master keeps the VIPs until
// the new master announces them (its gratuitous ARP, as the daemon's
// watcher reports it) or, when nobody reports one, until the new master's
// third advertisement: from the first takeover on, some router holds the
// VIPs at every instant.
func TestLANPreemptionMakesBeforeBreaks(t *testing.T) {
	for _, tm := range timings {
		for _, garps := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/garps %v", tm.name, garps), func(t *testing.T) {
				l := newLAN(t, tm.latency)
				l.garps = garps
				low := l.add("low", lanConfig(tm.version, tm.iv, 100, "198.18.0.2"))
				high := l.add("high", lanConfig(tm.version, tm.iv, 200, "198.18.0.1"))
				l.at(0, low, Startup{})
				startHigh := 10 * tm.iv
				l.at(startHigh, high, Startup{})
				l.run(startHigh - tm.iv)
				l.wantMaster(low)
				l.whenever(func(time.Time) error {
					if len(low.vips) == 0 && len(high.vips) == 0 {
						return fmt.Errorf("nobody holds the VIPs")
					}
					return nil
				})
				l.run(startHigh + 10*tm.iv)
				l.wantMaster(high)
				if len(low.vips) != 0 {
					t.Fatalf("the preempted router still holds %v", low.vips)
				}
				var preempted time.Duration
				for _, c := range low.changes {
					if c.Reason == ReasonPreempted {
						preempted = c.at
					}
				}
				// Released when its announcement arrives (with garps),
				// else on its third advert two intervals later.
				wantHeldFor := time.Duration(0)
				if !garps {
					wantHeldFor = yieldAdverts * tm.iv
				}
				if got := low.releasedAt - preempted; got != wantHeldFor {
					t.Errorf("the preempted router kept the VIPs %v after the preemption, want %v", got, wantHeldFor)
				}
			})
		}
	}
}

func TestLANElectsHighestPriority(t *testing.T) {
	for _, tm := range timings {
		t.Run("two routers/"+tm.name, func(t *testing.T) {
			l := newLAN(t, tm.latency)
			a := l.add("A", lanConfig(tm.version, tm.iv, 100, "198.18.0.1"))
			b := l.add("B", lanConfig(tm.version, tm.iv, 200, "198.18.0.2"))
			l.at(0, a, Startup{})
			l.at(0, b, Startup{})
			l.atMostOneMaster()
			l.exactlyOneMasterFrom(tm.down(200))
			l.run(200 * tm.iv)
			l.wantMaster(b)
			wantChanges(t, b, ch(0, Initialize, Backup, ReasonStartup), ch(tm.down(200), Backup, Master, ReasonMasterDown))
			wantChanges(t, a, ch(0, Initialize, Backup, ReasonStartup))
		})
		t.Run("three routers, same start/"+tm.name, func(t *testing.T) {
			l := newLAN(t, tm.latency)
			a := l.add("A", lanConfig(tm.version, tm.iv, 100, "198.18.0.3"))
			b := l.add("B", lanConfig(tm.version, tm.iv, 150, "198.18.0.2"))
			c := l.add("C", lanConfig(tm.version, tm.iv, 200, "198.18.0.1")) // priority beats address
			for _, n := range l.nodes {
				l.at(0, n, Startup{})
			}
			l.atMostOneMaster()
			l.exactlyOneMasterFrom(tm.down(200))
			l.run(200 * tm.iv)
			l.wantMaster(c)
			wantChanges(t, a, ch(0, Initialize, Backup, ReasonStartup))
			wantChanges(t, b, ch(0, Initialize, Backup, ReasonStartup))
		})
		t.Run("three routers, staggered start/"+tm.name, func(t *testing.T) {
			// A starts first and wins alone for a while; B and C
			// preempt in turn. After convergence: only C, at every instant.
			l := newLAN(t, tm.latency)
			a := l.add("A", lanConfig(tm.version, tm.iv, 100, "198.18.0.3"))
			b := l.add("B", lanConfig(tm.version, tm.iv, 150, "198.18.0.2"))
			c := l.add("C", lanConfig(tm.version, tm.iv, 200, "198.18.0.1"))
			l.at(0, a, Startup{})
			l.at(10*tm.iv, b, Startup{})
			l.at(20*tm.iv, c, Startup{})
			l.run(40 * tm.iv)
			l.wantMaster(c)
			l.exactlyOneMasterFrom(0)
			l.run(200 * tm.iv)
			l.wantMaster(c)
			if got := c.changes[len(c.changes)-1].Reason; got != ReasonPreemptLower {
				t.Errorf("C became master with reason %v, want %v", got, ReasonPreemptLower)
			}
		})
	}
}

// TestLANTieBreakEqualPriority makes two masters of equal priority (the
// higher address cut off while both start) and checks that the higher
// address wins once they hear each other, whichever is stepped first.
// (Connected from the start they never both become Master: the first
// one's advert reaches the other as a Backup, which accepts an equal
// priority.)
func TestLANTieBreakEqualPriority(t *testing.T) {
	for _, tm := range timings {
		for _, highFirst := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/high stepped first %v", tm.name, highFirst), func(t *testing.T) {
				l := newLAN(t, tm.latency)
				var lo, hi *node
				if highFirst {
					hi = l.add("high", lanConfig(tm.version, tm.iv, 100, "198.18.0.9"))
					lo = l.add("low", lanConfig(tm.version, tm.iv, 100, "198.18.0.1"))
				} else {
					lo = l.add("low", lanConfig(tm.version, tm.iv, 100, "198.18.0.1"))
					hi = l.add("high", lanConfig(tm.version, tm.iv, 100, "198.18.0.9"))
				}
				l.do(0, func() { l.cut(hi) })
				l.at(0, lo, Startup{})
				l.at(0, hi, Startup{})
				l.run(10 * tm.iv)
				if ms := l.masters(); len(ms) != 2 {
					t.Fatalf("partitioned: masters %v, want both", names(ms))
				}
				restore := 10 * tm.iv
				l.do(restore, func() { l.restore(hi) })
				healed := restore + tm.iv + tm.latency
				l.run(healed)
				l.wantMaster(hi)
				l.exactlyOneMasterFrom(0)
				l.run(healed + 100*tm.iv)
				l.wantMaster(hi)
				d := tm.down(100)
				wantChanges(t, hi,
					ch(0, Initialize, Backup, ReasonStartup),
					ch(d, Backup, Master, ReasonMasterDown))
				last := lo.changes[len(lo.changes)-1]
				if last.From != Master || last.To != Backup || last.Reason != ReasonTieBreak || last.at < restore || last.at > healed {
					t.Errorf("low's last change = %+v, want MASTER → BACKUP tie_break in [%v, %v]", last, restore, healed)
				}
			})
		}
	}
}

func TestLANPreemption(t *testing.T) {
	for _, tm := range timings {
		t.Run("higher priority starts later and takes over/"+tm.name, func(t *testing.T) {
			l := newLAN(t, tm.latency)
			lo := l.add("low", lanConfig(tm.version, tm.iv, 100, "198.18.0.1"))
			hi := l.add("high", lanConfig(tm.version, tm.iv, 200, "198.18.0.2"))
			l.at(0, lo, Startup{})
			start := 10 * tm.iv
			l.at(start, hi, Startup{})
			l.exactlyOneMasterFrom(tm.down(100))
			l.run(100 * tm.iv)
			l.wantMaster(hi)
			wantChanges(t, hi,
				ch(start, Initialize, Backup, ReasonStartup),
				ch(start+tm.down(200), Backup, Master, ReasonPreemptLower))
			wantChanges(t, lo,
				ch(0, Initialize, Backup, ReasonStartup),
				ch(tm.down(100), Backup, Master, ReasonMasterDown),
				ch(start+tm.down(200)+tm.latency, Master, Backup, ReasonPreempted))
		})
		t.Run("preempt off keeps the current master/"+tm.name, func(t *testing.T) {
			l := newLAN(t, tm.latency)
			lo := l.add("low", lanConfig(tm.version, tm.iv, 100, "198.18.0.1"))
			cfg := lanConfig(tm.version, tm.iv, 200, "198.18.0.2")
			cfg.Preempt = false
			hi := l.add("high", cfg)
			l.at(0, lo, Startup{})
			l.at(10*tm.iv, hi, Startup{})
			l.atMostOneMaster()
			l.exactlyOneMasterIn(tm.down(100), 501*tm.iv-1)
			l.run(500 * tm.iv)
			l.wantMaster(lo)
			wantChanges(t, hi, ch(10*tm.iv, Initialize, Backup, ReasonStartup))
			// It does take over when the master leaves.
			l.at(501*tm.iv, lo, Shutdown{})
			l.run(600 * tm.iv)
			l.wantMaster(hi)
			if got := hi.changes[len(hi.changes)-1]; got != ch(501*tm.iv+tm.latency+tm.skew(200), Backup, Master, ReasonPeerResigned) {
				t.Errorf("high's last change = %+v", got)
			}
		})
		t.Run("preempt_delay holds off the takeover/"+tm.name, func(t *testing.T) {
			l := newLAN(t, tm.latency)
			lo := l.add("low", lanConfig(tm.version, tm.iv, 100, "198.18.0.1"))
			cfg := lanConfig(tm.version, tm.iv, 200, "198.18.0.2")
			cfg.PreemptDelay = 30 * tm.iv
			hi := l.add("high", cfg)
			l.at(0, lo, Startup{})
			start := 10 * tm.iv
			l.at(start, hi, Startup{})
			l.run(start + cfg.PreemptDelay - tm.iv)
			l.wantMaster(lo)
			l.run(start + cfg.PreemptDelay + tm.down(200) + tm.iv)
			l.wantMaster(hi)
			took := hi.changes[len(hi.changes)-1]
			if took.Reason != ReasonPreemptLower || took.at < start+cfg.PreemptDelay {
				t.Errorf("high took over with %+v, want preempt_lower_priority after %v", took, start+cfg.PreemptDelay)
			}
		})
	}
}

func TestLANSplitBrainHeals(t *testing.T) {
	for _, tm := range timings {
		for _, restoreOffset := range []time.Duration{0, tm.iv / 2} {
			// With A's adverts on the whole interval, restoring at +0
			// lets A speak first; at +iv/2, B's lower-priority advert
			// comes first and A answers it at once (heal).
			name := fmt.Sprintf("%s/restore+%v", tm.name, restoreOffset)
			t.Run(name, func(t *testing.T) {
				l, a, b := startedPair(t, tm)
				l.run(10 * tm.iv)
				l.wantMaster(a)

				l.do(10*tm.iv, func() { l.cut(b) })
				l.run(20 * tm.iv)
				if ms := l.masters(); len(ms) != 2 {
					t.Fatalf("partitioned: masters %v, want both (states: %s)", names(ms), l.states())
				}
				restore := 20*tm.iv + restoreOffset
				l.do(restore, func() { l.restore(b) })
				healed := restore + tm.iv + tm.latency
				l.run(healed)
				l.wantMaster(a)
				l.exactlyOneMasterFrom(0)
				l.run(healed + 100*tm.iv)
				l.wantMaster(a)
				if len(a.vips) == 0 || len(b.vips) > 0 {
					t.Errorf("VIPs: A %v, B %v; want only A", a.vips, b.vips)
				}
				last := b.changes[len(b.changes)-1]
				if last.To != Backup || last.Reason != ReasonPreempted || last.at < restore || last.at > healed {
					t.Errorf("B's last change = %+v, want → BACKUP preempted in [%v, %v]", last, restore, healed)
				}
				wantChanges(t, a, ch(0, Initialize, Backup, ReasonStartup), ch(tm.down(200), Backup, Master, ReasonMasterDown))
				if restoreOffset > 0 {
					// A answered B's advert with an advert and ARPs.
					var healARPs int
					for _, at := range a.announces {
						if at >= restore && at <= healed {
							healARPs++
						}
					}
					if healARPs == 0 {
						t.Errorf("A sent no gratuitous ARPs while healing; announces at %v", a.announces)
					}
				}
			})
		}
	}
}

func TestLANGracefulShutdownHandsOverAfterSkew(t *testing.T) {
	for _, tm := range timings {
		t.Run(tm.name, func(t *testing.T) {
			l, a, b := startedPair(t, tm)
			l.atMostOneMaster()
			stop := 20 * tm.iv
			l.at(stop, a, Shutdown{})
			l.run(stop)
			handover := stop + tm.latency + tm.skew(100)
			l.run(handover)
			l.wantMaster(b)
			last := b.changes[len(b.changes)-1]
			if want := ch(handover, Backup, Master, ReasonPeerResigned); last != want {
				t.Errorf("B's last change = %+v, want %+v", last, want)
			}
			if got := a.sent[len(a.sent)-1].SendAdvert; got != (SendAdvert{Priority: 0, Count: DefaultResignAdverts}) {
				t.Errorf("A's last advert = %+v, want %d of priority 0", got, DefaultResignAdverts)
			}
			l.run(handover + 100*tm.iv)
			// Make before break: A kept the VIPs until B's first advert.
			wantChanges(t, a,
				ch(0, Initialize, Backup, ReasonStartup),
				ch(tm.down(200), Backup, Master, ReasonMasterDown),
				ch(stop, Master, Stopping, ReasonShutdown),
				// B's second advert (this LAN has no ARP).
				ch(handover+tm.iv+tm.latency, Stopping, Initialize, ReasonPeerTookOver))
			l.wantMaster(b)
			if a.r.State() != Initialize || len(a.vips) > 0 {
				t.Errorf("A is %v holding %v, want INIT holding nothing", a.r.State(), a.vips)
			}
		})
	}
}

func TestLANResign(t *testing.T) {
	for _, tm := range timings {
		t.Run("moves mastership to a healthy lower-priority peer, no flap/"+tm.name, func(t *testing.T) {
			l, a, b := startedPair(t, tm)
			l.atMostOneMaster()
			resign := 20 * tm.iv
			l.at(resign, a, Health{Healthy: false})
			handover := resign + tm.latency + tm.skew(100)
			l.run(handover)
			l.wantMaster(b)
			l.exactlyOneMasterFrom(handover)
			l.run(handover + 500*tm.iv)
			l.wantMaster(b)
			wantChanges(t, a,
				ch(0, Initialize, Backup, ReasonStartup),
				ch(tm.down(200), Backup, Master, ReasonMasterDown),
				ch(resign, Master, Backup, ReasonUnhealthy))
			wantChanges(t, b,
				ch(0, Initialize, Backup, ReasonStartup),
				ch(handover, Backup, Master, ReasonPeerResigned))
			if got := a.sent[len(a.sent)-1].SendAdvert; got != (SendAdvert{Priority: 0, Count: DefaultResignAdverts}) {
				t.Errorf("A's resign advert = %+v", got)
			}

			// Healthy again: the hold ends and A preempts B.
			healthy := handover + 500*tm.iv + tm.iv/3
			l.at(healthy, a, Health{Healthy: true})
			l.run(healthy + tm.down(200) + 2*tm.iv)
			l.wantMaster(a)
			if got := a.changes[len(a.changes)-1].Reason; got != ReasonPreemptLower {
				t.Errorf("A took back over with %v, want %v", got, ReasonPreemptLower)
			}
		})
		t.Run("without a taker comes back once and stays/"+tm.name, func(t *testing.T) {
			l := newLAN(t, tm.latency)
			a := l.add("A", lanConfig(tm.version, tm.iv, 200, "198.18.0.1"))
			l.at(0, a, Startup{})
			resign := 20 * tm.iv
			l.at(resign, a, Health{Healthy: false})
			l.run(resign + 500*tm.iv)
			l.wantMaster(a)
			wantChanges(t, a,
				ch(0, Initialize, Backup, ReasonStartup),
				ch(tm.down(200), Backup, Master, ReasonMasterDown),
				ch(resign, Master, Backup, ReasonUnhealthy),
				ch(resign+tm.down(200), Backup, Master, ReasonMasterDown))
		})
		t.Run("both resigned leaves exactly one master/"+tm.name, func(t *testing.T) {
			l, a, b := startedPair(t, tm)
			l.atMostOneMaster()
			l.at(20*tm.iv, a, Health{Healthy: false})
			l.at(40*tm.iv, b, Health{Healthy: false})
			back := 40*tm.iv + tm.latency + tm.skew(200)
			l.run(back)
			l.wantMaster(a)
			l.exactlyOneMasterFrom(back)
			l.run(back + 500*tm.iv)
			l.wantMaster(a)
			if n := len(a.changes) + len(b.changes); n != 7 {
				t.Errorf("%d state changes, want 7 (no flapping): A %v B %v", n, a.changes, b.changes)
			}
		})
		t.Run("both resign at once leaves exactly one master/"+tm.name, func(t *testing.T) {
			l, a, b := startedPair(t, tm)
			l.atMostOneMaster()
			l.at(20*tm.iv, b, Health{Healthy: false})
			l.at(20*tm.iv, a, Health{Healthy: false})
			back := 20*tm.iv + tm.latency + tm.skew(100)
			l.exactlyOneMasterFrom(back)
			l.run(back + 500*tm.iv)
			l.wantMaster(b)
		})
	}
}

func TestLANLinkFailure(t *testing.T) {
	for _, tm := range timings {
		t.Run(tm.name, func(t *testing.T) {
			l, a, b := startedPair(t, tm)
			l.atMostOneMaster()
			down := 20*tm.iv + tm.iv/2
			l.do(down, func() { l.cut(a) })
			l.at(down, a, LinkDown{})
			l.run(down + 5*tm.iv)
			l.wantMaster(b)
			if a.r.State() != Fault || len(a.vips) > 0 {
				t.Fatalf("A: %v, VIPs %v; want FAULT without VIPs", a.r.State(), a.vips)
			}
			up := 40 * tm.iv
			l.do(up, func() { l.restore(a) })
			l.at(up, a, LinkUp{})
			l.run(up + tm.down(200) + 2*tm.iv)
			l.wantMaster(a)
			got := []Reason{}
			for _, c := range a.changes {
				got = append(got, c.Reason)
			}
			want := []Reason{ReasonStartup, ReasonMasterDown, ReasonLinkDown, ReasonLinkUp, ReasonPreemptLower}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("A's reasons = %v, want %v", got, want)
			}
		})
	}
}

// TestLANOneWayLoss: B cannot hear A (an asymmetric firewall, IGMP
// snooping), so both are masters; A hears B's lower priority at every
// interval. A answers each with an advertisement but announces (ARPs and,
// in a cloud, an API check) at most once per HealAnnounceEvery, and the
// pair heals as soon as B can hear again.
func TestLANOneWayLoss(t *testing.T) {
	for _, tm := range timings {
		t.Run(tm.name, func(t *testing.T) {
			l, a, b := startedPair(t, tm)
			l.run(20 * tm.iv)
			l.wantMaster(a)
			b.deaf = true
			lossFrom := 20 * tm.iv
			span := 60 * time.Second
			l.run(lossFrom + span)
			if a.r.State() != Master || b.r.State() != Master {
				t.Fatalf("during one-way loss: A %v, B %v; want both MASTER", a.r.State(), b.r.State())
			}
			heals := 0
			for _, at := range a.announces {
				if at > lossFrom {
					heals++
				}
			}
			if limit := int(span/HealAnnounceEvery) + 1; heals > limit || heals == 0 {
				t.Errorf("A announced %d times in %v of one-way loss, want 1..%d", heals, span, limit)
			}
			b.deaf = false
			healed := lossFrom + span + 2*tm.iv + tm.latency
			l.exactlyOneMasterFrom(healed)
			l.run(healed + 10*tm.iv)
			l.wantMaster(a)
		})
	}
}

// TestLANPairSettingWithAThirdRouter: two backups that both believe they
// are the only one (vrrp.pair set wrongly on a segment with three routers)
// both take over at once when the master resigns. That is at worst one
// brief double master, which their first adverts resolve: the lower one
// steps down at once and the higher keeps the VIPs.
func TestLANPairSettingWithAThirdRouter(t *testing.T) {
	for _, tm := range timings {
		t.Run(tm.name, func(t *testing.T) {
			l := newLAN(t, tm.latency)
			pair := func(prio uint8, addr string) Config {
				c := lanConfig(tm.version, tm.iv, prio, addr)
				c.Pair = true
				return c
			}
			a := l.add("A", lanConfig(tm.version, tm.iv, 200, "198.18.0.1"))
			b := l.add("B", pair(150, "198.18.0.2"))
			c := l.add("C", pair(100, "198.18.0.3"))
			for _, n := range []*node{a, b, c} {
				l.at(0, n, Startup{})
			}
			l.run(20 * tm.iv)
			l.wantMaster(a)
			stop := 20*tm.iv + tm.iv/3
			l.at(stop, a, Shutdown{})
			// Both take over when the priority-0 advert arrives; their
			// takeover adverts reach each other one latency later.
			resolved := stop + 2*tm.latency
			l.exactlyOneMasterFrom(resolved)
			l.run(resolved + 50*tm.iv)
			l.wantMaster(b)
			var cMaster int
			for _, ch := range c.changes {
				if ch.To == Master {
					cMaster++
					if ch.Reason != ReasonPeerResigned {
						t.Errorf("C became master by %v", ch.Reason)
					}
				}
			}
			if cMaster != 1 {
				t.Errorf("C was master %d times, want once (the brief double master)", cMaster)
			}
			if last := c.changes[len(c.changes)-1]; last.To != Backup || last.Reason != ReasonPreempted || last.at > resolved {
				t.Errorf("C's last change %+v, want BACKUP (preempted) by %v", last, resolved)
			}
			if len(c.vips) > 0 {
				t.Errorf("C kept %v", c.vips)
			}
		})
	}
}

// TestLANPlannedHandover: a master put in maintenance hands the VIPs to
// its peer with no moment where nobody holds them, stays out while in
// maintenance, and takes them back (again with no gap) when it ends.
func TestLANPlannedHandover(t *testing.T) {
	for _, tm := range timings {
		t.Run(tm.name, func(t *testing.T) {
			l, a, b := startedPair(t, tm)
			l.atMostOneMaster()
			l.run(20 * tm.iv)
			l.wantMaster(a)
			// From now on somebody holds the VIPs at every instant.
			l.whenever(func(time.Time) error {
				if len(a.vips) == 0 && len(b.vips) == 0 {
					return fmt.Errorf("nobody holds the VIPs (A %v, B %v)", a.r.State(), b.r.State())
				}
				return nil
			})
			handover := 20*tm.iv + tm.iv/3
			l.at(handover, a, Maintenance{On: true})
			l.run(handover + 100*tm.iv)
			l.wantMaster(b)
			if st := a.r.State(); st != Backup || a.r.Priority() != 1 {
				t.Fatalf("A in maintenance: %v at priority %d", st, a.r.Priority())
			}
			resume := handover + 100*tm.iv + tm.iv/2
			l.at(resume, a, Maintenance{On: false})
			l.run(resume + tm.down(200) + 2*tm.iv)
			l.wantMaster(a)
			if len(b.changes) != 3 || b.changes[1] != ch(handover+tm.latency+tm.skew(100), Backup, Master, ReasonPeerResigned) ||
				b.changes[2].To != Backup || b.changes[2].Reason != ReasonPreempted {
				t.Errorf("B's changes %+v, want a takeover after Skew_Time and a step down on A's return", b.changes)
			}
			if n := len(a.changes); n < 2 || a.changes[2].StateChanged != (StateChanged{From: Master, To: HandingOver, Reason: ReasonMaintenance}) {
				t.Errorf("A's changes %+v", a.changes)
			}
		})
	}
}
