//go:build linux

package lab

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
)

// Host is one network namespace of a Lab with an eth1 on the lab network.
type Host struct {
	Name string       // short name given to AddHost
	NS   string       // namespace name, for `ip netns exec`
	Addr netip.Prefix // eth1's own address
	Dir  string       // this host's directory in the lab dir (configs, logs)

	lab  *Lab
	ns   *netNS
	port string // the veth end on the bridge, in the switch namespace

	logSeq int // numbers log files; guarded by lab.mu
}

// Command returns a command that runs inside the host's namespace through
// `ip netns exec`, which execs the program: its PID is the program's own.
func (h *Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.NS, name}, args...)...)
}

// Run runs a command inside the host and returns its combined output. The
// error, a *CommandError, includes that output.
func (h *Host) Run(ctx context.Context, name string, args ...string) (string, error) {
	cmd := h.Command(ctx, name, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), &CommandError{Args: cmd.Args, Output: string(out), Err: err}
	}
	return string(out), nil
}

// Start runs a program in the background inside the host. Its stdout and
// stderr go to a new log file in h.Dir, and the lab stops it on Close. The
// program gets its own process group (so Kill and Close also reach its
// children) and is SIGKILLed if the creating process dies.
func (h *Host) Start(name string, args ...string) (*Process, error) {
	l := h.lab
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, fmt.Errorf("lab: start %s on %s: %w", name, h.Name, ErrClosed)
	}
	h.logSeq++
	logPath := filepath.Join(h.Dir, fmt.Sprintf("%s.%d.log", filepath.Base(name), h.logSeq))
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lab: start %s on %s: %w", name, h.Name, err)
	}
	defer f.Close() // the child has its own copy

	cmd := exec.Command("ip", append([]string{"netns", "exec", h.NS, name}, args...)...)
	cmd.Dir = h.Dir
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := startCmd(cmd); err != nil {
		return nil, fmt.Errorf("lab: start %s on %s: %w", name, h.Name, err)
	}
	p := newProcess(cmd, h.Name+"/"+filepath.Base(name), logPath)
	l.track(p)
	return p, nil
}

// SetLink sets eth1 administratively up or down: the host drops off the
// network and sees its carrier go (a daemon on it notices the link loss).
// Down takes effect at once; after up, traffic usually flows within
// milliseconds, but the kernel may apply the carrier change late, so poll
// for the effect rather than assume it.
func (h *Host) SetLink(up bool) error {
	nl, link, err := h.eth1()
	if err != nil {
		return err
	}
	if up {
		err = nl.LinkSetUp(link)
	} else {
		err = nl.LinkSetDown(link)
	}
	if err != nil {
		return fmt.Errorf("lab: %s: set %s up=%t: %w", h.Name, HostInterface, up, err)
	}
	return nil
}

// SetIsolated unplugs the host's cable from the bridge (or plugs it back)
// while its eth1 stays up with carrier: the host keeps running as if
// nothing happened but neither sends to nor hears from anyone — a network
// partition, the way split brain starts.
func (h *Host) SetIsolated(isolated bool) error {
	nl, err := h.lab.sw.handle()
	if err != nil {
		return err
	}
	port, err := nl.LinkByName(h.port)
	if err != nil {
		return fmt.Errorf("lab: %s: bridge port %s: %w", h.Name, h.port, err)
	}
	if isolated {
		err = nl.LinkSetNoMaster(port)
	} else {
		var br netlink.Link
		if br, err = nl.LinkByName(bridgeName); err == nil {
			err = nl.LinkSetMaster(port, br)
		}
	}
	if err != nil {
		return fmt.Errorf("lab: %s: set isolated=%t: %w", h.Name, isolated, err)
	}
	return nil
}

// eth1 returns the host's netlink handle and its eth1.
func (h *Host) eth1() (*netlink.Handle, netlink.Link, error) {
	nl, err := h.ns.handle()
	if err != nil {
		return nil, nil, err
	}
	link, err := nl.LinkByName(HostInterface)
	if err != nil {
		return nil, nil, fmt.Errorf("lab: %s: %s: %w", h.Name, HostInterface, err)
	}
	return nl, link, nil
}

// Addrs returns eth1's IPv4 addresses.
func (h *Host) Addrs() ([]netip.Prefix, error) {
	nl, link, err := h.eth1()
	if err != nil {
		return nil, err
	}
	addrs, err := nl.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("lab: %s: addresses of %s: %w", h.Name, HostInterface, err)
	}
	out := make([]netip.Prefix, 0, len(addrs))
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP.To4())
		if !ok {
			continue
		}
		ones, _ := a.Mask.Size()
		out = append(out, netip.PrefixFrom(ip, ones))
	}
	return out, nil
}

// HasAddr reports whether eth1 holds a (false also when it cannot be read).
func (h *Host) HasAddr(a netip.Addr) bool {
	addrs, err := h.Addrs()
	if err != nil {
		return false
	}
	return slices.ContainsFunc(addrs, func(p netip.Prefix) bool { return p.Addr() == a })
}

// sysctl sets net.* parameters inside the host's namespace.
func (h *Host) sysctl(kv map[string]string) error {
	return nsSysctl(h.NS, kv)
}

// DialContext connects from inside the host, for Go clients in tests: the
// socket is created in the host's namespace, the rest runs as usual.
func (h *Host) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	var (
		c   net.Conn
		err error
	)
	if nsErr := h.ns.do(func() {
		var d net.Dialer
		c, err = d.DialContext(ctx, network, address)
	}); nsErr != nil {
		return nil, nsErr
	}
	return c, err
}

// HTTPClient returns a client whose connections start inside the host, one
// new connection per request (no keep-alive), no proxy, and timeout.
func (h *Host) HTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:             nil, // never the environment's proxy
			DialContext:       h.DialContext,
			DisableKeepAlives: true,
		},
	}
}

// Do runs fn on an OS thread inside the host's namespace, for Go code in
// tests that opens its own sockets (raw, packet, netlink): sockets fn
// creates stay in the namespace. The calling goroutine is not moved.
func (h *Host) Do(fn func()) error { return h.ns.do(fn) }

// Listen opens a listener inside the host, for Go servers in tests.
func (h *Host) Listen(network, address string) (net.Listener, error) {
	var (
		ln  net.Listener
		err error
	)
	if nsErr := h.ns.do(func() { ln, err = net.Listen(network, address) }); nsErr != nil {
		return nil, nsErr
	}
	return ln, err
}
