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

// The lab's addresses.
var (
	VIP     = netip.MustParsePrefix("198.18.0.100/24")
	AddrA   = netip.MustParsePrefix("198.18.0.1/24") // the master
	AddrB   = netip.MustParsePrefix("198.18.0.2/24") // the backup
	AddrC   = netip.MustParsePrefix("198.18.0.3/24") // the client
	vipAddr = VIP.Addr().String()
)

// daemon starts one kind of VRRP daemon on a lab host.
type daemon interface {
	Name() string
	Start(h *lab.Host, s Settings, prio int) (node, error)
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

// keepalivedDaemon is keepalived 2.2 from the distribution (VRRP only).
type keepalivedDaemon struct{}

func (keepalivedDaemon) Name() string { return Keepalived }

func (keepalivedDaemon) Start(h *lab.Host, s Settings, prio int) (node, error) {
	k, err := h.StartKeepalived(lab.KeepalivedConfig{
		VRID:     VRID,
		Priority: prio,
		Version:  s.Version,
		Interval: s.Interval,
		AuthPass: s.AuthPass,
		VIPs:     []netip.Prefix{VIP},
	})
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

// proxypairDaemon is the proxypair binary under test.
type proxypairDaemon struct{ bin string }

func (proxypairDaemon) Name() string { return Proxypair }

// proxypairConfig is the YAML that matches keepalived's settings. Logging
// stays at info: debug would log every advert and bill it as VRRP cost.
// HAProxy tracking is off: the keepalived pair has no vrrp_script either
// (issue 4's rows will turn both on, with an HAProxy on each node).
func proxypairConfig(s Settings, prio int, sock string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "vrrp:\n  interface: %s\n  virtual_router_id: %d\n  priority: %d\n  version: %d\n  advert_interval: %v\n",
		lab.HostInterface, VRID, prio, s.Version, s.Interval)
	if s.AuthPass != "" {
		fmt.Fprintf(&b, "  auth_pass: %s\n", s.AuthPass)
	}
	fmt.Fprintf(&b, "  virtual_ips: [%v]\ncontrol:\n  socket: %s\nlog:\n  level: info\nhealth:\n  enabled: false\n", VIP, sock)
	return b.String()
}

func (d proxypairDaemon) Start(h *lab.Host, s Settings, prio int) (node, error) {
	n := &proxypairNode{cfg: filepath.Join(h.Dir, "proxypair.yaml"), sock: filepath.Join(h.Dir, "proxypair.sock")}
	if err := os.WriteFile(n.cfg, []byte(proxypairConfig(s, prio, n.sock)), 0o600); err != nil {
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
	proc      *lab.Process
	cfg, sock string
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
	return st.Instances[0].State, nil
}

// pair is one lab with the master a, the backup b and the client c, and a
// daemon of one kind on a and b.
type pair struct {
	d      daemon
	s      Settings
	lab    *lab.Lab
	a, b   *lab.Host
	c      *lab.Host
	na, nb node
}

// newPair builds the lab and starts the daemons, the master first so it
// wins the first election without a contest.
func newPair(d daemon, s Settings, logf func(string, ...any)) (_ *pair, err error) {
	l, err := lab.New(lab.Options{Logf: logf})
	if err != nil {
		return nil, err
	}
	p := &pair{d: d, s: s, lab: l}
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
	if p.na, err = d.Start(p.a, s, MasterPriority); err != nil {
		return nil, err
	}
	if p.nb, err = d.Start(p.b, s, BackupPriority); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *pair) close() error { return p.lab.Close() }

// roles reports whether a is master and b backup: the VIP on a only, both
// daemons running, and each in the right state where the daemon says.
func (p *pair) roles(ctx context.Context) (bool, string) {
	if p.na.Process().Exited() || p.nb.Process().Exited() {
		return false, fmt.Sprintf("a's daemon exited: %t, b's: %t", p.na.Process().Exited(), p.nb.Process().Exited())
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
	if err := p.clientReaches(ctx, 5*time.Second); err != nil {
		return fmt.Errorf("settled, but: %w", err)
	}
	return nil
}

// clientReaches waits until one ping from c to the VIP is answered.
func (p *pair) clientReaches(ctx context.Context, within time.Duration) error {
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
