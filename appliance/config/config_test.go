package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func writeYAML(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "proxypair.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// clearEnv hides any PROXYPAIR_* variable of the machine running the tests.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, EnvPrefix) {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
}

func load(t *testing.T, src Source) (*Config, []Problem) {
	t.Helper()
	c, problems, err := Load(src)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c, problems
}

const seed = `
vrrp:
  interface: eth1
  virtual_router_id: 51
  priority: 200
  version: 2
  advert_interval: 1s
  auth_pass: pass1234
  virtual_ips: [192.168.200.102/24]
`

func TestExampleConfigs(t *testing.T) {
	clearEnv(t)
	for _, tc := range []struct {
		file     string
		priority int
	}{
		{"../../configs/master.yaml", 200},
		{"../../configs/backup.yaml", 100},
	} {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			c, problems := load(t, Source{File: tc.file})
			if len(problems) != 0 {
				t.Fatalf("problems: %v", problems)
			}
			want := VRRP{
				Name:           "VI_1",
				Interface:      "eth1",
				VRID:           51,
				Priority:       tc.priority,
				Version:        2,
				AdvertInterval: time.Second,
				Preempt:        true,
				AuthPass:       "pass1234",
				VirtualIPs:     []netip.Prefix{netip.MustParsePrefix("192.168.200.102/24")},
				V3Checksum:     ChecksumPseudoHeader,
				GARP:           GARP{Repeat: 5, Delay: 5 * time.Second},
			}
			if diff := cmp.Diff(want, c.VRRP, cmp.Comparer(func(a, b netip.Addr) bool { return a == b }), cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
				t.Errorf("VRRP (-want +got):\n%s", diff)
			}
		})
	}
}

// TestEveryExampleIsValid: the shipped examples, YAML and environment files,
// pass every rule (warnings allowed).
func TestEveryExampleIsValid(t *testing.T) {
	clearEnv(t)
	yamls, _ := filepath.Glob("../../configs/*.yaml")
	envs, _ := filepath.Glob("../../configs/*.env")
	if len(yamls) < 4 || len(envs) < 2 {
		t.Fatalf("examples not found: %v %v", yamls, envs)
	}
	for _, f := range yamls {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if _, problems := load(t, Source{File: f}); !Valid(problems) {
				t.Errorf("problems: %v", problems)
			}
		})
	}
	for _, f := range envs {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for line := range strings.Lines(string(b)) {
				line = strings.TrimSpace(line)
				if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
					t.Setenv(k, v)
				}
			}
			if _, problems := load(t, Source{File: writeYAML(t, "{}\n")}); !Valid(problems) {
				t.Errorf("problems: %v", problems)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	clearEnv(t)
	c, problems := load(t, Source{File: writeYAML(t, "vrrp: {virtual_ips: [198.18.0.100/24]}\n")})
	if len(problems) != 0 {
		t.Fatalf("problems: %v", problems)
	}
	if c.VRRP.Interface != "eth1" || c.VRRP.VRID != 51 || c.VRRP.Version != 2 || c.VRRP.AdvertInterval != time.Second ||
		!c.VRRP.Preempt || c.Control.Socket != "/run/proxypair/proxypair.sock" || c.Log.Level != "info" || c.Log.Format != "text" {
		t.Errorf("defaults not applied: %+v", c)
	}
}

func TestPrecedence(t *testing.T) {
	clearEnv(t)
	file := writeYAML(t, seed)

	c, _ := load(t, Source{File: file})
	if c.VRRP.Priority != 200 {
		t.Fatalf("file: priority = %d, want 200", c.VRRP.Priority)
	}

	t.Setenv("PROXYPAIR_VRRP_PRIORITY", "150")
	c, _ = load(t, Source{File: file})
	if c.VRRP.Priority != 150 {
		t.Fatalf("env over file: priority = %d, want 150", c.VRRP.Priority)
	}

	c, _ = load(t, Source{File: file, Set: map[string]string{"vrrp.priority": "120"}})
	if c.VRRP.Priority != 120 {
		t.Fatalf("flag over env: priority = %d, want 120", c.VRRP.Priority)
	}
}

// TestEnvOnlyKeys: keys that appear nowhere in the file must still reach the
// typed Config (viper's Unmarshal would miss them unless bound).
func TestEnvOnlyKeys(t *testing.T) {
	clearEnv(t)
	t.Setenv("PROXYPAIR_VRRP_VIRTUAL_IPS", "198.18.0.100/24,198.18.0.101/24")
	t.Setenv("PROXYPAIR_VRRP_UNICAST_PEERS", "198.18.0.2")
	t.Setenv("PROXYPAIR_VRRP_VERSION", "3")
	t.Setenv("PROXYPAIR_VRRP_ADVERT_INTERVAL", "50ms")
	t.Setenv("PROXYPAIR_VRRP_PREEMPT", "false")
	t.Setenv("PROXYPAIR_HEALTH_HAPROXY_MIN_SERVERS_UP", "2")
	c, problems := load(t, Source{File: writeYAML(t, "log: {level: debug}\n")})
	if len(problems) != 0 {
		t.Fatalf("problems: %v", problems)
	}
	if got := len(c.VRRP.VirtualIPs); got != 2 {
		t.Errorf("virtual_ips: %v", c.VRRP.VirtualIPs)
	}
	if len(c.VRRP.UnicastPeers) != 1 || c.VRRP.UnicastPeers[0] != netip.MustParseAddr("198.18.0.2") {
		t.Errorf("unicast_peers: %v", c.VRRP.UnicastPeers)
	}
	if c.VRRP.Version != 3 || c.VRRP.AdvertInterval != 50*time.Millisecond || c.VRRP.Preempt {
		t.Errorf("vrrp: %+v", c.VRRP)
	}
	if c.Health.HAProxy.MinServersUp != 2 {
		t.Errorf("min_servers_up = %d", c.Health.HAProxy.MinServersUp)
	}
	if c.Log.Level != "debug" {
		t.Errorf("file value lost: log.level = %q", c.Log.Level)
	}
}

func TestConfigFileFromEnv(t *testing.T) {
	clearEnv(t)
	t.Setenv(EnvConfigFile, writeYAML(t, seed))
	c, problems := load(t, Source{})
	if len(problems) != 0 || c.VRRP.Priority != 200 {
		t.Fatalf("PROXYPAIR_CONFIG not read: priority %d, problems %v", c.VRRP.Priority, problems)
	}
}

func TestMissingNamedFile(t *testing.T) {
	clearEnv(t)
	_, _, err := Load(Source{File: filepath.Join(t.TempDir(), "nope.yaml")})
	if err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Fatalf("err = %v, want one naming the file", err)
	}
}

func TestNotYAML(t *testing.T) {
	clearEnv(t)
	_, _, err := Load(Source{File: writeYAML(t, "vrrp: [\n")})
	if err == nil {
		t.Fatal("broken YAML accepted")
	}
}

// seedVRRP is the seed's vrrp block as key → YAML value.
var seedVRRP = [][2]string{
	{"interface", "eth1"},
	{"virtual_router_id", "51"},
	{"priority", "200"},
	{"version", "2"},
	{"advert_interval", "1s"},
	{"auth_pass", "pass1234"},
	{"virtual_ips", "[192.168.200.102/24]"},
}

// seedWith is the seed config with some vrrp keys replaced or added
// ("key: value" lines; an empty value deletes the key) and more YAML after it.
func seedWith(vrrp []string, more string) string {
	over := map[string]string{}
	var order []string
	for _, l := range vrrp {
		k, v, _ := strings.Cut(l, ": ")
		over[k] = v
		order = append(order, k)
	}
	var b strings.Builder
	b.WriteString("vrrp:\n")
	for _, kv := range seedVRRP {
		v, ok := over[kv[0]]
		if !ok {
			v = kv[1]
		}
		delete(over, kv[0])
		if v != "" {
			b.WriteString("  " + kv[0] + ": " + v + "\n")
		}
	}
	for _, k := range order {
		if v, ok := over[k]; ok {
			b.WriteString("  " + k + ": " + v + "\n")
		}
	}
	b.WriteString(more)
	return b.String()
}

// TestBadConfigs: every rule names its key.
func TestBadConfigs(t *testing.T) {
	clearEnv(t)
	v3 := []string{"version: 3", "auth_pass: "}
	for _, tc := range []struct {
		name string
		vrrp []string
		more string
		set  map[string]string
		key  string
		want string // part of the message
	}{
		{"typo", []string{"priorty: 100"}, "", nil, "vrrp.priorty", "did you mean vrrp.priority"},
		{"unknown section", nil, "vrrrp: {priority: 100}\n", nil, "vrrrp.priority", "unknown key"},
		{"section as value", nil, "log: 3\n", nil, "log", "mapping"},
		{"priority high", []string{"priority: 300"}, "", nil, "vrrp.priority", "outside 1-254"},
		{"priority zero", []string{"priority: 0"}, "", nil, "vrrp.priority", "outside 1-254"},
		{"priority 255", []string{"priority: 255"}, "", nil, "vrrp.priority", "outside 1-254"},
		{"priority text", []string{"priority: high"}, "", nil, "vrrp.priority", "not a whole number"},
		{"vrid zero", []string{"virtual_router_id: 0"}, "", nil, "vrrp.virtual_router_id", "outside 1-255"},
		{"vrid high", []string{"virtual_router_id: 256"}, "", nil, "vrrp.virtual_router_id", "outside 1-255"},
		{"v2 fraction", []string{"advert_interval: 1500ms"}, "", nil, "vrrp.advert_interval", "whole seconds"},
		{"v2 too long", []string{"advert_interval: 256s"}, "", nil, "vrrp.advert_interval", "whole seconds"},
		{"v2 sub-second", []string{"advert_interval: 50ms"}, "", nil, "vrrp.advert_interval", "whole seconds"},
		{"no unit", []string{"advert_interval: 1"}, "", nil, "vrrp.advert_interval", "no unit"},
		{"v3 too short", append(v3, "advert_interval: 5ms"), "", nil, "vrrp.advert_interval", "multiple of 10ms"},
		{"v3 not 10ms", append(v3, "advert_interval: 15ms"), "", nil, "vrrp.advert_interval", "multiple of 10ms"},
		{"v3 too long", append(v3, "advert_interval: 41s"), "", nil, "vrrp.advert_interval", "40.95s"},
		{"long password", []string{"auth_pass: pass12345"}, "", nil, "vrrp.auth_pass", "at most 8"},
		{"v3 password", []string{"version: 3"}, "", nil, "vrrp.auth_pass", "version 3"},
		{"bad VIP", []string{"virtual_ips: [192.168.200.300/24]"}, "", nil, "vrrp.virtual_ips", "192.168.200.300/24"},
		{"IPv6 VIP", []string{"virtual_ips: ['2001:db8::1/64']"}, "", nil, "vrrp.virtual_ips", "not IPv4"},
		{"duplicate VIP", []string{"virtual_ips: [198.18.0.100/24, 198.18.0.100/24]"}, "", nil, "vrrp.virtual_ips", "twice"},
		{"no VIP", []string{"virtual_ips: []"}, "", nil, "vrrp.virtual_ips", "at least one"},
		{"version", []string{"version: 4"}, "", nil, "vrrp.version", "2 or 3"},
		{"bad peer", []string{"unicast_peers: [peer-b]"}, "", nil, "vrrp.unicast_peers", "not an IP address"},
		{"peer is VIP", []string{"unicast_peers: [192.168.200.102]"}, "", nil, "vrrp.unicast_peers", "virtual IPs"},
		{"source is VIP", []string{"source_ip: 192.168.200.102"}, "", nil, "vrrp.source_ip", "virtual IPs"},
		{"checksum mode", []string{"v3_checksum: rfc"}, "", nil, "vrrp.v3_checksum", "not one of"},
		{"pair of three", []string{"pair: true", "unicast_peers: [198.18.0.2, 198.18.0.3]"}, "", nil, "vrrp.pair", "exactly one peer"},
		{"log level", nil, "log: {level: loud}\n", nil, "log.level", "not one of"},
		{"relative socket", nil, "control: {socket: proxypair.sock}\n", nil, "control.socket", "absolute"},
		{"metrics no port", nil, "control: {metrics_listen: 127.0.0.1}\n", nil, "control.metrics_listen", "not host:port"},
		{"metrics port zero", nil, "control: {metrics_listen: '127.0.0.1:0'}\n", nil, "control.metrics_listen", "1 to 65535"},
		{"metrics port name", nil, "control: {metrics_listen: '127.0.0.1:http'}\n", nil, "control.metrics_listen", "1 to 65535"},
		{"metrics host name", nil, "control: {metrics_listen: 'prom.example:9542'}\n", nil, "control.metrics_listen", "not an IP address"},
		{"metrics flag", nil, "", map[string]string{"control.metrics_listen": "9542"}, "control.metrics_listen", "not host:port"},
		{"bool", []string{"preempt: maybe"}, "", nil, "vrrp.preempt", "true or false"},
		{"flag typo", nil, "", map[string]string{"vrrp.prio": "1"}, "vrrp.prio", "did you mean vrrp.priority"},
		{"flag value", nil, "", map[string]string{"vrrp.priority": "1000"}, "vrrp.priority", "outside 1-254"},
		{"weight", nil, "health: {enabled: true, weight: 10}\n", nil, "health.weight", "outside -254..-1"},
		{"weight zero", nil, "health: {enabled: true, weight: 0}\n", nil, "health.weight", "HAProxy failures would not decide who holds the VIP"},
		{"peer multicast", []string{"unicast_peers: [224.0.0.18]"}, "", nil, "vrrp.unicast_peers", "224.0.0.18 is a multicast address"},
		{"peer unspecified", []string{"unicast_peers: [0.0.0.0]"}, "", nil, "vrrp.unicast_peers", "0.0.0.0 is the unspecified address"},
		{"peer broadcast", []string{"unicast_peers: [255.255.255.255]"}, "", nil, "vrrp.unicast_peers", "limited broadcast"},
		{"peer loopback", []string{"unicast_peers: [127.0.0.1]"}, "", nil, "vrrp.unicast_peers", "loopback"},
		{"peer link-local", []string{"unicast_peers: [169.254.169.254]"}, "", nil, "vrrp.unicast_peers", "link-local"},
		{"peer this network", []string{"unicast_peers: [0.1.2.3]"}, "", nil, "vrrp.unicast_peers", "0.0.0.0/8"},
		{"peer reserved", []string{"unicast_peers: [240.0.0.1]"}, "", nil, "vrrp.unicast_peers", "240.0.0.0/4"},
		{"peer subnet broadcast", []string{"unicast_peers: [192.168.200.255]"}, "", nil, "vrrp.unicast_peers", "broadcast address of 192.168.200.0/24"},
		{"octal-looking password", []string{"auth_pass: 0123"}, "", nil, "vrrp.auth_pass", `0123 is read by YAML as the number 83, not as the text "0123": quote it`},
		{"decimal-looking password", []string{"auth_pass: 1.10"}, "", nil, "vrrp.auth_pass", `1.10 is read by YAML as the number 1.1`},
		{"hex-looking name", []string{"name: 0x1F"}, "", nil, "vrrp.name", `0x1F is read by YAML as the number 31`},
		{"null name", []string{"name: null"}, "", nil, "vrrp.name", `null is read by YAML as null`},
		{"octal-looking hook argument", nil, "notify: {master: [[/bin/chmod, 0644, /run/x]]}\n", nil, "notify.master", `0644 is read by YAML as the number 420`},
		{"octal-looking backend", nil, "health: {haproxy: {backends: [web, 0123]}}\n", nil, "health.haproxy.backends", `0123 is read by YAML as the number 83`},
		{"name with a space", []string{`name: "VI 1"`}, "", nil, "vrrp.name", `"VI 1": use 1-64 letters`},
		{"name with a quote", []string{`name: 'VI"1'`}, "", nil, "vrrp.name", "use 1-64 letters"},
		{"name too long", []string{"name: " + strings.Repeat("v", 65)}, "", nil, "vrrp.name", "use 1-64 letters"},
		{"source unspecified", []string{"source_ip: 0.0.0.0"}, "", nil, "vrrp.source_ip", "0.0.0.0 is the unspecified address"},
		{"source multicast", []string{"source_ip: 224.0.0.18"}, "", nil, "vrrp.source_ip", "multicast"},
		{"source subnet network", []string{"source_ip: 192.168.200.0"}, "", nil, "vrrp.source_ip", "network address of 192.168.200.0/24"},
		{"VIP /0", []string{"virtual_ips: [192.168.200.102/0]"}, "", nil, "vrrp.virtual_ips", "on-link default route"},
		{"VIP /7", []string{"virtual_ips: [10.0.1.100/7]"}, "", nil, "vrrp.virtual_ips", "wider than /8"},
		{"VIP network", []string{"virtual_ips: [192.168.200.0/24]"}, "", nil, "vrrp.virtual_ips", "network address of 192.168.200.0/24"},
		{"VIP broadcast", []string{"virtual_ips: [192.168.200.255/24]"}, "", nil, "vrrp.virtual_ips", "broadcast address of 192.168.200.0/24"},
		{"VIP /30 broadcast", []string{"virtual_ips: [198.18.0.7/30]"}, "", nil, "vrrp.virtual_ips", "broadcast address of 198.18.0.4/30"},
		{"VIP multicast", []string{"virtual_ips: [224.0.0.18/32]"}, "", nil, "vrrp.virtual_ips", "multicast"},
		{"provider", nil, "cloud: {provider: aws}\n", nil, "cloud.provider", "ncp"},
		{"site", []string{"unicast_peers: [10.0.0.2]"}, "cloud: {provider: ncp, site: moon}\n", nil, "cloud.site", "not one of"},
		{"api url", []string{"unicast_peers: [10.0.0.2]"}, "cloud: {provider: ncp, api_url: 'ftp://x'}\n", nil, "cloud.api_url", "http(s) URL"},
		{"half credentials", []string{"unicast_peers: [10.0.0.2]"}, "cloud: {provider: ncp, access_key: AK}\n", nil, "cloud.secret_key", "together"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := writeYAML(t, seedWith(tc.vrrp, tc.more))
			_, problems := load(t, Source{File: file, Set: tc.set})
			for _, p := range problems {
				if p.Key == tc.key && strings.Contains(p.String(), tc.want) {
					if p.Warning {
						t.Errorf("%v is only a warning", p)
					}
					return
				}
			}
			t.Errorf("no problem for %s containing %q; got %v", tc.key, tc.want, problems)
		})
	}
}

// TestMetricsListen: the metrics addresses people write are valid, and
// the default serves none.
func TestMetricsListen(t *testing.T) {
	clearEnv(t)
	if d := Defaults().Control.MetricsListen; d != "" {
		t.Errorf("control.metrics_listen defaults to %q, want off", d)
	}
	for _, addr := range []string{"127.0.0.1:9542", ":9542", "localhost:9542", "[::1]:9542", "0.0.0.0:9542", "198.18.0.1:65535"} {
		c, problems := load(t, Source{File: writeYAML(t, seedWith(nil, "control: {metrics_listen: '"+addr+"'}\n"))})
		if len(problems) != 0 || c.Control.MetricsListen != addr {
			t.Errorf("%s: %q, %v", addr, c.Control.MetricsListen, problems)
		}
	}
}

// TestUsualAddressesAreValid: the rules on addresses reject mistakes, not
// layouts people use.
func TestUsualAddressesAreValid(t *testing.T) {
	clearEnv(t)
	for _, vrrp := range [][]string{
		{"virtual_ips: [10.0.1.100/8]"},
		{"virtual_ips: [10.0.1.100/16, 10.0.1.101/32]"},
		{"virtual_ips: [198.18.0.0/31]"}, // RFC 3021: both addresses are hosts
		{"virtual_ips: [198.18.0.1/31]"},
		{"virtual_ips: [192.168.200.0/32]"},
		{"virtual_ips: [198.18.0.6/29]", "unicast_peers: [198.18.0.2]", "source_ip: 198.18.0.1"},
		{"unicast_peers: [192.168.200.12]", "source_ip: 192.168.200.11"},
		{"unicast_peers: [100.64.0.2]"}, // shared address space (CGNAT) is unicast
	} {
		_, problems := load(t, Source{File: writeYAML(t, seedWith(vrrp, ""))})
		if len(problems) != 0 {
			t.Errorf("%v: %v", vrrp, problems)
		}
	}
}

func TestEveryProblemAtOnce(t *testing.T) {
	clearEnv(t)
	file := writeYAML(t, `
vrrp:
  priority: 300
  virtual_router_id: 0
  advert_interval: 1500ms
  auth_pass: toolongpassword
  virtual_ips: [not-an-ip]
  priorty: 5
log:
  level: loud
`)
	_, problems := load(t, Source{File: file})
	keys := map[string]bool{}
	for _, p := range problems {
		keys[p.Key] = true
	}
	for _, k := range []string{"vrrp.priority", "vrrp.virtual_router_id", "vrrp.advert_interval", "vrrp.auth_pass", "vrrp.virtual_ips", "vrrp.priorty", "log.level"} {
		if !keys[k] {
			t.Errorf("no problem reported for %s; got %v", k, problems)
		}
	}
	if Valid(problems) {
		t.Error("Valid() = true")
	}
}

func TestUnknownEnv(t *testing.T) {
	clearEnv(t)
	t.Setenv("PROXYPAIR_VRRP_PRIORTY", "100")
	_, problems := load(t, Source{File: writeYAML(t, seed)})
	if len(problems) != 1 || problems[0].Key != "PROXYPAIR_VRRP_PRIORTY" || !strings.Contains(problems[0].Message, "PROXYPAIR_VRRP_PRIORITY") {
		t.Fatalf("problems = %v", problems)
	}
}

// TestParseErrorNotRepeated: an unparseable value gives one line, not a
// second one about the default it fell back to.
func TestParseErrorNotRepeated(t *testing.T) {
	clearEnv(t)
	_, problems := load(t, Source{File: writeYAML(t, seedWith([]string{"virtual_ips: [bogus]"}, ""))})
	if len(problems) != 1 {
		t.Fatalf("want exactly one problem, got %v", problems)
	}
}

func TestWarningIsValid(t *testing.T) {
	clearEnv(t)
	_, problems := load(t, Source{File: writeYAML(t, seedWith(nil, "cloud: {provider: ncp}\n"))})
	if len(problems) != 1 || !problems[0].Warning || !Valid(problems) {
		t.Fatalf("want one warning only, got %v", problems)
	}
}

func TestWeightWarning(t *testing.T) {
	clearEnv(t)
	for _, tc := range []struct {
		more string
		warn bool
	}{
		{"health: {weight: -50}\n", true},   // 200-50 = 150 ≥ 100
		{"health: {weight: -101}\n", false}, // 99 < 100
		{"health: {weight: -100}\n", true},  // 100 = 100: tie-break, not a hand-over
		{"", false},                         // default: priority 1
		{"health: {enabled: false, weight: -50}\n", false},
	} {
		_, problems := load(t, Source{File: writeYAML(t, seedWith([]string{"peer_priority: 100", "unicast_peers: [10.0.0.2]"}, tc.more))})
		warned := false
		for _, p := range problems {
			if !p.Warning {
				t.Errorf("%q: unexpected error %v", tc.more, p)
			}
			warned = warned || p.Key == "health.weight"
		}
		if warned != tc.warn {
			t.Errorf("%q: warned %v, want %v (%v)", tc.more, warned, tc.warn, problems)
		}
	}
}

func TestEnvName(t *testing.T) {
	for key, want := range map[string]string{
		"vrrp.priority":                 "PROXYPAIR_VRRP_PRIORITY",
		"vrrp.virtual_ips":              "PROXYPAIR_VRRP_VIRTUAL_IPS",
		"health.haproxy.min_servers_up": "PROXYPAIR_HEALTH_HAPROXY_MIN_SERVERS_UP",
	} {
		if got := EnvName(key); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", key, got, want)
		}
	}
}

// TestDefaultsMatchLoad: Defaults is what Load gives for an empty file.
func TestDefaultsMatchLoad(t *testing.T) {
	clearEnv(t)
	file := writeYAML(t, "{}\n")
	c, _ := load(t, Source{File: file})
	c.File = ""
	if diff := cmp.Diff(Defaults(), c, cmp.Comparer(func(a, b netip.Addr) bool { return a == b }), cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("Defaults() differs from Load of an empty file (-Defaults +Load):\n%s", diff)
	}
}

func TestPairMode(t *testing.T) {
	one := []netip.Addr{netip.MustParseAddr("198.18.0.2")}
	two := append(one, netip.MustParseAddr("198.18.0.3"))
	for _, tc := range []struct {
		v    VRRP
		want bool
	}{
		{VRRP{}, false},                  // multicast: a third router may listen
		{VRRP{Pair: true}, true},         // said so
		{VRRP{UnicastPeers: one}, true},  // one peer: nobody else can be heard
		{VRRP{UnicastPeers: two}, false}, // several backups: Skew_Time picks the best
	} {
		if got := tc.v.PairMode(); got != tc.want {
			t.Errorf("PairMode(%+v) = %v, want %v", tc.v, got, tc.want)
		}
	}
}

// TestTextThatYAMLReadsAlike: an unquoted value of a text key that YAML
// reads as a number or boolean printing the same (auth_pass: 1234,
// name: "yes" unquoted as yes is a string in YAML 1.2) is taken as the
// text; a value the environment or --set overrides is not the file's to
// report.
func TestTextThatYAMLReadsAlike(t *testing.T) {
	clearEnv(t)
	c, problems := load(t, Source{File: writeYAML(t, seedWith([]string{"auth_pass: 1234", "name: 51"}, ""))})
	if len(problems) != 0 || c.VRRP.AuthPass != "1234" || c.VRRP.Name != "51" {
		t.Errorf("auth_pass %q, name %q, problems %v; want 1234, 51, none", c.VRRP.AuthPass, c.VRRP.Name, problems)
	}
	file := writeYAML(t, seedWith([]string{"auth_pass: 0123"}, ""))
	c, problems = load(t, Source{File: file, Set: map[string]string{"vrrp.auth_pass": "abc"}})
	if len(problems) != 0 || c.VRRP.AuthPass != "abc" {
		t.Errorf("overridden by --set: auth_pass %q, problems %v; want abc, none", c.VRRP.AuthPass, problems)
	}
	t.Setenv(EnvName("vrrp.auth_pass"), "def")
	c, problems = load(t, Source{File: file})
	if len(problems) != 0 || c.VRRP.AuthPass != "def" {
		t.Errorf("overridden by the environment: auth_pass %q, problems %v; want def, none", c.VRRP.AuthPass, problems)
	}
}
