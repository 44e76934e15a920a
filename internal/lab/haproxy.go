//go:build linux

package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Names in the HAProxy config that tests drive through the runtime API,
// e.g. "set server be_app/s1 state maint" or "disable frontend srv_s1".
const (
	HAProxyFrontend = "fe_main" // binds *:Port
	HAProxyBackend  = "be_app"  // servers s1..sN
)

// HAProxyServer is the name of backend server i (1-based) in HAProxyBackend.
func HAProxyServer(i int) string { return "s" + strconv.Itoa(i) }

// HAProxyServerFrontend is the frontend that plays server i's application.
// "disable frontend srv_sN" (undone by "enable frontend") makes server N
// fail its health checks: DOWN after about 4 × CheckInterval (fall 2, each
// check timing out after CheckInterval).
func HAProxyServerFrontend(i int) string { return "srv_" + HAProxyServer(i) }

// HAProxyConfig is a self-contained HAProxy: a frontend on *:Port whose
// backend's servers are served by the same HAProxy on 127.0.0.1, each
// answering 200 with the host's name as the body.
type HAProxyConfig struct {
	Port          int           // frontend port on every address (so also on VIPs); 0 means 80
	Servers       int           // backend servers; 0 means 1
	BasePort      int           // server i listens on 127.0.0.1:BasePort+i-1; 0 means 8081
	CheckInterval time.Duration // server health check "inter"; 0 means 100ms
	// ExternalServers leaves the servers' application to other processes
	// listening on 127.0.0.1:BasePort+i-1 (e.g. `pplab serve`): no srv_sN
	// frontends are rendered, so a server goes DOWN when its process dies
	// while every frontend of this HAProxy stays OPEN.
	ExternalServers bool
}

// HAProxy is a running HAProxy (foreground, -db).
type HAProxy struct {
	*Process
	ConfigFile string
	Socket     string // runtime API (stats socket, level admin, mode 600)
	PIDFile    string // holds the PID, for `kill -0 $(cat PIDFile)` checks
}

func (c HAProxyConfig) withDefaults() HAProxyConfig {
	if c.Port == 0 {
		c.Port = 80
	}
	if c.Servers == 0 {
		c.Servers = 1
	}
	if c.BasePort == 0 {
		c.BasePort = 8081
	}
	if c.CheckInterval == 0 {
		c.CheckInterval = 100 * time.Millisecond
	}
	return c
}

func (c HAProxyConfig) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Port < 1 || c.Port > 65535 {
		bad("Port %d: want 1-65535", c.Port)
	}
	if c.Servers < 1 || c.Servers > 100 {
		bad("Servers %d: want 1-100", c.Servers)
	}
	if c.BasePort < 1 || c.BasePort+c.Servers-1 > 65535 {
		bad("BasePort %d: servers need ports %d-%d", c.BasePort, c.BasePort, c.BasePort+c.Servers-1)
	}
	if c.Port >= c.BasePort && c.Port < c.BasePort+c.Servers {
		bad("Port %d: collides with the servers' ports %d-%d", c.Port, c.BasePort, c.BasePort+c.Servers-1)
	}
	if c.CheckInterval < time.Millisecond || c.CheckInterval%time.Millisecond != 0 {
		bad("CheckInterval %v: want whole milliseconds", c.CheckInterval)
	}
	return errors.Join(errs...)
}

func (c HAProxyConfig) render(hostname, socket string) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	inter := strconv.FormatInt(c.CheckInterval.Milliseconds(), 10) + "ms"
	w("# written by internal/lab")
	w("global")
	w("    stats socket %s mode 600 level admin", socket)
	w("    stats timeout 30s")
	w("    nbthread 1")
	w("")
	w("defaults")
	w("    mode http")
	w("    timeout connect 1s")
	w("    timeout client 5s")
	w("    timeout server 5s")
	// A paused server frontend still completes the TCP handshake (the
	// backlog), so checks must time out on the read, and quickly.
	w("    timeout check %s", inter)
	w("")
	w("frontend %s", HAProxyFrontend)
	w("    bind *:%d", c.Port)
	w("    default_backend %s", HAProxyBackend)
	w("")
	w("backend %s", HAProxyBackend)
	w("    option httpchk GET /")
	w("    default-server check inter %s fastinter %s downinter %s fall 2 rise 1", inter, inter, inter)
	for i := 1; i <= c.Servers; i++ {
		w("    server %s 127.0.0.1:%d", HAProxyServer(i), c.BasePort+i-1)
	}
	for i := 1; i <= c.Servers && !c.ExternalServers; i++ {
		w("")
		w("frontend %s", HAProxyServerFrontend(i))
		w("    bind 127.0.0.1:%d", c.BasePort+i-1)
		w("    http-request return status 200 content-type text/plain string %s", hostname)
	}
	return b.String()
}

// StartHAProxy writes cfg to h.Dir and runs HAProxy in the foreground with
// net.ipv4.ip_nonlocal_bind=1 in the namespace. It returns once the runtime
// API answers, and writes the PID to PIDFile.
func (h *Host) StartHAProxy(cfg HAProxyConfig) (*HAProxy, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("lab: haproxy on %s: %w", h.Name, err)
	}
	hp := &HAProxy{
		ConfigFile: filepath.Join(h.Dir, "haproxy.cfg"),
		Socket:     filepath.Join(h.Dir, "haproxy.sock"),
		PIDFile:    filepath.Join(h.Dir, "haproxy.pid"),
	}
	if err := h.sysctl(map[string]string{"net.ipv4.ip_nonlocal_bind": "1"}); err != nil {
		return nil, fmt.Errorf("lab: haproxy on %s: %w", h.Name, err)
	}
	if err := os.WriteFile(hp.ConfigFile, []byte(cfg.render(h.Name, hp.Socket)), 0o644); err != nil {
		return nil, fmt.Errorf("lab: haproxy on %s: %w", h.Name, err)
	}
	// A socket file left by a killed HAProxy would make readiness look
	// immediate.
	for _, f := range []string{hp.Socket, hp.PIDFile} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("lab: haproxy on %s: %w", h.Name, err)
		}
	}
	p, err := h.Start("haproxy", "-db", "-f", hp.ConfigFile)
	if err != nil {
		return nil, err
	}
	hp.Process = p
	if err := os.WriteFile(hp.PIDFile, []byte(strconv.Itoa(p.PID())+"\n"), 0o644); err != nil {
		_ = p.Kill()
		return nil, fmt.Errorf("lab: haproxy on %s: %w", h.Name, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := waitStarted(ctx, p, func() bool { return socketAnswers(hp.Socket) }); err != nil {
		_ = p.Kill()
		return nil, fmt.Errorf("lab: haproxy on %s: runtime API %s: %w", h.Name, hp.Socket, err)
	}
	return hp, nil
}

// socketAnswers reports whether a unix socket accepts connections.
func socketAnswers(path string) bool {
	c, err := net.DialTimeout("unix", path, 100*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// API sends one command to HAProxy's runtime API and returns the reply.
func (hp *HAProxy) API(cmd string) (string, error) {
	c, err := net.DialTimeout("unix", hp.Socket, time.Second)
	if err != nil {
		return "", fmt.Errorf("lab: haproxy runtime API: %w", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(cmd + "\n")); err != nil {
		return "", fmt.Errorf("lab: haproxy runtime API %q: %w", cmd, err)
	}
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			// Without "prompt" mode HAProxy closes after one reply.
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return b.String(), fmt.Errorf("lab: haproxy runtime API %q: %w", cmd, err)
			}
			return b.String(), nil
		}
	}
}
