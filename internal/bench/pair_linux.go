//go:build linux

package bench

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/proxypair/proxypair/appliance/control"
	"github.com/proxypair/proxypair/internal/lab"
)

// daemon starts one kind of VRRP daemon on a lab host.
type daemon interface {
	// Name names the daemon's series in a row: Keepalived, Proxypair or
	// ProxypairPair.
	Name() string
	// Software is the program: Keepalived or Proxypair.
	Software() string
	// Start runs the daemon on h; with hp set, it tracks that HAProxy
	// (keepalived by vrrp_script, proxypair natively).
	Start(h *lab.Host, s Settings, prio int, hp *lab.HAProxy) (node, error)
	// Version runs the daemon's version command on h.
	Version(ctx context.Context, h *lab.Host) string
}

// node is one running daemon.
type node interface {
	// Process is what SIGTERM goes to for a graceful stop.
	Process() *lab.Process
	// PIDs are every process whose CPU and memory count as the daemon's.
	PIDs() ([]int, error)
	// State is the VRRP state the daemon reports ("MASTER", "BACKUP"), or
	// "" when it has no way to say (keepalived without notify scripts).
	State(ctx context.Context) (string, error)
}

// handoverNode is a node that can hand its VIPs over without stopping
// (proxypair); keepalived's operators stop it instead.
type handoverNode interface {
	// startHandover starts the hand-over and returns at once.
	startHandover() error
	// resume waits for the hand-over to have succeeded, then ends it.
	resume(ctx context.Context) error
}

// keepalivedDaemon is keepalived 2.2 from the distribution (VRRP only).
type keepalivedDaemon struct{}

func (keepalivedDaemon) Name() string     { return Keepalived }
func (keepalivedDaemon) Software() string { return Keepalived }

func (keepalivedDaemon) Start(h *lab.Host, s Settings, prio int, hp *lab.HAProxy) (node, error) {
	cfg := lab.KeepalivedConfig{
		VRID:     VRID,
		Priority: prio,
		Version:  s.Version,
		Interval: s.Interval,
		AuthPass: s.AuthPass,
		VIPs:     []netip.Prefix{VIP},
	}
	if hp != nil {
		cfg.Script = &lab.KeepalivedScript{PIDFile: hp.PIDFile, Interval: ScriptInterval, Fall: ScriptFall, Rise: ScriptRise, Weight: ScriptWeight}
	}
	k, err := h.StartKeepalived(cfg)
	if err != nil {
		return nil, err
	}
	return keepalivedNode{k}, nil
}

func (keepalivedDaemon) Version(ctx context.Context, h *lab.Host) string {
	// keepalived prints its version on stderr; Run combines the two.
	out, err := h.Run(ctx, "keepalived", "--version")
	return firstLine(out, err)
}

type keepalivedNode struct{ k *lab.Keepalived }

func (n keepalivedNode) Process() *lab.Process { return n.k.Process }

// PIDs are the parent and its VRRP child: keepalived does its VRRP work in
// the child, but both are the daemon's cost.
func (n keepalivedNode) PIDs() ([]int, error) {
	b, err := os.ReadFile(n.k.VRRPPIDFile)
	if err != nil {
		return nil, fmt.Errorf("bench: keepalived's VRRP child: %w", err)
	}
	child, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("bench: keepalived's VRRP pid file %s: %q", n.k.VRRPPIDFile, b)
	}
	return []int{n.k.PID(), child}, nil
}

func (keepalivedNode) State(context.Context) (string, error) { return "", nil }

// proxypairDaemon is the proxypair binary under test; with pair, both
// nodes run with vrrp.pair.
type proxypairDaemon struct {
	bin  string
	pair bool
}

func (d proxypairDaemon) Name() string {
	if d.pair {
		return ProxypairPair
	}
	return Proxypair
}

func (proxypairDaemon) Software() string { return Proxypair }

// proxypairConfig is the YAML that matches keepalived's settings. Logging
// stays at info: debug would log every advert and bill it as VRRP cost.
// HAProxy tracking is off unless haproxySocket is set (the keepalived pair
// then has its vrrp_script), with the Health* settings. pair sets
// vrrp.pair (the lab is multicast, so nothing implies it).
func proxypairConfig(s Settings, prio int, sock, haproxySocket string, pair bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "vrrp:\n  interface: %s\n  virtual_router_id: %d\n  priority: %d\n  version: %d\n  advert_interval: %v\n",
		lab.HostInterface, VRID, prio, s.Version, s.Interval)
	if s.AuthPass != "" {
		fmt.Fprintf(&b, "  auth_pass: %s\n", s.AuthPass)
	}
	if pair {
		b.WriteString("  pair: true\n")
	}
	fmt.Fprintf(&b, "  virtual_ips: [%v]\ncontrol:\n  socket: %s\n  state_dir: %s\nlog:\n  level: info\n", VIP, sock, filepath.Dir(sock))
	if haproxySocket == "" {
		b.WriteString("health:\n  enabled: false\n")
		return b.String()
	}
	fmt.Fprintf(&b, "health:\n  enabled: true\n  interval: %v\n  fall: %d\n  rise: %d\n  weight: %d\n  haproxy:\n    socket: %s\n",
		HealthInterval, HealthFall, HealthRise, HealthWeight, haproxySocket)
	return b.String()
}

func (d proxypairDaemon) Start(h *lab.Host, s Settings, prio int, hp *lab.HAProxy) (node, error) {
	n := &proxypairNode{h: h, bin: d.bin, cfg: filepath.Join(h.Dir, "proxypair.yaml"), sock: filepath.Join(h.Dir, "proxypair.sock"), tracking: hp != nil}
	var hpSock string
	if hp != nil {
		hpSock = hp.Socket
	}
	if err := os.WriteFile(n.cfg, []byte(proxypairConfig(s, prio, n.sock, hpSock, d.pair)), 0o600); err != nil {
		return nil, fmt.Errorf("bench: proxypair config on %s: %w", h.Name, err)
	}
	p, err := h.Start(d.bin, "run", "--config", n.cfg)
	if err != nil {
		return nil, err
	}
	n.proc = p
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = lab.Eventually(ctx, 10*time.Millisecond, func() (bool, string) {
		if p.Exited() {
			return true, "exited"
		}
		_, err := n.status(ctx)
		return err == nil, fmt.Sprint(err)
	})
	if err == nil && p.Exited() {
		err = errors.New("exited at start")
	}
	if err != nil {
		_ = p.Kill()
		return nil, fmt.Errorf("bench: proxypair on %s: control socket: %w\n%s", h.Name, err, tail(p.Output(), 20))
	}
	return n, nil
}

func (d proxypairDaemon) Version(ctx context.Context, h *lab.Host) string {
	out, err := h.Run(ctx, d.bin, "version")
	return firstLine(out, err)
}

type proxypairNode struct {
	h         *lab.Host
	bin       string
	proc      *lab.Process
	cfg, sock string
	tracking  bool
	handover  *lab.Process // `proxypair handover`, until resumed
}

// startHandover runs `proxypair handover` on the node, as an operator
// would before patching it. The command exits once the node no longer
// holds the VIP.
func (n *proxypairNode) startHandover() error {
	if n.handover != nil {
		return fmt.Errorf("bench: proxypair on %s: a hand-over is already running", n.h.Name)
	}
	p, err := n.h.Start(n.bin, "handover", "--config", n.cfg)
	if err != nil {
		return err
	}
	n.handover = p
	return nil
}

// handoverGivesUp is how long `proxypair handover` waits for the node to
// let go of the VIP before it fails (cmd/proxypair), plus a margin.
const handoverGivesUp = 35 * time.Second

// resume waits for `proxypair handover` to exit 0, then runs `proxypair
// resume`.
func (n *proxypairNode) resume(ctx context.Context) error {
	p := n.handover
	if p == nil {
		return fmt.Errorf("bench: proxypair on %s: resume without a hand-over", n.h.Name)
	}
	n.handover = nil
	if code, err := p.Wait(handoverGivesUp); err != nil || code != 0 {
		return fmt.Errorf("bench: proxypair handover on %s: exit %d, %w\n%s", n.h.Name, code, errors.Join(err, errors.New("failed")), tail(p.Output(), 10))
	}
	if _, err := n.h.Run(ctx, n.bin, "resume", "--config", n.cfg); err != nil {
		return fmt.Errorf("bench: proxypair resume on %s: %w", n.h.Name, err)
	}
	return nil
}

func (n *proxypairNode) Process() *lab.Process { return n.proc }
func (n *proxypairNode) PIDs() ([]int, error)  { return []int{n.proc.PID()}, nil }

func (n *proxypairNode) status(ctx context.Context) (*control.Status, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return control.Get(ctx, n.sock)
}

func (n *proxypairNode) State(ctx context.Context) (string, error) {
	st, err := n.status(ctx)
	if err != nil {
		return "", err
	}
	if len(st.Instances) == 0 {
		return "", errors.New("bench: proxypair reports no VRRP instance")
	}
	in := st.Instances[0]
	// A tracking node must also be healthy: a trial must not start while
	// either node is still in its rise hysteresis.
	if n.tracking && (in.Health == nil || !in.Health.Healthy) {
		reason := "no health report"
		if in.Health != nil {
			reason = in.Health.Reason
		}
		return in.State + " (HAProxy unhealthy: " + reason + ")", nil
	}
	return in.State, nil
}

// legs reads where a proxypair trial's time went from both nodes'
// status, once b has stamped its first gratuitous ARP (or a second has
// passed: LegsOf then leaves the missing stamps out); nil for keepalived.
func (p *pair) legs(ctx context.Context, failedAt time.Time) (*Legs, error) {
	na, okA := p.na.(*proxypairNode)
	nb, okB := p.nb.(*proxypairNode)
	if !okA || !okB {
		return nil, nil
	}
	instance := func(n *proxypairNode) (control.Instance, error) {
		st, err := n.status(ctx)
		if err != nil {
			return control.Instance{}, err
		}
		if len(st.Instances) == 0 {
			return control.Instance{}, errors.New("bench: proxypair reports no VRRP instance")
		}
		return st.Instances[0], nil
	}
	var (
		b    control.Instance
		bErr error
	)
	wctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	// The keeper reports the VIP's add and first ARP to the VRRP loop
	// after the fact: the client may reach b a moment before.
	_ = lab.Eventually(wctx, 10*time.Millisecond, func() (bool, string) {
		b, bErr = instance(nb)
		if bErr != nil {
			return false, bErr.Error()
		}
		return b.LastTakeover != nil && !b.LastTakeover.FirstARP.Before(failedAt), "no first ARP stamped yet"
	})
	switch {
	case ctx.Err() != nil:
		return nil, context.Cause(ctx)
	case bErr != nil:
		return nil, fmt.Errorf("b's status: %w", bErr)
	}
	a, err := instance(na)
	if err != nil {
		return nil, fmt.Errorf("a's status: %w", err)
	}
	return LegsOf(failedAt, a, b)
}

// The backend server of the lab HAProxy: `pplab serve` on loopback.
const serverListen = "127.0.0.1:8081" // lab.HAProxyConfig's default BasePort

// proxy is a host's HAProxy and the server of its only backend.
type proxy struct {
	h      *lab.Host
	pplab  string
	hp     *lab.HAProxy
	server *lab.Process
}

// haproxyConfig is the lab HAProxy with its server outside HAProxy.
func haproxyConfig() lab.HAProxyConfig {
	return lab.HAProxyConfig{ExternalServers: true, CheckInterval: BackendCheck.Inter}
}

// startServer starts the backend server, answering with the host's name,
// and waits until it listens.
func (x *proxy) startServer() error {
	p, err := x.h.Start(x.pplab, "serve", "--listen", serverListen, "--body", x.h.Name)
	if err != nil {
		return err
	}
	if err := waitOutput(context.Background(), p, ServeMarker, 5*time.Second); err != nil || p.Exited() {
		_ = p.Kill()
		return fmt.Errorf("bench: pplab serve on %s: %w\n%s", x.h.Name, errors.Join(err, errors.New("not serving")), tail(p.Output(), 10))
	}
	x.server = p
	return nil
}

// startHAProxy starts HAProxy (again) with the same config, socket and
// pid file.
func (x *proxy) startHAProxy() error {
	hp, err := x.h.StartHAProxy(haproxyConfig())
	if err != nil {
		return err
	}
	x.hp = hp
	return nil
}

// alive says what is not running, if anything.
func (x *proxy) alive() (bool, string) {
	switch {
	case x.hp.Exited():
		return false, x.h.Name + "'s HAProxy exited"
	case x.server.Exited():
		return false, x.h.Name + "'s backend server exited"
	}
	return true, ""
}

// pair is one lab with the master a, the backup b and the client c, and a
// daemon of one kind on a and b.
type pair struct {
	d      daemon
	s      Settings
	st     setup
	pplab  string
	lab    *lab.Lab
	a, b   *lab.Host
	c      *lab.Host
	na, nb node
	pa, pb *proxy // with st.haproxy
}

// newPair builds the lab, starts HAProxy and its server on a and b if st
// says so, and starts the daemons, the master first so it wins the first
// election without a contest. pplab is the lab tool (the backend server).
func newPair(d daemon, st setup, pplab string, logf func(string, ...any)) (_ *pair, err error) {
	l, err := lab.New(lab.Options{Logf: logf})
	if err != nil {
		return nil, err
	}
	p := &pair{d: d, s: st.s, st: st, pplab: pplab, lab: l}
	defer func() {
		if err != nil {
			err = errors.Join(err, l.Close())
		}
	}()
	for _, h := range []struct {
		dst  **lab.Host
		name string
		addr netip.Prefix
	}{{&p.a, "a", AddrA}, {&p.b, "b", AddrB}, {&p.c, "c", AddrC}} {
		if *h.dst, err = l.AddHost(h.name, h.addr); err != nil {
			return nil, err
		}
	}
	if st.haproxy {
		for _, x := range []struct {
			dst **proxy
			h   *lab.Host
		}{{&p.pa, p.a}, {&p.pb, p.b}} {
			pr := &proxy{h: x.h, pplab: pplab}
			if err = pr.startServer(); err != nil {
				return nil, err
			}
			if err = pr.startHAProxy(); err != nil {
				return nil, err
			}
			*x.dst = pr
		}
	}
	if p.na, err = p.startDaemon(p.a, MasterPriority); err != nil {
		return nil, err
	}
	if p.nb, err = p.startDaemon(p.b, BackupPriority); err != nil {
		return nil, err
	}
	return p, nil
}

// startDaemon starts the pair's daemon on h (a or b), tracking h's
// HAProxy if the setup says so.
func (p *pair) startDaemon(h *lab.Host, prio int) (node, error) {
	var hp *lab.HAProxy
	if p.st.track {
		hp = p.pa.hp
		if h == p.b {
			hp = p.pb.hp
		}
	}
	return p.d.Start(h, p.s, prio, hp)
}

func (p *pair) close() error { return p.lab.Close() }

// roles reports whether a is master and b backup: the VIP on a only, both
// daemons running, and each in the right state where the daemon says.
func (p *pair) roles(ctx context.Context) (bool, string) {
	if p.na.Process().Exited() || p.nb.Process().Exited() {
		return false, fmt.Sprintf("a's daemon exited: %t, b's: %t", p.na.Process().Exited(), p.nb.Process().Exited())
	}
	if p.st.haproxy {
		for _, x := range []*proxy{p.pa, p.pb} {
			if ok, detail := x.alive(); !ok {
				return false, detail
			}
		}
	}
	onA, onB := p.a.HasAddr(VIP.Addr()), p.b.HasAddr(VIP.Addr())
	if !onA || onB {
		return false, fmt.Sprintf("VIP on a: %t, on b: %t", onA, onB)
	}
	for _, x := range []struct {
		n    node
		name string
		want string
	}{{p.na, "a", "MASTER"}, {p.nb, "b", "BACKUP"}} {
		st, err := x.n.State(ctx)
		if err != nil {
			return false, fmt.Sprintf("%s's state: %v", x.name, err)
		}
		if st != "" && st != x.want {
			return false, fmt.Sprintf("%s is %s", x.name, st)
		}
	}
	return true, "a master, b backup"
}

// settleFor is how long the roles must hold before a trial: longer than
// the second gratuitous-ARP burst that both daemons send 5 s after
// becoming master (a late burst from b would point the client at b in the
// middle of the next trial), and at least three advert intervals.
func (p *pair) settleFor() time.Duration { return max(6*time.Second, 3*p.s.Interval+time.Second) }

// settle waits until a is master and b backup and have stayed so for
// settleFor, then until the client reaches the VIP.
func (p *pair) settle(ctx context.Context) error {
	within := 2*p.s.MasterDown() + p.settleFor() + 10*time.Second
	sctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	var since time.Time
	err := lab.Eventually(sctx, 50*time.Millisecond, func() (bool, string) {
		ok, detail := p.roles(sctx)
		if !ok {
			since = time.Time{}
			return false, detail
		}
		if since.IsZero() {
			since = time.Now()
		}
		return time.Since(since) >= p.settleFor(), fmt.Sprintf("%s for %v", detail, time.Since(since).Round(time.Millisecond))
	})
	if err != nil {
		return fmt.Errorf("a master and b backup for %v, within %v: %w", p.settleFor(), within, err)
	}
	if err := p.clientReaches(ctx, 5*time.Second, "a"); err != nil {
		return fmt.Errorf("settled, but: %w", err)
	}
	return nil
}

// waitRoles waits until a is master and b backup (after a restore).
func (p *pair) waitRoles(ctx context.Context, within time.Duration) error {
	wctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	if err := lab.Eventually(wctx, 10*time.Millisecond, func() (bool, string) { return p.roles(wctx) }); err != nil {
		return fmt.Errorf("a master and b backup again within %v: %w", within, err)
	}
	return nil
}

// clientReaches waits until the client reaches the VIP: one ping
// answered, or with HAProxy on the nodes one GET answered by host want.
func (p *pair) clientReaches(ctx context.Context, within time.Duration, want string) error {
	if p.st.haproxy {
		return p.clientGets(ctx, within, want)
	}
	return p.clientPings(ctx, within)
}

// clientGets waits until a GET from c to the VIP is answered by host want.
func (p *pair) clientGets(ctx context.Context, within time.Duration, want string) error {
	cctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	hc := p.c.HTTPClient(time.Second)
	url := "http://" + vipAddr + "/"
	err := lab.Eventually(cctx, 20*time.Millisecond, func() (bool, string) {
		body, err := lab.Get(cctx, hc, url)
		if err != nil {
			return false, err.Error()
		}
		return body == want, fmt.Sprintf("answered by %q", body)
	})
	if err != nil {
		return fmt.Errorf("client GETting %s from %s within %v: %w", url, want, within, err)
	}
	return nil
}

// clientPings waits until one ping from c to the VIP is answered.
func (p *pair) clientPings(ctx context.Context, within time.Duration) error {
	cctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	err := lab.Eventually(cctx, 20*time.Millisecond, func() (bool, string) {
		out, err := p.c.Run(cctx, "ping", "-n", "-q", "-c", "1", "-W", "1", vipAddr)
		return err == nil, strings.TrimSpace(out)
	})
	if err != nil {
		return fmt.Errorf("client pinging the VIP within %v: %w", within, err)
	}
	return nil
}

// logs is the tail of both daemons' logs, for a failed trial.
func (p *pair) logs() string {
	var b strings.Builder
	for _, x := range []struct {
		name string
		n    node
	}{{"a", p.na}, {"b", p.nb}} {
		if x.n == nil {
			continue
		}
		pr := x.n.Process()
		fmt.Fprintf(&b, "--- %s %s (pid %d) %s:\n%s\n", x.name, p.d.Name(), pr.PID(), pr.Log, tail(pr.Output(), 15))
	}
	for _, x := range []*proxy{p.pa, p.pb} {
		if x == nil || x.hp == nil {
			continue
		}
		fmt.Fprintf(&b, "--- %s haproxy (pid %d) %s:\n%s\n", x.h.Name, x.hp.PID(), x.hp.Log, tail(x.hp.Output(), 5))
	}
	return b.String()
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func firstLine(out string, err error) string {
	line, _, _ := strings.Cut(strings.TrimSpace(out), "\n")
	if err != nil && line == "" {
		return "unknown: " + err.Error()
	}
	return line
}
