//go:build linux

package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
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
	// Binary is the HAProxy to run: a path, e.g. PeerBinary(HAProxy188),
	// or "" for Debian's haproxy on PATH. Its version (from -v) decides the
	// configuration's dialect; see render.
	Binary string
	// MasterWorker runs HAProxy in master-worker mode (-W): SIGUSR2 to
	// the Process (the master) reloads it, with a new worker PID.
	MasterWorker bool
}

// HAProxy is a running HAProxy (foreground, -db).
type HAProxy struct {
	*Process   // the master with MasterWorker
	ConfigFile string
	Socket     string // runtime API (stats socket, level admin, mode 600)
	PIDFile    string // holds the PID, for `kill -0 $(cat PIDFile)` checks
	Version    string // e.g. "2.6.12-1+deb12u4" or "1.8.8"
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

// render writes the configuration for HAProxy version v; dir receives the
// files it refers to. HAProxy 1.8 (Ubuntu 18.04's) lacks
// `http-request return` (2.2+), so there each server's frontend answers with
// an errorfile through `http-request deny deny_status 200` instead: the same
// 200 with the host's name as the body. Everything else is the same in 1.8
// and 2.x.
func (c HAProxyConfig) render(hostname, socket, dir string, v haproxyVersion) (cfg string, files map[string]string) {
	files = map[string]string{}
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	inter := strconv.FormatInt(c.CheckInterval.Milliseconds(), 10) + "ms"
	w("# written by internal/lab for HAProxy %s", v)
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
		if v.atLeast(2, 2) {
			w("    http-request return status 200 content-type text/plain string %s", hostname)
			continue
		}
		page := filepath.Join(dir, HAProxyServerFrontend(i)+".http")
		files[page] = fmt.Sprintf("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(hostname), hostname)
		w("    errorfile 200 %s", page)
		w("    http-request deny deny_status 200")
	}
	return b.String(), files
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
	bin := cfg.Binary
	if bin == "" {
		bin = "haproxy"
	}
	v, err := haproxyVersionOf(bin)
	if err != nil {
		return nil, fmt.Errorf("lab: haproxy on %s: %w", h.Name, err)
	}
	hp.Version = v.String()
	text, files := cfg.render(h.Name, hp.Socket, h.Dir, v)
	files[hp.ConfigFile] = text
	for name, content := range files {
		if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
			return nil, fmt.Errorf("lab: haproxy on %s: %w", h.Name, err)
		}
	}
	// A socket file left by a killed HAProxy would make readiness look
	// immediate.
	for _, f := range []string{hp.Socket, hp.PIDFile} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("lab: haproxy on %s: %w", h.Name, err)
		}
	}
	args := []string{"-db", "-f", hp.ConfigFile}
	if cfg.MasterWorker {
		args = append(args, "-W")
	}
	p, err := h.Start(bin, args...)
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

// haproxyVersion is what `haproxy -v` says about a binary.
type haproxyVersion struct {
	major, minor int
	full         string // e.g. "2.6.12-1+deb12u4", "1.8.8"
}

func (v haproxyVersion) String() string { return v.full }

func (v haproxyVersion) atLeast(major, minor int) bool {
	return v.major > major || v.major == major && v.minor >= minor
}

// "HAProxy version 2.6.12-1+deb12u4 2026/10/17 - https://haproxy.org/" or
// "HA-Proxy version 1.8.8 2018/04/19".
var haproxyVersionRE = regexp.MustCompile(`(?m)^HA-?Proxy version ((\d+)\.(\d+)\S*)`)

var haproxyVersions sync.Map // binary -> haproxyVersion

// haproxyVersionOf runs `bin -v` (once per binary) and parses its version.
func haproxyVersionOf(bin string) (haproxyVersion, error) {
	if v, ok := haproxyVersions.Load(bin); ok {
		return v.(haproxyVersion), nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "-v").CombinedOutput()
	if err != nil {
		return haproxyVersion{}, fmt.Errorf("%s -v: %w: %s", bin, err, firstLine(string(out)))
	}
	m := haproxyVersionRE.FindStringSubmatch(string(out))
	if m == nil {
		return haproxyVersion{}, fmt.Errorf("%s -v: no version in %q", bin, firstLine(string(out)))
	}
	major, _ := strconv.Atoi(m[2])
	minor, _ := strconv.Atoi(m[3])
	v := haproxyVersion{major: major, minor: minor, full: m[1]}
	haproxyVersions.Store(bin, v)
	return v, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// HAProxyBuild is one HAProxy the tests run against.
type HAProxyBuild struct {
	Name   string // the version, for subtest names: e.g. "2.6.12", "1.8.8"
	Binary string // for HAProxyConfig.Binary; "" is Debian's haproxy on PATH
}

// HAProxyBuilds returns the HAProxy versions the health tests cover:
// Debian's haproxy on PATH and Ubuntu 18.04's 1.8.8 (PeerBinary). It fails
// when either is missing: CI must run against both.
func HAProxyBuilds() ([]HAProxyBuild, error) {
	old, err := PeerBinary(HAProxy188)
	if err != nil {
		return nil, err
	}
	var builds []HAProxyBuild
	for _, bin := range []string{"", old} {
		path := bin
		if path == "" {
			if path, err = exec.LookPath("haproxy"); err != nil {
				return nil, fmt.Errorf("lab: haproxy is not installed (scripts/deps.sh installs it): %w", err)
			}
		}
		v, err := haproxyVersionOf(path)
		if err != nil {
			return nil, fmt.Errorf("lab: %w", err)
		}
		name, _, _ := strings.Cut(v.full, "-") // "2.6.12-1+deb12u4" -> "2.6.12"
		builds = append(builds, HAProxyBuild{Name: name, Binary: bin})
	}
	return builds, nil
}
