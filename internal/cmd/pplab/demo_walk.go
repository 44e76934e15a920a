//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/proxypair/proxypair/appliance/control"
	"github.com/proxypair/proxypair/internal/bench"
	"github.com/proxypair/proxypair/internal/lab"
	"github.com/proxypair/proxypair/internal/lab/ppnode"
)

// demoTimers are the pair's VRRP settings and how long the demo lets each
// step take.
type demoTimers struct {
	version  int
	interval time.Duration
	authPass string        // v2 only
	health   time.Duration // health.interval
	// steady is how long the VIP must stay where a step expects it before
	// the step ends; within bounds the wait for that.
	steady, within time.Duration
}

var (
	// classicTimers are the seed's keepalived pair: VRRP v2, auth PASS,
	// 1 s adverts.
	classicTimers = demoTimers{version: 2, interval: time.Second, authPass: "pass1234",
		health: 200 * time.Millisecond, steady: time.Second, within: 20 * time.Second}
	// shortTimers run the same walkthrough in seconds (CI): VRRP v3 at
	// 100 ms.
	shortTimers = demoTimers{version: 3, interval: 100 * time.Millisecond,
		health: 100 * time.Millisecond, steady: 500 * time.Millisecond, within: 10 * time.Second}
)

// skew is Skew_Time for a backup of priority prio.
func (t demoTimers) skew(prio int) time.Duration {
	return time.Duration(256-prio) * t.interval / 256
}

// masterDown is Master_Down_Interval for a backup of priority prio.
func (t demoTimers) masterDown(prio int) time.Duration { return 3*t.interval + t.skew(prio) }

func (t demoTimers) describe() string {
	s := fmt.Sprintf("VRRP v%d", t.version)
	if t.authPass != "" {
		s += ", auth PASS"
	}
	return s + fmt.Sprintf(", VRID 51, %v adverts (b's Master_Down %s, Skew_Time %s)",
		t.interval, roundDuration(t.masterDown(100)), roundDuration(t.skew(100)))
}

var demoVIP = netip.MustParsePrefix("198.18.0.100/24")

// demoOptions say what to run and where to report.
type demoOptions struct {
	proxypair string   // absolute path of the binary under test
	pplab     []string // runs pplab inside a host (the backend servers)
	timers    demoTimers
	steps     int           // run the first steps only; 0 = all
	every     time.Duration // the client's request interval
	out       io.Writer
}

// member is one node of the pair: HAProxy, its backend server, and either
// proxypair or (for a few steps) keepalived.
type member struct {
	name string
	prio int
	host *lab.Host

	mu     sync.Mutex // guards what the live view reads while steps act
	runs   string     // "", "proxypair", "keepalived" or "stopped"
	hp     *lab.HAProxy
	server *lab.Process
	pp     *ppnode.Node
	ka     *lab.Keepalived
}

func (m *member) set(f func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f()
}

// demo is one run of the walkthrough.
type demo struct {
	o       demoOptions
	lab     *lab.Lab
	a, b    *member
	c       *lab.Host
	cl      *demoRequests
	stopCl  func()
	outMu   sync.Mutex
	results []stepResult
}

func (d *demo) say(format string, args ...any) {
	d.outMu.Lock()
	defer d.outMu.Unlock()
	fmt.Fprintf(d.o.out, format, args...)
}

// step is one act of the walkthrough and the outcome it must reach.
type step struct {
	title string // for the summary
	say   string // what happens and why
	act   func(ctx context.Context) error
	want  []*member // who must hold the VIP, alone, once it settles
	// first: before the first election there is no VIP to miss.
	first bool
	// planned: a planned move, which must leave the client no gap.
	planned bool
}

// steps is the walkthrough, in order.
func (d *demo) steps() []step {
	a, b := d.a, d.b
	return []step{
		{title: "election", first: true, want: []*member{a},
			say: "a and b start as BACKUP; hearing no master, a (the higher priority) takes over after its Master_Down",
			act: func(context.Context) error { return errors.Join(d.startPP(a), d.startPP(b)) }},
		{title: "HAProxy killed on a", want: []*member{b},
			say: "HAProxy on a is killed: a resigns at once (priority-0 adverts), b serves after Skew_Time",
			act: func(context.Context) error { return a.hp.Kill() }},
		{title: "HAProxy back on a", want: []*member{a},
			say: "HAProxy on a starts again: a is healthy, its priority returns, it preempts",
			act: func(context.Context) error { return d.startHAProxy(a) }},
		{title: "a's last backend dies", want: []*member{b},
			say: "a's only backend server dies (SIGKILL) while HAProxy lives: HAProxy marks it DOWN, a sees no server UP and resigns, b serves",
			act: func(context.Context) error { return a.server.Kill() }},
		{title: "backend back on a", want: []*member{a},
			say: "a's backend server starts again: HAProxy marks it UP, a is healthy and preempts",
			act: func(context.Context) error { return d.startServer(a) }},
		{title: "a's eth1 down", want: []*member{b},
			say: "a's eth1 goes down (a hard failure: no goodbye): b takes over after its Master_Down",
			act: func(context.Context) error { return a.host.SetLink(false) }},
		{title: "a's eth1 up", want: []*member{a},
			say: "a's eth1 comes back: a has the higher priority and preempts",
			act: func(context.Context) error { return a.host.SetLink(true) }},
		{title: "a stopped (SIGTERM)", want: []*member{b},
			say: "a stops gracefully: priority-0 adverts; b takes over after Skew_Time while a keeps serving until b holds the VIP",
			act: func(context.Context) error { return d.stopPP(a) }},
		{title: "a started", want: []*member{a},
			say: "a starts again and preempts",
			act: func(context.Context) error { return d.startPP(a) }},
		{title: "planned hand-over", want: []*member{b}, planned: true,
			say: "`proxypair handover` on a: a keeps the VIP until b holds it (make before break), then stays out in maintenance",
			act: func(ctx context.Context) error { return d.ctl(ctx, a, "handover") }},
		{title: "resume", want: []*member{a}, planned: true,
			say: "`proxypair resume` on a: its priority returns and it preempts",
			act: func(ctx context.Context) error { return d.ctl(ctx, a, "resume") }},
		{title: "split brain", want: []*member{a, b},
			say: "VRRP is blocked between a and b while both stay up: b hears no master and takes the VIP too: two masters, both answering for it",
			act: func(context.Context) error { return d.blockVRRP(true) }},
		{title: "split brain healed", want: []*member{a},
			say: "VRRP flows again: a hears b's lower priority and answers at once (advert + gratuitous ARPs); b hears a and steps back",
			act: func(context.Context) error { return d.blockVRRP(false) }},
		{title: "b runs keepalived", want: []*member{a},
			say: "b now runs keepalived with the same settings (and the usual kill -0 vrrp_script): a stays master",
			act: func(context.Context) error { return d.toKeepalived(b) }},
		{title: "a stopped, keepalived takes over", want: []*member{b},
			say: "a stops gracefully: keepalived takes over from proxypair",
			act: func(context.Context) error { return d.stopPP(a) }},
		{title: "a preempts keepalived", want: []*member{a},
			say: "a starts again and preempts keepalived",
			act: func(context.Context) error { return d.startPP(a) }},
		{title: "b runs proxypair again", want: []*member{a},
			say: "b stops keepalived and runs proxypair again (the migration, one node at a time): a stays master",
			act: func(context.Context) error { return d.toProxypair(b) }},
	}
}

// run builds the pair and the client in d.lab, walks through the steps and
// prints the summary. The results cover every step that ran; the error
// says which step went wrong, or which expectation failed.
func (d *demo) run(ctx context.Context) ([]stepResult, error) {
	began := time.Now()
	if err := d.setUp(); err != nil {
		return nil, err
	}
	defer d.stopCl()
	steps := d.steps()
	if d.o.steps > 0 && d.o.steps < len(steps) {
		steps = steps[:d.o.steps]
	}
	var failed []string
	for i, s := range steps {
		res, err := d.step(ctx, i+1, s)
		if err != nil {
			d.summary()
			return d.results, err
		}
		if res.Failed != "" {
			failed = append(failed, fmt.Sprintf("step %d (%s): %s", res.N, res.Title, res.Failed))
		}
	}
	d.stopCl()
	if st, err := control.Get(ctx, d.a.pp.Socket); err == nil {
		d.say("\n`proxypair status` on a:\n")
		d.outMu.Lock()
		st.WriteText(d.o.out, time.Now())
		d.outMu.Unlock()
	}
	d.say("\n")
	d.summary()
	d.say("\nDone in %s.\n", time.Since(began).Round(time.Second))
	if len(failed) > 0 {
		return d.results, fmt.Errorf("demo: %s", strings.Join(failed, "; "))
	}
	return d.results, nil
}

func (d *demo) summary() {
	d.outMu.Lock()
	defer d.outMu.Unlock()
	_ = writeSummary(d.o.out, d.results, fmt.Sprintf("c GETs http://%v/ every %v", demoVIP.Addr(), d.o.every))
}

// setUp adds the hosts, starts each node's backend server and HAProxy
// (proxypair starts in the first step), and the client.
func (d *demo) setUp() error {
	hosts := map[string]netip.Prefix{
		"a": netip.MustParsePrefix("198.18.0.1/24"),
		"b": netip.MustParsePrefix("198.18.0.2/24"),
		"c": netip.MustParsePrefix("198.18.0.3/24"),
	}
	d.a, d.b = &member{name: "a", prio: 200}, &member{name: "b", prio: 100}
	for _, m := range []*member{d.a, d.b} {
		h, err := d.lab.AddHost(m.name, hosts[m.name])
		if err != nil {
			return err
		}
		m.host = h
	}
	c, err := d.lab.AddHost("c", hosts["c"])
	if err != nil {
		return err
	}
	d.c = c
	t := d.o.timers
	d.say("proxypair lab: network namespaces on this machine, one bridge, %v\n", lab.Subnet)
	d.say("  a  %v  HAProxy, its backend server, proxypair (priority %d)\n", d.a.host.Addr.Addr(), d.a.prio)
	d.say("  b  %v  HAProxy, its backend server, proxypair (priority %d; %s instead in steps 14-16)\n", d.b.host.Addr.Addr(), d.b.prio, keepalivedVersion(context.Background(), d.b.host))
	d.say("  c  %v  the client: GETs http://%v/ every %v (each answer names the node that served it)\n", c.Addr.Addr(), demoVIP.Addr(), d.o.every)
	d.say("  %s\n", t.describe())
	d.say("Each step prints a line a second: who holds the VIP, each node's state and\n")
	d.say("effective priority, and the client's answered/sent over the last second.\n")
	for _, m := range []*member{d.a, d.b} {
		if err := d.startServer(m); err != nil {
			return err
		}
		if err := d.startHAProxy(m); err != nil {
			return err
		}
	}
	d.cl, d.stopCl = startDemoClient(c, "http://"+demoVIP.Addr().String()+"/", d.o.every, 500*time.Millisecond)
	return nil
}

// startServer runs m's backend application: `pplab serve` answering with
// the node's name, the only server of HAProxy's backend.
func (d *demo) startServer(m *member) error {
	args := append(slices.Clone(d.o.pplab[1:]), "serve", "--listen", "127.0.0.1:8081", "--body", m.name)
	p, err := m.host.Start(d.o.pplab[0], args...)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = lab.Eventually(ctx, 10*time.Millisecond, func() (bool, string) {
		return p.Exited() || strings.Contains(p.Output(), bench.ServeMarker), "not listening yet"
	})
	if err != nil || p.Exited() {
		_ = p.Kill()
		return fmt.Errorf("demo: backend server on %s: %w\n%s", m.name, errors.Join(err, errors.New("not serving")), p.Output())
	}
	m.set(func() { m.server = p })
	return nil
}

func (d *demo) startHAProxy(m *member) error {
	hp, err := m.host.StartHAProxy(lab.HAProxyConfig{ExternalServers: true})
	if err != nil {
		return err
	}
	m.set(func() { m.hp = hp })
	return nil
}

// config is m's proxypair YAML (ppnode adds control and log).
func (d *demo) config(m *member) string {
	t := d.o.timers
	var b strings.Builder
	fmt.Fprintf(&b, "vrrp:\n  interface: eth1\n  virtual_router_id: 51\n  priority: %d\n  version: %d\n  advert_interval: %v\n",
		m.prio, t.version, t.interval)
	if t.authPass != "" {
		fmt.Fprintf(&b, "  auth_pass: %s\n", t.authPass)
	}
	fmt.Fprintf(&b, "  virtual_ips: [%v]\nhealth:\n  interval: %v\n  haproxy:\n    socket: %s\n", demoVIP, t.health, m.hp.Socket)
	return b.String()
}

// startPP starts proxypair on m, the first time or again.
func (d *demo) startPP(m *member) error {
	m.mu.Lock()
	pp := m.pp
	m.mu.Unlock()
	var err error
	if pp == nil {
		pp, err = ppnode.Start(m.host, d.o.proxypair, d.config(m))
	} else {
		err = pp.Restart()
	}
	if err != nil {
		return err
	}
	m.set(func() { m.pp, m.runs = pp, "proxypair" })
	return nil
}

// stopPP stops proxypair on m gracefully (SIGTERM).
func (d *demo) stopPP(m *member) error {
	m.set(func() { m.runs = "stopped" })
	return m.pp.Stop(10 * time.Second)
}

// ctl runs `proxypair <cmd>` on m, as an operator would, and shows it with
// its output.
func (d *demo) ctl(ctx context.Context, m *member, cmd string) error {
	out, err := m.host.Run(ctx, d.o.proxypair, cmd, "--config", m.pp.ConfigFile)
	var b strings.Builder
	fmt.Fprintf(&b, "   $ proxypair %s\n", cmd)
	for line := range strings.Lines(strings.TrimRight(out, "\n")) {
		fmt.Fprintf(&b, "     %s\n", strings.TrimRight(line, "\n"))
	}
	d.say("%s", b.String())
	return err
}

func (d *demo) blockVRRP(block bool) error {
	return errors.Join(d.a.host.BlockVRRPIn(block), d.b.host.BlockVRRPIn(block))
}

// toKeepalived replaces proxypair on m with keepalived, same settings.
func (d *demo) toKeepalived(m *member) error {
	if err := d.stopPP(m); err != nil {
		return err
	}
	t := d.o.timers
	ka, err := m.host.StartKeepalived(lab.KeepalivedConfig{VRID: 51, Priority: m.prio, Version: t.version,
		Interval: t.interval, AuthPass: t.authPass, VIPs: []netip.Prefix{demoVIP},
		Script: &lab.KeepalivedScript{PIDFile: m.hp.PIDFile, Weight: -150}})
	if err != nil {
		return err
	}
	m.set(func() { m.ka, m.runs = ka, "keepalived" })
	return nil
}

// toProxypair stops keepalived on m and starts proxypair again.
func (d *demo) toProxypair(m *member) error {
	m.set(func() { m.runs = "stopped" })
	if err := m.ka.Stop(10 * time.Second); err != nil {
		return err
	}
	m.set(func() { m.ka = nil })
	return d.startPP(m)
}

// step runs one step: a view line, the act, a view line every second
// until the VIP has settled where the step wants it and stayed there, a
// last view line, then the client's account of the step.
func (d *demo) step(ctx context.Context, n int, s step) (stepResult, error) {
	res := stepResult{N: n, Title: s.title, Counted: !s.first, Planned: s.planned}
	d.say("\n%d. %s\n", n, s.say)
	began := time.Now()
	w := d.watchHolders(began)
	defer w.stop()
	d.view(ctx, began, began.Add(-time.Second))
	vctx, stopView := context.WithCancel(ctx)
	viewDone := make(chan time.Time)
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		prev := began
		for {
			select {
			case <-vctx.Done():
				viewDone <- prev
				return
			case now := <-t.C:
				d.view(vctx, began, prev)
				prev = now
			}
		}
	}()
	var err error
	if s.act != nil {
		err = s.act(ctx)
	}
	if err == nil {
		err = d.settle(ctx, w, s.want)
	}
	end := time.Now()
	stopView()
	prev := <-viewDone
	if err != nil {
		if ctx.Err() != nil {
			err = errors.New("interrupted")
		}
		return res, fmt.Errorf("demo: step %d (%s): %w", n, s.title, err)
	}
	holders, changed := w.get()
	res.Holders = holderNames(holders)
	res.Stayed = changed.IsZero()
	res.Took = changed.Sub(began)
	if res.Stayed {
		res.Took = end.Sub(began)
	}
	// Requests sent during the step may still be waiting for an answer.
	wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_ = lab.Eventually(wctx, 10*time.Millisecond, func() (bool, string) { return !d.cl.inFlight(end), "" })
	d.view(ctx, began, prev)
	res.clientAccount = d.cl.account(began, end)
	var fails []string
	if s.planned && res.Run > plannedRun {
		fails = append(fails, fmt.Sprintf("a planned move left a gap: %d requests in a row failed", res.Run))
	}
	// However the VIP got there, the client must be served by its holder
	// by the end of the step: a node holding the VIP that the client
	// cannot reach is no better than none.
	if ok, why := d.cl.served(end.Add(-servedFor), end, holders); !ok && !s.first {
		fails = append(fails, fmt.Sprintf("the client is not served by %s at the end of the step: %s; %s", res.Holders, why, d.arpView(ctx)))
	}
	res.Failed = strings.Join(fails, "; ")
	d.results = append(d.results, res)
	d.say("   %s\n", res.resultLine())
	return res, nil
}

// servedFor is how long before a step's end every request must have been
// answered by a holder of the VIP.
const servedFor = 200 * time.Millisecond

// arpView says where the client's ARP entry for the VIP points, and whose
// MAC that is: a client left pointing at a node that gave up the VIP is
// what a missing gratuitous ARP looks like.
func (d *demo) arpView(ctx context.Context) string {
	out, err := d.c.Run(ctx, "ip", "neigh", "show", demoVIP.Addr().String(), "dev", lab.HostInterface)
	if err != nil {
		return fmt.Sprintf("(c's ARP entry: %v)", err)
	}
	s := "c's ARP entry for the VIP: " + strings.TrimSpace(out)
	for _, m := range []*member{d.a, d.b} {
		mac, err := m.host.Run(ctx, "cat", "/sys/class/net/"+lab.HostInterface+"/address")
		if err == nil {
			s += fmt.Sprintf("; %s's eth1 is %s", m.name, strings.TrimSpace(mac))
		}
	}
	return s
}

// settle waits until exactly want hold the VIP and have held it for the
// steady time.
func (d *demo) settle(ctx context.Context, w *holderWatch, want []*member) error {
	var names []string
	for _, m := range want {
		names = append(names, m.name)
	}
	t := d.o.timers
	wctx, cancel := context.WithTimeout(ctx, t.within)
	defer cancel()
	err := lab.Eventually(wctx, 10*time.Millisecond, func() (bool, string) {
		got, changed := w.get()
		if !slices.Equal(got, names) {
			return false, "VIP on " + holderNames(got)
		}
		if changed.IsZero() {
			changed = w.began
		}
		return time.Since(changed) >= t.steady, "VIP on " + holderNames(got) + " for less than " + t.steady.String()
	})
	if err != nil {
		return fmt.Errorf("the VIP never settled on %s alone within %v: %w", holderNames(names), t.within, err)
	}
	return nil
}

// holderWatch follows who holds the VIP through a step, polling every
// 10 ms, and remembers when that last changed.
type holderWatch struct {
	began time.Time
	stop  func()

	mu      sync.Mutex
	cur     []string
	changed time.Time // when cur began; zero if it held since the step began
}

func (d *demo) watchHolders(began time.Time) *holderWatch {
	w := &holderWatch{began: began, cur: d.holders()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	w.stop = func() { cancel(); <-done }
	go func() {
		defer close(done)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			h := d.holders()
			w.mu.Lock()
			if !slices.Equal(h, w.cur) {
				w.cur, w.changed = h, time.Now()
			}
			w.mu.Unlock()
		}
	}()
	return w
}

// get returns who holds the VIP and since when (zero: since the step
// began).
func (w *holderWatch) get() ([]string, time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cur, w.changed
}

// holders names the nodes whose eth1 holds the VIP, a first.
func (d *demo) holders() []string {
	var names []string
	for _, m := range []*member{d.a, d.b} {
		if m.host.HasAddr(demoVIP.Addr()) {
			names = append(names, m.name)
		}
	}
	return names
}

// view prints one line of the live view: time into the step, who holds
// the VIP, each node's state and effective priority, and the client's
// requests that ended since prev.
func (d *demo) view(ctx context.Context, began, prev time.Time) {
	now := time.Now()
	ok, total, by := d.cl.finished(prev, now)
	client := fmt.Sprintf("client %3d/%-3d ok", ok, total)
	if by != "" {
		client += ", served by " + by
	}
	d.say("   %5.1fs  VIP %-6s  %-21s %-21s %s\n", now.Sub(began).Seconds(), holderNames(d.holders()),
		d.a.describe(ctx), d.b.describe(ctx), client)
}

// describe is the node's part of a view line: "a MASTER 200".
func (m *member) describe(ctx context.Context) string {
	m.mu.Lock()
	runs, pp := m.runs, m.pp
	m.mu.Unlock()
	switch runs {
	case "":
		return m.name + " -"
	case "stopped", "keepalived":
		return m.name + " " + runs
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	st, err := control.Get(ctx, pp.Socket)
	if err != nil || len(st.Instances) == 0 {
		return m.name + " ?"
	}
	in := st.Instances[0]
	s := fmt.Sprintf("%s %-8s %3d", m.name, in.State, in.EffectivePriority)
	if in.Maintenance != nil {
		s += " maint"
	}
	return s
}

// startDemoClient GETs url from h every interval (each on a new
// connection, not waiting for the previous one) until the returned stop.
func startDemoClient(h *lab.Host, url string, every, timeout time.Duration) (*demoRequests, func()) {
	reqs := &demoRequests{}
	hc := h.HTTPClient(timeout)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			i := reqs.add(time.Now())
			wg.Go(func() {
				by, err := lab.Get(context.Background(), hc, url) // a request in flight at stop runs out
				if err != nil {
					by = err.Error()
				}
				reqs.finish(i, time.Now(), err == nil, by)
			})
		}
	})
	var once sync.Once
	return reqs, func() {
		once.Do(func() {
			cancel()
			wg.Wait()
		})
	}
}

// keepalivedVersion is the first line of `keepalived --version` on h.
func keepalivedVersion(ctx context.Context, h *lab.Host) string {
	out, err := h.Run(ctx, "keepalived", "--version")
	var ce *lab.CommandError
	if err != nil && !errors.As(err, &ce) {
		return "keepalived (not installed)"
	}
	line, _, _ := strings.Cut(strings.TrimSpace(out), "\n")
	return line
}
