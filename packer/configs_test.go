package packer

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/proxypair/proxypair/appliance/config"
)

// knownKeys are the config keys of the contract (DESIGN.md 2.2 and the
// health and cloud issues). The examples the image ships must use only these.
var knownKeys = []string{
	"vrrp.name", "vrrp.interface", "vrrp.virtual_router_id", "vrrp.priority", "vrrp.version",
	"vrrp.advert_interval", "vrrp.preempt", "vrrp.preempt_delay", "vrrp.auth_pass",
	"vrrp.virtual_ips", "vrrp.unicast_peers", "vrrp.source_ip",
	"vrrp.garp.repeat", "vrrp.garp.delay", "vrrp.garp.interval",
	"control.socket",
	"log.level", "log.format",
	"health.enabled", "health.interval", "health.fall", "health.rise", "health.weight",
	"health.haproxy.socket", "health.haproxy.backends", "health.haproxy.min_servers_up",
	"health.haproxy.systemd_unit",
	"cloud.provider", "cloud.site", "cloud.region", "cloud.network_interface_no",
	"cloud.access_key", "cloud.secret_key",
}

// envName is the environment variable for a key: PROXYPAIR_ + the path
// upper-cased with "." → "_".
func envName(key string) string {
	return "PROXYPAIR_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// otherEnv are the non-key variables /etc/default/proxypair may set.
var otherEnv = []string{
	"PROXYPAIR_CONFIG",                                    // names the config file
	"NODE_ADDRESS", "NODE_INTERFACE", "NODE_WAIT_SECONDS", // proxypair-eth1
	"NCLOUD_ACCESS_KEY", "NCLOUD_SECRET_KEY", // NCP credentials without a Server Role
}

// flatten turns a YAML config into key path → value in its environment
// form (lists comma-separated).
func flatten(t *testing.T, path string) map[string]string {
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal(mustRead(t, path), &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out := map[string]string{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, sub := range v {
				walk(strings.TrimPrefix(prefix+"."+k, "."), sub)
			}
		case []any:
			var items []string
			for _, it := range v {
				items = append(items, fmt.Sprint(it))
			}
			out[prefix] = strings.Join(items, ",")
		default:
			out[prefix] = fmt.Sprint(v)
		}
	}
	walk("", doc)
	return out
}

// envFile reads KEY=value lines; with commented, "#KEY=value" lines too.
func envFile(t *testing.T, path string, commented bool) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	assign := regexp.MustCompile(`^([A-Z][A-Z0-9_]*)=(.*)$`)
	s := bufio.NewScanner(f)
	for n := 1; s.Scan(); n++ {
		line := strings.TrimSpace(s.Text())
		if commented {
			line = strings.TrimPrefix(line, "#")
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := assign.FindStringSubmatch(line)
		if m == nil {
			if !commented {
				t.Errorf("%s:%d: not KEY=value: %q", path, n, line)
			}
			continue
		}
		if _, dup := out[m[1]]; dup && !commented {
			t.Errorf("%s:%d: %s set twice", path, n, m[1])
		}
		out[m[1]] = m[2]
	}
	return out
}

func TestEnvFormsMatchYAML(t *testing.T) {
	for _, name := range []string{"master", "backup"} {
		t.Run(name, func(t *testing.T) {
			yamlPath := filepath.Join("..", "configs", name+".yaml")
			envPath := filepath.Join("..", "configs", name+".env")
			want := map[string]string{}
			for k, v := range flatten(t, yamlPath) {
				want[envName(k)] = v
			}
			got := envFile(t, envPath, false)
			keys := map[string]bool{}
			for k := range want {
				keys[k] = true
			}
			for k := range got {
				keys[k] = true
			}
			for _, k := range sortedKeys(keys) {
				if got[k] != want[k] {
					t.Errorf("%s: %s = %q, %s has %q", envPath, k, got[k], yamlPath, want[k])
				}
			}
		})
	}
}

func TestExampleKeysAreKnown(t *testing.T) {
	known := map[string]bool{}
	for _, k := range knownKeys {
		known[envName(k)] = true
	}
	yamls, _ := filepath.Glob("../configs/*.yaml")
	if len(yamls) < 4 {
		t.Fatalf("expected master, backup, vpc-master and vpc-backup YAML, got %q", yamls)
	}
	for _, y := range yamls {
		for k := range flatten(t, y) {
			if !slices.Contains(knownKeys, k) {
				t.Errorf("%s: unknown key %s", y, k)
			}
		}
	}
	envs, _ := filepath.Glob("../configs/*.env")
	envs = append(envs, "../configs/proxypair.env.example")
	for _, e := range envs {
		for k := range envFile(t, e, true) {
			if !known[k] && !slices.Contains(otherEnv, k) {
				t.Errorf("%s: unknown variable %s", e, k)
			}
		}
	}
}

// The example is installed as /etc/default/proxypair: nothing may be active
// until a node's values are filled in.
func TestEnvExampleIsAllCommented(t *testing.T) {
	if active := envFile(t, "../configs/proxypair.env.example", false); len(active) > 0 {
		t.Errorf("proxypair.env.example sets %v; every line must be commented", active)
	}
	if got := envFile(t, "../configs/proxypair.env.example", true); got["NODE_ADDRESS"] == "" || got["PROXYPAIR_VRRP_PRIORITY"] == "" {
		t.Errorf("proxypair.env.example should show NODE_ADDRESS and PROXYPAIR_VRRP_PRIORITY, has %v", got)
	}
}

func TestVPCConfigs(t *testing.T) {
	master, backup := flatten(t, "../configs/vpc-master.yaml"), flatten(t, "../configs/vpc-backup.yaml")
	for _, k := range []string{"vrrp.virtual_router_id", "vrrp.virtual_ips", "vrrp.auth_pass", "vrrp.version", "vrrp.advert_interval", "vrrp.interface"} {
		if master[k] != backup[k] || master[k] == "" {
			t.Errorf("%s differs or is missing: master %q, backup %q", k, master[k], backup[k])
		}
	}
	for name, c := range map[string]map[string]string{"vpc-master": master, "vpc-backup": backup} {
		if c["cloud.provider"] != "ncp" {
			t.Errorf("%s: cloud.provider = %q, want ncp", name, c["cloud.provider"])
		}
		if p := c["vrrp.unicast_peers"]; p == "" || strings.Contains(p, ",") {
			t.Errorf("%s: unicast_peers = %q, want the one peer (no multicast in NCP VPC)", name, p)
		}
	}
	if master["vrrp.unicast_peers"] == backup["vrrp.unicast_peers"] {
		t.Errorf("both nodes list %s as their peer", master["vrrp.unicast_peers"])
	}
	if mp, bp := mustAtoi(t, master["vrrp.priority"]), mustAtoi(t, backup["vrrp.priority"]); mp <= bp {
		t.Errorf("vpc-master priority %d must exceed vpc-backup's %d", mp, bp)
	}
	// Classic examples: multicast, no cloud.
	for _, f := range []string{"../configs/master.yaml", "../configs/backup.yaml"} {
		c := flatten(t, f)
		if c["vrrp.unicast_peers"] != "" || c["cloud.provider"] != "" {
			t.Errorf("%s: Classic example has unicast_peers %q / cloud.provider %q", f, c["vrrp.unicast_peers"], c["cloud.provider"])
		}
	}
}

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestHealthSocketIsProxypairs checks that the daemon's default
// health.haproxy.socket and every example config name the socket
// configs/haproxy.cfg gives proxypair (level user), never the operators'
// admin socket.
func TestHealthSocketIsProxypairs(t *testing.T) {
	var want string
	for _, line := range strings.Split(string(mustRead(t, "../configs/haproxy.cfg")), "\n") {
		f := strings.Fields(line)
		if len(f) > 2 && f[0] == "stats" && f[1] == "socket" && slices.Contains(f, "user") && slices.Contains(f, "level") {
			if f[slices.Index(f, "level")+1] == "user" {
				want = f[2]
			}
		}
	}
	if want == "" {
		t.Fatal("configs/haproxy.cfg has no level-user stats socket for proxypair")
	}

	empty := filepath.Join(t.TempDir(), "empty.yaml")
	if err := os.WriteFile(empty, []byte("vrrp:\n  interface: eth1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(config.EnvName("health.haproxy.socket"), "")
	os.Unsetenv(config.EnvName("health.haproxy.socket"))
	cfg, _, err := config.Load(config.Source{File: empty})
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Health.HAProxy.Socket; got != want {
		t.Errorf("default health.haproxy.socket = %q, want %q (proxypair's socket in configs/haproxy.cfg)", got, want)
	}

	yamls, _ := filepath.Glob("../configs/*.yaml")
	for _, y := range yamls {
		if got, ok := flatten(t, y)["health.haproxy.socket"]; ok && got != want {
			t.Errorf("%s: health.haproxy.socket = %q, want %q", y, got, want)
		}
	}
}
