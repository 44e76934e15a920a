package appliance

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	"github.com/proxypair/proxypair/appliance/config"
	"github.com/proxypair/proxypair/appliance/control"
	"github.com/proxypair/proxypair/appliance/fsm"
	"github.com/proxypair/proxypair/appliance/netio"
	"github.com/proxypair/proxypair/appliance/vrrp"
)

// maxTransitions is how many state changes the status keeps.
const maxTransitions = 20

// env is what an instance needs from the host.
type env struct {
	conn     Conn
	src      netip.Addr // our advert source (the interface's own address)
	vips     VIPs
	arp      ARP
	links    Links
	notifier Notifier
	claimer  Claimer               // nil: the network follows gratuitous ARP
	provider string                // the claimer's name, for status
	health   Health                // nil: no health tracking
	newTimer func() (timer, error) // nil: Go runtime timers
}

// instance is one VRRP virtual router. Its run goroutine owns the state
// machine and all protocol state; other goroutines reach it only through
// the packets and calls channels.
type instance struct {
	cfg config.VRRP
	log *slog.Logger
	env
	r *fsm.Router

	expect vrrp.Expect
	mode   vrrp.ChecksumMode
	peers  []netip.Addr // unicast peers; nil = multicast

	packets chan netio.Packet
	calls   chan func()

	linkUp      bool
	since       time.Time
	sent        uint64
	received    uint64
	drops       *drops
	transitions []control.Transition
	sendErrs    uint64
	errLog      *rateLog // send and read failures

	armed        time.Time // the deadline the timer is set to; zero = stopped
	stopAnnounce context.CancelFunc
	stopClaim    context.CancelFunc
	cloud        control.Cloud // the cloud claim's state, when there is a claimer

	weight      int       // health.weight: added to the priority while unhealthy
	healthy     bool      // the tracker's verdict; true until its first one
	healthWhy   string    // why unhealthy
	healthSince time.Time // when the verdict last changed
	healthEv    <-chan HealthEvent
}

// newInstance returns an instance for cfg; weight (health.weight) is added
// to the priority while HAProxy is unhealthy.
func newInstance(cfg config.VRRP, weight int, e env, log *slog.Logger) (*instance, error) {
	in := &instance{
		env:     e,
		weight:  weight,
		log:     log.With("iface", cfg.Interface, "vrid", cfg.VRID),
		packets: make(chan netio.Packet, 64),
		calls:   make(chan func()),
	}
	in.drops = newDrops(in.log)
	in.cloud = control.Cloud{Provider: e.provider, State: "idle"}
	in.healthy = true
	in.errLog = newRateLog()
	if err := in.configure(cfg); err != nil {
		return nil, err
	}
	in.r = fsm.New(in.fsmConfig())
	return in, nil
}

// configure derives the receive expectations and send parameters from cfg.
func (in *instance) configure(cfg config.VRRP) error {
	e := vrrp.Expect{
		Version:   vrrp.Version(cfg.Version),
		VRID:      uint8(cfg.VRID),
		Interval:  cfg.AdvertInterval,
		Addresses: vipAddrs(cfg.VirtualIPs),
		CheckTTL:  len(cfg.UnicastPeers) == 0,
	}
	if cfg.Version == 2 && cfg.AuthPass != "" {
		pw, err := vrrp.Password(cfg.AuthPass)
		if err != nil {
			return fmt.Errorf("vrrp.auth_pass: %w", err)
		}
		e.AuthType, e.AuthData = vrrp.AuthSimple, pw
	}
	in.mode = vrrp.PseudoHeader
	if cfg.V3Checksum == config.ChecksumMessageOnly {
		in.mode = vrrp.MessageOnly
	}
	in.cfg, in.expect = cfg, e
	in.peers = nil
	if len(cfg.UnicastPeers) > 0 {
		in.peers = slices.Clone(cfg.UnicastPeers)
	}
	return nil
}

func (in *instance) fsmConfig() fsm.Config {
	return fsm.Config{
		Version:        in.cfg.Version,
		Priority:       uint8(in.cfg.Priority),
		AdvertInterval: in.cfg.AdvertInterval,
		Preempt:        in.cfg.Preempt,
		PreemptDelay:   in.cfg.PreemptDelay,
		Addr:           in.src,
	}
}

// run is the instance goroutine. ready is called once the first state is
// set up; run returns after a graceful stop when ctx ends.
func (in *instance) run(ctx context.Context, ready func()) error {
	linkCtx, stopLinks := context.WithCancel(ctx)
	defer stopLinks()
	up, linkChanges, err := in.links.Watch(linkCtx)
	if err != nil {
		return err
	}
	readerDone, stopReading := make(chan struct{}), make(chan struct{})
	go in.read(readerDone, stopReading)
	if in.health != nil {
		in.healthEv = in.health.Events()
	}

	now := time.Now()
	in.since, in.healthSince = now, now
	in.linkUp = up
	in.step(now, fsm.Startup{})
	if !up {
		in.log.Warn("link is down at start-up; waiting for it", "reason", "link_down")
		in.step(now, fsm.LinkDown{})
	}
	ready()

	newTimer := in.newTimer
	if newTimer == nil {
		newTimer = newGoTimer
	}
	timer, err := newTimer()
	if err != nil {
		return err
	}
	defer timer.Close()
	in.arm(timer)
	var watchdog <-chan time.Time
	if d, ok := in.notifier.WatchdogInterval(); ok {
		// Pinged from this loop, so a wedged loop stops the pings and
		// systemd restarts us.
		t := time.NewTicker(d)
		defer t.Stop()
		watchdog = t.C
	}

	for {
		select {
		case <-ctx.Done():
			in.notifier.Stopping()
			in.shutdown()
			close(stopReading)
			<-readerDone
			return nil
		case p := <-in.packets:
			in.handle(p)
		case <-timer.C():
			in.armed = time.Time{} // spent: arm below sets it again
			in.step(time.Now(), fsm.Timeout{})
		case up := <-linkChanges:
			in.link(up)
		case ev := <-in.healthEv:
			in.healthChanged(time.Now(), ev)
		case f := <-in.calls:
			f()
		case <-watchdog:
			in.notifier.Watchdog()
		}
		in.arm(timer)
	}
}

// read feeds received packets to the loop until the Conn is closed.
func (in *instance) read(done chan<- struct{}, stop <-chan struct{}) {
	defer close(done)
	buf := make([]byte, 1500)
	var lastErr time.Time // this goroutine's own; errLog belongs to the loop
	for {
		p, err := in.conn.Read(buf)
		if err != nil {
			if netio.IsClosed(err) {
				return
			}
			if time.Since(lastErr) > logEvery {
				in.log.Error("reading VRRP socket", "err", err)
				lastErr = time.Now()
			}
			time.Sleep(10 * time.Millisecond) // no busy loop on a persistent error
			continue
		}
		// The payload aliases buf; the loop gets its own copy.
		p.Payload = slices.Clone(p.Payload)
		select {
		case in.packets <- p:
		case <-stop: // the loop has stopped reading
			return
		}
	}
}

// call runs f on the instance goroutine and waits for it.
func (in *instance) call(ctx context.Context, f func()) error {
	done := make(chan struct{})
	select {
	case in.calls <- func() { f(); close(done) }:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// arm sets the timer to the state machine's next deadline. Most steps
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

func (in *instance) handle(p netio.Packet) {
	if p.Src == in.src {
		// Multicast loopback is off, but a bridge or a second socket can
		// still reflect our own advert.
		in.drops.add(p.At, vrrp.DropOwnAddress, p.Src, "")
		return
	}
	if in.peers != nil && !slices.Contains(in.peers, p.Src) {
		in.drops.add(p.At, vrrp.DropUnknownPeer, p.Src, "not in vrrp.unicast_peers")
		return
	}
	rcv, reason := vrrp.Validate(p.Packet, in.expect)
	if reason != vrrp.DropNone {
		in.drops.add(p.At, reason, p.Src, in.mismatch(reason, p.Payload))
		return
	}
	in.received++
	in.step(p.At, fsm.AdvertReceived{Src: p.Src, Priority: rcv.Priority, Interval: rcv.Interval})
}

// mismatch describes, for the log, what differed from our configuration:
// every such drop means a peer that will also become master.
func (in *instance) mismatch(reason vrrp.DropReason, payload []byte) string {
	a, err := vrrp.Parse(payload)
	if err != nil {
		return err.Error()
	}
	switch reason {
	case vrrp.DropVersion:
		return fmt.Sprintf("peer speaks VRRPv%d, we are configured for v%d", a.Version, in.cfg.Version)
	case vrrp.DropVRID:
		return fmt.Sprintf("peer's VRID %d, ours %d", a.VRID, in.cfg.VRID)
	case vrrp.DropInterval:
		return fmt.Sprintf("peer's advert interval %v, ours %v", a.Interval, in.cfg.AdvertInterval)
	case vrrp.DropAddressCount, vrrp.DropAddressSet:
		return fmt.Sprintf("peer's addresses %v, ours %v", a.Addresses, in.expect.Addresses)
	case vrrp.DropAuthType:
		return fmt.Sprintf("peer's auth type %v, ours %v", a.AuthType, in.expect.AuthType)
	case vrrp.DropPassword:
		return "auth_pass differs"
	}
	return ""
}

func (in *instance) link(up bool) {
	if up == in.linkUp {
		return
	}
	in.linkUp = up
	now := time.Now()
	if up {
		in.log.Info("link up", "reason", "link_up")
		in.step(now, fsm.LinkUp{})
	} else {
		in.log.Warn("link down", "reason", "link_down")
		in.step(now, fsm.LinkDown{})
	}
}

// step feeds one input to the state machine and carries out its actions.
func (in *instance) step(now time.Time, input fsm.Input) {
	for _, a := range in.r.Step(now, input) {
		in.do(now, a)
	}
}

func (in *instance) do(now time.Time, a fsm.Action) {
	switch a := a.(type) {
	case fsm.SendAdvert:
		in.send(now, a.Priority, a.Count)
	case fsm.AddVIPs:
		if err := in.vips.Add(in.cfg.VirtualIPs); err != nil {
			in.log.Error("adding VIPs failed: this master cannot serve them", "err", err)
		}
	case fsm.DelVIPs:
		in.quiet()
		if err := in.vips.Delete(in.cfg.VirtualIPs); err != nil {
			in.log.Error("removing VIPs failed", "err", err)
		}
	case fsm.Announce:
		// Announce comes on becoming master and when answering a
		// lower-priority master (split brain healing): both times the
		// network must learn that the VIPs are here.
		in.quiet()
		first := in.cfg.GARP.Repeat > 0
		if first {
			// The first ARP now, before the loop logs and notifies:
			// clients keep sending to the old MAC until they get it.
			announceNow(in.arp, in.expect.Addresses, in.log)
		}
		ctx, cancel := context.WithCancel(context.Background())
		in.stopAnnounce = cancel
		go announce(ctx, in.arp, in.expect.Addresses, in.cfg.GARP, first, in.log)
		in.claim(now)
	case fsm.StateChanged:
		in.changed(now, a)
	}
}

// quiet stops a running gratuitous-ARP sequence and cloud claim.
func (in *instance) quiet() {
	if in.stopAnnounce != nil {
		in.stopAnnounce()
		in.stopAnnounce = nil
	}
	if in.stopClaim != nil {
		in.stopClaim()
		in.stopClaim = nil
		if in.cloud.State == "claiming" {
			in.cloud.State = "cancelled"
		}
	}
}

func (in *instance) send(now time.Time, prio uint8, count int) {
	adv := vrrp.Advertisement{
		Version:   in.expect.Version,
		Type:      vrrp.TypeAdvertisement,
		VRID:      in.expect.VRID,
		Priority:  prio,
		AuthType:  in.expect.AuthType,
		Interval:  in.cfg.AdvertInterval,
		Addresses: in.expect.Addresses,
		AuthData:  in.expect.AuthData,
	}
	dsts := in.peers
	if dsts == nil {
		dsts = []netip.Addr{vrrp.MulticastGroup}
	}
	for _, dst := range dsts {
		b, err := adv.Marshal(in.src, dst, in.mode)
		if err != nil {
			// Config validation rules out every encoding error; reaching
			// this is a bug, but not one worth a crash.
			in.log.Error("encoding advert", "err", err)
			return
		}
		for range max(count, 1) {
			if err := in.conn.Send(b, dst); err != nil {
				in.sendErrs++
				if ok, suppressed := in.errLog.allow(now, "send"); ok {
					in.log.Error("sending advert failed", "to", dst, "err", err, "failures", in.sendErrs, "suppressed", suppressed)
				}
				continue
			}
			in.sent++
		}
	}
}

func (in *instance) changed(now time.Time, c fsm.StateChanged) {
	in.since = now
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
}

// statusLine is the one-line state systemd shows (STATUS=).
func (in *instance) statusLine() string {
	line := fmt.Sprintf("%s prio %d", in.r.State(), in.r.Priority())
	switch {
	case in.health == nil:
	case in.healthy:
		line += " haproxy ok"
	default:
		line += " haproxy DOWN: " + in.healthWhy
	}
	return line
}

// reconfigure applies a reloaded config; plan has already kept the keys
// that need a restart at their running values.
func (in *instance) reconfigure(now time.Time, cfg config.VRRP) {
	old := in.cfg
	if err := in.configure(cfg); err != nil {
		in.log.Error("reload: keeping the running VRRP settings", "err", err)
		in.configure(old)
		return
	}
	if in.r.State() == fsm.Master && !slices.Equal(old.VirtualIPs, cfg.VirtualIPs) {
		var gone []netip.Prefix
		for _, p := range old.VirtualIPs {
			if !slices.Contains(cfg.VirtualIPs, p) {
				gone = append(gone, p)
			}
		}
		if err := in.vips.Delete(gone); err != nil {
			in.log.Error("reload: removing VIPs", "err", err)
		}
		in.do(now, fsm.AddVIPs{})
		in.do(now, fsm.Announce{})
	}
	for _, a := range in.r.Reconfigure(now, in.fsmConfig()) {
		in.do(now, a)
	}
	// Reconfigure sets the configured priority; an unhealthy node must
	// keep advertising its lowered one.
	in.step(now, fsm.SetPriority{Priority: in.effectivePriority()})
}

// shutdown is the graceful stop: a priority-0 advert if Master, then no VIP
// left behind whatever state we were in.
//
// A master keeps serving the VIPs until a peer has taken over (make before
// break): it drops them when it hears the new master's advert, or after
// handOverWait if nobody takes over. keepalived drops them at once, so its
// clients lose Skew_Time (0.6 s at the seed's timers) on every planned
// stop; ours lose nothing.
func (in *instance) shutdown() {
	now := time.Now()
	wasMaster := in.r.State() == fsm.Master
	maxWait := in.handOverWait()
	for _, a := range in.r.Step(now, fsm.Shutdown{}) {
		if _, ok := a.(fsm.DelVIPs); ok && wasMaster {
			continue // below, once a peer has taken over
		}
		in.do(now, a)
	}
	in.quiet()
	if wasMaster {
		in.awaitTakeover(maxWait)
	}
	if err := in.vips.Delete(in.cfg.VirtualIPs); err != nil {
		in.log.Error("removing VIPs at shutdown", "err", err)
	}
	in.conn.Close()
}

// handOverWait bounds how long a stopping master keeps its VIPs for a peer
// to take over: a backup takes over Skew_Time after our priority-0 advert,
// and Skew_Time is under one advert interval (v3) or one second (v2).
func (in *instance) handOverWait() time.Duration {
	skewMax := time.Second
	if in.cfg.Version == 3 {
		skewMax = in.r.MasterAdverInterval()
	}
	return skewMax + 100*time.Millisecond
}

// awaitTakeover reads packets until a valid advert with a non-zero priority
// arrives from a peer (the new master) or maxWait passes.
func (in *instance) awaitTakeover(maxWait time.Duration) {
	deadline := time.NewTimer(maxWait)
	defer deadline.Stop()
	for {
		select {
		case <-deadline.C:
			in.log.Info("no peer took over; dropping the VIPs", "waited", maxWait)
			return
		case p := <-in.packets:
			if p.Src == in.src || (in.peers != nil && !slices.Contains(in.peers, p.Src)) {
				continue
			}
			if rcv, reason := vrrp.Validate(p.Packet, in.expect); reason == vrrp.DropNone && rcv.Priority > 0 {
				in.log.Info("peer took over; dropping the VIPs", "master", p.Src)
				return
			}
		}
	}
}

// snapshot is the instance's part of the status document.
func (in *instance) snapshot() control.Instance {
	held, err := in.vips.Held(in.cfg.VirtualIPs)
	if err != nil {
		in.log.Warn("listing VIPs for status", "err", err)
	}
	st := control.Instance{
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
		VIPsHeld:           prefixStrings(held),
		Link:               "up",
		AdvertsSent:        in.sent,
		AdvertsReceived:    in.received,
		Drops:              in.drops.snapshot(),
		Transitions:        slices.Clone(in.transitions),
	}
	if m := in.r.Master(); m.IsValid() {
		st.Master = m.String()
	}
	if !in.linkUp {
		st.Link = "down"
	}
	if in.claimer != nil {
		c := in.cloud
		st.Cloud = &c
	}
	if in.health != nil {
		st.Health = in.healthStatus()
	}
	for _, p := range in.peers {
		st.Peers = append(st.Peers, p.String())
	}
	return st
}

func vipAddrs(ps []netip.Prefix) []netip.Addr {
	out := make([]netip.Addr, len(ps))
	for i, p := range ps {
		out[i] = p.Addr()
	}
	return out
}

func prefixStrings(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}
