//go:build linux

// Package soak runs random faults against a proxypair pair with real
// HAProxy in network namespaces (`make soak`), with a client GETting the VIP
// all along. After each fault heals and the pair settles it checks that
// exactly one node holds the VIP, that it is the preferred healthy node,
// that both daemons answer status, and that no daemon panicked.
package soak

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/proxypair/proxypair/appliance/control"
	"github.com/proxypair/proxypair/internal/lab"
	"github.com/proxypair/proxypair/internal/lab/ppnode"
)

// Options configures a soak run.
type Options struct {
	Proxypair string        // the binary under test
	Duration  time.Duration // faults are started until this has passed
	Seed      uint64        // the fault sequence; the same seed, the same faults
	Out       io.Writer     // the report, one line per fault
	// Settle bounds how long the pair may take to settle after a fault
	// heals (default 15 s).
	Settle time.Duration
}

// Report is what a run found.
type Report struct {
	Seed       uint64
	Faults     int
	ByKind     map[string]int
	Checks     int
	Violations []string
	Requests   int64
	Failed     int64
}

// SuccessRate is the share of the client's requests that got an answer.
func (r Report) SuccessRate() float64 {
	if r.Requests == 0 {
		return 0
	}
	return float64(r.Requests-r.Failed) / float64(r.Requests)
}

var (
	vip   = netip.MustParsePrefix("198.18.0.100/24")
	addrs = map[string]netip.Prefix{
		"a": netip.MustParsePrefix("198.18.0.1/24"),
		"b": netip.MustParsePrefix("198.18.0.2/24"),
		"c": netip.MustParsePrefix("198.18.0.3/24"),
	}
)

// interval is the pair's advert interval: short, so that a fault heals and
// the pair settles in seconds and a run fits many faults.
const interval = 100 * time.Millisecond

// member is one node of the pair: its host, HAProxy and daemon.
type member struct {
	name  string
	host  *lab.Host
	hp    *lab.HAProxy
	pp    *ppnode.Node
	prio  int
	procs []*lab.Process // every daemon process it ran, for the panic scan
}

// run is one soak run in progress.
type run struct {
	o       Options
	rnd     *rand.Rand
	lab     *lab.Lab
	nodes   []*member
	start   time.Time
	rep     Report
	reqs    atomic.Int64
	fails   atomic.Int64
	mu      sync.Mutex // guards the report's violations
	panics  map[*lab.Process]bool
	stopCli context.CancelFunc
	cliDone chan struct{}
}

// Run builds the lab, runs faults for o.Duration and returns the report.
// The error is for a lab that could not be built; violations are in the
// report.
func Run(ctx context.Context, o Options) (Report, error) {
	if o.Settle <= 0 {
		o.Settle = 15 * time.Second
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	r := &run{o: o, rnd: rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15)), panics: map[*lab.Process]bool{}}
	r.rep = Report{Seed: o.Seed, ByKind: map[string]int{}}
	l, err := lab.New(lab.Options{})
	if err != nil {
		return r.rep, err
	}
	defer l.Close()
	r.lab = l
	if err := r.setUp(); err != nil {
		return r.rep, err
	}
	r.start = time.Now()
	fmt.Fprintf(o.Out, "soak: seed %d, %v, proxypair pair (v3 %v) with HAProxy, client GETting %v\n", o.Seed, o.Duration, interval, vip.Addr())
	if !r.settle("start") {
		r.finish()
		return r.rep, nil
	}
	for time.Since(r.start) < o.Duration && ctx.Err() == nil {
		r.fault()
	}
	r.finish()
	return r.rep, nil
}

func (r *run) setUp() error {
	for _, name := range []string{"a", "b"} {
		h, err := r.lab.AddHost(name, addrs[name])
		if err != nil {
			return err
		}
		hp, err := h.StartHAProxy(lab.HAProxyConfig{Servers: 1})
		if err != nil {
			return err
		}
		m := &member{name: name, host: h, hp: hp, prio: map[string]int{"a": 200, "b": 100}[name]}
		pp, err := ppnode.Start(h, r.o.Proxypair, m.config())
		if err != nil {
			return err
		}
		m.pp = pp
		m.procs = append(m.procs, pp.Process)
		r.nodes = append(r.nodes, m)
	}
	c, err := r.lab.AddHost("c", addrs["c"])
	if err != nil {
		return err
	}
	r.startClient(c)
	return nil
}

// config is the node's proxypair YAML (ppnode adds control and log).
func (m *member) config() string {
	return fmt.Sprintf(`vrrp:
  interface: eth1
  virtual_router_id: 51
  priority: %d
  version: 3
  advert_interval: %v
  virtual_ips: [%v]
health:
  enabled: true
  interval: 100ms
  haproxy:
    socket: %s
`, m.prio, interval, vip, m.hp.Socket)
}

// startClient GETs the VIP from c every 20 ms until finish.
func (r *run) startClient(c *lab.Host) {
	ctx, cancel := context.WithCancel(context.Background())
	r.stopCli, r.cliDone = cancel, make(chan struct{})
	client := c.HTTPClient(300 * time.Millisecond)
	url := "http://" + vip.Addr().String() + "/"
	go func() {
		defer close(r.cliDone)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			r.reqs.Add(1)
			if _, err := lab.Get(context.Background(), client, url); err != nil {
				r.fails.Add(1)
			}
		}
	}()
}

// fault picks one fault at random, runs it (until it heals), and checks
// the pair once it has settled.
func (r *run) fault() {
	type kind struct {
		name   string
		weight int
		do     func() string
	}
	kinds := []kind{
		{"link-flap", 3, r.linkFlap},
		{"crash-restart", 2, r.crashRestart},
		{"freeze", 2, r.freeze},
		{"haproxy-kill", 2, r.haproxyKill},
		{"backend-down", 2, r.backendDown},
		{"priority-swap", 1, r.prioritySwap},
		{"graceful-restart", 2, r.gracefulRestart},
		{"vrrp-one-way", 2, r.oneWay},
		{"vrrp-both-ways", 1, r.bothWays},
		{"vip-deleted", 2, r.vipDeleted},
		{"iface-recreated", 1, r.recreate},
	}
	total := 0
	for _, k := range kinds {
		total += k.weight
	}
	pick := r.rnd.IntN(total)
	var k kind
	for _, k = range kinds {
		if pick < k.weight {
			break
		}
		pick -= k.weight
	}
	at := time.Since(r.start).Truncate(time.Millisecond)
	what := k.do()
	r.rep.Faults++
	r.rep.ByKind[k.name]++
	fmt.Fprintf(r.o.Out, "%9v  %-16s %s\n", at, k.name, what)
	r.settle(k.name)
	hold(r.between(0, time.Second)) // the pair runs undisturbed for a while
}

// node picks a node at random.
func (r *run) node() *member { return r.nodes[r.rnd.IntN(len(r.nodes))] }

// holder is the node holding the VIP now, or nil.
func (r *run) holder() *member {
	for _, m := range r.nodes {
		if m.host.HasAddr(vip.Addr()) {
			return m
		}
	}
	return r.nodes[0]
}

// between returns a random duration in [lo, hi).
func (r *run) between(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(r.rnd.Int64N(int64(hi-lo)))
}

// hold keeps a fault in place for d: time passing, not synchronisation.
func hold(d time.Duration) { time.Sleep(d) }

func (r *run) linkFlap() string {
	m, d := r.node(), r.between(100*time.Millisecond, 3*time.Second)
	r.try(m.host.SetLink(false))
	hold(d)
	r.try(m.host.SetLink(true))
	return fmt.Sprintf("%s link down for %v", m.name, d.Truncate(time.Millisecond))
}

// crashRestart is what systemd does with a crashed daemon: ExecStopPost's
// cleanup, then a restart after RestartSec (2 s).
func (r *run) crashRestart() string {
	m := r.node()
	r.try(m.pp.Kill())
	out, err := m.host.Run(context.Background(), r.o.Proxypair, "cleanup", "--config", m.pp.ConfigFile)
	if err != nil {
		r.violation("crash-restart", fmt.Sprintf("cleanup on %s after a crash failed: %v\n%s", m.name, err, out))
	}
	hold(2 * time.Second)
	r.restart(m)
	return fmt.Sprintf("%s SIGKILL, cleanup, restart", m.name)
}

func (r *run) freeze() string {
	m, d := r.node(), r.between(100*time.Millisecond, 3*time.Second)
	r.try(m.pp.Signal(syscall.SIGSTOP))
	hold(d)
	r.try(m.pp.Signal(syscall.SIGCONT))
	return fmt.Sprintf("%s SIGSTOP for %v", m.name, d.Truncate(time.Millisecond))
}

func (r *run) haproxyKill() string {
	m, d := r.node(), r.between(200*time.Millisecond, 3*time.Second)
	r.try(m.hp.Kill())
	hold(d)
	hp, err := m.host.StartHAProxy(lab.HAProxyConfig{Servers: 1})
	if err != nil {
		r.violation("haproxy-kill", fmt.Sprintf("restarting HAProxy on %s: %v", m.name, err))
		return m.name + " HAProxy killed; restart FAILED"
	}
	m.hp = hp
	return fmt.Sprintf("%s HAProxy killed for %v", m.name, d.Truncate(time.Millisecond))
}

func (r *run) backendDown() string {
	m, d := r.node(), r.between(500*time.Millisecond, 3*time.Second)
	front := lab.HAProxyServerFrontend(1)
	_, err := m.hp.API("disable frontend " + front)
	r.try(err)
	hold(d)
	_, err = m.hp.API("enable frontend " + front)
	r.try(err)
	return fmt.Sprintf("%s last backend server down for %v", m.name, d.Truncate(time.Millisecond))
}

// prioritySwap reloads both nodes with each other's priority: the
// preferred node changes, live.
func (r *run) prioritySwap() string {
	a, b := r.nodes[0], r.nodes[1]
	a.prio, b.prio = b.prio, a.prio
	for _, m := range r.nodes {
		r.try(m.rewrite())
		r.try(m.pp.Signal(syscall.SIGHUP))
	}
	return fmt.Sprintf("reload: a priority %d, b priority %d", a.prio, b.prio)
}

func (r *run) gracefulRestart() string {
	m := r.node()
	r.try(m.pp.Signal(syscall.SIGTERM))
	if code, err := m.pp.Wait(10 * time.Second); err != nil || code != 0 {
		r.violation("graceful-restart", fmt.Sprintf("%s's graceful stop: exit %d, %v", m.name, code, err))
	}
	if m.host.HasAddr(vip.Addr()) {
		r.violation("graceful-restart", m.name+" kept the VIP after a graceful stop")
	}
	r.restart(m)
	return m.name + " SIGTERM, start"
}

func (r *run) oneWay() string {
	m, d := r.node(), r.between(500*time.Millisecond, 4*time.Second)
	r.try(m.host.BlockVRRPIn(true))
	hold(d)
	r.try(m.host.BlockVRRPIn(false))
	return fmt.Sprintf("%s hears no VRRP for %v", m.name, d.Truncate(time.Millisecond))
}

func (r *run) bothWays() string {
	d := r.between(500*time.Millisecond, 4*time.Second)
	for _, m := range r.nodes {
		r.try(m.host.BlockVRRPIn(true))
	}
	hold(d)
	for _, m := range r.nodes {
		r.try(m.host.BlockVRRPIn(false))
	}
	return fmt.Sprintf("no VRRP either way for %v", d.Truncate(time.Millisecond))
}

func (r *run) vipDeleted() string {
	m := r.holder()
	r.try(m.host.DelAddr(vip))
	return m.name + " `ip addr del` of the VIP"
}

func (r *run) recreate() string {
	m := r.node()
	r.try(m.host.RecreateInterface())
	return m.name + " eth1 deleted and created again"
}

// restart starts m's daemon again with its config.
func (r *run) restart(m *member) {
	if err := m.pp.Restart(); err != nil {
		r.violation("restart", fmt.Sprintf("%s did not start again: %v", m.name, err))
		return
	}
	m.procs = append(m.procs, m.pp.Process)
}

func (m *member) rewrite() error { return m.pp.Rewrite(m.config()) }

// try records a lab operation that failed: the fault did not happen as
// planned, which is the soak's problem, not the daemon's; it is reported.
func (r *run) try(err error) {
	if err != nil {
		fmt.Fprintf(r.o.Out, "           (lab: %v)\n", err)
	}
}

// settle waits for the pair to settle and checks it: exactly one holder,
// the preferred healthy node (the higher configured priority), both
// daemons answering status and healthy, no panic.
func (r *run) settle(after string) bool {
	r.rep.Checks++
	ctx, cancel := context.WithTimeout(context.Background(), r.o.Settle)
	defer cancel()
	want := r.nodes[0]
	if r.nodes[1].prio > want.prio {
		want = r.nodes[1]
	}
	var last string
	var since time.Time // when the pair last looked settled
	err := lab.Eventually(ctx, 50*time.Millisecond, func() (bool, string) {
		ok, why := r.looksSettled(ctx, want)
		last = why
		switch {
		case !ok:
			since = time.Time{}
			return false, why
		case since.IsZero():
			since = time.Now()
		}
		// Settled is a state that lasts, not a moment between flaps.
		return time.Since(since) >= steadyFor, why
	})
	r.scanPanics()
	if err != nil {
		r.violation(after, fmt.Sprintf("did not settle within %v: %s", r.o.Settle, last))
		return false
	}
	return true
}

// steadyFor is how long the pair must stay settled to pass a check.
const steadyFor = 500 * time.Millisecond

// looksSettled checks the pair once.
func (r *run) looksSettled(ctx context.Context, want *member) (bool, string) {
	var holders []string
	for _, m := range r.nodes {
		if m.host.HasAddr(vip.Addr()) {
			holders = append(holders, m.name)
		}
	}
	var states []string
	for _, m := range r.nodes {
		st, err := m.pp.Instance(ctx)
		if err != nil {
			return false, fmt.Sprintf("holders %v; %s: no status: %v", holders, m.name, err)
		}
		if st.Health == nil || !st.Health.Healthy {
			return false, fmt.Sprintf("holders %v; %s unhealthy: %s", holders, m.name, reason(st))
		}
		states = append(states, fmt.Sprintf("%s=%s/%d", m.name, st.State, st.EffectivePriority))
	}
	return slices.Equal(holders, []string{want.name}), fmt.Sprintf("holders %v, states %v, want only %s", holders, states, want.name)
}

func reason(st control.Instance) string {
	if st.Health == nil {
		return "no health status"
	}
	return st.Health.Reason
}

// scanPanics looks for a Go panic or fatal error in every daemon's log.
func (r *run) scanPanics() {
	for _, m := range r.nodes {
		for _, p := range m.procs {
			if r.panics[p] {
				continue
			}
			out := p.Output()
			if i := strings.Index(out, "panic:"); i >= 0 || strings.Contains(out, "fatal error:") {
				r.panics[p] = true
				r.violation("panic", fmt.Sprintf("%s's proxypair (pid %d) panicked:\n%s", m.name, p.PID(), tail(out, 4000)))
			}
		}
	}
}

func (r *run) violation(after, what string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v := fmt.Sprintf("after %s at %v: %s", after, time.Since(r.start).Truncate(time.Millisecond), what)
	r.rep.Violations = append(r.rep.Violations, v)
	fmt.Fprintf(r.o.Out, "VIOLATION %s\n", v)
	for _, m := range r.nodes {
		if m.pp != nil && m.pp.Process != nil {
			fmt.Fprintf(r.o.Out, "--- %s's log (tail):\n%s\n", m.name, tail(m.pp.Output(), 3000))
		}
	}
}

func (r *run) finish() {
	r.stopCli()
	<-r.cliDone
	r.rep.Requests, r.rep.Failed = r.reqs.Load(), r.fails.Load()
	fmt.Fprintf(r.o.Out, "soak: seed %d: %d faults %v, %d checks, %d violations; client: %d of %d requests answered (%.3f%%)\n",
		r.rep.Seed, r.rep.Faults, r.rep.ByKind, r.rep.Checks, len(r.rep.Violations), r.rep.Requests-r.rep.Failed, r.rep.Requests, 100*r.rep.SuccessRate())
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// ErrViolations is returned by callers that turn a report into an error.
var ErrViolations = errors.New("soak: violations")

// Check returns ErrViolations (with the count) when the report has any.
func (r Report) Check() error {
	if len(r.Violations) > 0 {
		return fmt.Errorf("%w: %d", ErrViolations, len(r.Violations))
	}
	return nil
}

// Binary resolves a path for Options.Proxypair.
func Binary(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(abs); err != nil {
		return "", fmt.Errorf("soak: proxypair binary: %w", err)
	}
	return abs, nil
}
