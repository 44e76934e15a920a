package config

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Validate checks a typed Config and returns every problem, each naming its
// key. It is also what an importer (e.g. from keepalived.conf) will run on the
// Config it produces.
func Validate(c *Config) []Problem {
	var ps problems
	validateVRRP(&ps, &c.VRRP)
	if c.Control.Socket == "" {
		ps.add("control.socket", "must not be empty")
	} else if !filepath.IsAbs(c.Control.Socket) {
		ps.add("control.socket", "%q must be an absolute path", c.Control.Socket)
	}
	if c.Control.StateDir == "" || !filepath.IsAbs(c.Control.StateDir) {
		ps.add("control.state_dir", "%q must be an absolute path", c.Control.StateDir)
	}
	if msg := checkListen(c.Control.MetricsListen); msg != "" {
		ps.add("control.metrics_listen", "%s", msg)
	}
	oneOf(&ps, "log.level", c.Log.Level, "debug", "info", "warn", "error")
	oneOf(&ps, "log.format", c.Log.Format, "text", "json")
	validateHealth(&ps, &c.Health)
	checkWeight(&ps, c)
	validateCloud(&ps, c)
	validateNotify(&ps, &c.Notify)
	return ps
}

type problems []Problem

func (ps *problems) add(key, format string, args ...any) {
	*ps = append(*ps, Problem{Key: key, Message: fmt.Sprintf(format, args...)})
}

func (ps *problems) warn(key, format string, args ...any) {
	*ps = append(*ps, Problem{Key: key, Message: fmt.Sprintf(format, args...), Warning: true})
}

func oneOf(ps *problems, key, value string, allowed ...string) {
	if !slices.Contains(allowed, value) {
		ps.add(key, "%q is not one of %v", value, allowed)
	}
}

func validateVRRP(ps *problems, v *VRRP) {
	if v.Name != "" && !ValidName(v.Name) {
		ps.add("vrrp.name", "%q: use 1-%d letters, digits, '_', '-', '.' or ':' (it becomes a metrics label and PROXYPAIR_INSTANCE)", v.Name, maxNameLen)
	}
	if v.Interface == "" {
		ps.add("vrrp.interface", "must not be empty")
	} else if len(v.Interface) > 15 {
		ps.add("vrrp.interface", "%q is longer than Linux's 15-character interface names", v.Interface)
	}
	if v.VRID < 1 || v.VRID > 255 {
		ps.add("vrrp.virtual_router_id", "%d is outside 1-255", v.VRID)
	}
	if v.Priority < 1 || v.Priority > 254 {
		// 255 is the address owner's priority in the RFC; a VIP that moves
		// between two servers has no owner.
		ps.add("vrrp.priority", "%d is outside 1-254", v.Priority)
	}
	switch v.Version {
	case 2:
		// RFC 3768 §5.3.7: "Advertisement interval ... in seconds", one byte.
		if v.AdvertInterval%time.Second != 0 || v.AdvertInterval < time.Second || v.AdvertInterval > 255*time.Second {
			ps.add("vrrp.advert_interval", "%v: VRRP version 2 needs whole seconds from 1s to 255s", v.AdvertInterval)
		}
		if len(v.AuthPass) > 8 {
			ps.add("vrrp.auth_pass", "is %d bytes; keepalived's PASS authentication carries at most 8", len(v.AuthPass))
		}
	case 3:
		// RFC 5798 §5.2.7: 12-bit Max Advertise Interval in centiseconds.
		if v.AdvertInterval%(10*time.Millisecond) != 0 || v.AdvertInterval < 10*time.Millisecond || v.AdvertInterval > 4095*10*time.Millisecond {
			ps.add("vrrp.advert_interval", "%v: VRRP version 3 needs a multiple of 10ms from 10ms to 40.95s", v.AdvertInterval)
		}
		if v.AuthPass != "" {
			ps.add("vrrp.auth_pass", "VRRP version 3 has no authentication (RFC 5798 §9); remove auth_pass or use version 2")
		}
	default:
		ps.add("vrrp.version", "%d is not a VRRP version proxypair speaks (2 or 3)", v.Version)
	}
	if v.PreemptDelay < 0 || v.PreemptDelay > 1000*time.Second {
		ps.add("vrrp.preempt_delay", "%v is outside 0s-1000s", v.PreemptDelay)
	}
	oneOf(ps, "vrrp.v3_checksum", v.V3Checksum, ChecksumPseudoHeader, ChecksumMessageOnly)

	if len(v.VirtualIPs) == 0 {
		ps.add("vrrp.virtual_ips", "at least one virtual IP is required")
	}
	if len(v.VirtualIPs) > 255 {
		ps.add("vrrp.virtual_ips", "%d addresses; one advert carries at most 255", len(v.VirtualIPs))
	}
	seen := map[netip.Addr]bool{}
	for _, p := range v.VirtualIPs {
		a := p.Addr()
		switch {
		case !a.Is4():
			ps.add("vrrp.virtual_ips", "%v is not IPv4 (proxypair speaks VRRP for IPv4)", p)
		case notHost(a) != "":
			ps.add("vrrp.virtual_ips", "%v: %v %s, not a usable host address", p, a, notHost(a))
		case p.Bits() < minVIPBits:
			route := "an on-link route for " + p.Masked().String()
			if p.Bits() == 0 {
				route = "an on-link default route"
			}
			ps.add("vrrp.virtual_ips", "%v: a /%d prefix is wider than /%d; while master it would add %s to the interface; use the subnet's prefix (e.g. /24) or /32",
				p, p.Bits(), minVIPBits, route)
		case subnetEdge(p, a) != "":
			ps.add("vrrp.virtual_ips", "%v is the %s address of %v, not a host address", p, subnetEdge(p, a), p.Masked())
		case seen[a]:
			ps.add("vrrp.virtual_ips", "%v is listed twice", p)
		}
		seen[a] = true
	}
	peers := map[netip.Addr]bool{}
	for _, a := range v.UnicastPeers {
		switch {
		case !a.Is4():
			ps.add("vrrp.unicast_peers", "%v is not IPv4", a)
		case a.IsMulticast():
			ps.add("vrrp.unicast_peers", "%v %s, not a peer's own address; leave vrrp.unicast_peers empty to advertise by multicast to 224.0.0.18", a, notHost(a))
		case notHost(a) != "":
			ps.add("vrrp.unicast_peers", "%v %s, not a peer's own address", a, notHost(a))
		case vipSubnetEdge(v.VirtualIPs, a) != "":
			ps.add("vrrp.unicast_peers", "%v %s, not a peer's own address", a, vipSubnetEdge(v.VirtualIPs, a))
		case seen[a]:
			ps.add("vrrp.unicast_peers", "%v is one of the virtual IPs", a)
		case peers[a]:
			ps.add("vrrp.unicast_peers", "%v is listed twice", a)
		}
		peers[a] = true
	}
	if v.SourceIP.IsValid() {
		switch {
		case !v.SourceIP.Is4():
			ps.add("vrrp.source_ip", "%v is not IPv4", v.SourceIP)
		case notHost(v.SourceIP) != "":
			ps.add("vrrp.source_ip", "%v %s; set this node's own address on the interface, or leave vrrp.source_ip empty to use the interface's first IPv4 address",
				v.SourceIP, notHost(v.SourceIP))
		case vipSubnetEdge(v.VirtualIPs, v.SourceIP) != "":
			ps.add("vrrp.source_ip", "%v %s, not this node's own address", v.SourceIP, vipSubnetEdge(v.VirtualIPs, v.SourceIP))
		case seen[v.SourceIP]:
			// Adverts sourced from the VIP would change source as the VIP moves.
			ps.add("vrrp.source_ip", "%v is one of the virtual IPs", v.SourceIP)
		case peers[v.SourceIP]:
			ps.add("vrrp.source_ip", "%v is also listed in vrrp.unicast_peers", v.SourceIP)
		}
	}
	if v.Pair && len(v.UnicastPeers) > 1 {
		ps.add("vrrp.pair", "true with %d unicast peers: a pair has exactly one peer (with several backups the best must win, which is what Skew_Time is for: set pair to false)", len(v.UnicastPeers))
	}
	if v.GARP.Repeat < 0 || v.GARP.Repeat > 100 {
		ps.add("vrrp.garp.repeat", "%d is outside 0-100", v.GARP.Repeat)
	}
	if v.GARP.Delay < 0 {
		ps.add("vrrp.garp.delay", "%v is negative", v.GARP.Delay)
	}
	if v.GARP.Interval < 0 || v.GARP.Interval > time.Second {
		ps.add("vrrp.garp.interval", "%v is outside 0s-1s", v.GARP.Interval)
	}
}

// minVIPBits is the shortest VIP prefix accepted. The prefix becomes an
// on-link route while the node is master: keepalived users write the
// subnet's /24 or a /32, and a prefix shorter than /8 (/0 is a default route)
// can only be a mistake.
const minVIPBits = 8

// notHost says why a (IPv4) is not a unicast host address another node can
// send to or receive from, or returns "" when it is one.
func notHost(a netip.Addr) string {
	switch {
	case a.IsUnspecified():
		return "is the unspecified address"
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "is the limited broadcast address"
	case a.IsMulticast():
		return "is a multicast address (224.0.0.0/4)"
	case a.IsLoopback():
		return "is a loopback address (127.0.0.0/8)"
	case a.IsLinkLocalUnicast():
		return "is a link-local address (169.254.0.0/16)"
	case thisNetwork.Contains(a):
		return "is in 0.0.0.0/8, which is never a destination (RFC 1122)"
	case reserved.Contains(a):
		return "is in the reserved 240.0.0.0/4"
	}
	return ""
}

var (
	thisNetwork = netip.MustParsePrefix("0.0.0.0/8")
	reserved    = netip.MustParsePrefix("240.0.0.0/4")
)

// subnetEdge returns "network" or "broadcast" when a is that address of
// prefix p, and "" otherwise. Prefixes of /31 (RFC 3021) and /32 have
// neither.
func subnetEdge(p netip.Prefix, a netip.Addr) string {
	if !a.Is4() || p.Bits() > 30 || !p.Contains(a) {
		return ""
	}
	network := p.Masked().Addr()
	b := network.As4()
	binary.BigEndian.PutUint32(b[:], binary.BigEndian.Uint32(b[:])|(1<<(32-p.Bits())-1))
	switch a {
	case network:
		return "network"
	case netip.AddrFrom4(b):
		return "broadcast"
	}
	return ""
}

// vipSubnetEdge says when a is the network or broadcast address of a VIP's
// subnet, or returns "".
func vipSubnetEdge(vips []netip.Prefix, a netip.Addr) string {
	for _, p := range vips {
		if p.Bits() < minVIPBits {
			continue // reported on the VIP
		}
		if e := subnetEdge(p, a); e != "" {
			return fmt.Sprintf("is the %s address of %v (the subnet of virtual IP %v)", e, p.Masked(), p)
		}
	}
	return ""
}

// checkListen says what is wrong with a metrics address, or returns "" for
// a host:port proxypair can listen on (or "": no metrics). The host is an
// IP address, localhost, or empty for every address; a name would need a
// resolver at start-up, which may not answer yet at boot.
func checkListen(s string) string {
	if s == "" {
		return ""
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Sprintf("%q is not host:port (e.g. 127.0.0.1:9542, or :9542 for every address)", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Sprintf("%q: port %q is not a number from 1 to 65535", s, port)
	}
	if host == "" || host == "localhost" {
		return ""
	}
	if _, err := netip.ParseAddr(host); err != nil {
		return fmt.Sprintf("%q: host %q is not an IP address (or localhost, or empty for every address)", s, host)
	}
	return ""
}

func validateHealth(ps *problems, h *Health) {
	if !h.Enabled {
		return
	}
	if h.Interval < 10*time.Millisecond || h.Interval > time.Minute {
		ps.add("health.interval", "%v is outside 10ms-1m", h.Interval)
	}
	if h.Fall < 1 || h.Fall > 100 {
		ps.add("health.fall", "%d is outside 1-100", h.Fall)
	}
	if h.Rise < 1 || h.Rise > 100 {
		ps.add("health.rise", "%d is outside 1-100", h.Rise)
	}
	switch {
	case h.Weight == 0:
		// A master still resigns when HAProxy fails, but its unchanged
		// priority wins the next election and preempts the healthy peer.
		ps.add("health.weight", "0 keeps the priority while HAProxy is unhealthy: an unhealthy node would still win elections and preempt a healthy peer, so HAProxy failures would not decide who holds the VIP; use a negative weight (the default, -254, hands the VIP to any healthy peer), or health.enabled: false not to track HAProxy")
	case h.Weight < -254 || h.Weight > 0:
		ps.add("health.weight", "%d is outside -254..-1 (it lowers the priority while HAProxy is unhealthy)", h.Weight)
	}
	if h.HAProxy.Socket == "" {
		ps.add("health.haproxy.socket", "must name HAProxy's runtime API socket")
	} else if !filepath.IsAbs(h.HAProxy.Socket) {
		ps.add("health.haproxy.socket", "%q must be an absolute path", h.HAProxy.Socket)
	}
	if h.HAProxy.MinServersUp < 0 {
		ps.add("health.haproxy.min_servers_up", "%d is negative", h.HAProxy.MinServersUp)
	}
}

// checkWeight warns when HAProxy failing here would not move the VIP: the
// lowered priority must be below the peer's (equal would leave it to the
// address tie-break).
func checkWeight(ps *problems, c *Config) {
	peer := c.VRRP.PeerPriority
	if peer == 0 {
		return
	}
	if peer < 1 || peer > 254 {
		ps.add("vrrp.peer_priority", "%d is outside 1-254 (or 0: not known)", peer)
		return
	}
	if !c.Health.Enabled {
		return
	}
	lowered := min(max(c.VRRP.Priority+c.Health.Weight, 1), 254)
	if lowered >= peer {
		ps.warn("health.weight", "%d leaves this node at priority %d while HAProxy is unhealthy, not below the peer's %d: the VIP would not move; use a weight of at most %d",
			c.Health.Weight, lowered, peer, peer-1-c.VRRP.Priority)
	}
}

func validateCloud(ps *problems, c *Config) {
	cl := &c.Cloud
	switch cl.Provider {
	case "":
		return
	case "ncp":
	default:
		ps.add("cloud.provider", "%q is not a provider proxypair knows (\"\" or \"ncp\")", cl.Provider)
		return
	}
	oneOf(ps, "cloud.site", cl.Site, "public", "gov", "fin")
	if (cl.AccessKey == "") != (cl.SecretKey == "") {
		ps.add("cloud.secret_key", "cloud.access_key and cloud.secret_key must be set together (or both left empty to use the server role)")
	}
	for key, u := range map[string]string{"cloud.api_url": cl.APIURL, "cloud.metadata_url": cl.MetadataURL} {
		if u == "" {
			continue
		}
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			ps.add(key, "%q is not an http(s) URL", u)
		}
	}
	if len(c.VRRP.UnicastPeers) == 0 {
		ps.warn("vrrp.unicast_peers", "empty with cloud.provider ncp: multicast is not documented to work in an NCP VPC; list the peer's eth1 address")
	}
}

// Bounds of notify.timeout.
const (
	minHookTimeout = 100 * time.Millisecond
	maxHookTimeout = 10 * time.Minute
)

// validateNotify checks each hook: a program given by its absolute path
// (hooks run with no shell and the daemon's PATH is systemd's, so a bare
// name would depend on where it runs), arguments the kernel can pass. A
// program missing on this machine is only a warning: configs are checked
// on other machines too (the keepalived import, CI).
func validateNotify(ps *problems, n *Notify) {
	for _, k := range []struct {
		key   string
		hooks [][]string
	}{{"notify.master", n.Master}, {"notify.backup", n.Backup}, {"notify.fault", n.Fault}, {"notify.stop", n.Stop}} {
		for i, argv := range k.hooks {
			if len(argv) == 0 || argv[0] == "" {
				ps.add(k.key, "hook %d has no program: give its absolute path and arguments, e.g. [/usr/local/bin/vip-up.sh, eth1]", i+1)
				continue
			}
			if j := slices.IndexFunc(argv, func(a string) bool { return strings.ContainsRune(a, 0) }); j >= 0 {
				ps.add(k.key, "hook %d: word %d holds a NUL byte, which no program can be passed", i+1, j+1)
				continue
			}
			prog := argv[0]
			if !filepath.IsAbs(prog) {
				hint := ""
				if !strings.Contains(prog, "/") {
					if p, err := exec.LookPath(prog); err == nil && filepath.IsAbs(p) {
						hint = " (here: " + p + ")"
					}
				}
				ps.add(k.key, "hook %d: %q is not an absolute path; hooks run with no shell and no PATH search: write the program's full path%s", i+1, prog, hint)
				continue
			}
			switch fi, err := os.Stat(prog); {
			case errors.Is(err, fs.ErrNotExist):
				ps.warn(k.key, "hook %d: %s does not exist on this machine; the hook will fail until it does", i+1, prog)
			case err != nil:
				ps.warn(k.key, "hook %d: %v", i+1, err)
			case fi.IsDir() || fi.Mode().Perm()&0o111 == 0:
				ps.warn(k.key, "hook %d: %s is not an executable file (chmod +x it, or run it through its interpreter: [/bin/sh, %s])", i+1, prog, prog)
			}
		}
	}
	// Without hooks the timeout means nothing (and a Config built by hand
	// need not set it).
	hooks := len(n.Master) + len(n.Backup) + len(n.Fault) + len(n.Stop)
	if hooks > 0 && (n.Timeout < minHookTimeout || n.Timeout > maxHookTimeout) {
		ps.add("notify.timeout", "%v is outside 100ms-10m (each hook's limit)", n.Timeout)
	}
}

// maxNameLen bounds vrrp.name.
const maxNameLen = 64

// ValidName reports whether name can be vrrp.name: 1-64 ASCII letters,
// digits, '_', '-', '.' or ':', so it reads the same in a metrics label,
// a hook's environment and a log line.
func ValidName(name string) bool {
	if name == "" || len(name) > maxNameLen {
		return false
	}
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case r == '_', r == '-', r == '.', r == ':':
		default:
			return false
		}
	}
	return true
}
