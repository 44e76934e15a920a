//go:build linux

package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/proxypair/proxypair/appliance/control"
	"github.com/proxypair/proxypair/internal/debtest"
	"github.com/proxypair/proxypair/internal/lab"
	"github.com/proxypair/proxypair/internal/lab/ppnode"
)

// The binaries under test, built once by TestMain.
var bin struct{ proxypair, pplab string }

func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		os.Exit(m.Run()) // every test skips with its reason
	}
	dir, err := os.MkdirTemp("", "pp-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin.proxypair = filepath.Join(dir, "proxypair")
	bin.pplab = filepath.Join(dir, "pplab")
	for out, pkg := range map[string]string{bin.proxypair: "../../cmd/proxypair", bin.pplab: "../cmd/pplab"} {
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n%s", pkg, err, b)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	debtest.Cleanup() // the packages the upgrade tests built
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	vip    = netip.MustParsePrefix("198.18.0.100/24")
	addrA  = netip.MustParsePrefix("198.18.0.1/24")
	addrB  = netip.MustParsePrefix("198.18.0.2/24")
	addrC  = netip.MustParsePrefix("198.18.0.3/24")
	seedV2 = settings{version: 2, interval: time.Second, pass: "pass1234"}
)

// settings are the VRRP parameters both peers of a pair share.
type settings struct {
	version  int
	interval time.Duration
	pass     string
	unicast  bool
}

func (s settings) String() string {
	kind := "multicast"
	if s.unicast {
		kind = "unicast"
	}
	auth := ""
	if s.pass != "" {
		auth = "-pass"
	}
	return fmt.Sprintf("v%d-%v%s-%s", s.version, s.interval, auth, kind)
}

// yaml is a proxypair config for a node with priority prio whose peer (for
// unicast) is peer. extra is appended; unless it has a health section,
// health tracking is off (these hosts run no HAProxy).
func (s settings) yaml(prio int, peer netip.Prefix, extra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "vrrp:\n  interface: eth1\n  virtual_router_id: 51\n  priority: %d\n  version: %d\n  advert_interval: %v\n",
		prio, s.version, s.interval)
	if s.pass != "" {
		fmt.Fprintf(&b, "  auth_pass: %s\n", s.pass)
	}
	fmt.Fprintf(&b, "  virtual_ips: [%v]\n", vip)
	if s.unicast {
		fmt.Fprintf(&b, "  unicast_peers: [%v]\n", peer.Addr())
	}
	b.WriteString(extra)
	if !strings.Contains(extra, "health:") {
		b.WriteString("health:\n  enabled: false\n")
	}
	return b.String()
}

func (s settings) keepalived(prio int, peer netip.Prefix) lab.KeepalivedConfig {
	c := lab.KeepalivedConfig{VRID: 51, Priority: prio, Version: s.version, Interval: s.interval, AuthPass: s.pass, VIPs: []netip.Prefix{vip}}
	if s.unicast {
		c.UnicastPeers = []netip.Addr{peer.Addr()}
	}
	return c
}

// node is a proxypair daemon on a lab host, with test helpers.
type node struct {
	*ppnode.Node
	t *testing.T
}

// startProxypair runs proxypair on h with cfg (without control and log keys).
func startProxypair(t *testing.T, h *lab.Host, cfg string) *node {
	t.Helper()
	p, err := ppnode.Start(h, bin.proxypair, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &node{Node: p, t: t}
}

// restart starts the daemon again after a stop or crash.
func (n *node) restart() {
	n.t.Helper()
	if err := n.Restart(); err != nil {
		n.t.Fatal(err)
	}
}

func (n *node) status() control.Instance {
	n.t.Helper()
	st, err := n.Instance(context.Background())
	if err != nil {
		n.t.Fatalf("status of %s: %v\n%s", n.Host.Name, err, n.Output())
	}
	return st
}

func (n *node) eventually(what string, within time.Duration, cond func() (bool, string)) {
	n.t.Helper()
	eventually(n.t, what, within, cond)
}

func (n *node) waitState(state string, within time.Duration) {
	n.t.Helper()
	n.eventually(n.Host.Name+" in "+state, within, func() (bool, string) {
		st, err := n.Instance(context.Background())
		if err != nil {
			return false, err.Error()
		}
		return st.State == state, st.State
	})
}

func eventually(t *testing.T, what string, within time.Duration, cond func() (bool, string)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	if err := lab.Eventually(ctx, 20*time.Millisecond, cond); err != nil {
		t.Fatalf("waiting %v for %s: %v", within, what, err)
	}
}

// holders names the hosts that have the VIP on eth1.
func holders(hosts ...*lab.Host) []string {
	var out []string
	for _, h := range lab.Holders(vip.Addr(), hosts...) {
		out = append(out, h.Name)
	}
	return out
}

// waitHolder waits until want, and only want, holds the VIP.
func waitHolder(t *testing.T, want *lab.Host, within time.Duration, hosts ...*lab.Host) {
	t.Helper()
	eventually(t, "VIP on "+want.Name+" only", within, func() (bool, string) {
		h := holders(hosts...)
		return len(h) == 1 && h[0] == want.Name, fmt.Sprint("holders ", h)
	})
}

// steady checks, for d, that exactly want holds the VIP at every sample.
func steady(t *testing.T, want *lab.Host, d time.Duration, hosts ...*lab.Host) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); {
		if h := holders(hosts...); len(h) != 1 || h[0] != want.Name {
			t.Fatalf("steady state broken: VIP holders %v, want only %s", h, want.Name)
		}
		// Sampling pace, not synchronisation: the check runs for all of d.
		time.Sleep(20 * time.Millisecond)
	}
}

func setLink(t *testing.T, h *lab.Host, up bool) {
	t.Helper()
	if err := h.SetLink(up); err != nil {
		t.Fatal(err)
	}
}

// masterDown is the longest a backup can wait before taking over.
func (s settings) masterDown() time.Duration { return 4*s.interval + 2*time.Second }

func newPair(t *testing.T) (*lab.Lab, *lab.Host, *lab.Host) {
	t.Helper()
	l := lab.NewT(t)
	a, err := l.AddHost("a", addrA)
	if err != nil {
		t.Fatal(err)
	}
	b, err := l.AddHost("b", addrB)
	if err != nil {
		t.Fatal(err)
	}
	return l, a, b
}
