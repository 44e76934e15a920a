//go:build linux

package healthcheck

// The HAProxy lab: a real HAProxy on an internal/lab host (its own network
// namespace), which starts, tracks and cleans up the namespaces and the
// process. The configuration is ours, not lab.StartHAProxy's: the tests
// need be_unused and master-worker (-W) reloads.

import (
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/proxypair/proxypair/internal/lab"
)

// labConfig is the HAProxy configuration of the lab: fe_main uses be_app,
// whose two servers are fe_s1 and fe_s2 of the same HAProxy; be_unused is
// used by no frontend and its only server is always DOWN. {{ANSWER}} makes
// fe_s1 and fe_s2 answer 200; see startHAProxy.
const labConfig = `global
    stats socket {{DIR}}/admin.sock mode 600 level admin
    stats socket {{DIR}}/user.sock mode 600 level user
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe_main
    bind 127.0.0.1:8080
    default_backend be_app
frontend fe_s1
    bind 127.0.0.1:8081
    {{ANSWER}}
frontend fe_s2
    bind 127.0.0.1:8082
    {{ANSWER}}
backend be_app
    option httpchk GET /
    server s1 127.0.0.1:8081 check inter 100ms fall 1 rise 1
    server s2 127.0.0.1:8082 check inter 100ms fall 1 rise 1
backend be_unused
    server u1 127.0.0.1:8099 check inter 100ms fall 1 rise 1
`

// labHAProxy is one HAProxy process (tree) on its own lab host. Its Process
// is the one we started: the only one with -db, the master with -W. The
// tests drive HAProxy through Socket (level admin); the tracker reads
// UserSocket (level user), which is all it needs.
type labHAProxy struct {
	*lab.HAProxy
	UserSocket string
	t          *testing.T
	build      lab.HAProxyBuild
	host       *lab.Host
}

// forEachHAProxy runs test once per HAProxy version the product supports
// (Debian's 2.6 and Ubuntu 18.04's 1.8.8), as subtests named by version.
func forEachHAProxy(t *testing.T, test func(t *testing.T, b lab.HAProxyBuild)) {
	t.Helper()
	if _, err := exec.LookPath("haproxy"); err != nil {
		t.Skip("needs haproxy (Debian package haproxy)")
	}
	builds, err := lab.HAProxyBuilds()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range builds {
		t.Run(b.Name, func(t *testing.T) { test(t, b) })
	}
}

// is18 reports whether this is HAProxy 1.8.
func (h *labHAProxy) is18() bool { return strings.HasPrefix(h.build.Name, "1.8.") }

// pausedStatus is a frontend's show stat status after `disable frontend`:
// 1.8 reports it as STOP, 2.x as PAUSED. Both fail the frontend check.
func (h *labHAProxy) pausedStatus() string {
	if h.is18() {
		return "STOP"
	}
	return "PAUSED"
}

// startHAProxy writes labConfig to a new lab host's directory and runs
// `haproxy -db [-W] -f cfg` there with HAProxy build b; the lab stops it and
// deletes the namespaces when the test ends, and logs its output if the
// test failed. It returns once the runtime API answers, be_app has both
// servers UP and be_unused's server has failed its first check.
//
// The configuration differs in one line between versions: 1.8 has no
// `http-request return` (2.2+), so there fe_s1 and fe_s2 answer with
// `monitor-uri /` (a 200 for GET /). Master-worker mode (-W) and the rest
// of the configuration are the same on 1.8 and 2.6.
func startHAProxy(t *testing.T, b lab.HAProxyBuild, masterWorker bool) *labHAProxy {
	t.Helper()
	host, err := lab.NewT(t).AddHost("haproxy", netip.MustParsePrefix("198.18.0.1/24"))
	if err != nil {
		t.Fatal(err)
	}
	h := &labHAProxy{t: t, build: b, host: host, UserSocket: filepath.Join(host.Dir, "user.sock"), HAProxy: &lab.HAProxy{
		ConfigFile: filepath.Join(host.Dir, "haproxy.cfg"),
		Socket:     filepath.Join(host.Dir, "admin.sock"),
	}}
	answer := "http-request return status 200"
	if h.is18() {
		answer = "monitor-uri /"
	}
	cfg := strings.NewReplacer("{{DIR}}", host.Dir, "{{ANSWER}}", answer).Replace(labConfig)
	if err := os.WriteFile(h.ConfigFile, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"-db"}
	if masterWorker {
		args = append(args, "-W")
	}
	bin := b.Binary
	if bin == "" {
		bin = "haproxy"
	}
	if h.Process, err = host.Start(bin, append(args, "-f", h.ConfigFile)...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "be_app servers UP and be_unused/u1 DOWN", func() bool {
		if h.Exited() {
			t.Fatalf("haproxy (pid %d) exited during start-up", h.PID())
		}
		out, err := h.API("show stat")
		return err == nil && statusOf(out, "be_app", "s1") == "UP" &&
			statusOf(out, "be_app", "s2") == "UP" && statusOf(out, "be_unused", "u1") == "DOWN"
	})
	return h
}

// holdRequest opens a connection to fe_main and sends half a request, which
// keeps the worker serving it alive through a reload until the connection
// closes (or `timeout client`, 5 s, passes). The test closes it.
func (h *labHAProxy) holdRequest() net.Conn {
	h.t.Helper()
	c, err := h.host.DialContext(h.t.Context(), "tcp", "127.0.0.1:8080")
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { c.Close() })
	if _, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: lab\r\n")); err != nil {
		h.t.Fatal(err)
	}
	return c
}

// MustCLI runs one runtime API command and fails the test if it cannot.
func (h *labHAProxy) MustCLI(cmd string) string {
	h.t.Helper()
	out, err := h.API(cmd)
	if err != nil {
		h.t.Fatalf("haproxy CLI %q: %v", cmd, err)
	}
	return out
}

// WorkerPID is the PID that show info reports (the worker with -W).
func (h *labHAProxy) WorkerPID() int {
	h.t.Helper()
	out := h.MustCLI("show info")
	pid := pidFromInfo(out)
	if pid == 0 {
		h.t.Fatalf("no Pid in show info: %q", out)
	}
	return pid
}

// Kill SIGKILLs HAProxy (a crash) and waits until it is reaped; it fails
// the test if it cannot.
func (h *labHAProxy) Kill() {
	h.t.Helper()
	if err := h.HAProxy.Kill(); err != nil {
		h.t.Fatal(err)
	}
}

// statusOf returns the status column of proxy/name in show stat output.
func statusOf(stat, proxy, name string) string {
	rows, err := parseStat(strings.TrimLeft(stat, "\n"))
	if err != nil {
		return ""
	}
	for _, r := range rows {
		if r.Proxy == proxy && r.Name == name {
			return r.Status
		}
	}
	return ""
}
