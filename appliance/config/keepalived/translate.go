package keepalived

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/proxypair/proxypair/appliance/config"
)

// Warning is something in keepalived.conf the import could not carry over
// as it was, or that was wrong already in keepalived. A Note changes
// nothing for the pair (a setting with no meaning for proxypair).
type Warning struct {
	Pos     Pos
	Keyword string
	Message string
	Note    bool
}

func (w Warning) String() string {
	kind := "warning"
	if w.Note {
		kind = "note"
	}
	return kind + ": " + w.Pos.String() + ": " + w.Keyword + ": " + w.Message
}

// ErrNoInstance: the config has no vrrp_instance, so there is nothing to
// import.
var ErrNoInstance = errors.New("no vrrp_instance: nothing to import")

// Options say what to import.
type Options struct {
	ParseOptions
	// Instance is the vrrp_instance to translate; empty: the first (a
	// warning names the others).
	Instance string
	// PeerPriority is the other node's keepalived priority, if known (0:
	// not known). It lets the import check that a track_script's weight
	// really moves the VIP, and becomes vrrp.peer_priority.
	PeerPriority int
}

// Result is one translated vrrp_instance.
type Result struct {
	Instance string
	Pos      Pos // where the vrrp_instance starts
	// Config is the translation, every other key at proxypair's default:
	// config.Validate checks it like a loaded config.
	Config *config.Config
	// Notify holds keepalived's notify scripts as argv lists, for
	// proxypair's ordered notify hooks.
	Notify   Notify
	Warnings []Warning

	comments map[string][]string // key path → where its value came from
	health   []string            // comment lines for the health section
	files    []string
}

// Import reads the keepalived config at path and translates one
// vrrp_instance. The error is a *ParseError for text keepalived could not
// read either, ErrNoInstance (wrapped) when there is nothing to
// translate, or an unknown --instance.
func Import(path string, opt Options) (*Result, error) {
	t, err := Parse(path, opt.ParseOptions)
	if err != nil {
		return nil, err
	}
	return Translate(t, opt)
}

// Translate translates one vrrp_instance of a parsed config.
func Translate(t *Tree, opt Options) (*Result, error) {
	tr := &translator{
		opt:     opt,
		files:   opt.Files,
		scripts: map[string]*Statement{},
		procs:   map[string]*Statement{},
		res: &Result{
			Config:   config.Defaults(),
			comments: map[string][]string{},
			files:    t.Files,
		},
	}
	if tr.files == nil {
		tr.files = osFiles{}
	}
	if opt.PeerPriority < 0 || opt.PeerPriority > 255 {
		return nil, fmt.Errorf("keepalived: peer priority %d is outside 1-255", opt.PeerPriority)
	}
	tr.warnings = append(tr.warnings, t.Warnings...)
	tr.scan(t.Statements)
	if len(tr.instances) == 0 {
		name := "keepalived.conf"
		if len(t.Files) > 0 {
			name = t.Files[0]
		}
		return nil, fmt.Errorf("keepalived: %s: %w", name, ErrNoInstance)
	}
	inst, err := tr.pick()
	if err != nil {
		return nil, err
	}
	tr.instance(inst)
	tr.res.Warnings = sortWarnings(tr.warnings, t.Files)
	return tr.res, nil
}

// sortWarnings orders warnings as the files were read, then by line.
func sortWarnings(ws []Warning, files []string) []Warning {
	idx := map[string]int{}
	for i, f := range files {
		if _, ok := idx[f]; !ok {
			idx[f] = i
		}
	}
	sort.SliceStable(ws, func(i, j int) bool {
		a, b := ws[i].Pos, ws[j].Pos
		if idx[a.File] != idx[b.File] {
			return idx[a.File] < idx[b.File]
		}
		return a.Line < b.Line
	})
	return ws
}

type translator struct {
	opt      Options
	files    Files
	res      *Result
	warnings []Warning

	globals   []*Statement // the statements of every global_defs
	scripts   map[string]*Statement
	procs     map[string]*Statement
	instances []*Statement
	groups    []*Statement

	strict *Statement // vrrp_strict, or the instance's strict_mode
	// state is the instance's state as meant (upper-cased), for reasoning
	// about the pair: "MASTER", "BACKUP" or "".
	state string
	prio  int // keepalived's configured priority
}

func (tr *translator) warn(s *Statement, format string, args ...any) {
	tr.warnings = append(tr.warnings, Warning{Pos: s.Pos, Keyword: s.Keyword(), Message: fmt.Sprintf(format, args...)})
}

func (tr *translator) note(s *Statement, format string, args ...any) {
	tr.warnings = append(tr.warnings, Warning{Pos: s.Pos, Keyword: s.Keyword(), Message: fmt.Sprintf(format, args...), Note: true})
}

// from records where a key's value came from, for the YAML comment.
func (tr *translator) from(key string, s *Statement, extra ...string) {
	c := fmt.Sprintf("%s %s", s.Pos, strings.Join(s.Words, " "))
	tr.res.comments[key] = append(tr.res.comments[key], append([]string{c}, extra...)...)
}

func (tr *translator) comment(key string, lines ...string) {
	tr.res.comments[key] = append(tr.res.comments[key], lines...)
}

// scan sorts the top-level statements and warns about those that have no
// place in proxypair.
func (tr *translator) scan(stmts []*Statement) {
	for _, s := range stmts {
		switch kw := s.Keyword(); kw {
		case "global_defs":
			tr.globals = append(tr.globals, s.Block...)
		case "vrrp_instance":
			tr.instances = append(tr.instances, s)
		case "vrrp_script":
			tr.scripts[s.Arg(1)] = s
		case "vrrp_track_process":
			tr.procs[s.Arg(1)] = s
		case "vrrp_sync_group":
			tr.groups = append(tr.groups, s)
		case "virtual_server", "virtual_server_group", "real_server":
			tr.warn(s, "LVS load balancing is not proxypair's job (HAProxy balances); this block is not translated — keep running keepalived's checker (keepalived --check) or move the service into HAProxy")
		case "static_ipaddress", "static_routes", "static_rules":
			tr.warn(s, "static addresses, routes and rules are not proxypair's job: configure them with the system's network configuration (netplan)")
		case "garp_group", "linkbeat_interfaces", "track_group", "bfd_instance", "interface_up_down_delays", "vrrp_track_file", "track_file":
			tr.warn(s, "no proxypair equivalent; not translated")
		case "net_namespace", "net_namespace_ipvs", "instance", "use_pid_dir", "namespace_with_ipsets":
			tr.note(s, "process setup of keepalived; no meaning for proxypair")
		default:
			tr.warn(s, "unknown keyword; not translated")
		}
	}
}

// pick chooses the instance to translate.
func (tr *translator) pick() (*Statement, error) {
	var names []string
	for _, s := range tr.instances {
		names = append(names, s.Arg(1))
	}
	var inst *Statement
	if tr.opt.Instance == "" {
		inst = tr.instances[0]
	} else {
		for _, s := range tr.instances {
			if s.Arg(1) == tr.opt.Instance {
				inst = s
			}
		}
		if inst == nil {
			return nil, fmt.Errorf("keepalived: no vrrp_instance %q (the config has %s)", tr.opt.Instance, strings.Join(names, ", "))
		}
	}
	for _, s := range tr.instances {
		if s == inst {
			continue
		}
		tr.warn(s, "%s is not translated: proxypair runs one VRRP instance per process. Import it into a second config with --instance %s, and run a second proxypair with that config (with its own control.socket)", s.Arg(1), s.Arg(1))
	}
	if len(tr.instances) > 1 && tr.opt.Instance == "" {
		tr.warn(inst, "the config has %d instances (%s); translating the first, %s: pick another with --instance NAME", len(names), strings.Join(names, ", "), inst.Arg(1))
	}
	return inst, nil
}

// global returns the last global_defs statement with keyword kw.
func (tr *translator) global(kw string) *Statement {
	var found *Statement
	for _, s := range tr.globals {
		if s.Keyword() == kw {
			found = s
		}
	}
	return found
}

// instance translates one vrrp_instance into tr.res.
func (tr *translator) instance(inst *Statement) {
	res := tr.res
	c := res.Config
	res.Instance, res.Pos = inst.Arg(1), inst.Pos
	switch name := inst.Arg(1); {
	case name == "":
		tr.warn(inst, "has no name")
	case config.ValidName(name):
		// The metrics' iname label: a migrated pair's alerts keep matching.
		c.VRRP.Name = name
		tr.from("vrrp.name", inst)
	default:
		tr.warn(inst, "the name %q cannot be vrrp.name (letters, digits, '_', '-', '.', ':'): the metrics' iname label will be VI_<vrid> — alerts on iname=%q need changing", name, name)
	}
	var (
		version, advert, auth, vips, srcIP, vrid, iface *Statement
		preemptDelay, nopreempt                         *Statement
		tracks, notifies                                []*Statement
	)
	byKeyword := map[string]*Statement{}
	for _, s := range inst.Block {
		kw := s.Keyword()
		byKeyword[kw] = s
		switch kw {
		case "state":
			tr.state = tr.stateOf(s)
		case "interface":
			iface = s
		case "virtual_router_id":
			vrid = s
		case "priority":
			// handled below, with the weights
		case "advert_int":
			advert = s
		case "version":
			version = s
		case "nopreempt":
			nopreempt = s
		case "preempt":
			nopreempt = nil
		case "preempt_delay":
			preemptDelay = s
		case "authentication":
			auth = s
		case "virtual_ipaddress":
			vips = s
		case "virtual_ipaddress_excluded":
			tr.warn(s, "proxypair has no excluded addresses: these are not translated. Adding them to vrrp.virtual_ips would put them in the adverts, and the keepalived peer would drop every advert (address list mismatch). Add them on the master another way (e.g. a notify hook)")
		case "unicast_src_ip", "mcast_src_ip":
			srcIP = s
		case "unicast_peer":
			tr.peers(s)
		case "track_script", "track_process":
			tracks = append(tracks, s)
		case "notify_master", "notify_backup", "notify_fault", "notify_stop", "notify":
			notifies = append(notifies, s)
		case "garp_master_delay", "garp_master_repeat", "garp_master_refresh", "garp_master_refresh_repeat",
			"garp_lower_prio_delay", "garp_lower_prio_repeat", "garp_extra_if", "vmac_garp_intvl":
			// handled with the global_defs defaults below
		case "strict_mode":
			if v := s.Arg(1); v == "" || v == "on" || v == "true" || v == "yes" {
				tr.strict = s
			}
		case "track_interface":
			tr.warn(s, "proxypair watches only vrrp.interface's link (link down: it gives up the VIP); other interfaces are not tracked")
		case "dont_track_primary":
			tr.warn(s, "proxypair always treats vrrp.interface going down as a fault (it gives up the VIP)")
		case "use_vmac", "vmac_xmit_base", "use_vmac_addr", "use_ipvlan":
			tr.warn(s, "proxypair has no virtual MAC interface: it adds the VIP to vrrp.interface with the interface's own MAC and moves it with gratuitous ARPs. A keepalived peer with use_vmac still interoperates (the adverts are the same)")
		case "accept":
			tr.note(s, "proxypair's VIP accepts traffic, as keepalived's accept mode")
		case "no_accept":
			tr.warn(s, "proxypair adds no firewall rules: the VIP accepts traffic (keepalived's no_accept drops it)")
		case "skip_check_adv_addr":
			tr.warn(s, "proxypair always checks the address list of adverts: both nodes must list the same virtual IPs")
		case "smtp_alert":
			tr.warn(s, "proxypair sends no mail: alert on its Prometheus metrics or a notify hook")
		case "debug", "linkbeat_use_polling", "kernel_rx_buf_size", "promote_secondaries":
			tr.note(s, "no meaning for proxypair")
		case "lvs_sync_daemon_interface":
			tr.warn(s, "LVS is not proxypair's job; not translated")
		case "virtual_routes", "virtual_rules":
			tr.warn(s, "proxypair adds no routes or rules on becoming master: not translated (a notify hook can)")
		case "native_ipv6":
			tr.warn(s, "proxypair speaks VRRP for IPv4 only")
		case "old_unicast_checksum":
			tr.warn(s, "proxypair computes the v3 unicast checksum as RFC 5798 and current keepalived do; a peer using the old (pre-1.3.6) checksum drops its adverts: remove this on the peer too")
		case "down_timer_adverts", "lower_prio_no_advert", "higher_prio_send_advert", "unicast_ttl", "mcast_dst_ip",
			"track_src_ip", "check_unicast_src", "unicast_fault_no_peer", "vrf", "track_file", "track_bfd",
			"notify_deleted", "notify_master_rx_lower_pri", "notify_priority_changes":
			tr.warn(s, "no proxypair equivalent; not translated")
		default:
			tr.warn(s, "unknown keyword; not translated")
		}
	}
	if s := tr.global("vrrp_strict"); s != nil && tr.strict == nil {
		tr.strict = s
	}

	// Interface and VRID.
	if iface != nil {
		c.VRRP.Interface = iface.Arg(1)
		tr.from("vrrp.interface", iface)
		tr.extraWords(iface, 2)
	} else {
		c.VRRP.Interface = ""
		tr.warn(inst, "has no interface: keepalived needs one (or a unicast_src_ip) — set vrrp.interface")
		tr.comment("vrrp.interface", "missing in keepalived.conf: set it")
	}
	c.VRRP.VRID = 0
	if vrid != nil {
		if n, err := strconv.Atoi(vrid.Arg(1)); err == nil {
			c.VRRP.VRID = n
			tr.from("vrrp.virtual_router_id", vrid)
		} else {
			tr.warn(vrid, "%q is not a number: keepalived ignores it and refuses the instance", vrid.Arg(1))
		}
		tr.extraWords(vrid, 2)
	} else {
		tr.warn(inst, "has no virtual_router_id: keepalived refuses such an instance — set vrrp.virtual_router_id to the peer's")
		tr.comment("vrrp.virtual_router_id", "missing in keepalived.conf: set it to the peer's")
	}

	tr.priority(inst, byKeyword["priority"])
	tr.versionAndTimer(version, advert)

	// Preemption.
	c.VRRP.Preempt = nopreempt == nil
	if nopreempt != nil {
		tr.from("vrrp.preempt", nopreempt)
		if tr.state == "MASTER" {
			tr.warn(nopreempt, "keepalived ignores nopreempt with state MASTER (it starts as master and takes the VIP); proxypair honours it: this node will not take the VIP back from a running peer")
		}
	} else {
		tr.comment("vrrp.preempt", "keepalived's default (no nopreempt)")
	}
	if preemptDelay != nil {
		d, ok := parseSeconds(preemptDelay.Arg(1))
		switch {
		case !ok || d > 1000*time.Second:
			tr.warn(preemptDelay, "%q is not a delay of 0-1000 seconds: keepalived uses 0", preemptDelay.Arg(1))
		case nopreempt != nil:
			tr.warn(preemptDelay, "keepalived ignores preempt_delay with nopreempt (it resets it to 0); so does the output")
		case tr.strict != nil:
			tr.warn(preemptDelay, "keepalived resets preempt_delay to 0 in strict mode; the output keeps %v, as the keepalived.conf asks", d)
			c.VRRP.PreemptDelay = d
			tr.from("vrrp.preempt_delay", preemptDelay)
		default:
			if d%time.Second != 0 {
				tr.warn(preemptDelay, "keepalived before 2.0 (Ubuntu 18.04's 1.3.9) reads whole seconds: it waited %v; the output keeps %v, as the line asks", d.Truncate(time.Second), d)
			}
			c.VRRP.PreemptDelay = d
			tr.from("vrrp.preempt_delay", preemptDelay)
		}
	}

	tr.authentication(auth)
	tr.virtualIPs(inst, vips)
	if srcIP != nil {
		a, err := netip.ParseAddr(srcIP.Arg(1))
		if err != nil {
			tr.warn(srcIP, "%q is not an IP address; not translated", srcIP.Arg(1))
		} else {
			c.VRRP.SourceIP = a
			tr.from("vrrp.source_ip", srcIP)
		}
	}
	tr.garp(inst)
	tr.strictMode()
	tr.syncGroups(inst)
	tr.health(inst, tracks)
	tr.notify(inst, notifies)
	tr.globalDefs()
}

// extraWords warns about words after a keyword's arguments: keepalived
// reads one statement per line and ignores the rest.
func (tr *translator) extraWords(s *Statement, want int) {
	if len(s.Words) > want {
		tr.warn(s, "keepalived ignores %q after the value (one setting per line)", strings.Join(s.Words[want:], " "))
	}
}

func (tr *translator) stateOf(s *Statement) string {
	v := s.Arg(1)
	tr.comment("vrrp.priority", fmt.Sprintf("%s state %s: proxypair has no state; the higher priority is master (as in keepalived once both nodes run)", s.Pos, v))
	switch v {
	case "MASTER", "BACKUP":
		return v
	case "":
		tr.warn(s, "has no value; keepalived starts as BACKUP")
		return ""
	default:
		up := strings.ToUpper(v)
		if up == "MASTER" {
			tr.warn(s, "keepalived only knows MASTER and BACKUP in capitals: it logged \"unknown state '%s', defaulting to BACKUP\" and started this node as BACKUP. proxypair has no state (the higher priority is master), so the output is unaffected; fix the keepalived.conf of nodes that keep running keepalived", v)
			return up
		}
		if up == "BACKUP" {
			tr.note(s, "keepalived only knows BACKUP in capitals; it used BACKUP anyway. proxypair has no state")
			return up
		}
		tr.warn(s, "unknown state %q: keepalived starts as BACKUP. proxypair has no state (the higher priority is master)", v)
		return ""
	}
}

func (tr *translator) priority(inst, s *Statement) {
	c := tr.res.Config
	tr.prio = 100 // keepalived's default
	if s == nil {
		c.VRRP.Priority = 100
		tr.comment("vrrp.priority", "keepalived's default (no priority)")
		return
	}
	n, err := strconv.Atoi(s.Arg(1))
	switch {
	case err != nil || n < 1 || n > 255:
		tr.warn(s, "%q is not a priority of 1-255: keepalived uses its default, 100; so does the output", s.Arg(1))
	case n == 255:
		tr.warn(s, "255 makes keepalived the address owner (always master, no preemption delay); proxypair's highest priority is 254, which the output uses")
		tr.prio = 255
	default:
		tr.prio = n
	}
	tr.extraWords(s, 2)
	c.VRRP.Priority = min(tr.prio, 254)
	tr.from("vrrp.priority", s)
}

func (tr *translator) versionAndTimer(version, advert *Statement) {
	c := tr.res.Config
	// The instance's version, else global_defs' vrrp_version, else 2;
	// keepalived ignores a value other than 2 or 3.
	valid := func(s *Statement) *Statement {
		if s != nil && s.Arg(1) != "2" && s.Arg(1) != "3" {
			tr.warn(s, "%q is not 2 or 3: keepalived ignores it", s.Arg(1))
			return nil
		}
		return s
	}
	c.VRRP.Version = 2
	if s := cmp.Or(valid(version), valid(tr.global("vrrp_version"))); s != nil {
		c.VRRP.Version = int(s.Arg(1)[0] - '0')
		tr.from("vrrp.version", s)
	} else {
		tr.comment("vrrp.version", "keepalived's default (no version or vrrp_version)")
	}

	c.VRRP.AdvertInterval = time.Second
	if advert == nil {
		tr.comment("vrrp.advert_interval", "keepalived's default (no advert_int)")
		return
	}
	d, ok := parseSeconds(advert.Arg(1))
	if !ok || d < 10*time.Millisecond {
		tr.warn(advert, "%q is not a number of seconds keepalived accepts: it ignores it and uses 1; so does the output", advert.Arg(1))
		return
	}
	tr.from("vrrp.advert_interval", advert)
	tr.extraWords(advert, 2)
	if c.VRRP.Version == 2 {
		whole := (d + time.Second/2).Truncate(time.Second)
		switch {
		case d >= 256*time.Second:
			tr.warn(advert, "VRRPv2 carries at most 255 seconds: keepalived uses 255; so does the output")
			whole = 255 * time.Second
		case whole != d:
			whole = max(whole, time.Second)
			tr.warn(advert, "VRRPv2 counts whole seconds: keepalived 2.x rounds %s to %v, 1.3 sends %d in its adverts; the output uses %v. For sub-second adverts both nodes need version 3",
				advert.Arg(1), whole, int(d/time.Second), whole)
		}
		c.VRRP.AdvertInterval = whole
		return
	}
	cs := (d + 5*time.Millisecond).Truncate(10 * time.Millisecond)
	switch {
	case d >= 4096*10*time.Millisecond:
		cs = 4095 * 10 * time.Millisecond
		tr.warn(advert, "VRRPv3 carries at most 40.95 seconds: keepalived uses that; so does the output")
	case cs != d:
		tr.warn(advert, "VRRPv3 counts hundredths of a second: keepalived rounds %s to %v; so does the output", advert.Arg(1), cs)
	}
	c.VRRP.AdvertInterval = cs
}

// parseSeconds reads keepalived's decimal seconds ("1", "0.05") exactly,
// to the microsecond.
func parseSeconds(s string) (time.Duration, bool) {
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" && frac == "" || len(whole) > 9 || strings.Trim(whole, "0123456789") != "" || strings.Trim(frac, "0123456789") != "" {
		return 0, false
	}
	n, _ := strconv.Atoi("0" + whole)
	d := time.Duration(n) * time.Second
	if len(frac) > 6 {
		frac = frac[:6]
	}
	if frac != "" {
		f, _ := strconv.Atoi(frac + strings.Repeat("0", 6-len(frac)))
		d += time.Duration(f) * time.Microsecond
	}
	return d, true
}

func (tr *translator) authentication(auth *Statement) {
	c := tr.res.Config
	if auth == nil {
		return
	}
	var typ, pass *Statement
	for _, s := range auth.Block {
		switch s.Keyword() {
		case "auth_type":
			typ = s
			tr.extraWords(s, 2)
		case "auth_pass":
			pass = s
			tr.extraWords(s, 2)
		default:
			tr.warn(s, "unknown keyword in authentication; not translated")
		}
	}
	if !auth.HasBlock {
		tr.warn(auth, "has no { } block: keepalived uses no authentication")
		return
	}
	switch {
	case typ == nil:
		if pass != nil {
			tr.warn(pass, "without auth_type keepalived uses no authentication; neither does the output")
		}
		return
	case typ.Arg(1) == "AH":
		tr.warn(typ, "proxypair does not speak AH authentication (IP protocol 51, a keepalived extension): the output has none. Switch the keepalived peer to no authentication (or to PASS, in both configs) before pairing it with proxypair, or it drops every advert")
		return
	case typ.Arg(1) != "PASS":
		tr.warn(typ, "unknown type %q: keepalived uses no authentication; neither does the output", typ.Arg(1))
		return
	case c.VRRP.Version == 3:
		tr.warn(typ, "VRRPv3 has no authentication: keepalived ignores it; so does the output")
		return
	case pass == nil || pass.Arg(1) == "":
		tr.warn(typ, "PASS without an auth_pass: keepalived uses no authentication; neither does the output")
		return
	}
	pw := pass.Arg(1)
	if len(pw) > 8 {
		tr.warn(pass, "%q is %d bytes; keepalived truncates it to 8 and really uses %q (the bytes in its adverts). The output has those 8: keep them on any keepalived peer",
			pw, len(pw), pw[:8])
		pw = pw[:8]
	}
	for i := 0; i < len(pw); i++ {
		if pw[i] < 0x20 || pw[i] > 0x7e {
			tr.warn(pass, "holds bytes that are not printable ASCII; YAML may not carry them exactly: check vrrp.auth_pass")
			break
		}
	}
	if tr.strict != nil {
		tr.warn(typ, "with vrrp_strict, keepalived 2.x ignores authentication (its adverts carry none); 1.3 uses it. The output keeps auth_pass, as 1.3 does: if your keepalived is 2.x, delete vrrp.auth_pass")
	}
	c.VRRP.AuthPass = pw
	tr.from("vrrp.auth_pass", pass)
}

func (tr *translator) virtualIPs(inst, vips *Statement) {
	c := tr.res.Config
	c.VRRP.VirtualIPs = nil
	if vips == nil {
		tr.warn(inst, "has no virtual_ipaddress: there is no VIP to move; add vrrp.virtual_ips")
		return
	}
	tr.comment("vrrp.virtual_ips", fmt.Sprintf("%s virtual_ipaddress", vips.Pos))
	for _, s := range vips.Block {
		p, err := parseVIP(s.Keyword())
		if err != nil {
			tr.warn(s, "%v; not translated. The keepalived peer's adverts list it: if it is really a VIP, add it by hand, or the peers drop each other's adverts", err)
			continue
		}
		if !p.Addr().Is4() {
			tr.warn(s, "proxypair speaks VRRP for IPv4 only: %v is not translated (keepalived cannot mix it with IPv4 VIPs in one instance either)", p)
			continue
		}
		dropped := tr.vipOptions(s)
		c.VRRP.VirtualIPs = append(c.VRRP.VirtualIPs, p)
		line := fmt.Sprintf("%s %s", s.Pos, strings.Join(s.Words, " "))
		if dropped != "" {
			line += " (" + dropped + ": see the warning)"
		}
		tr.res.comments["vrrp.virtual_ips/"+p.String()] = []string{line}
	}
}

// parseVIP reads keepalived's <IPADDR>[/<MASK>]; a bare address is /32.
func parseVIP(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not an IP address", s)
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an address/prefix", s)
	}
	return p, nil
}

// vipOptions warns about a VIP's options that do not translate and
// returns them, for the comment.
func (tr *translator) vipOptions(s *Statement) string {
	iface := tr.res.Config.VRRP.Interface
	var dropped []string
	w := s.Words[1:]
	for i := 0; i < len(w); i++ {
		opt := w[i]
		val := ""
		switch opt {
		case "dev", "brd", "broadcast", "scope", "label", "peer", "preferred_lft", "track_group":
			if i+1 < len(w) {
				val = w[i+1]
				i++
			}
		}
		switch opt {
		case "dev":
			if val != iface {
				tr.warn(s, "dev %s: proxypair adds every VIP to vrrp.interface (%s); this one moves there. The address stays in the adverts, so the peers still agree", val, iface)
				dropped = append(dropped, "dev "+val)
			}
		case "brd", "broadcast":
			tr.warn(s, "%s %s: proxypair adds the VIP without a broadcast address (only programs sending to the subnet's broadcast from this address notice)", opt, val)
			dropped = append(dropped, opt+" "+val)
		case "label":
			tr.warn(s, "label %s: proxypair adds the VIP without a label: `ip addr` shows it on %s, but tools that look for the alias %s (ifconfig, scripts) do not", val, iface, val)
			dropped = append(dropped, "label "+val)
		case "scope":
			if val != "global" {
				tr.warn(s, "scope %s: proxypair adds VIPs with global scope", val)
				dropped = append(dropped, "scope "+val)
			}
		default:
			tr.warn(s, "option %s: not translated (proxypair adds the plain address)", strings.TrimSpace(opt+" "+val))
			dropped = append(dropped, strings.TrimSpace(opt+" "+val))
		}
	}
	return strings.Join(dropped, ", ")
}

func (tr *translator) peers(s *Statement) {
	c := tr.res.Config
	tr.comment("vrrp.unicast_peers", fmt.Sprintf("%s unicast_peer", s.Pos))
	for _, p := range s.Block {
		a, err := netip.ParseAddr(p.Keyword())
		if err != nil {
			tr.warn(p, "%q is not an IP address; not translated", p.Keyword())
			continue
		}
		if len(p.Words) > 1 {
			tr.warn(p, "%q: proxypair checks TTL 255 on every advert; not translated", strings.Join(p.Words[1:], " "))
		}
		c.VRRP.UnicastPeers = append(c.VRRP.UnicastPeers, a)
		tr.res.comments["vrrp.unicast_peers/"+a.String()] = []string{fmt.Sprintf("%s %s", p.Pos, strings.Join(p.Words, " "))}
	}
}

// garp maps the gratuitous-ARP settings of the instance, or else of
// global_defs.
func (tr *translator) garp(inst *Statement) {
	g := &tr.res.Config.VRRP.GARP
	find := func(instKw, globalKw string) *Statement {
		var found *Statement
		for _, s := range inst.Block {
			if s.Keyword() == instKw {
				found = s
			}
		}
		if found == nil && globalKw != "" {
			found = tr.global(globalKw)
		}
		return found
	}
	if s := find("garp_master_delay", "vrrp_garp_master_delay"); s != nil {
		if n, err := strconv.Atoi(s.Arg(1)); err == nil && n >= 0 {
			g.Delay = time.Duration(n) * time.Second
			tr.from("vrrp.garp.delay", s)
		} else {
			tr.warn(s, "%q is not a whole number of seconds: keepalived ignores it", s.Arg(1))
		}
	}
	if s := find("garp_master_repeat", "vrrp_garp_master_repeat"); s != nil {
		if n, err := strconv.Atoi(s.Arg(1)); err == nil && n >= 0 {
			g.Repeat = max(n, 1) // keepalived makes 0 into 1
			tr.from("vrrp.garp.repeat", s)
		} else {
			tr.warn(s, "%q is not a whole number: keepalived ignores it", s.Arg(1))
		}
	}
	if s := find("", "vrrp_garp_interval"); s != nil {
		if d, ok := parseSeconds(s.Arg(1)); ok {
			g.Interval = d
			tr.from("vrrp.garp.interval", s)
		} else {
			tr.warn(s, "%q is not a number of seconds: keepalived ignores it", s.Arg(1))
		}
	}
	if s := find("garp_master_refresh", "vrrp_garp_master_refresh"); s != nil && s.Arg(1) != "0" {
		tr.warn(s, "proxypair sends gratuitous ARPs when it becomes master (and vrrp.garp.delay later), not every %s seconds while master; not translated", s.Arg(1))
	}
	for _, kw := range [][2]string{
		{"garp_lower_prio_delay", "vrrp_garp_lower_prio_delay"},
		{"garp_lower_prio_repeat", "vrrp_garp_lower_prio_repeat"},
		{"garp_extra_if", ""},
		{"vmac_garp_intvl", ""},
	} {
		if s := find(kw[0], kw[1]); s != nil {
			tr.warn(s, "no proxypair equivalent (a master that hears a lower priority answers with an advert and gratuitous ARPs at once); not translated")
		}
	}
}

func (tr *translator) strictMode() {
	s := tr.strict
	if s == nil {
		return
	}
	msg := "proxypair has no strict mode. keepalived in strict mode firewalls the VIP off (the usual reason a VIP does not answer ping or HTTP), refuses unicast peers, ignores authentication (2.x) and preempt_delay; proxypair's VIP accepts traffic, and the output keeps the settings as written"
	if len(tr.res.Config.VRRP.UnicastPeers) > 0 {
		msg += ". With unicast_peer, keepalived refused to run this instance at all"
	}
	tr.warn(s, "%s", msg)
}

func (tr *translator) syncGroups(inst *Statement) {
	for _, g := range tr.groups {
		member := groupHas(g, inst.Arg(1))
		if !member {
			tr.warn(g, "sync group %s does not contain %s; not translated", g.Arg(1), inst.Arg(1))
			continue
		}
		tr.warn(g, "proxypair has no sync groups: it runs one instance per process, and each fails over on its own (two proxypair instances watching the same HAProxy still move together). The group's notify scripts are translated with the instance's")
	}
}

// globalDefs warns about global_defs settings that do not carry over.
func (tr *translator) globalDefs() {
	mailWarned := false
	for _, s := range tr.globals {
		switch kw := s.Keyword(); kw {
		case "vrrp_version", "vrrp_strict", "vrrp_garp_master_delay", "vrrp_garp_master_repeat", "vrrp_garp_interval",
			"vrrp_garp_master_refresh", "vrrp_garp_lower_prio_delay", "vrrp_garp_lower_prio_repeat":
			// translated or warned about with the instance
		case "vrrp_garp_master_refresh_repeat", "vrrp_gna_interval", "vrrp_min_garp":
			tr.note(s, "no proxypair equivalent; ignored")
		case "router_id", "script_user", "enable_script_security", "max_auto_priority", "vrrp_no_swap", "checker_no_swap",
			"bfd_no_swap", "vrrp_priority", "checker_priority", "bfd_priority", "vrrp_rt_priority", "checker_rt_priority",
			"bfd_rt_priority", "vrrp_rlimit_rttime", "checker_rlimit_rttime", "bfd_rlimit_rttime", "vrrp_cpu_affinity",
			"checker_cpu_affinity", "bfd_cpu_affinity", "dynamic_interfaces", "lvs_id", "lvs_timeouts", "lvs_flush",
			"lvs_flush_onstop", "lvs_sync_daemon", "lvs_timeout", "lvs_netlink_cmd_rcv_bufs", "lvs_netlink_monitor_rcv_bufs",
			"enable_traps", "enable_snmp_vrrp", "enable_snmp_keepalived", "enable_snmp_checker", "enable_snmp_rfc",
			"enable_snmp_rfcv2", "enable_snmp_rfcv3", "snmp_socket", "enable_dbus", "enable_dbus_instance",
			"vrrp_netlink_cmd_rcv_bufs", "vrrp_netlink_cmd_rcv_bufs_force", "vrrp_netlink_monitor_rcv_bufs",
			"vrrp_netlink_monitor_rcv_bufs_force", "vrrp_iptables", "vrrp_ipsets", "nftables", "nftables_priority",
			"nftables_ifindex", "nftables_counters", "vrrp_check_unicast_src",
			"default_interface", "instance", "net_namespace", "local_name", "process_names", "process_name",
			"vrrp_process_name", "checker_process_name", "bfd_process_name", "umask", "reload_check_config",
			"config_save_dir", "random_seed", "child_wait_time", "checker_log_all_failures", "vrrp_dont_use_vmac":
			tr.note(s, "keepalived process or subsystem setting; no meaning for proxypair")
		case "notification_email", "notification_email_from", "smtp_server", "smtp_connect_timeout", "smtp_helo_name",
			"smtp_alert", "smtp_alert_vrrp", "smtp_alert_checker", "email_faults", "no_email_faults":
			if !mailWarned {
				tr.warn(s, "proxypair sends no mail: alert on its Prometheus metrics (keepalived_* names included) or a notify hook. The mail settings are not translated")
				mailWarned = true
			}
		case "vrrp_skip_check_adv_addr":
			tr.warn(s, "proxypair always checks the address list of adverts: both nodes must list the same virtual IPs")
		case "vrrp_mcast_group4":
			if s.Arg(1) != "224.0.0.18" {
				tr.warn(s, "proxypair sends adverts to 224.0.0.18 (or unicast peers): a keepalived peer using %s does not hear it. Use unicast_peer on both, or the standard group", s.Arg(1))
			}
		case "vrrp_mcast_group6":
			tr.note(s, "proxypair speaks VRRP for IPv4 only")
		case "vrrp_startup_delay":
			tr.warn(s, "proxypair starts VRRP at once; not translated")
		case "vrrp_higher_prio_send_advert", "vrrp_lower_prio_no_advert":
			tr.warn(s, "no proxypair equivalent (a master that hears a lower priority answers with an advert at once); not translated")
		case "notify_fifo", "notify_fifo_script", "vrrp_notify_fifo", "vrrp_notify_fifo_script", "lvs_notify_fifo",
			"lvs_notify_fifo_script", "vrrp_notify_priority_changes":
			tr.warn(s, "proxypair has no notify FIFO: use its notify hooks, or its log and status; not translated")
		case "script_timeout":
			tr.note(s, "proxypair kills a hook that runs too long on its own timeout")
		default:
			tr.warn(s, "unknown global_defs setting; not translated")
		}
	}
}
