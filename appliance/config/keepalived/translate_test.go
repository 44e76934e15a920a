package keepalived

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/proxypair/proxypair/appliance/config"
)

// base is an instance that translates cleanly; a row's lines go after it,
// from line 8, and the instance is closed after them.
const base = `vrrp_instance VI_1 {
    interface eth1
    virtual_router_id 51
    priority 100
    virtual_ipaddress {
        198.18.0.100/24
    }
`

func inst(body ...string) string { return base + strings.Join(body, "\n") + "\n}\n" }

// ww is a warning a row expects: keyword, line, part of the message.
type ww struct {
	kw   string
	line int
	text string
	note bool
}

func (w ww) String() string {
	kind := "warning"
	if w.note {
		kind = "note"
	}
	return fmt.Sprintf("%s at line %d: %s: ...%s...", kind, w.line, w.kw, w.text)
}

// get renders one key of c the way a row states it.
func get(c *config.Config, key string) string {
	v := &c.VRRP
	switch key {
	case "vrrp.name":
		return v.Name
	case "vrrp.interface":
		return v.Interface
	case "vrrp.virtual_router_id":
		return strconv.Itoa(v.VRID)
	case "vrrp.priority":
		return strconv.Itoa(v.Priority)
	case "vrrp.peer_priority":
		return strconv.Itoa(v.PeerPriority)
	case "vrrp.version":
		return strconv.Itoa(v.Version)
	case "vrrp.advert_interval":
		return v.AdvertInterval.String()
	case "vrrp.preempt":
		return strconv.FormatBool(v.Preempt)
	case "vrrp.preempt_delay":
		return v.PreemptDelay.String()
	case "vrrp.auth_pass":
		return v.AuthPass
	case "vrrp.virtual_ips":
		return fmt.Sprint(v.VirtualIPs)
	case "vrrp.unicast_peers":
		return fmt.Sprint(v.UnicastPeers)
	case "vrrp.source_ip":
		return v.SourceIP.String()
	case "vrrp.garp.repeat":
		return strconv.Itoa(v.GARP.Repeat)
	case "vrrp.garp.delay":
		return v.GARP.Delay.String()
	case "vrrp.garp.interval":
		return v.GARP.Interval.String()
	case "health.enabled":
		return strconv.FormatBool(c.Health.Enabled)
	case "health.weight":
		return strconv.Itoa(c.Health.Weight)
	case "health.haproxy.systemd_unit":
		return c.Health.HAProxy.SystemdUnit
	}
	panic("get: no key " + key)
}

func hooks(n Notify) map[string][]string {
	out := map[string][]string{}
	for state, list := range map[string][]Hook{"master": n.Master, "backup": n.Backup, "fault": n.Fault, "stop": n.Stop} {
		for _, h := range list {
			out[state] = append(out[state], strings.Join(h.Argv, " | "))
		}
	}
	return out
}

type row struct {
	name    string
	conf    string
	opt     Options
	files   memFiles            // more files: includes, check scripts
	want    map[string]string   // key → value, as get renders it
	hooks   map[string][]string // state → argv joined by " | "
	warn    []ww                // expected warnings and notes
	quiet   []string            // keywords that must not warn (notes allowed)
	invalid bool                // config.Validate finds errors
}

// TestTranslate runs every row through Translate, then checks what every
// translation must satisfy: each warning names a file, line and keyword;
// the YAML loads back into exactly the translated Config; and that Config
// is valid unless the row says otherwise.
func TestTranslate(t *testing.T) {
	for _, tc := range rows {
		t.Run(tc.name, func(t *testing.T) {
			files := memFiles{"/k/keepalived.conf": tc.conf}
			for k, v := range tc.files {
				files[k] = v
			}
			opt := tc.opt
			opt.Files = files
			res, err := Import("/k/keepalived.conf", opt)
			if err != nil {
				t.Fatalf("Import: %v", err)
			}
			checkResult(t, res)
			for k, v := range tc.want {
				if got := get(res.Config, k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if tc.hooks != nil {
				if diff := cmp.Diff(tc.hooks, hooks(res.Notify)); diff != "" {
					t.Errorf("hooks (-want +got):\n%s", diff)
				}
			}
			for _, w := range tc.warn {
				if !hasWarning(res.Warnings, w) {
					t.Errorf("no %v\ngot:\n%s", w, warningText(res.Warnings))
				}
			}
			for _, kw := range tc.quiet {
				for _, w := range res.Warnings {
					if w.Keyword == kw && !w.Note {
						t.Errorf("unexpected %v", w)
					}
				}
			}
			problems := config.Validate(res.Config)
			if valid := config.Valid(problems); valid == tc.invalid {
				t.Errorf("config.Validate: valid = %v, want %v: %v\n%s", valid, !tc.invalid, problems, res.YAML())
			}
		})
	}
}

func hasWarning(ws []Warning, w ww) bool {
	for _, got := range ws {
		if got.Keyword == w.kw && got.Pos.Line == w.line && got.Note == w.note && strings.Contains(got.Message, w.text) {
			return true
		}
	}
	return false
}

func warningText(ws []Warning) string {
	var b strings.Builder
	for _, w := range ws {
		b.WriteString(w.String() + "\n")
	}
	return b.String()
}

// checkResult checks the invariants of every translation.
func checkResult(t *testing.T, res *Result) {
	t.Helper()
	for _, w := range res.Warnings {
		if w.Pos.File == "" || w.Pos.Line < 1 || w.Keyword == "" || w.Message == "" {
			t.Errorf("warning without position, keyword or message: %#v", w)
		}
	}
	clearEnv(t)
	file := filepath.Join(t.TempDir(), "proxypair.yaml")
	if err := os.WriteFile(file, res.YAML(), 0o600); err != nil {
		t.Fatal(err)
	}
	loaded, problems, err := config.Load(config.Source{File: file})
	if err != nil {
		t.Fatalf("the YAML does not load: %v\n%s", err, res.YAML())
	}
	for _, p := range problems {
		if strings.Contains(p.Message, "unknown key") {
			t.Errorf("the YAML has a key proxypair does not know: %v", p)
		}
	}
	loaded.File = ""
	if diff := cmp.Diff(res.Config, loaded, cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
		cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("the YAML loads into another config (-translated +loaded):\n%s\n%s", diff, res.YAML())
	}
}

// clearEnv hides PROXYPAIR_* variables of the machine running the tests.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, config.EnvPrefix) {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
}

func script(body string) string {
	return "vrrp_script chk_haproxy {\n    script " + body + "\n    interval 2\n}\n"
}

// tracking is an instance tracking chk_haproxy, after the script's 4
// lines: the instance starts at line 5, chk_haproxy is on line 13 and the
// body from line 15.
func tracking(scriptLine string, body ...string) string {
	return script(scriptLine) + inst(append([]string{"    track_script {", "        chk_haproxy", "    }"}, body...)...)
}

var haproxyOn = map[string]string{"health.enabled": "true", "health.weight": "-254"}

var rows = []row{
	// The instance's VRRP settings.
	{name: "minimal instance", conf: inst(),
		want: map[string]string{"vrrp.name": "VI_1", "vrrp.interface": "eth1", "vrrp.virtual_router_id": "51", "vrrp.priority": "100", "vrrp.version": "2",
			"vrrp.advert_interval": "1s", "vrrp.preempt": "true", "vrrp.auth_pass": "", "vrrp.virtual_ips": "[198.18.0.100/24]", "health.enabled": "false"},
		warn: []ww{{"vrrp_instance", 1, "no vrrp_script or track_process watches HAProxy", false}}},
	{name: "state MASTER", conf: inst("state MASTER"), quiet: []string{"state"}},
	// Found by FuzzImport: YAML refuses C1 control characters even in
	// comments.
	{name: "instance name with a C1 control character", conf: strings.Replace(inst(), "VI_1", "VI\u009b1", 1),
		want: map[string]string{"vrrp.name": ""}, warn: []ww{{"vrrp_instance", 1, "cannot be vrrp.name", false}}},
	{name: "instance name with a slash", conf: strings.Replace(inst(), "VI_1", "lb/vip", 1),
		want: map[string]string{"vrrp.name": ""}, warn: []ww{{"vrrp_instance", 1, `the name "lb/vip" cannot be vrrp.name`, false}}},
	{name: "instance without a name", conf: strings.Replace(inst(), "VI_1", "", 1), warn: []ww{{"vrrp_instance", 1, "has no name", false}}},
	{name: "state BACKUP", conf: inst("state BACKUP"), quiet: []string{"state"}},
	{name: "state master in lower case", conf: inst("state master"),
		warn: []ww{{"state", 8, `unknown state 'master', defaulting to BACKUP`, false}}},
	{name: "state backup in lower case", conf: inst("state backup"), warn: []ww{{"state", 8, "in capitals", true}}},
	{name: "unknown state", conf: inst("state EQUAL"), warn: []ww{{"state", 8, `unknown state "EQUAL"`, false}}},
	{name: "state without a value", conf: inst("state"), warn: []ww{{"state", 8, "no value", false}}},
	{name: "no interface", conf: strings.Replace(inst(), "    interface eth1\n", "", 1), invalid: true,
		want: map[string]string{"vrrp.interface": ""}, warn: []ww{{"vrrp_instance", 1, "has no interface", false}}},
	{name: "no virtual_router_id", conf: strings.Replace(inst(), "    virtual_router_id 51\n", "", 1), invalid: true,
		want: map[string]string{"vrrp.virtual_router_id": "0"}, warn: []ww{{"vrrp_instance", 1, "has no virtual_router_id", false}}},
	{name: "virtual_router_id not a number", conf: inst("virtual_router_id fifty"), invalid: true,
		warn: []ww{{"virtual_router_id", 8, `"fifty" is not a number`, false}}},
	{name: "virtual_router_id out of range", conf: inst("virtual_router_id 256"), invalid: true,
		want: map[string]string{"vrrp.virtual_router_id": "256"}},
	{name: "a value with extra words", conf: inst("interface eth1 eth2"),
		warn: []ww{{"interface", 8, `ignores "eth2"`, false}}},
	{name: "priority", conf: inst("priority 150"), want: map[string]string{"vrrp.priority": "150"}, quiet: []string{"priority"}},
	{name: "no priority: keepalived's 100", conf: strings.Replace(inst(), "    priority 100\n", "", 1),
		want: map[string]string{"vrrp.priority": "100"}},
	{name: "priority 255 (address owner)", conf: inst("priority 255"),
		want: map[string]string{"vrrp.priority": "254"}, warn: []ww{{"priority", 8, "address owner", false}}},
	{name: "priority out of range", conf: inst("priority 300"),
		want: map[string]string{"vrrp.priority": "100"}, warn: []ww{{"priority", 8, "keepalived uses its default, 100", false}}},
	{name: "advert_int whole seconds", conf: inst("advert_int 3"), want: map[string]string{"vrrp.advert_interval": "3s"}, quiet: []string{"advert_int"}},
	{name: "advert_int v2 fraction rounds", conf: inst("advert_int 1.6"),
		want: map[string]string{"vrrp.advert_interval": "2s"}, warn: []ww{{"advert_int", 8, "2.x rounds 1.6 to 2s, 1.3 sends 1", false}}},
	{name: "advert_int v2 sub-second rounds up to 1s", conf: inst("advert_int 0.2"),
		want: map[string]string{"vrrp.advert_interval": "1s"}, warn: []ww{{"advert_int", 8, "the output uses 1s", false}}},
	{name: "advert_int v2 too long", conf: inst("advert_int 300"),
		want: map[string]string{"vrrp.advert_interval": "4m15s"}, warn: []ww{{"advert_int", 8, "at most 255", false}}},
	{name: "advert_int v3 decimals", conf: inst("version 3", "advert_int 0.05"),
		want: map[string]string{"vrrp.version": "3", "vrrp.advert_interval": "50ms"}, quiet: []string{"advert_int"}},
	{name: "advert_int v3 rounds to 10ms", conf: inst("version 3", "advert_int 0.055"),
		want: map[string]string{"vrrp.advert_interval": "60ms"}, warn: []ww{{"advert_int", 9, "rounds 0.055 to 60ms", false}}},
	{name: "advert_int v3 too long", conf: inst("version 3", "advert_int 50"),
		want: map[string]string{"vrrp.advert_interval": "40.95s"}, warn: []ww{{"advert_int", 9, "40.95", false}}},
	{name: "advert_int not a number", conf: inst("advert_int fast"),
		want: map[string]string{"vrrp.advert_interval": "1s"}, warn: []ww{{"advert_int", 8, `"fast" is not a number`, false}}},
	{name: "vrrp_version in global_defs", conf: "global_defs {\n  vrrp_version 3\n}\n" + inst(),
		want: map[string]string{"vrrp.version": "3"}},
	{name: "instance version beats global_defs", conf: "global_defs {\n  vrrp_version 3\n}\n" + inst("version 2"),
		want: map[string]string{"vrrp.version": "2"}},
	{name: "bad version", conf: inst("version 4"),
		want: map[string]string{"vrrp.version": "2"}, warn: []ww{{"version", 8, `"4" is not 2 or 3`, false}}},
	{name: "bad vrrp_version", conf: "global_defs {\n  vrrp_version 1\n}\n" + inst(),
		want: map[string]string{"vrrp.version": "2"}, warn: []ww{{"vrrp_version", 2, `"1" is not 2 or 3`, false}}},
	{name: "nopreempt", conf: inst("nopreempt"), want: map[string]string{"vrrp.preempt": "false"}, quiet: []string{"nopreempt"}},
	{name: "preempt after nopreempt", conf: inst("nopreempt", "preempt"), want: map[string]string{"vrrp.preempt": "true"}},
	{name: "nopreempt with state MASTER", conf: inst("state MASTER", "nopreempt"),
		want: map[string]string{"vrrp.preempt": "false"}, warn: []ww{{"nopreempt", 9, "ignores nopreempt with state MASTER", false}}},
	{name: "preempt_delay", conf: inst("preempt_delay 5"), want: map[string]string{"vrrp.preempt_delay": "5s"}, quiet: []string{"preempt_delay"}},
	{name: "preempt_delay with a fraction", conf: inst("preempt_delay 5.5"), want: map[string]string{"vrrp.preempt_delay": "5.5s"},
		warn: []ww{{"preempt_delay", 8, "1.3.9) reads whole seconds: it waited 5s; the output keeps 5.5s", false}}},
	{name: "preempt_delay with nopreempt", conf: inst("nopreempt", "preempt_delay 5"),
		want: map[string]string{"vrrp.preempt_delay": "0s"}, warn: []ww{{"preempt_delay", 9, "with nopreempt", false}}},
	{name: "preempt_delay in strict mode", conf: inst("strict_mode", "preempt_delay 5"),
		want: map[string]string{"vrrp.preempt_delay": "5s"}, warn: []ww{{"preempt_delay", 9, "strict mode", false}}},
	{name: "preempt_delay too long", conf: inst("preempt_delay 2000"),
		want: map[string]string{"vrrp.preempt_delay": "0s"}, warn: []ww{{"preempt_delay", 8, "0-1000 seconds", false}}},

	// Authentication.
	{name: "PASS", conf: inst("authentication {", "  auth_type PASS", "  auth_pass pass1234", "}"),
		want: map[string]string{"vrrp.auth_pass": "pass1234"}, quiet: []string{"auth_type", "auth_pass"}},
	{name: "quoted password with a space and a #", conf: inst("authentication {", "  auth_type PASS", `  auth_pass "p# 1"`, "}"),
		want: map[string]string{"vrrp.auth_pass": "p# 1"}},
	{name: "password longer than 8 bytes", conf: inst("authentication {", "  auth_type PASS", "  auth_pass pass12345678", "}"),
		want: map[string]string{"vrrp.auth_pass": "pass1234"}, warn: []ww{{"auth_pass", 10, `really uses "pass1234"`, false}}},
	{name: "password with a control byte", conf: inst("authentication {", "  auth_type PASS", "  auth_pass \"a\x01b\"", "}"),
		want: map[string]string{"vrrp.auth_pass": "a\x01b"}, warn: []ww{{"auth_pass", 10, "not printable ASCII", false}}},
	{name: "AH", conf: inst("authentication {", "  auth_type AH", "  auth_pass secret", "}"),
		want: map[string]string{"vrrp.auth_pass": ""}, warn: []ww{{"auth_type", 9, "does not speak AH", false}}},
	{name: "unknown auth_type", conf: inst("authentication {", "  auth_type MD5", "  auth_pass x", "}"),
		want: map[string]string{"vrrp.auth_pass": ""}, warn: []ww{{"auth_type", 9, `unknown type "MD5"`, false}}},
	{name: "auth_pass without auth_type", conf: inst("authentication {", "  auth_pass x", "}"),
		want: map[string]string{"vrrp.auth_pass": ""}, warn: []ww{{"auth_pass", 9, "without auth_type", false}}},
	{name: "PASS without auth_pass", conf: inst("authentication {", "  auth_type PASS", "}"),
		warn: []ww{{"auth_type", 9, "PASS without an auth_pass", false}}},
	{name: "PASS on one line: keepalived reads one statement", conf: inst("authentication { auth_type PASS auth_pass pass1234 }"),
		want: map[string]string{"vrrp.auth_pass": ""},
		warn: []ww{{"auth_type", 8, `ignores "auth_pass pass1234"`, false}, {"auth_type", 8, "PASS without an auth_pass", false}}},
	{name: "PASS with version 3", conf: inst("version 3", "authentication {", "  auth_type PASS", "  auth_pass x", "}"),
		want: map[string]string{"vrrp.auth_pass": ""}, warn: []ww{{"auth_type", 10, "VRRPv3 has no authentication", false}}},
	{name: "authentication without a block", conf: inst("authentication"), warn: []ww{{"authentication", 8, "no { } block", false}}},
	{name: "unknown keyword in authentication", conf: inst("authentication {", "  auth_type PASS", "  auth_pass x", "  auth_mode y", "}"),
		warn: []ww{{"auth_mode", 11, "unknown keyword in authentication", false}}},
	{name: "PASS with vrrp_strict", conf: "global_defs {\n  vrrp_strict\n}\n" + inst("authentication {", "  auth_type PASS", "  auth_pass x", "}"),
		want: map[string]string{"vrrp.auth_pass": "x"}, warn: []ww{{"auth_type", 12, "keepalived 2.x ignores authentication", false}}},

	// Virtual IPs.
	{name: "VIPs: bare address, prefix, dev of the instance", conf: strings.Replace(inst(), "198.18.0.100/24", "198.18.0.100\n 198.18.0.101/24 dev eth1", 1),
		want: map[string]string{"vrrp.virtual_ips": "[198.18.0.100/32 198.18.0.101/24]"}, quiet: []string{"198.18.0.101/24"}},
	{name: "VIP on another dev", conf: strings.Replace(inst(), "198.18.0.100/24", "198.18.0.100/24 dev eth0", 1),
		want: map[string]string{"vrrp.virtual_ips": "[198.18.0.100/24]"}, warn: []ww{{"198.18.0.100/24", 6, "dev eth0: proxypair adds every VIP to vrrp.interface", false}}},
	{name: "VIP with brd, label, scope and more", conf: strings.Replace(inst(), "198.18.0.100/24", "198.18.0.100/24 brd 198.18.0.255 label eth1:1 scope host noprefixroute scope global", 1),
		want: map[string]string{"vrrp.virtual_ips": "[198.18.0.100/24]"},
		warn: []ww{{"198.18.0.100/24", 6, "brd 198.18.0.255", false}, {"198.18.0.100/24", 6, "label eth1:1", false},
			{"198.18.0.100/24", 6, "scope host", false}, {"198.18.0.100/24", 6, "option noprefixroute", false}}},
	{name: "IPv6 VIP", conf: strings.Replace(inst(), "198.18.0.100/24", "198.18.0.100/24\n2001:db8::1/64", 1),
		want: map[string]string{"vrrp.virtual_ips": "[198.18.0.100/24]"}, warn: []ww{{"2001:db8::1/64", 7, "IPv4 only", false}}},
	{name: "bad VIP", conf: strings.Replace(inst(), "198.18.0.100/24", "198.18.0.100/24\n198.18.0.300", 1),
		want: map[string]string{"vrrp.virtual_ips": "[198.18.0.100/24]"}, warn: []ww{{"198.18.0.300", 7, "not an IP address", false}}},
	{name: "bad VIP prefix", conf: strings.Replace(inst(), "198.18.0.100/24", "198.18.0.100/24\n198.18.0.1/40", 1),
		warn: []ww{{"198.18.0.1/40", 7, "not an address/prefix", false}}},
	{name: "no virtual_ipaddress", conf: strings.Replace(inst(), "    virtual_ipaddress {\n        198.18.0.100/24\n    }\n", "", 1),
		invalid: true, want: map[string]string{"vrrp.virtual_ips": "[]"}, warn: []ww{{"vrrp_instance", 1, "has no virtual_ipaddress", false}}},
	{name: "virtual_ipaddress_excluded", conf: inst("virtual_ipaddress_excluded {", "  198.18.0.150/24", "}"),
		want: map[string]string{"vrrp.virtual_ips": "[198.18.0.100/24]"}, warn: []ww{{"virtual_ipaddress_excluded", 8, "no excluded addresses", false}}},

	// Unicast.
	{name: "unicast", conf: inst("unicast_src_ip 198.18.0.1", "unicast_peer {", "  198.18.0.2", "  198.18.0.3", "}"),
		want: map[string]string{"vrrp.source_ip": "198.18.0.1", "vrrp.unicast_peers": "[198.18.0.2 198.18.0.3]"}},
	{name: "mcast_src_ip", conf: inst("mcast_src_ip 198.18.0.1"), want: map[string]string{"vrrp.source_ip": "198.18.0.1"}},
	{name: "bad source address", conf: inst("unicast_src_ip me"),
		want: map[string]string{"vrrp.source_ip": "invalid IP"}, warn: []ww{{"unicast_src_ip", 8, `"me" is not an IP address`, false}}},
	{name: "peer options and a bad peer", conf: inst("unicast_peer {", "  198.18.0.2 min_ttl 250", "  peer-b", "}"),
		want: map[string]string{"vrrp.unicast_peers": "[198.18.0.2]"},
		warn: []ww{{"198.18.0.2", 9, `"min_ttl 250"`, false}, {"peer-b", 10, `"peer-b" is not an IP address`, false}}},

	// Gratuitous ARP.
	{name: "garp settings of the instance", conf: inst("garp_master_delay 10", "garp_master_repeat 3"),
		want: map[string]string{"vrrp.garp.delay": "10s", "vrrp.garp.repeat": "3"}},
	{name: "garp settings of global_defs, the instance's win", conf: "global_defs {\n vrrp_garp_master_delay 1\n vrrp_garp_master_repeat 2\n vrrp_garp_interval 0.001\n}\n" + inst("garp_master_repeat 4"),
		want: map[string]string{"vrrp.garp.delay": "1s", "vrrp.garp.repeat": "4", "vrrp.garp.interval": "1ms"}},
	{name: "garp_master_repeat 0 is 1", conf: inst("garp_master_repeat 0"), want: map[string]string{"vrrp.garp.repeat": "1"}},
	{name: "bad garp values", conf: inst("garp_master_delay soon", "garp_master_repeat many"),
		want: map[string]string{"vrrp.garp.delay": "5s", "vrrp.garp.repeat": "5"},
		warn: []ww{{"garp_master_delay", 8, "not a whole number of seconds", false}, {"garp_master_repeat", 9, "not a whole number", false}}},
	{name: "bad vrrp_garp_interval", conf: "global_defs {\n vrrp_garp_interval x\n}\n" + inst(),
		warn: []ww{{"vrrp_garp_interval", 2, "not a number of seconds", false}}},
	{name: "garp refresh and lower-priority garps", conf: inst("garp_master_refresh 60", "garp_lower_prio_repeat 2", "garp_master_refresh_repeat 2"),
		warn: []ww{{"garp_master_refresh", 8, "not every 60 seconds", false}, {"garp_lower_prio_repeat", 9, "no proxypair equivalent", false}}},

	// Strict mode and other instance keywords.
	{name: "vrrp_strict", conf: "global_defs {\n  vrrp_strict\n}\n" + inst(), warn: []ww{{"vrrp_strict", 2, "firewalls the VIP off", false}}},
	{name: "strict_mode with unicast", conf: inst("strict_mode on", "unicast_peer {", "  198.18.0.2", "}"),
		warn: []ww{{"strict_mode", 8, "refused to run this instance", false}}},
	{name: "strict_mode off", conf: inst("strict_mode off"), quiet: []string{"strict_mode"}},
	{name: "keywords with no proxypair equivalent", conf: inst("track_interface {", "  eth0", "}", "dont_track_primary", "use_vmac", "no_accept",
		"skip_check_adv_addr", "smtp_alert", "lvs_sync_daemon_interface eth0", "virtual_routes {", "}", "native_ipv6", "old_unicast_checksum",
		"down_timer_adverts 5", "frobnicate 3"),
		warn: []ww{{"track_interface", 8, "only vrrp.interface's link", false}, {"dont_track_primary", 11, "always treats", false},
			{"use_vmac", 12, "no virtual MAC", false}, {"no_accept", 13, "no firewall rules", false},
			{"skip_check_adv_addr", 14, "always checks the address list", false}, {"smtp_alert", 15, "sends no mail", false},
			{"lvs_sync_daemon_interface", 16, "LVS", false}, {"virtual_routes", 17, "no routes or rules", false},
			{"native_ipv6", 19, "IPv4 only", false}, {"old_unicast_checksum", 20, "old (pre-1.3.6) checksum", false},
			{"down_timer_adverts", 21, "no proxypair equivalent", false}, {"frobnicate", 22, "unknown keyword", false}}},
	{name: "harmless instance keywords", conf: inst("accept", "debug 2", "promote_secondaries"),
		warn: []ww{{"accept", 8, "accepts traffic", true}, {"debug", 9, "no meaning", true}, {"promote_secondaries", 10, "no meaning", true}}},

	// The config around the instance.
	{name: "several instances: the first, and what to do with the others", conf: inst() + strings.Replace(inst(), "VI_1", "VI_2", 1),
		want: map[string]string{"vrrp.virtual_router_id": "51"},
		warn: []ww{{"vrrp_instance", 1, "translating the first, VI_1: pick another with --instance NAME", false},
			{"vrrp_instance", 10, "--instance VI_2", false}}},
	{name: "--instance picks one", conf: inst() + strings.Replace(strings.Replace(inst(), "VI_1", "VI_2", 1), "priority 100", "priority 42", 1),
		opt:  Options{Instance: "VI_2"},
		want: map[string]string{"vrrp.priority": "42"}, warn: []ww{{"vrrp_instance", 1, "VI_1 is not translated", false}}},
	{name: "sync group with the instance, and one without", conf: inst() +
		"vrrp_sync_group G1 {\n  group {\n    VI_1\n  }\n  notify_master /g.sh\n}\nvrrp_sync_group G2 {\n  group {\n    VI_9\n  }\n}\n",
		hooks: map[string][]string{"master": {"/g.sh"}},
		warn:  []ww{{"vrrp_sync_group", 10, "no sync groups", false}, {"vrrp_sync_group", 16, "does not contain VI_1", false}}},
	{name: "LVS, static addresses and other blocks", conf: inst() + "virtual_server 10.0.0.1 80 {\n}\nstatic_ipaddress {\n}\ngarp_group {\n}\nnet_namespace blue\nwhatever {\n}\n",
		warn: []ww{{"virtual_server", 10, "LVS", false}, {"static_ipaddress", 12, "netplan", false},
			{"garp_group", 14, "no proxypair equivalent", false}, {"net_namespace", 16, "no meaning", true}, {"whatever", 17, "unknown keyword", false}}},
	{name: "global_defs", conf: "global_defs {\n notification_email {\n  a@b\n }\n smtp_server 127.0.0.1\n router_id r1\n" +
		" vrrp_mcast_group4 224.0.0.19\n vrrp_mcast_group6 ff02::12\n vrrp_startup_delay 5\n vrrp_higher_prio_send_advert\n" +
		" vrrp_notify_fifo /run/k.fifo\n script_timeout 5\n vrrp_skip_check_adv_addr\n vrrp_garp_master_refresh_repeat 2\n frob 1\n}\n" + inst(),
		warn: []ww{{"notification_email", 2, "sends no mail", false}, {"router_id", 6, "no meaning", true},
			{"vrrp_mcast_group4", 7, "224.0.0.19 does not hear it", false}, {"vrrp_mcast_group6", 8, "IPv4 only", true},
			{"vrrp_startup_delay", 9, "starts VRRP at once", false}, {"vrrp_higher_prio_send_advert", 10, "no proxypair equivalent", false},
			{"vrrp_notify_fifo", 11, "no notify FIFO", false}, {"script_timeout", 12, "own timeout", true},
			{"vrrp_skip_check_adv_addr", 13, "always checks the address list", false},
			{"vrrp_garp_master_refresh_repeat", 14, "ignored", true}, {"frob", 15, "unknown global_defs", false}},
		quiet: []string{"smtp_server"}},
	{name: "standard multicast group", conf: "global_defs {\n vrrp_mcast_group4 224.0.0.18\n}\n" + inst(), quiet: []string{"vrrp_mcast_group4"}},
	{name: "reader warnings reach the result", conf: "include /k/none/*.conf\n@node2 x\n$P=1\n~SEQ(i,1,2) y\n$F(a)=b\n" + inst(),
		warn: []ww{{"include", 1, "no file matches", false}, {"@node2", 2, "skipped", true}, {"$P", 3, "expanded", true},
			{"~SEQ", 4, "not supported", false}, {"$F(a)=b", 5, "not supported", false}}},
	{name: "instance in an included file", conf: "include conf.d/*.conf\n",
		files: memFiles{"/k/conf.d/vi.conf": inst("priority 77")}, want: map[string]string{"vrrp.priority": "77"}},

	// Health: vrrp_script and track_process.
	{name: "killall -0 haproxy", conf: tracking(`"killall -0 haproxy"`), want: haproxyOn,
		warn: []ww{{"vrrp_script", 1, "runtime API", true}}, quiet: []string{"chk_haproxy"}},
	{name: "/usr/bin/killall -s 0 haproxy", conf: tracking(`"/usr/bin/killall -s 0 haproxy"`), want: haproxyOn},
	{name: "pidof haproxy", conf: tracking(`"pidof -s haproxy"`), want: haproxyOn},
	{name: "pgrep -x haproxy", conf: tracking(`"/usr/bin/pgrep -x haproxy"`), want: haproxyOn},
	{name: "ps -C haproxy", conf: tracking(`"ps -C haproxy"`), want: haproxyOn},
	{name: "service haproxy status", conf: tracking(`"service haproxy status"`), want: haproxyOn},
	{name: "systemctl is-active haproxy", conf: tracking(`"systemctl is-active --quiet haproxy"`),
		want: map[string]string{"health.enabled": "true", "health.haproxy.systemd_unit": "haproxy.service"}},
	{name: "kill -0 $(cat pidfile) without a shell", conf: tracking(`"kill -0 $(cat /run/haproxy.pid)"`), want: haproxyOn,
		warn: []ww{{"vrrp_script", 1, "keepalived 2.x runs scripts without a shell", false}}},
	{name: "kill -0 $(cat pidfile) through sh -c", conf: tracking(`"/bin/sh -c 'kill -0 $(cat /var/run/haproxy.pid)'"`), want: haproxyOn,
		quiet: []string{"vrrp_script"}},
	{name: "kill -0 `cat pidfile` through bash -c", conf: tracking("\"bash -c 'kill -0 `cat /run/haproxy/haproxy.pid` 2>/dev/null'\""), want: haproxyOn},
	{name: "kill -0 of another pid file", conf: tracking(`"sh -c 'kill -0 $(cat /run/nginx.pid)'"`),
		want: map[string]string{"health.enabled": "false"}, warn: []ww{{"chk_haproxy", 13, "`cat /run/nginx.pid`", false}}},
	{name: "ps | grep haproxy through sh", conf: tracking(`"/bin/sh -c 'ps aux | grep -v grep | grep -q haproxy'"`), want: haproxyOn},
	{name: "curl of a local port", conf: tracking(`"curl -sf -o /dev/null --max-time 1 http://127.0.0.1:8080/health"`), want: haproxyOn},
	{name: "curl of localhost without a scheme", conf: tracking(`"curl -s localhost:80"`), want: haproxyOn},
	{name: "wget of this node's own address", conf: tracking(`"wget -q -O - http://198.18.0.1/"`, "unicast_src_ip 198.18.0.1"), want: haproxyOn},
	{name: "curl of another host is not a local check", conf: tracking(`"curl -sf http://10.0.0.9/"`),
		want: map[string]string{"health.enabled": "false"}, warn: []ww{{"chk_haproxy", 13, "not an HAProxy check", false}}},
	{name: "nc -z of a local port", conf: tracking(`"nc -z 127.0.0.1 80"`), want: haproxyOn},
	{name: "check script file", conf: tracking(`/etc/keepalived/check_haproxy.sh`),
		files: memFiles{"/etc/keepalived/check_haproxy.sh": "#!/bin/sh\n# is HAProxy up?\nif ! pidof haproxy >/dev/null; then\n  exit 1\nfi\nexit 0\n"},
		want:  haproxyOn, quiet: []string{"vrrp_script", "chk_haproxy"}},
	{name: "check script file that also restarts HAProxy", conf: tracking(`/etc/keepalived/check_haproxy.sh`),
		files: memFiles{"/etc/keepalived/check_haproxy.sh": "#!/bin/bash\nA=`ps -C haproxy --no-header | wc -l`\nif [ $A -eq 0 ]; then\n  systemctl start haproxy\n  sleep 3\n  if [ `ps -C haproxy --no-header | wc -l` -eq 0 ]; then\n    systemctl stop keepalived\n  fi\nfi\n"},
		want:  haproxyOn, warn: []ww{{"vrrp_script", 1, "also runs `systemctl start haproxy`, `systemctl stop keepalived`", false}}},
	{name: "check script file that cannot be read", conf: tracking(`/etc/keepalived/check.sh`),
		want: map[string]string{"health.enabled": "false"}, warn: []ww{{"chk_haproxy", 13, "`/etc/keepalived/check.sh`", false}}},
	{name: "unquoted script", conf: tracking(`killall -0 haproxy`), want: haproxyOn,
		warn: []ww{{"script", 2, `keepalived runs only "killall"`, false}}},
	{name: "words after a quoted script", conf: tracking(`"pidof haproxy" root`), want: haproxyOn,
		warn: []ww{{"script", 2, `ignores "root"`, false}}},
	{name: "a script that is not an HAProxy check", conf: tracking(`"/usr/local/bin/check_db.sh"`),
		want: map[string]string{"health.enabled": "false"},
		warn: []ww{{"chk_haproxy", 13, "keepalived put the instance in FAULT", false}, {"chk_haproxy", 13, "BindsTo=", false}}},
	{name: "track_script of an undefined script", conf: inst("track_script {", "  chk_nothing", "}"),
		want: map[string]string{"health.enabled": "false"}, warn: []ww{{"chk_nothing", 9, "no vrrp_script chk_nothing", false}}},
	{name: "vrrp_script without script", conf: "vrrp_script chk_haproxy {\n  interval 1\n}\n" + inst("track_script {", "  chk_haproxy", "}"),
		warn: []ww{{"vrrp_script", 1, "has no script", false}}},
	{name: "junk after the tracked name", conf: tracking(`"pidof haproxy"`) + "", want: haproxyOn},
	{name: "junk on the tracking line", conf: script(`"pidof haproxy"`) + inst("track_script {", "  chk_haproxy fast", "}"),
		warn: []ww{{"chk_haproxy", 13, `ignores "fast"`, false}}},
	{name: "reverse weight and a bad weight", conf: "vrrp_script chk_haproxy {\n script \"pidof haproxy\"\n weight 10 reverse\n}\nvrrp_script chk_b {\n script \"pidof haproxy\"\n weight 999\n}\n" +
		inst("track_script {", "  chk_haproxy", "  chk_b", "}"),
		warn: []ww{{"weight", 3, "reverse", false}, {"weight", 7, `weight "999" is not a number`, false}}},
	{name: "track_process of haproxy", conf: "vrrp_track_process track_haproxy {\n  process haproxy\n  weight -10\n}\n" + inst("track_process {", "  track_haproxy", "}"),
		want: haproxyOn},
	{name: "track_process of something else", conf: "vrrp_track_process track_nginx {\n  process nginx\n}\n" + inst("track_process {", "  track_nginx", "}"),
		want: map[string]string{"health.enabled": "false"}, warn: []ww{{"track_nginx", 12, "`process nginx`", false}}},
	{name: "track_process of an undefined process", conf: inst("track_process {", "  track_x", "}"),
		warn: []ww{{"track_x", 9, "no vrrp_track_process track_x", false}}},
	{name: "vrrp_track_process without process", conf: "vrrp_track_process t {\n weight 1\n}\n" + inst("track_process {", "  t", "}"),
		warn: []ww{{"vrrp_track_process", 1, "has no process", false}}},

	// Weights: the classic mistake.
	{name: "positive weight raises the healthy priority", conf: strings.Replace(tracking(`"pidof haproxy"`, "state MASTER"), "interval 2", "weight 2", 1),
		want: map[string]string{"vrrp.priority": "102", "health.weight": "-254"}},
	{name: "weight override on the tracking line", conf: script(`"pidof haproxy"`) + strings.Replace(inst("track_script {", "  chk_haproxy weight 30", "}"), "priority 100", "priority 240", 1),
		want: map[string]string{"vrrp.priority": "254"}},
	{name: "known peer: weight smaller than the gap", conf: strings.Replace(strings.Replace(tracking(`"pidof haproxy"`), "interval 2", "weight -20", 1), "priority 100", "priority 200", 1),
		opt:  Options{PeerPriority: 100},
		want: map[string]string{"vrrp.peer_priority": "100"},
		warn: []ww{{"chk_haproxy", 13, "weight -20 never moves the VIP: when vrrp_script chk_haproxy fails on the MASTER, this node, keepalived lowers its priority from 200 to 180, not below the BACKUP's 100", false}}},
	{name: "known peer: weight that only ties", conf: strings.Replace(strings.Replace(tracking(`"pidof haproxy"`), "interval 2", "weight -1", 1), "priority 100", "priority 101", 1),
		opt: Options{PeerPriority: 100}, warn: []ww{{"chk_haproxy", 13, "from 101 to 100, not below the BACKUP's 100", false}}},
	{name: "known peer: weight larger than the gap", conf: strings.Replace(strings.Replace(tracking(`"pidof haproxy"`), "interval 2", "weight -150", 1), "priority 100", "priority 200", 1),
		opt: Options{PeerPriority: 100}, quiet: []string{"chk_haproxy"}},
	{name: "known peer, this node the backup", conf: strings.Replace(tracking(`"pidof haproxy"`), "interval 2", "weight -20", 1),
		opt:  Options{PeerPriority: 200},
		warn: []ww{{"chk_haproxy", 13, "the peer (assuming it runs the same check), keepalived lowers its priority from 200 to 180", false}}},
	{name: "known peer: positive weight smaller than the gap", conf: strings.Replace(strings.Replace(tracking(`"pidof haproxy"`), "interval 2", "weight 2", 1), "priority 100", "priority 200", 1),
		opt:  Options{PeerPriority: 100},
		want: map[string]string{"vrrp.priority": "202", "vrrp.peer_priority": "102"},
		warn: []ww{{"chk_haproxy", 13, "need a weight of at least 101", false}}},
	{name: "known peer: positive weight larger than the gap", conf: strings.Replace(strings.Replace(tracking(`"pidof haproxy"`), "interval 2", "weight 2", 1), "priority 100", "priority 101", 1),
		opt: Options{PeerPriority: 100}, quiet: []string{"chk_haproxy"}},
	{name: "unknown peer, MASTER 200 weight -20: the tutorial mistake", conf: strings.Replace(strings.Replace(tracking(`"pidof haproxy"`, "state MASTER"), "interval 2", "weight -20", 1), "priority 100", "priority 200", 1),
		warn: []ww{{"chk_haproxy", 13, "with the usual BACKUP priority 100 (as in MASTER 200 / BACKUP 100 tutorials) it never fails over", false}}},
	{name: "unknown peer, MASTER 101 weight -2", conf: strings.Replace(strings.Replace(tracking(`"pidof haproxy"`, "state MASTER"), "interval 2", "weight -2", 1), "priority 100", "priority 101", 1),
		warn: []ww{{"chk_haproxy", 13, "only if the BACKUP's priority is above 99", true}}},
	{name: "unknown peer, no state", conf: strings.Replace(tracking(`"pidof haproxy"`), "interval 2", "weight 5", 1),
		warn: []ww{{"chk_haproxy", 13, "the BACKUP's priority is above 95, or, with this node BACKUP, the MASTER's is below 105", true}}},
	{name: "unknown peer, BACKUP weight -1", conf: strings.Replace(tracking(`"pidof haproxy"`, "state BACKUP"), "interval 2", "weight -1", 1),
		warn: []ww{{"chk_haproxy", 13, "no MASTER ever hands over", false}}},
	{name: "unknown peer, BACKUP weight -20", conf: strings.Replace(tracking(`"pidof haproxy"`, "state BACKUP"), "interval 2", "weight -20", 1),
		warn: []ww{{"chk_haproxy", 13, "only if the MASTER's priority is below 120", true}}},

	// Notify scripts.
	{name: "notify scripts", conf: inst(`notify_master "/etc/keepalived/master.sh arg"`, "notify_backup /etc/keepalived/backup.sh",
		"notify_fault /f.sh", "notify_stop /s.sh", `notify "/etc/keepalived/notify.sh"`),
		hooks: map[string][]string{
			"master": {"/etc/keepalived/master.sh | arg", "/etc/keepalived/notify.sh | INSTANCE | VI_1 | MASTER | 100"},
			"backup": {"/etc/keepalived/backup.sh", "/etc/keepalived/notify.sh | INSTANCE | VI_1 | BACKUP | 100"},
			"fault":  {"/f.sh", "/etc/keepalived/notify.sh | INSTANCE | VI_1 | FAULT | 100"},
			"stop":   {"/s.sh", "/etc/keepalived/notify.sh | INSTANCE | VI_1 | STOP | 100"}},
		warn:  []ww{{"notify", 12, "configured 100", true}},
		quiet: []string{"notify_master", "notify_backup", "notify_fault", "notify_stop", "notify"}},
	{name: "notify through the shell", conf: inst(`notify_master "/usr/bin/logger master > /dev/null"`, `notify "echo $1 >> /tmp/log"`),
		hooks: map[string][]string{
			"master": {"/bin/sh | -c | /usr/bin/logger master > /dev/null", `/bin/sh | -c | echo $1 >> /tmp/log "$@" | sh | INSTANCE | VI_1 | MASTER | 100`},
			"backup": {`/bin/sh | -c | echo $1 >> /tmp/log "$@" | sh | INSTANCE | VI_1 | BACKUP | 100`},
			"fault":  {`/bin/sh | -c | echo $1 >> /tmp/log "$@" | sh | INSTANCE | VI_1 | FAULT | 100`},
			"stop":   {`/bin/sh | -c | echo $1 >> /tmp/log "$@" | sh | INSTANCE | VI_1 | STOP | 100`}}},
	// keepalived runs the generic notify after the state's own script,
	// wherever it is written.
	{name: "generic notify written first", conf: inst("notify /n.sh", "notify_backup /b.sh"),
		hooks: map[string][]string{
			"master": {"/n.sh | INSTANCE | VI_1 | MASTER | 100"},
			"backup": {"/b.sh", "/n.sh | INSTANCE | VI_1 | BACKUP | 100"},
			"fault":  {"/n.sh | INSTANCE | VI_1 | FAULT | 100"},
			"stop":   {"/n.sh | INSTANCE | VI_1 | STOP | 100"}}},
	// keepalived searches its PATH for a bare name; env does the same.
	{name: "notify by a bare name", conf: inst(`notify_master "logger -t ka master"`, "notify vip-notify"),
		hooks: map[string][]string{
			"master": {"/usr/bin/env | logger | -t | ka | master", "/usr/bin/env | vip-notify | INSTANCE | VI_1 | MASTER | 100"},
			"backup": {"/usr/bin/env | vip-notify | INSTANCE | VI_1 | BACKUP | 100"},
			"fault":  {"/usr/bin/env | vip-notify | INSTANCE | VI_1 | FAULT | 100"},
			"stop":   {"/usr/bin/env | vip-notify | INSTANCE | VI_1 | STOP | 100"}},
		warn: []ww{{"notify_master", 8, `finds "logger" on its PATH`, false}, {"notify", 9, `finds "vip-notify" on its PATH`, false}}},
	{name: "notify with a user, unquoted arguments, twice, empty", conf: inst("notify_master /m.sh root", "notify_master /other.sh", "notify_backup"),
		hooks: map[string][]string{"master": {"/m.sh"}},
		warn: []ww{{"notify_master", 8, `reads "root" as the user`, false}, {"notify_master", 9, "a second notify_master", false},
			{"notify_backup", 10, "has no command", false}}},
}

func TestNoInstance(t *testing.T) {
	_, err := Import("/k/keepalived.conf", Options{ParseOptions: ParseOptions{Files: memFiles{"/k/keepalived.conf": "global_defs {\n}\n"}}})
	if !errors.Is(err, ErrNoInstance) || !strings.Contains(err.Error(), "/k/keepalived.conf") {
		t.Fatalf("err = %v, want ErrNoInstance naming the file", err)
	}
}

func TestUnknownInstance(t *testing.T) {
	_, err := Import("/k/keepalived.conf", Options{Instance: "VI_9", ParseOptions: ParseOptions{Files: memFiles{"/k/keepalived.conf": inst()}}})
	if err == nil || !strings.Contains(err.Error(), `no vrrp_instance "VI_9" (the config has VI_1)`) {
		t.Fatalf("err = %v, want one naming the instances", err)
	}
}

func TestBadPeerPriority(t *testing.T) {
	_, err := Import("/k/keepalived.conf", Options{PeerPriority: 300, ParseOptions: ParseOptions{Files: memFiles{"/k/keepalived.conf": inst()}}})
	if err == nil || !strings.Contains(err.Error(), "peer priority 300") {
		t.Fatalf("err = %v", err)
	}
}

func TestParseSeconds(t *testing.T) {
	for in, want := range map[string]string{"1": "1s", "0.05": "50ms", ".5": "500ms", "2.718281828": "2.718281s", "0": "0s"} {
		d, ok := parseSeconds(in)
		if !ok || d.String() != want {
			t.Errorf("parseSeconds(%q) = %v, %v; want %s", in, d, ok, want)
		}
	}
	for _, in := range []string{"", ".", "1s", "-1", "1e3", "1.2.3", "9999999999"} {
		if d, ok := parseSeconds(in); ok {
			t.Errorf("parseSeconds(%q) = %v, want failure", in, d)
		}
	}
}

func TestYAMLString(t *testing.T) {
	for in, want := range map[string]string{"eth1": "eth1", "": `""`, "yes": `"yes"`, "1234": `"1234"`, "a b": `"a b"`,
		"-x": `"-x"`, "/run/haproxy/admin.sock": "/run/haproxy/admin.sock", `a"b`: `"a\"b"`, "1e3": `"1e3"`,
		"0x1F": `"0x1F"`, "0o17": `"0o17"`, "0b101": `"0b101"`, "1_": `"1_"`, "2001-12-14": `"2001-12-14"`, "_1": "_1"} {
		if got := yamlString(in); got != want {
			t.Errorf("yamlString(%q) = %s, want %s", in, got, want)
		}
	}
}
