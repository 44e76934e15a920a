package config

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// field is one config key: its default, how a raw value (from YAML, the
// environment or a flag) becomes a typed value in Config, and whether a
// running daemon can take a new value without a restart.
type field struct {
	key string
	def any
	set func(c *Config, raw any) error
	// get returns the typed value, for comparing two configs.
	get func(c *Config) any
	// keep copies the value from one config to another.
	keep func(to, from *Config)
	// restart marks a key a reload cannot change: it keeps its running
	// value until the daemon restarts.
	restart bool
	// identity marks a key of the VRRP instance's identity: a reload that
	// changes it restarts the instance inside the process.
	identity bool
	// text marks a string key, or a list of strings or of argv lists: a
	// YAML value that is not a string is taken as its text (see
	// misreadText).
	text bool
}

// restart marks f as changing only when the process restarts.
func restart(f field) field {
	f.restart = true
	return f
}

// identity marks f as part of the VRRP instance's identity.
func identity(f field) field {
	f.identity = true
	return f
}

// accessors returns get and keep for a typed key.
func accessors[T any](dst func(*Config) *T) (func(*Config) any, func(to, from *Config)) {
	return func(c *Config) any { return *dst(c) }, func(to, from *Config) { *dst(to) = *dst(from) }
}

// schema lists every key proxypair knows. A key not listed here is an error.
var schema = []field{
	str("vrrp.name", "", func(c *Config) *string { return &c.VRRP.Name }),
	identity(str("vrrp.interface", "eth1", func(c *Config) *string { return &c.VRRP.Interface })),
	identity(integer("vrrp.virtual_router_id", 51, func(c *Config) *int { return &c.VRRP.VRID })),
	integer("vrrp.priority", 100, func(c *Config) *int { return &c.VRRP.Priority }),
	identity(integer("vrrp.version", 2, func(c *Config) *int { return &c.VRRP.Version })),
	duration("vrrp.advert_interval", time.Second, func(c *Config) *time.Duration { return &c.VRRP.AdvertInterval }),
	boolean("vrrp.preempt", true, func(c *Config) *bool { return &c.VRRP.Preempt }),
	duration("vrrp.preempt_delay", 0, func(c *Config) *time.Duration { return &c.VRRP.PreemptDelay }),
	str("vrrp.auth_pass", "", func(c *Config) *string { return &c.VRRP.AuthPass }),
	prefixes("vrrp.virtual_ips", func(c *Config) *[]netip.Prefix { return &c.VRRP.VirtualIPs }),
	addrs("vrrp.unicast_peers", func(c *Config) *[]netip.Addr { return &c.VRRP.UnicastPeers }),
	identity(addr("vrrp.source_ip", func(c *Config) *netip.Addr { return &c.VRRP.SourceIP })),
	integer("vrrp.peer_priority", 0, func(c *Config) *int { return &c.VRRP.PeerPriority }),
	boolean("vrrp.pair", false, func(c *Config) *bool { return &c.VRRP.Pair }),
	str("vrrp.v3_checksum", ChecksumPseudoHeader, func(c *Config) *string { return &c.VRRP.V3Checksum }),
	integer("vrrp.garp.repeat", 5, func(c *Config) *int { return &c.VRRP.GARP.Repeat }),
	duration("vrrp.garp.delay", 5*time.Second, func(c *Config) *time.Duration { return &c.VRRP.GARP.Delay }),
	duration("vrrp.garp.interval", 0, func(c *Config) *time.Duration { return &c.VRRP.GARP.Interval }),

	restart(str("control.socket", "/run/proxypair/proxypair.sock", func(c *Config) *string { return &c.Control.Socket })),
	restart(str("control.state_dir", "/var/lib/proxypair", func(c *Config) *string { return &c.Control.StateDir })),
	str("control.metrics_listen", "", func(c *Config) *string { return &c.Control.MetricsListen }),

	str("log.level", "info", func(c *Config) *string { return &c.Log.Level }),
	restart(str("log.format", "text", func(c *Config) *string { return &c.Log.Format })),

	boolean("health.enabled", true, func(c *Config) *bool { return &c.Health.Enabled }),
	duration("health.interval", 200*time.Millisecond, func(c *Config) *time.Duration { return &c.Health.Interval }),
	integer("health.fall", 1, func(c *Config) *int { return &c.Health.Fall }),
	integer("health.rise", 2, func(c *Config) *int { return &c.Health.Rise }),
	integer("health.weight", -254, func(c *Config) *int { return &c.Health.Weight }),
	str("health.haproxy.socket", "/run/haproxy/proxypair.sock", func(c *Config) *string { return &c.Health.HAProxy.Socket }),
	strs("health.haproxy.backends", func(c *Config) *[]string { return &c.Health.HAProxy.Backends }),
	integer("health.haproxy.min_servers_up", 1, func(c *Config) *int { return &c.Health.HAProxy.MinServersUp }),
	str("health.haproxy.systemd_unit", "", func(c *Config) *string { return &c.Health.HAProxy.SystemdUnit }),

	str("cloud.provider", "", func(c *Config) *string { return &c.Cloud.Provider }),
	str("cloud.site", "public", func(c *Config) *string { return &c.Cloud.Site }),
	str("cloud.region", "", func(c *Config) *string { return &c.Cloud.Region }),
	str("cloud.network_interface_no", "", func(c *Config) *string { return &c.Cloud.NetworkInterfaceNo }),
	str("cloud.access_key", "", func(c *Config) *string { return &c.Cloud.AccessKey }),
	str("cloud.secret_key", "", func(c *Config) *string { return &c.Cloud.SecretKey }),
	str("cloud.api_url", "", func(c *Config) *string { return &c.Cloud.APIURL }),
	str("cloud.metadata_url", "", func(c *Config) *string { return &c.Cloud.MetadataURL }),

	// Live: the hook runner takes the new hooks for the transitions after
	// the reload (appliance/hooks).
	argvLists("notify.master", func(c *Config) *[][]string { return &c.Notify.Master }),
	argvLists("notify.backup", func(c *Config) *[][]string { return &c.Notify.Backup }),
	argvLists("notify.fault", func(c *Config) *[][]string { return &c.Notify.Fault }),
	argvLists("notify.stop", func(c *Config) *[][]string { return &c.Notify.Stop }),
	duration("notify.timeout", 30*time.Second, func(c *Config) *time.Duration { return &c.Notify.Timeout }),
}

// isText reports whether key is a string key.
func isText(key string) bool {
	for _, f := range schema {
		if f.key == key {
			return f.text
		}
	}
	return false
}

// Keys returns every known key path, in schema order.
func Keys() []string {
	keys := make([]string, len(schema))
	for i, f := range schema {
		keys[i] = f.key
	}
	return keys
}

// Defaults returns a Config with every key at its default, as Load would
// give with no file, no environment and no flags. Programs that build a
// Config themselves (the keepalived importer) start from it.
func Defaults() *Config {
	c := &Config{}
	for _, f := range schema {
		if err := f.set(c, f.def); err != nil {
			// A default that does not parse is a bug in the schema, caught
			// by TestDefaultsMatchLoad.
			panic("config: default of " + f.key + ": " + err.Error())
		}
	}
	return c
}

// EnvName is the environment variable that sets key, e.g. vrrp.priority →
// PROXYPAIR_VRRP_PRIORITY.
func EnvName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

func str(key, def string, dst func(*Config) *string) field {
	get, keep := accessors(dst)
	return field{key: key, def: def, get: get, keep: keep, text: true, set: func(c *Config, raw any) error {
		switch v := raw.(type) {
		case string:
			*dst(c) = v
		case nil:
			*dst(c) = ""
		case int, int64, float64, bool:
			*dst(c) = fmt.Sprint(v)
		default:
			return fmt.Errorf("expected a string, got %s", describe(raw))
		}
		return nil
	}}
}

func integer(key string, def int, dst func(*Config) *int) field {
	get, keep := accessors(dst)
	return field{key: key, def: def, get: get, keep: keep, set: func(c *Config, raw any) error {
		switch v := raw.(type) {
		case int:
			*dst(c) = v
		case int64:
			*dst(c) = int(v)
		case float64:
			if v != float64(int(v)) {
				return fmt.Errorf("%v is not a whole number", v)
			}
			*dst(c) = int(v)
		case string:
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("%q is not a whole number", v)
			}
			*dst(c) = n
		default:
			return fmt.Errorf("expected a whole number, got %s", describe(raw))
		}
		return nil
	}}
}

func boolean(key string, def bool, dst func(*Config) *bool) field {
	get, keep := accessors(dst)
	return field{key: key, def: def, get: get, keep: keep, set: func(c *Config, raw any) error {
		switch v := raw.(type) {
		case bool:
			*dst(c) = v
		case string:
			b, err := strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("%q is not true or false", v)
			}
			*dst(c) = b
		default:
			return fmt.Errorf("expected true or false, got %s", describe(raw))
		}
		return nil
	}}
}

// duration accepts Go duration strings ("1s", "50ms"). A bare number is
// refused rather than guessed at: keepalived counts seconds, Go nanoseconds.
func duration(key string, def time.Duration, dst func(*Config) *time.Duration) field {
	get, keep := accessors(dst)
	return field{key: key, def: def, get: get, keep: keep, set: func(c *Config, raw any) error {
		switch v := raw.(type) {
		case time.Duration:
			*dst(c) = v
		case string:
			d, err := time.ParseDuration(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("%q is not a duration (write it with a unit, e.g. 1s or 50ms)", v)
			}
			*dst(c) = d
		case int, int64, float64:
			return fmt.Errorf("%v has no unit (write e.g. %vs or %vms)", v, v, v)
		default:
			return fmt.Errorf("expected a duration such as 1s, got %s", describe(raw))
		}
		return nil
	}}
}

func strs(key string, dst func(*Config) *[]string) field {
	get, keep := accessors(dst)
	return field{key: key, def: []string{}, get: get, keep: keep, text: true, set: func(c *Config, raw any) error {
		list, err := toList(raw)
		if err != nil {
			return err
		}
		*dst(c) = list
		return nil
	}}
}

func prefixes(key string, dst func(*Config) *[]netip.Prefix) field {
	get, keep := accessors(dst)
	return field{key: key, def: []string{}, get: get, keep: keep, set: func(c *Config, raw any) error {
		list, err := toList(raw)
		if err != nil {
			return err
		}
		var out []netip.Prefix
		var bad []string
		for _, s := range list {
			p, err := parsePrefix(s)
			if err != nil {
				bad = append(bad, err.Error())
				continue
			}
			out = append(out, p)
		}
		if len(bad) > 0 {
			return fmt.Errorf("%s", strings.Join(bad, "; "))
		}
		*dst(c) = out
		return nil
	}}
}

// parsePrefix accepts "192.168.200.102/24" and, like keepalived, a bare
// address, which gets a /32.
func parsePrefix(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not an IP address or prefix", s)
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP prefix like 192.168.200.102/24", s)
	}
	return p, nil
}

func addrs(key string, dst func(*Config) *[]netip.Addr) field {
	get, keep := accessors(dst)
	return field{key: key, def: []string{}, get: get, keep: keep, set: func(c *Config, raw any) error {
		list, err := toList(raw)
		if err != nil {
			return err
		}
		var out []netip.Addr
		var bad []string
		for _, s := range list {
			a, err := netip.ParseAddr(s)
			if err != nil {
				bad = append(bad, fmt.Sprintf("%q is not an IP address", s))
				continue
			}
			out = append(out, a)
		}
		if len(bad) > 0 {
			return fmt.Errorf("%s", strings.Join(bad, "; "))
		}
		*dst(c) = out
		return nil
	}}
}

func addr(key string, dst func(*Config) *netip.Addr) field {
	get, keep := accessors(dst)
	return field{key: key, def: "", get: get, keep: keep, set: func(c *Config, raw any) error {
		s, ok := raw.(string)
		if !ok && raw != nil {
			return fmt.Errorf("expected an IP address, got %s", describe(raw))
		}
		s = strings.TrimSpace(s)
		if s == "" {
			*dst(c) = netip.Addr{}
			return nil
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return fmt.Errorf("%q is not an IP address", s)
		}
		*dst(c) = a
		return nil
	}}
}

// argvLists is a list of commands, each an argv list: in YAML
//
//	master:
//	  - [/usr/local/bin/vip-up.sh, eth1]
//	  - [/usr/bin/logger, -t, proxypair, master]
//
// and from the environment or --set, where YAML's nesting cannot be
// written, the same as JSON: [["/usr/local/bin/vip-up.sh","eth1"]]. Every
// argument must be a string: a YAML number or boolean is refused rather
// than re-spelled (0x10 and 1.50 would not come back as written).
func argvLists(key string, dst func(*Config) *[][]string) field {
	get, keep := accessors(dst)
	return field{key: key, def: []any{}, get: get, keep: keep, text: true, set: func(c *Config, raw any) error {
		if s, ok := raw.(string); ok {
			if strings.TrimSpace(s) == "" {
				*dst(c) = nil
				return nil
			}
			var v [][]string
			if err := json.Unmarshal([]byte(s), &v); err != nil {
				return fmt.Errorf("%q is not a list of argv lists: in YAML write a line - [/usr/local/bin/vip-up.sh, eth1] per hook; "+
					"in the environment or --set, the same as JSON: [[\"/usr/local/bin/vip-up.sh\",\"eth1\"]] (%v)", s, err)
			}
			raw = v
		}
		var out [][]string
		switch v := raw.(type) {
		case nil:
		case [][]string:
			for _, argv := range v {
				out = append(out, slices.Clone(argv))
			}
		case []any:
			for i, item := range v {
				argv, err := toArgv(item)
				if err != nil {
					return fmt.Errorf("hook %d: %w", i+1, err)
				}
				out = append(out, argv)
			}
		default:
			return fmt.Errorf("expected a list of argv lists, e.g. [[/usr/local/bin/vip-up.sh, eth1]], got %s", describe(raw))
		}
		*dst(c) = out
		return nil
	}}
}

// toArgv is one hook of argvLists.
func toArgv(item any) ([]string, error) {
	switch v := item.(type) {
	case []string:
		return slices.Clone(v), nil
	case []any:
		argv := make([]string, 0, len(v))
		for j, a := range v {
			s, ok := a.(string)
			if !ok {
				return nil, fmt.Errorf("argument %d: expected a string, got %s; quote it", j+1, describe(a))
			}
			argv = append(argv, s)
		}
		return argv, nil
	case string:
		return nil, fmt.Errorf("%q is a string, but each hook is an argv list: write it as [%s] (a list of argv lists; no shell)", v, strconv.Quote(v))
	}
	return nil, fmt.Errorf("expected an argv list such as [/usr/local/bin/vip-up.sh, eth1], got %s", describe(item))
}

// toList accepts a YAML list, or a string of items separated by commas or
// spaces (the environment's form: PROXYPAIR_VRRP_VIRTUAL_IPS=a/24,b/24).
func toList(raw any) ([]string, error) {
	switch v := raw.(type) {
	case nil:
		return nil, nil
	case string:
		return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }), nil
	case []string:
		return v, nil
	case []any:
		out := make([]string, 0, len(v))
		for _, item := range v {
			s, ok := item.(string)
			if !ok {
				return nil, fmt.Errorf("list item %v: expected a string, got %s", item, describe(item))
			}
			out = append(out, strings.TrimSpace(s))
		}
		return out, nil
	default:
		return nil, fmt.Errorf("expected a list, got %s", describe(raw))
	}
}

func describe(v any) string {
	switch v.(type) {
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	case nil:
		return "nothing"
	}
	return fmt.Sprintf("%T %v", v, v)
}
