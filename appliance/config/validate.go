package config

import (
	"fmt"
	"net/netip"
	"net/url"
	"path/filepath"
	"slices"
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
	oneOf(&ps, "log.level", c.Log.Level, "debug", "info", "warn", "error")
	oneOf(&ps, "log.format", c.Log.Format, "text", "json")
	validateHealth(&ps, &c.Health)
	checkWeight(&ps, c)
	validateCloud(&ps, c)
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
		case !a.IsGlobalUnicast():
			ps.add("vrrp.virtual_ips", "%v is not a unicast address", p)
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
		case seen[v.SourceIP]:
			// Adverts sourced from the VIP would change source as the VIP moves.
			ps.add("vrrp.source_ip", "%v is one of the virtual IPs", v.SourceIP)
		case peers[v.SourceIP]:
			ps.add("vrrp.source_ip", "%v is also listed in vrrp.unicast_peers", v.SourceIP)
		}
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
	if h.Weight < -254 || h.Weight > 0 {
		ps.add("health.weight", "%d is outside -254..0 (it lowers the priority while HAProxy is unhealthy)", h.Weight)
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
