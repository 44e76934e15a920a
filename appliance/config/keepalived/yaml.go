package keepalived

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode"

	"github.com/proxypair/proxypair/appliance/config"
)

// YAML is the translated config as a proxypair YAML file: every value is
// commented with the keepalived line it came from. Loading it gives
// r.Config.
func (r *Result) YAML() []byte {
	var y yamlWriter
	c := r.Config
	d := config.Defaults()
	y.comment(0, "proxypair config imported by `proxypair import keepalived`:")
	y.comment(0, fmt.Sprintf("vrrp_instance %s at %s.", r.Instance, r.Pos))
	y.comment(0, "Each value names the keepalived line it came from; keys not set here take")
	y.comment(0, "proxypair's defaults. Read the warnings the import printed, then check")
	y.comment(0, "this file with: proxypair validate --config FILE")
	y.line(0, "vrrp:")
	if c.VRRP.Name != "" {
		y.key(r, "vrrp.name", yamlString(c.VRRP.Name))
	}
	y.key(r, "vrrp.interface", yamlString(c.VRRP.Interface))
	y.key(r, "vrrp.virtual_router_id", strconv.Itoa(c.VRRP.VRID))
	y.key(r, "vrrp.priority", strconv.Itoa(c.VRRP.Priority))
	if c.VRRP.PeerPriority != d.VRRP.PeerPriority {
		y.key(r, "vrrp.peer_priority", strconv.Itoa(c.VRRP.PeerPriority))
	}
	y.key(r, "vrrp.version", strconv.Itoa(c.VRRP.Version))
	y.key(r, "vrrp.advert_interval", c.VRRP.AdvertInterval.String())
	y.key(r, "vrrp.preempt", strconv.FormatBool(c.VRRP.Preempt))
	if c.VRRP.PreemptDelay != d.VRRP.PreemptDelay || r.comments["vrrp.preempt_delay"] != nil {
		y.key(r, "vrrp.preempt_delay", c.VRRP.PreemptDelay.String())
	}
	if c.VRRP.AuthPass != "" {
		y.key(r, "vrrp.auth_pass", strconv.Quote(c.VRRP.AuthPass))
	}
	y.prefixes(r, "vrrp.virtual_ips", c.VRRP.VirtualIPs)
	if len(c.VRRP.UnicastPeers) > 0 {
		y.addrs(r, "vrrp.unicast_peers", c.VRRP.UnicastPeers)
	}
	if c.VRRP.SourceIP.IsValid() {
		y.key(r, "vrrp.source_ip", c.VRRP.SourceIP.String())
	}
	if c.VRRP.GARP != d.VRRP.GARP || r.comments["vrrp.garp.repeat"] != nil || r.comments["vrrp.garp.delay"] != nil || r.comments["vrrp.garp.interval"] != nil {
		y.line(1, "garp:")
		for _, kv := range []struct {
			key  string
			val  string
			same bool
		}{
			{"vrrp.garp.repeat", strconv.Itoa(c.VRRP.GARP.Repeat), c.VRRP.GARP.Repeat == d.VRRP.GARP.Repeat},
			{"vrrp.garp.delay", c.VRRP.GARP.Delay.String(), c.VRRP.GARP.Delay == d.VRRP.GARP.Delay},
			{"vrrp.garp.interval", c.VRRP.GARP.Interval.String(), c.VRRP.GARP.Interval == d.VRRP.GARP.Interval},
		} {
			if !kv.same || r.comments[kv.key] != nil {
				y.key(r, kv.key, kv.val)
			}
		}
	}

	y.line(0, "health:")
	for _, l := range r.health {
		y.comment(1, l)
	}
	y.key(r, "health.enabled", strconv.FormatBool(c.Health.Enabled))
	if c.Health.Enabled {
		y.key(r, "health.weight", strconv.Itoa(c.Health.Weight))
		y.line(1, "haproxy:")
		y.key(r, "health.haproxy.socket", yamlString(c.Health.HAProxy.Socket))
		if c.Health.HAProxy.SystemdUnit != "" {
			y.key(r, "health.haproxy.systemd_unit", yamlString(c.Health.HAProxy.SystemdUnit))
		}
	}
	y.notify(&r.Notify)
	return []byte(y.b.String())
}

type yamlWriter struct {
	b strings.Builder
}

func (y *yamlWriter) line(indent int, s string) {
	y.b.WriteString(strings.Repeat("  ", indent))
	y.b.WriteString(s)
	y.b.WriteByte('\n')
}

func (y *yamlWriter) comment(indent int, s string) {
	y.line(indent, "# "+sanitize(s))
}

// key writes "name: value" for a key path with its comments: one short
// comment at the end of the line, more above it.
func (y *yamlWriter) key(r *Result, path, value string) {
	indent := strings.Count(path, ".")
	line := path[strings.LastIndexByte(path, '.')+1:] + ":"
	if value != "" {
		line += " " + value
	}
	comments := r.comments[path]
	if len(comments) == 1 {
		// The comments line up at column 33 whatever the nesting.
		if l := fmt.Sprintf("%-*s # %s", 32-2*indent, line, sanitize(comments[0])); 2*indent+len(l) <= 100 {
			y.line(indent, l)
			return
		}
	}
	for _, c := range comments {
		y.comment(indent, c)
	}
	y.line(indent, line)
}

func (y *yamlWriter) prefixes(r *Result, path string, list []netip.Prefix) {
	items := make([]string, len(list))
	for i, p := range list {
		items[i] = p.String()
	}
	y.list(r, path, items)
}

func (y *yamlWriter) addrs(r *Result, path string, list []netip.Addr) {
	items := make([]string, len(list))
	for i, a := range list {
		items[i] = a.String()
	}
	y.list(r, path, items)
}

func (y *yamlWriter) list(r *Result, path string, items []string) {
	if len(items) == 0 {
		y.key(r, path, "[]")
		return
	}
	y.key(r, path, "")
	indent := strings.Count(path, ".") + 1
	for _, it := range items {
		line := "- " + it
		if c := r.comments[path+"/"+it]; len(c) > 0 {
			line = fmt.Sprintf("%-*s # %s", 32-2*indent, line, sanitize(strings.Join(c, "; ")))
		}
		y.line(indent, line)
	}
}

// notify writes the hooks, each under the keepalived line it came from.
func (y *yamlWriter) notify(n *Notify) {
	if n.empty() {
		return
	}
	y.comment(0, "keepalived's notify scripts as proxypair's notify hooks: argv lists, run one at")
	y.comment(0, "a time in the order of the transitions, each within notify.timeout (default 30s).")
	y.line(0, "notify:")
	for _, st := range []struct {
		name  string
		hooks []Hook
	}{{"master", n.Master}, {"backup", n.Backup}, {"fault", n.Fault}, {"stop", n.Stop}} {
		if len(st.hooks) == 0 {
			continue
		}
		y.line(0, "  "+st.name+":")
		for _, h := range st.hooks {
			y.line(0, "    # "+sanitize(h.Comment))
			quoted := make([]string, len(h.Argv))
			for i, a := range h.Argv {
				quoted[i] = strconv.Quote(a)
			}
			y.line(0, "    - ["+strings.Join(quoted, ", ")+"]")
		}
	}
}

// yamlString writes s plainly when YAML reads it back as the same string,
// else double-quoted.
func yamlString(s string) string {
	if s == "" {
		return `""`
	}
	plain := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		plain = plain && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '/' || c == '.' || c == '-')
	}
	switch strings.ToLower(s) {
	case "true", "false", "yes", "no", "on", "off", "null", "y", "n":
		plain = false
	}
	// A leading digit may read as a number (0x1F, 0o17, 0b101, 1_), a
	// date (2001-12-14) or a float: YAML would not give the string back.
	if _, err := strconv.ParseFloat(s, 64); err == nil || s[0] == '-' || s[0] == '.' || s[0] >= '0' && s[0] <= '9' {
		plain = false
	}
	if plain {
		return s
	}
	return strconv.Quote(s)
}

// sanitize keeps a comment on one line and readable by YAML: keepalived
// text could hold line breaks YAML knows (\r, U+2028), or control
// characters it refuses anywhere (C0, C1).
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\t' || unicode.IsPrint(r) {
			return r
		}
		return '?'
	}, s)
}
