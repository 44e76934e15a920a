//go:build linux

package lab

import (
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

var vip = netip.MustParsePrefix("198.18.0.100/24")

func needBinary(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("%s is not installed (.ci/run installs it): %v", name, err)
	}
}

func TestKeepalivedConfig(t *testing.T) {
	base := KeepalivedConfig{VRID: 51, Priority: 200, VIPs: []netip.Prefix{vip}}
	for _, tc := range []struct {
		name    string
		mod     func(*KeepalivedConfig)
		want    []string // lines that must appear
		wantErr []string // fields the error must name
	}{
		{
			name: "seed v2 with PASS",
			mod:  func(c *KeepalivedConfig) { c.AuthPass = "pass1234" },
			want: []string{"state BACKUP", "interface eth1", "version 2", "virtual_router_id 51",
				"priority 200", "advert_int 1", "auth_type PASS", "auth_pass pass1234",
				"198.18.0.100/24 dev eth1"},
		},
		{
			name: "v3 unicast, nopreempt, script",
			mod: func(c *KeepalivedConfig) {
				c.Version, c.Interval = 3, 50*time.Millisecond
				c.UnicastPeers = []netip.Addr{netip.MustParseAddr("198.18.0.2")}
				c.NoPreempt, c.PreemptDelay = true, 1500*time.Millisecond
				c.Script = &KeepalivedScript{PIDFile: "/x/haproxy.pid", Weight: -150}
			},
			want: []string{"version 3", "advert_int 0.05", "unicast_src_ip 198.18.0.1",
				"unicast_peer {\n        198.18.0.2\n    }", "nopreempt", "preempt_delay 1.5",
				"vrrp_script chk_pid", "interval 1", "fall 1", "rise 1", "weight -150",
				"track_script {\n        chk_pid"},
		},
		{
			name: "everything wrong",
			mod: func(c *KeepalivedConfig) {
				c.VRID, c.Priority, c.Interval = 0, 300, 1500*time.Millisecond
				c.AuthPass = "much too long"
				c.VIPs = []netip.Prefix{netip.MustParsePrefix("192.168.200.102/24")}
				c.UnicastPeers = []netip.Addr{netip.MustParseAddr("10.0.0.1")}
				c.Script = &KeepalivedScript{Weight: -300}
			},
			wantErr: []string{"VRID 0", "Priority 300", "Interval 1.5s", "AuthPass", "VIPs",
				"UnicastPeers", "Script.PIDFile", "Script.Weight -300"},
		},
		{
			name:    "v3 with auth, v2-style interval",
			mod:     func(c *KeepalivedConfig) { c.Version, c.AuthPass, c.Interval = 3, "x", 5*time.Millisecond },
			wantErr: []string{"AuthPass: VRRP v3", "Interval 5ms"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			tc.mod(&c)
			c = c.withDefaults()
			err := c.validate()
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatalf("validate() = nil, want errors naming %q", tc.wantErr)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("validate() = %v\nwant it to name %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("validate() = %v", err)
			}
			conf := c.render("r1", netip.MustParseAddr("198.18.0.1"), "/x/check.sh")
			for _, w := range tc.want {
				if !strings.Contains(conf, w) {
					t.Errorf("config lacks %q:\n%s", w, conf)
				}
			}
		})
	}
}

func TestKeepalivedCheckRelease(t *testing.T) {
	old, cur := keepalivedRelease{1, 3, 9}, keepalivedRelease{2, 2, 7}
	c := KeepalivedConfig{VRID: 51, Priority: 200, VIPs: []netip.Prefix{vip}, PreemptDelay: 1500 * time.Millisecond}.withDefaults()
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	if err := c.checkRelease(cur); err != nil {
		t.Errorf("2.2.7, PreemptDelay 1.5s: %v", err)
	}
	if err := c.checkRelease(old); err == nil || !strings.Contains(err.Error(), "PreemptDelay 1.5s") {
		t.Errorf("1.3.9, PreemptDelay 1.5s: %v, want an error naming it", err)
	}
	c.PreemptDelay = 2 * time.Second
	if err := c.checkRelease(old); err != nil {
		t.Errorf("1.3.9, PreemptDelay 2s: %v", err)
	}
}

func TestParseKeepalivedVersion(t *testing.T) {
	for _, tc := range []struct {
		out                             string
		want                            string
		configTest, noSyslog, decimalPD bool
	}{
		{"Keepalived v1.3.9 (unknown)\n\nCopyright(C) 2001-2026 Alexandre Cassen\n", "1.3.9", false, false, false},
		{"Keepalived v2.2.7 (01/16,2022)\n\nCopyright(C) 2001-2022 Alexandre Cassen\n", "2.2.7", true, true, true},
		{"Keepalived v2.0.3 (x)", "2.0.3", false, true, true},
		{"Keepalived v10.0.0 (x)", "10.0.0", true, true, true},
	} {
		r, err := parseKeepalivedVersion(tc.out)
		if err != nil {
			t.Errorf("%q: %v", tc.out, err)
			continue
		}
		if r.String() != tc.want || r.hasConfigTest() != tc.configTest || r.hasNoSyslog() != tc.noSyslog ||
			r.decimalPreemptDelay() != tc.decimalPD {
			t.Errorf("%q: %v config-test %t no-syslog %t decimal preempt_delay %t", tc.out, r,
				r.hasConfigTest(), r.hasNoSyslog(), r.decimalPreemptDelay())
		}
	}
	if _, err := parseKeepalivedVersion("keepalived: unrecognized option '--version'\n"); err == nil ||
		!strings.Contains(err.Error(), "unrecognized option") {
		t.Errorf("garbage: %v, want an error quoting it", err)
	}
}

// TestConfigComplaints reads real keepalived 1.3.9 start-up logs: one of a
// config as the lab writes it, one with mistakes 1.3.9 only logs.
func TestConfigComplaints(t *testing.T) {
	clean := `Sat Nov 28 00:17:30 2026: Starting Keepalived v1.3.9 (unknown)
Sat Nov 28 00:17:30 2026: Opening file '/tmp/kx/lab-v2.conf'.
Sat Nov 28 00:17:30 2026: Starting VRRP child process, pid=15167
Sat Nov 28 00:17:30 2026: Registering Kernel netlink reflector
Sat Nov 28 00:17:30 2026: Registering Kernel netlink command channel
Sat Nov 28 00:17:30 2026: Registering gratuitous ARP shared channel
Sat Nov 28 00:17:30 2026: Opening file '/tmp/kx/lab-v2.conf'.
Sat Nov 28 00:17:30 2026: VRRP_Instance(VI_1) removing protocol VIPs.
Sat Nov 28 00:17:30 2026: Using LinkWatch kernel netlink reflector...
Sat Nov 28 00:17:30 2026: VRRP_Instance(VI_1) Entering BACKUP STATE
Sat Nov 28 00:17:30 2026: VRRP sockpool: [ifindex(6), proto(112), unicast(0), fd(9,11)]
Sat Nov 28 00:17:31 2026: VRRP_Instance(VI_1) ignoring received advertisment...
`
	if got := configComplaints(clean); len(got) != 0 {
		t.Errorf("clean start-up: complaints %q", got)
	}
	bad := `Sat Nov 28 00:20:48 2026: Starting Keepalived v1.3.9 (unknown)
Sat Nov 28 00:20:48 2026: Opening file '/tmp/kx/odd.conf'.
Sat Nov 28 00:20:48 2026: Unknown keyword 'bogus_keyword'
Sat Nov 28 00:20:48 2026: (VI_1): preempt_delay is incompatible with nopreempt mode - resetting
Sat Nov 28 00:20:48 2026: (VI_1): VRRPv2 advertisement interval 1.500000s must be an integer - rounding
Sat Nov 28 00:20:48 2026: VRRP_Instance(VI_1) removing protocol VIPs.
Sat Nov 28 00:20:48 2026: VRRP_Instance(VI_1) Entering BACKUP STATE
`
	got := configComplaints(bad)
	want := []string{"Unknown keyword 'bogus_keyword'", "incompatible with nopreempt", "must be an integer"}
	if len(got) != len(want) {
		t.Fatalf("complaints %q, want %d lines naming %q", got, len(want), want)
	}
	for i, w := range want {
		if !strings.Contains(got[i], w) {
			t.Errorf("complaint %d = %q, want it to name %q", i, got[i], w)
		}
	}
}

func TestHAProxyConfig(t *testing.T) {
	c := HAProxyConfig{Servers: 2}.withDefaults()
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	common := []string{
		"stats socket /lab/node1/haproxy.sock mode 600 level admin",
		"frontend fe_main\n    bind *:80\n",
		"check inter 100ms",
		"server s1 127.0.0.1:8081",
		"server s2 127.0.0.1:8082",
	}
	conf, files := c.render("node1", "/lab/node1/haproxy.sock", "/lab/node1", haproxyVersion{2, 6, "2.6.12"})
	for _, w := range append(common,
		"frontend srv_s2\n    bind 127.0.0.1:8082\n    http-request return status 200 content-type text/plain string node1",
	) {
		if !strings.Contains(conf, w) {
			t.Errorf("2.6 config lacks %q:\n%s", w, conf)
		}
	}
	if len(files) != 0 {
		t.Errorf("2.6 config needs files %v", files)
	}
	conf, files = c.render("node1", "/lab/node1/haproxy.sock", "/lab/node1", haproxyVersion{1, 8, "1.8.8"})
	for _, w := range append(common,
		"frontend srv_s2\n    bind 127.0.0.1:8082\n    errorfile 200 /lab/node1/srv_s2.http\n    http-request deny deny_status 200",
	) {
		if !strings.Contains(conf, w) {
			t.Errorf("1.8 config lacks %q:\n%s", w, conf)
		}
	}
	if page := files["/lab/node1/srv_s2.http"]; !strings.HasPrefix(page, "HTTP/1.0 200 OK\r\n") || !strings.HasSuffix(page, "\r\n\r\nnode1") {
		t.Errorf("1.8 config's page for srv_s2 = %q", page)
	}
	bad := HAProxyConfig{Port: 8082, Servers: 2, BasePort: 8081, CheckInterval: time.Microsecond}
	err := bad.validate()
	for _, w := range []string{"Port 8082", "CheckInterval"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("validate(%+v) = %v, want it to name %q", bad, err, w)
		}
	}
}

func TestKeepalivedBecomesMaster(t *testing.T) {
	t.Parallel()
	needBinary(t, "keepalived")
	ka139, err := PeerBinary(Keepalived139)
	if err != nil {
		t.Fatal(err)
	}
	type testCase struct {
		name    string
		cfg     KeepalivedConfig
		script  bool   // track a vrrp_script on a stand-in process, then kill it
		version string // the release StartKeepalived must report
	}
	var cases []testCase
	for _, k := range []struct{ binary, version string }{{"", "2.2.7"}, {ka139, "1.3.9"}} {
		for _, tc := range []testCase{
			{name: "v2 PASS 1s", cfg: KeepalivedConfig{VRID: 51, Priority: 200, AuthPass: "pass1234"}},
			{name: "v3 50ms unicast with script", cfg: KeepalivedConfig{VRID: 52, Priority: 100, Version: 3,
				Interval: 50 * time.Millisecond, UnicastPeers: []netip.Addr{netip.MustParseAddr("198.18.0.2")},
				PreemptDelay: 2 * time.Second}, script: true},
		} {
			tc.name = "keepalived-" + k.version + "/" + tc.name
			tc.cfg.Binary, tc.version = k.binary, k.version
			cases = append(cases, tc)
		}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := NewT(t)
			h := mustHost(t, l, "node1", "198.18.0.1/24")
			cfg := tc.cfg
			cfg.VIPs = []netip.Prefix{vip}
			var target *Process
			if tc.script {
				// The tracked "HAProxy" is a sleep; its pid file is what
				// the vrrp_script checks.
				var err error
				target, err = h.Start("sleep", "1000")
				if err != nil {
					t.Fatal(err)
				}
				pidFile := h.Dir + "/target.pid"
				if err := os.WriteFile(pidFile, []byte(fmt.Sprint(target.PID())), 0o644); err != nil {
					t.Fatal(err)
				}
				cfg.Script = &KeepalivedScript{PIDFile: pidFile, Weight: -50}
			}
			k, err := h.StartKeepalived(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if k.Version != tc.version {
				t.Errorf("Version = %q, want %q", k.Version, tc.version)
			}
			ctx := timeout(t, 15*time.Second)
			if err := Eventually(ctx, 20*time.Millisecond, func() (bool, string) {
				addrs, err := h.Addrs()
				return h.HasAddr(vip.Addr()), fmt.Sprintf("eth1 has %v (%v)", addrs, err)
			}); err != nil {
				t.Fatalf("keepalived never took the VIP: %v", err)
			}
			if tc.script {
				if err := target.Kill(); err != nil {
					t.Fatal(err)
				}
				if err := Eventually(ctx, 50*time.Millisecond, func() (bool, string) {
					// The weight applies whether the check failed or, on a
					// loaded machine, timed out.
					return strings.Contains(k.Output(), "effective priority from 100 to 50"), "no priority change logged"
				}); err != nil {
					t.Errorf("keepalived never applied the script's weight after the process died: %v", err)
				}
			}
			if err := k.Stop(5 * time.Second); err != nil {
				t.Errorf("Stop: %v", err)
			}
			if h.HasAddr(vip.Addr()) {
				t.Errorf("VIP still on eth1 after keepalived stopped")
			}
			if !strings.Contains(k.Output(), "Entering MASTER STATE") {
				t.Errorf("keepalived log lacks %q:\n%s", "Entering MASTER STATE", k.Output())
			}
		})
	}
}

// TestHAProxyAnswers runs the lab's HAProxy in each version the tests use
// (its configuration differs for 1.8, see render).
func TestHAProxyAnswers(t *testing.T) {
	t.Parallel()
	needBinary(t, "haproxy")
	builds, err := HAProxyBuilds()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range builds {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			testHAProxyAnswers(t, b)
		})
	}
}

func testHAProxyAnswers(t *testing.T, b HAProxyBuild) {
	l := NewT(t)
	proxy := mustHost(t, l, "proxy", "198.18.0.1/24")
	client := mustHost(t, l, "client", "198.18.0.2/24")
	hp, err := proxy.StartHAProxy(HAProxyConfig{Servers: 2, Binary: b.Binary})
	if err != nil {
		t.Fatal(err)
	}
	if want := b.Name; !strings.HasPrefix(hp.Version, want) {
		t.Errorf("Version %q, want %s", hp.Version, want)
	}

	ctx := timeout(t, 15*time.Second)
	stat := func(state string, want int) func() (bool, string) {
		return func() (bool, string) {
			out, err := hp.API("show stat")
			return strings.Count(out, ","+state+",") == want, fmt.Sprintf("show stat: %v\n%s", err, out)
		}
	}
	if err := Eventually(ctx, 20*time.Millisecond, stat("UP", 3)); err != nil { // s1, s2, BACKEND
		t.Fatalf("servers never came UP: %v", err)
	}

	get := func() (string, error) {
		resp, err := client.HTTPClient(2 * time.Second).Get("http://198.18.0.1/")
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			return string(b), fmt.Errorf("status %s", resp.Status)
		}
		return string(b), err
	}
	body, err := get()
	if err != nil || body != "proxy" {
		t.Fatalf("GET from client = %q, %v; want body %q", body, err, "proxy")
	}

	// Pausing every server's frontend takes the backend down: the lever
	// health-tracking tests pull.
	for i := 1; i <= 2; i++ {
		if out, err := hp.API("disable frontend " + HAProxyServerFrontend(i)); err != nil {
			t.Fatalf("disable frontend: %v %s", err, out)
		}
	}
	if err := Eventually(ctx, 20*time.Millisecond, stat("DOWN", 3)); err != nil {
		t.Fatalf("servers never went DOWN: %v", err)
	}
	if body, err := get(); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("GET with every server DOWN = %q, %v; want status 503", body, err)
	}

	if err := hp.Stop(5 * time.Second); err != nil {
		t.Errorf("Stop: %v\n%s", err, hp.Output())
	}
}

// TestKeepalivedPairFailsOver is the shape of the integration tests the lab
// exists for: two nodes running HAProxy and keepalived (multicast, which
// only works because the bridge floods it), a client GETting the VIP.
func TestKeepalivedPairFailsOver(t *testing.T) {
	t.Parallel()
	needBinary(t, "keepalived")
	needBinary(t, "haproxy")
	l := NewT(t)
	node1 := mustHost(t, l, "node1", "198.18.0.1/24")
	node2 := mustHost(t, l, "node2", "198.18.0.2/24")
	client := mustHost(t, l, "client", "198.18.0.9/24")
	for _, n := range []struct {
		h    *Host
		prio int
	}{{node1, 200}, {node2, 100}} {
		if _, err := n.h.StartHAProxy(HAProxyConfig{}); err != nil {
			t.Fatal(err)
		}
		if _, err := n.h.StartKeepalived(KeepalivedConfig{VRID: 51, Priority: n.prio, Version: 3,
			Interval: 100 * time.Millisecond, VIPs: []netip.Prefix{vip}}); err != nil {
			t.Fatal(err)
		}
	}
	httpc := client.HTTPClient(time.Second)
	servedBy := func(want string) func() (bool, string) {
		return func() (bool, string) {
			resp, err := httpc.Get("http://" + vip.Addr().String() + "/")
			if err != nil {
				return false, err.Error()
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			holders := fmt.Sprintf("VIP on node1 %t, node2 %t", node1.HasAddr(vip.Addr()), node2.HasAddr(vip.Addr()))
			return string(b) == want && node1.HasAddr(vip.Addr()) != node2.HasAddr(vip.Addr()),
				fmt.Sprintf("served by %q; %s", b, holders)
		}
	}

	ctx := timeout(t, 20*time.Second)
	if err := Eventually(ctx, 20*time.Millisecond, servedBy("node1")); err != nil {
		t.Fatalf("the VIP never settled on node1 (priority 200): %v", err)
	}
	if err := node1.SetLink(false); err != nil {
		t.Fatal(err)
	}
	if err := Eventually(ctx, 20*time.Millisecond, servedBy("node2")); err != nil {
		t.Fatalf("node2 never took over: %v", err)
	}
	if err := node1.SetLink(true); err != nil {
		t.Fatal(err)
	}
	if err := Eventually(ctx, 20*time.Millisecond, servedBy("node1")); err != nil {
		t.Fatalf("node1 never preempted back: %v", err)
	}
}
