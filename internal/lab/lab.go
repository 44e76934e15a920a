//go:build linux

package lab

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Subnet is the only range the lab assigns addresses from (RFC 2544
// benchmarking space, never routed anywhere).
var Subnet = netip.MustParsePrefix("198.18.0.0/24")

// HostInterface is every host's interface on the lab network.
const HostInterface = "eth1"

const (
	nsPrefix   = "pp-"
	switchHost = "sw"  // host part of the switch namespace's name
	bridgeName = "br0" // the bridge, inside the switch namespace

	defaultStopTimeout = 3 * time.Second
	// killWait bounds how long we wait for a SIGKILLed process to be reaped.
	killWait = 5 * time.Second
	// setupTimeout bounds each ip(8) call made while building the lab.
	setupTimeout = 10 * time.Second
)

// hostNameRE keeps host names short enough for readable namespace and bridge
// port names ("v-" + name must fit IFNAMSIZ-1 = 15 bytes).
var hostNameRE = regexp.MustCompile(`^[a-z][a-z0-9]{0,11}$`)

// labSeq numbers the labs of this process, so parallel tests never collide.
var labSeq atomic.Int64

// Options configures a Lab. The zero value is ready to use.
type Options struct {
	// Dir receives configs, pid files and process logs (one subdirectory per
	// host). Empty means a new directory under os.TempDir that Close removes.
	Dir string
	// StopTimeout is how long Close waits after SIGTERM before it sends
	// SIGKILL to a process. Zero means 3s.
	StopTimeout time.Duration
	// Logf, if set, receives notes about cleanup: sweeps of stale labs and
	// processes that had to be killed.
	Logf func(format string, args ...any)
}

// Lab is a set of network namespaces joined by one bridge, each with an
// "eth1" in 198.18.0.0/24. Create it with New or NewT and always Close it.
type Lab struct {
	id     int64
	sw     *netNS // the switch namespace holding the bridge
	dir    string
	ownDir bool
	opts   Options

	mu      sync.Mutex
	closed  bool
	nss     []*netNS // every namespace created, switch first
	hosts   []*Host
	procs   []*Process
	closers []func() // run once every process has ended
}

// New sweeps namespaces left behind by dead creators, then creates the
// switch namespace and its bridge.
func New(opts Options) (*Lab, error) {
	if _, err := exec.LookPath("ip"); err != nil {
		return nil, fmt.Errorf("lab: iproute2's ip command is required: %w", err)
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = defaultStopTimeout
	}
	if err := Sweep(opts.Logf); err != nil && opts.Logf != nil {
		// A stale namespace that cannot be removed must not block new labs.
		opts.Logf("lab: sweep: %v", err)
	}

	l := &Lab{id: labSeq.Add(1), opts: opts, dir: opts.Dir}
	if l.dir == "" {
		dir, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", nsPrefix, os.Getpid()))
		if err != nil {
			return nil, fmt.Errorf("lab: %w", err)
		}
		l.dir, l.ownDir = dir, true
		// The marker lets a later Sweep recognise (and remove) this
		// directory if we die without closing.
		if err := os.WriteFile(filepath.Join(dir, creatorFile), []byte(creatorTag()), 0o600); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("lab: %w", err)
		}
	} else if err := os.MkdirAll(l.dir, 0o755); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}

	if err := l.createSwitch(); err != nil {
		return nil, errors.Join(err, l.Close())
	}
	return l, nil
}

// NewT returns a new Lab closed by t.Cleanup. It skips the test when not
// running as root, and logs every process's output when the test failed.
func NewT(tb testing.TB) *Lab {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) to create network namespaces")
	}
	l, err := New(Options{Logf: tb.Logf})
	if errors.Is(err, os.ErrPermission) {
		tb.Skipf("needs CAP_NET_ADMIN and CAP_SYS_ADMIN to create network namespaces: %v", err)
	}
	if err != nil {
		tb.Fatalf("lab: %v", err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			l.logOutputs(tb)
		}
		if err := l.Close(); err != nil {
			tb.Errorf("lab: close: %v", err)
		}
	})
	return l
}

// Dir is where the lab keeps configs, pid files and logs.
func (l *Lab) Dir() string { return l.dir }

func (l *Lab) nsName(host string) string {
	return fmt.Sprintf("%s%d-%d-%s", nsPrefix, os.Getpid(), l.id, host)
}

// createSwitch builds the switch namespace: a bridge that forwards at once
// (no STP, forward delay 0) and floods multicast (no snooping), because VRRP
// adverts to 224.0.0.18 must reach every host without any IGMP joins.
func (l *Lab) createSwitch() error {
	sw, err := l.addNS(switchHost)
	if err != nil {
		return err
	}
	l.sw = sw
	return ipBatch(sw.name,
		"link add "+bridgeName+" type bridge forward_delay 0 stp_state 0 mcast_snooping 0",
		"link set dev "+bridgeName+" up",
	)
}

// addNS creates a namespace, registers it for Close, brings lo up and tags it
// with the creator's identity for Sweep. IPv6 is disabled so captures show
// only the IPv4 traffic under test (no DAD, MLD or router solicitations).
func (l *Lab) addNS(host string) (*netNS, error) {
	name := l.nsName(host)
	if err := runIP(context.Background(), "netns", "add", name); err != nil {
		return nil, fmt.Errorf("lab: create namespace %s: %w", name, err)
	}
	ns := &netNS{name: name}
	l.nss = append(l.nss, ns)
	if err := nsSysctl(name, map[string]string{
		"net.ipv6.conf.all.disable_ipv6":     "1",
		"net.ipv6.conf.default.disable_ipv6": "1",
	}); err != nil {
		return nil, err
	}
	if err := ipBatch(name,
		"link set dev lo alias "+creatorTag(),
		"link set dev lo up",
	); err != nil {
		return nil, err
	}
	return ns, nil
}

// AddHost creates a namespace with lo up and an eth1 plugged into the lab's
// bridge, holding addr. name must be 1-12 lower-case letters or digits,
// starting with a letter; addr must be a host address in 198.18.0.0/24.
func (l *Lab) AddHost(name string, addr netip.Prefix) (*Host, error) {
	if !hostNameRE.MatchString(name) || name == switchHost {
		return nil, fmt.Errorf("lab: host name %q: want 1-12 of [a-z0-9] starting with a letter, not %q", name, switchHost)
	}
	if err := checkAddr(addr); err != nil {
		return nil, fmt.Errorf("lab: host %s: %w", name, err)
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, fmt.Errorf("lab: add host %s: %w", name, ErrClosed)
	}
	for _, h := range l.hosts {
		if h.Name == name {
			return nil, fmt.Errorf("lab: host %s already exists", name)
		}
		if h.Addr.Addr() == addr.Addr() {
			return nil, fmt.Errorf("lab: host %s: address %s already used by %s", name, addr.Addr(), h.Name)
		}
	}

	ns, err := l.addNS(name)
	if err != nil {
		return nil, err
	}
	h := &Host{
		Name: name,
		NS:   ns.name,
		Addr: addr,
		Dir:  filepath.Join(l.dir, name),
		lab:  l,
		ns:   ns,
		port: "v-" + name,
	}
	if err := os.MkdirAll(h.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("lab: host %s: %w", name, err)
	}
	// The veth is created inside the switch namespace with its peer placed
	// straight into the host's, so it never appears in the host namespace.
	if err := ipBatch(l.sw.name,
		fmt.Sprintf("link add %s type veth peer name %s netns %s", h.port, HostInterface, h.NS),
		fmt.Sprintf("link set dev %s master %s up", h.port, bridgeName),
	); err != nil {
		return nil, fmt.Errorf("lab: host %s: %w", name, err)
	}
	if err := ipBatch(h.NS,
		fmt.Sprintf("addr add %s dev %s", addr, HostInterface),
		fmt.Sprintf("link set dev %s up", HostInterface),
	); err != nil {
		return nil, fmt.Errorf("lab: host %s: %w", name, err)
	}
	l.hosts = append(l.hosts, h)
	return h, nil
}

// checkAddr accepts only host addresses inside Subnet.
func checkAddr(p netip.Prefix) error {
	a := p.Addr()
	switch {
	case !p.IsValid() || !a.Is4():
		return fmt.Errorf("address %v: want an IPv4 prefix in %v", p, Subnet)
	case !Subnet.Contains(a) || p.Bits() < Subnet.Bits():
		return fmt.Errorf("address %v: outside %v (the lab uses no other range)", p, Subnet)
	case a == Subnet.Addr() || a.As4()[3] == 255:
		return fmt.Errorf("address %v: network or broadcast address of %v", p, Subnet)
	}
	return nil
}

// ErrClosed is returned by operations on a closed Lab.
var ErrClosed = errors.New("lab is closed")

// Close stops every process (SIGTERM, then SIGKILL to its process group
// after Options.StopTimeout), kills anything else still running in the
// lab's namespaces, deletes the namespaces and, if New created it, the lab
// directory. It is idempotent; the error joins every cleanup failure.
func (l *Lab) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	procs, nss, closers := l.procs, l.nss, l.closers
	l.mu.Unlock()

	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for _, p := range procs {
		wg.Go(func() {
			killed, err := p.terminate(l.opts.StopTimeout)
			if killed {
				l.logf("lab: %s (pid %d) ignored SIGTERM for %v; killed", p.name, p.PID(), l.opts.StopTimeout)
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, fn := range closers {
		fn()
	}

	// Hosts first: deleting a host namespace destroys its veth, and the
	// switch goes last with the bridge.
	for i := len(nss) - 1; i >= 0; i-- {
		ns := nss[i]
		ns.close()
		if pids, err := killNS(nsPath(ns.name), killWait); err != nil {
			errs = append(errs, fmt.Errorf("lab: namespace %s: %w", ns.name, err))
		} else if len(pids) > 0 {
			l.logf("lab: killed stray processes %v in %s", pids, ns.name)
		}
		if err := deleteNS(ns.name); err != nil {
			errs = append(errs, err)
		}
	}
	if l.ownDir {
		if err := os.RemoveAll(l.dir); err != nil {
			errs = append(errs, fmt.Errorf("lab: %w", err))
		}
	}
	return errors.Join(errs...)
}

func (l *Lab) logf(format string, args ...any) {
	if l.opts.Logf != nil {
		l.opts.Logf(format, args...)
	}
}

// logOutputs writes the tail of every process's log to the test log.
func (l *Lab) logOutputs(tb testing.TB) {
	l.mu.Lock()
	procs := l.procs
	l.mu.Unlock()
	const max = 16 << 10
	for _, p := range procs {
		out := p.Output()
		if len(out) > max {
			out = "…" + out[len(out)-max:]
		}
		tb.Logf("lab: %s (pid %d), log %s:\n%s", p.name, p.PID(), p.Log, out)
	}
}

// onClose registers fn for Close to run once every process has ended.
// The caller holds no lock.
func (l *Lab) onClose(fn func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closers = append(l.closers, fn)
}

// track registers a started process so Close stops it.
func (l *Lab) track(p *Process) {
	l.procs = append(l.procs, p)
}

// ipBatch runs ip commands inside one namespace with a single ip(8) process.
func ipBatch(ns string, cmds ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "-n", ns, "-batch", "-")
	cmd.Stdin = strings.NewReader(strings.Join(cmds, "\n") + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return &CommandError{Args: append(cmd.Args, cmds...), Output: string(out), Err: err}
	}
	return nil
}

// runIP runs one ip(8) command in the current (host) namespace; the lab uses
// it only for `ip netns` management.
func runIP(ctx context.Context, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return &CommandError{Args: cmd.Args, Output: string(out), Err: err}
	}
	return nil
}

// nsSysctl sets kernel parameters inside a namespace. The net.* sysctls are
// per namespace, so they must be written from inside it.
func nsSysctl(ns string, kv map[string]string) error {
	args := []string{"netns", "exec", ns, "sysctl", "-q", "-w"}
	for k, v := range kv {
		args = append(args, k+"="+v)
	}
	if err := runIP(context.Background(), args...); err != nil {
		return fmt.Errorf("lab: sysctl in %s: %w", ns, err)
	}
	return nil
}

// deleteNS removes a namespace's name; the kernel frees it once no process
// or socket holds it any more.
func deleteNS(name string) error {
	if _, err := os.Stat(nsPath(name)); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := runIP(context.Background(), "netns", "delete", name); err != nil {
		// Another sweeper (a parallel test's New) may have won the race.
		if _, statErr := os.Stat(nsPath(name)); errors.Is(statErr, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("lab: delete namespace %s: %w", name, err)
	}
	return nil
}

// CommandError is a failed command with its combined output.
type CommandError struct {
	Args   []string
	Output string
	Err    error
}

func (e *CommandError) Error() string {
	out := strings.TrimSpace(e.Output)
	if out == "" {
		return fmt.Sprintf("%s: %v", strings.Join(e.Args, " "), e.Err)
	}
	return fmt.Sprintf("%s: %v: %s", strings.Join(e.Args, " "), e.Err, out)
}

// Unwrap also yields os.ErrPermission when the command said so, which lets
// NewT skip instead of failing where namespaces are not allowed.
func (e *CommandError) Unwrap() []error {
	errs := []error{e.Err}
	if strings.Contains(e.Output, "Operation not permitted") {
		errs = append(errs, os.ErrPermission)
	}
	return errs
}
