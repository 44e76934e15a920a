package appliance

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	"github.com/proxypair/proxypair/appliance/config"
	"github.com/proxypair/proxypair/appliance/control"
	"github.com/proxypair/proxypair/appliance/fsm"
	"github.com/proxypair/proxypair/appliance/ifwatch"
	"github.com/proxypair/proxypair/appliance/netio"
	"github.com/proxypair/proxypair/appliance/vrrp"
	"github.com/proxypair/proxypair/healthcheck"
)

// env is what an instance needs from the host.
type env struct {
	src      netip.Addr                         // our advert source (the interface's own address)
	openConn func(multicast bool) (Conn, error) // the VRRP sockets, again after the interface is re-created
	addrs    AddrTable
	label    string // the address label that marks our VIPs
	openARP  func() (ARP, error)
	watchARP func() (ARPWatch, error) // nil: a stop waits for the peer's second advert
	watch    WatchFunc
	notifier Notifier
	claimer  Claimer // nil: the network follows gratuitous ARP
	provider string  // the claimer's name, for status
	health   Health  // nil: no health tracking
	hooks    Hooks   // nil: no notify hooks
	newTimer func() (timer, error)
}

// The events the instance loop steps. Every source other than the loop's
// own timer and watchdog posts one to instance.events.
type (
	event       interface{}
	packetEvent struct{ p netio.Packet }
	linkEvent   struct{ l ifwatch.Link }
	vipsEvent   struct{ s vipState }
	cloudEvent  struct{ c control.Cloud }
	healthEvent struct{ h healthcheck.Event }
	takenEvent  struct { // another host announced one of our VIPs
		at  time.Time
		vip netip.Addr
	}
	callEvent struct {
		f    func(now time.Time)
		done chan struct{}
	}
	reopenEvent struct{} // try the sockets again after a failed reopen
)

// Bounds of the instance's own waits.
const (
	// reopenRetry is how long to wait before opening the sockets again
	// when the interface came back but opening failed.
	reopenRetry = time.Second
	// finishWait bounds the wait for the keeper to confirm, at the end of a
	// stop, that no VIP of ours is left (ExecStopPost's cleanup is the
	// next line of defence).
	finishWait = 2 * time.Second
	// maxStatusLine bounds systemd's STATUS= (its notify buffer is small,
	// and a long line is dropped whole).
	maxStatusLine = 1024
)

// instance is one VRRP virtual router: an executor around its fsm.Router.
// Its loop goroutine owns the router and every piece of state below; other
// goroutines reach it only by posting events. The loop stamps each event
// with the time once, steps the router and carries out its actions:
// adverts are sent from the loop, the VIP set is handed to the keeper,
// which reconciles the interface with it, and the cloud claim follows what
// the keeper reports held.
type instance struct {
	cfg    config.VRRP
	weight int // health.weight
	log    *slog.Logger
	env
	r      *fsm.Router
	recv   *receiver
	drops  *drops
	events chan event
	// stopped is closed when run returns: a call then fails at once
	// instead of waiting for a loop that will never answer.
	stopped chan struct{}
	keeper  *keeper
	claims  *claims // nil without a cloud provider

	conn       Conn
	connIndex  int    // the interface index the sockets are bound to
	stopReader func() // stops the reader goroutine and closes conn
	// reopenPending: a retry of a failed open is scheduled (retryOpen).
	reopenPending bool
	// effects is the context of the effect goroutines: it ends when run
	// returns, after the stop.
	effects context.Context
	link    ifwatch.Link
	linkUp  bool   // what the router was told
	buf     []byte // for TryRead

	since       time.Time
	sent        uint64
	received    uint64
	sendErrs    uint64
	transitions []control.Transition
	counts      counters // lifetime counts, for metrics
	errLog      *rateLog

	vips        vipState // the keeper's last report
	postedVIPs  []netip.Prefix
	heldTold    bool // VIPsHeld stepped in this stretch of mastership
	cloud       control.Cloud
	healthy     bool
	healthWhy   string
	healthSince time.Time

	maintenance  *control.Maintenance // as asked for; the fsm says whether it still holds
	heard        peers
	healthStop   context.CancelFunc // stops forwarding the tracker's verdicts
	claimsStop   context.CancelFunc // stops the claim loop
	restarting   bool               // stopping to start again in-process: not a stop for systemd
	lastResign   *control.ResignTiming
	lastTakeover *control.TakeoverTiming

	armed time.Time // the deadline the timer is set to; zero = stopped

	// The watch for the peer's gratuitous ARPs (syncTakeoverWatch).
	takeWatch      ARPWatch // open while we hold the VIPs
	takeWatchVIPs  []netip.Addr
	takeWatchRetry time.Time // after a failed open
	releaseSince   time.Time // when the current hand-over began; zero: none
	peerARPAt      time.Time // when the last peer ARP for our VIPs was seen
	masterSince    time.Time // when we last became master
}

// maxTransitions is how many state changes the status keeps.
const maxTransitions = 20

// newInstance returns an instance for cfg; weight (health.weight) is added
// to the priority while HAProxy is unhealthy.
func newInstance(cfg config.VRRP, weight int, e env, log *slog.Logger) (*instance, error) {
	in := &instance{
		cfg:     cfg,
		weight:  weight,
		env:     e,
		log:     log.With("iface", cfg.Interface, "vrid", cfg.VRID),
		events:  make(chan event, 256),
		stopped: make(chan struct{}),
		buf:     make([]byte, 1500),
		errLog:  newRateLog(),
		healthy: true,
		heard:   peers{},
	}
	in.drops = newDrops(in.log)
	rc, err := newReceiver(cfg, e.src, in.drops)
	if err != nil {
		return nil, err
	}
	in.recv = rc
	in.cloud = control.Cloud{Provider: e.provider, State: control.ClaimIdle}
	in.r = fsm.New(in.fsmConfig())
	return in, nil
}

func (in *instance) fsmConfig() fsm.Config {
	return fsm.Config{
		Version:        in.cfg.Version,
		Priority:       uint8(in.cfg.Priority),
		AdvertInterval: in.cfg.AdvertInterval,
		Preempt:        in.cfg.Preempt,
		PreemptDelay:   in.cfg.PreemptDelay,
		Addr:           in.src,
		VIPs:           slices.Clone(in.cfg.VirtualIPs),
		HealthWeight:   in.weight,
		Pair:           in.cfg.PairMode(),
	}
}

// post hands ev to the loop, unless ctx ends first.
func (in *instance) post(ctx context.Context, ev event) {
	select {
	case in.events <- ev:
	case <-ctx.Done():
	}
}

// run is the instance loop. ready is called once the first state is set
// up. When ctx ends, run stops gracefully (make before break as master)
// and returns once no VIP of ours is left.
func (in *instance) run(ctx context.Context, ready func()) error {
	defer close(in.stopped)
	// Everything that can fail is set up before anything is opened or
	// announced: a start that fails leaves no socket behind and never
	// tells systemd it is ready.
	newTimer := in.newTimer
	if newTimer == nil {
		newTimer = newGoTimer
	}
	timer, err := newTimer()
	if err != nil {
		return err
	}
	defer timer.Close()
	// The effects outlive ctx: a stopping master still holds its VIPs.
	effects, stopEffects := context.WithCancel(context.Background())
	defer stopEffects()
	in.effects = effects
	defer in.closeConn() // on an early return; finish closes it otherwise

	in.keeper = newKeeper(in.addrs, in.label, in.openARP, in.cfg.GARP, in.log.With("component", "vips"),
		func(s vipState) { in.post(effects, vipsEvent{s}) })
	in.keeper.setConfig(in.cfg.VirtualIPs, in.cfg.GARP)
	go in.keeper.run(effects)
	in.startClaims()
	defer in.stopClaims()
	link, err := in.watch(effects, func(l ifwatch.Link) { in.post(effects, linkEvent{l}) }, in.keeper.hint)
	if err != nil {
		return err
	}
	in.link = link
	if link.Exists {
		if err := in.open(link.Index); err != nil {
			return err
		}
	}
	in.startHealth()
	defer in.stopHealth()

	now := time.Now()
	in.since, in.healthSince = now, now
	if m := in.maintenance; m != nil {
		// Restored from before a restart: start held, never take the VIP.
		in.log.Info("in maintenance since before the restart: leaving the VIPs to the peer", "since", m.Since, "until", m.Until)
		in.step(now, fsm.Maintenance{On: true, Until: m.Until})
	}
	in.linkUp = link.Usable() && in.conn != nil
	if !in.linkUp {
		in.log.Warn("link is down at start-up; waiting for it", "reason", "link_down")
		in.step(now, fsm.LinkDown{}) // Startup then goes to Fault
	}
	in.step(now, fsm.Startup{})
	ready()

	var watchdog <-chan time.Time
	if d, ok := in.notifier.WatchdogInterval(); ok {
		// Pinged from this loop, so a wedged loop stops the pings and
		// systemd restarts us.
		t := time.NewTicker(d)
		defer t.Stop()
		watchdog = t.C
	}

	done := ctx.Done()
	for {
		in.arm(timer)
		select {
		case <-done:
			done = nil
			if !in.restarting {
				in.notifier.Stopping()
			}
			in.step(time.Now(), fsm.Shutdown{})
		case ev := <-in.events:
			in.handle(ev)
		case <-timer.C():
			in.tick()
		case <-watchdog:
			in.notifier.Watchdog()
		}
		if done == nil && in.r.State() == fsm.Initialize {
			break
		}
	}
	in.finish()
	return nil
}

func (in *instance) handle(ev event) {
	now := time.Now()
	switch ev := ev.(type) {
	case packetEvent:
		in.packet(ev.p)
	case linkEvent:
		in.linkChanged(now, ev.l)
	case reopenEvent:
		in.reopenPending = false
		in.linkChanged(now, in.link)
	case vipsEvent:
		in.vipsReported(now, ev.s)
	case cloudEvent:
		in.cloud = ev.c
	case healthEvent:
		in.healthChanged(now, ev.h)
	case takenEvent:
		in.peerAnnounced(ev)
	case callEvent:
		ev.f(now)
		close(ev.done)
	}
}

// tick handles the timer. Events queued before it fired go first, and as
// Backup so do adverts still in the socket: after a stall (a VM pause, CPU
// starvation) the master's waiting adverts must restart the
// Master_Down_Timer, not lose the race to it.
func (in *instance) tick() {
	in.armed = time.Time{} // spent: arm sets it again
	for range cap(in.events) {
		select {
		case ev := <-in.events:
			in.handle(ev)
			continue
		default:
		}
		break
	}
	if in.r.State() == fsm.Backup && in.conn != nil {
		for range 64 {
			p, ok := in.conn.TryRead(in.buf)
			if !ok {
				break
			}
			p.Payload = slices.Clone(p.Payload)
			in.packet(p)
		}
	}
	in.step(time.Now(), fsm.Timeout{})
}

// errStopped is what a call gets once the instance loop has ended.
var errStopped = errors.New("appliance: the VRRP instance has stopped")

// call runs f on the loop and waits for it. Once the loop has ended it
// fails with errStopped (a status request during a stop must not hold up
// the control server's shutdown).
func (in *instance) call(ctx context.Context, f func(now time.Time)) error {
	done := make(chan struct{})
	select {
	case in.events <- callEvent{f: f, done: done}:
	case <-ctx.Done():
		return ctx.Err()
	case <-in.stopped:
		return errStopped
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-in.stopped:
		// finish runs the calls that reach it before run returns.
		select {
		case <-done:
			return nil
		default:
			return errStopped
		}
	}
}

// arm sets the timer to the state machine's next deadline. Most events
// leave the deadline alone (a status request, a watchdog ping, a dropped
// packet), so the timer is only touched when it changed.
func (in *instance) arm(t timer) {
	d, ok := in.r.NextDeadline()
	if !ok {
		d = time.Time{}
	}
	if d.Equal(in.armed) {
		return
	}
	in.armed = d
	if ok {
		t.Reset(time.Until(d))
	} else {
		t.Stop()
	}
}

func (in *instance) packet(p netio.Packet) {
	adv, reason := in.recv.accept(p)
	if reason != vrrp.DropNone {
		in.heard.drop(p.At, p.Src, reason)
		return
	}
	in.received++
	in.counts.received(p.At, adv.Priority)
	in.heard.advert(p.At, adv)
	in.step(p.At, adv)
}

// step feeds one input to the state machine and carries out its actions.
func (in *instance) step(now time.Time, input fsm.Input) {
	acts := in.r.Step(now, input)
	for _, a := range acts {
		if c, ok := a.(fsm.StateChanged); ok && c.To == fsm.Master {
			in.lastTakeover = &control.TakeoverTiming{Trigger: now, Reason: c.Reason.String()}
			in.masterSince = now
		}
	}
	in.apply(now, acts)
}

// apply carries out actions in order. The VIP actions are one change of the
// wanted set, handed to the keeper once.
func (in *instance) apply(now time.Time, acts []fsm.Action) {
	vipsDone := false
	for _, a := range acts {
		switch a := a.(type) {
		case fsm.SendAdvert:
			if first := in.send(now, a.Priority, a.Count); !first.IsZero() {
				in.timeAdvert(a.Priority, acts, first)
			}
		case fsm.AddVIPs, fsm.DelVIPs, fsm.Announce:
			if !vipsDone {
				vipsDone = true
				in.wantVIPs(acts)
			}
		case fsm.StateChanged:
			if !vipsDone {
				// No VIP change, but maybe a new voice: a master
				// handing its VIPs over announces them no more.
				vipsDone = true
				in.wantVIPs(acts)
			}
			in.changed(now, a)
		}
	}
	in.syncTakeoverWatch(now)
}

// timeAdvert stamps the legs of a hand-over that an advert completes: the
// priority-0 adverts of a resign, our first advert as the new master. at is
// when its first copy left.
func (in *instance) timeAdvert(prio uint8, acts []fsm.Action, at time.Time) {
	for _, a := range acts {
		c, ok := a.(fsm.StateChanged)
		switch {
		case !ok:
		case prio == 0 && c.To == fsm.Backup && in.lastResign != nil && in.lastResign.Prio0Sent.IsZero():
			in.lastResign.Prio0Sent = at
		case c.To == fsm.Master && in.lastTakeover != nil && in.lastTakeover.AdvertSent.IsZero():
			in.lastTakeover.AdvertSent = at
		}
	}
}
