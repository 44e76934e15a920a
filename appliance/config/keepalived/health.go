package keepalived

import (
	"fmt"
	"strconv"
	"strings"
)

// tracked is one line of a track_script or track_process block with what
// it refers to.
type tracked struct {
	ref    *Statement // "chk_haproxy [weight N]" in the instance
	def    *Statement // the vrrp_script or vrrp_track_process block
	weight int
	chk    check
}

func (t tracked) name() string {
	return t.def.Keyword() + " " + t.def.Arg(1)
}

// health turns the instance's tracked scripts and processes into
// proxypair's health settings and checks their weights.
func (tr *translator) health(inst *Statement, tracks []*Statement) {
	c := tr.res.Config
	var all []tracked
	for _, t := range tracks {
		for _, ref := range t.Block {
			if tk, ok := tr.resolve(t.Keyword(), ref); ok {
				all = append(all, tk)
			}
		}
	}

	raise := 0 // keepalived adds positive weights while the checks succeed
	for _, t := range all {
		if t.weight > 0 {
			raise += t.weight
		}
	}
	if raise > 0 {
		healthy := min(tr.prio+raise, 254)
		c.VRRP.Priority = healthy
		tr.comment("vrrp.priority", fmt.Sprintf(
			"keepalived adds the positive track_script weights (+%d) while the checks succeed: it advertised %d when healthy. proxypair keeps that priority while HAProxy is healthy, so elections against keepalived peers come out the same", raise, healthy))
	}
	if p := tr.opt.PeerPriority; p != 0 {
		c.VRRP.PeerPriority = min(p+raise, 254)
		if raise > 0 {
			tr.comment("vrrp.peer_priority", fmt.Sprintf("--peer-priority %d, plus the same +%d while its checks succeed (assuming it tracks the same scripts)", p, raise))
		} else {
			tr.comment("vrrp.peer_priority", fmt.Sprintf("--peer-priority %d: proxypair validate checks that health.weight hands it the VIP", p))
		}
	}

	var haproxy []tracked
	for _, t := range all {
		if t.weight != 0 {
			tr.checkGap(t)
		}
		if t.chk.noShell {
			tr.warn(t.def, "the script uses shell syntax but keepalived 2.x runs scripts without a shell (1.3 runs them with /bin/sh): on 2.x it fails every time. Either way the native check below replaces it")
		}
		if t.chk.haproxy {
			haproxy = append(haproxy, t)
			if len(t.chk.others) > 0 {
				tr.warn(t.def, "checks HAProxy, and also runs %s: proxypair replaces only the check; run the rest another way if it is still needed", quoteList(t.chk.others))
			}
			continue
		}
		fault := ""
		if t.weight == 0 {
			fault = " keepalived put the instance in FAULT (VIP released) when it failed."
		}
		tr.warn(t.ref, "%s is not an HAProxy check proxypair recognises (%s), and proxypair runs no scripts: it is dropped.%s If it does check HAProxy, the native check replaces it: set health.enabled: true. Otherwise make proxypair.service depend on what it checks (BindsTo= in a drop-in): when that stops, proxypair stops and the peer takes the VIP",
			t.name(), t.describe(), fault)
	}

	if len(haproxy) == 0 {
		c.Health.Enabled = false
		if len(all) == 0 {
			tr.warn(inst, "no vrrp_script or track_process watches HAProxy here: health tracking is off, as it was. proxypair can watch HAProxy natively (runtime API, process, backends) and hand the VIP over at once when it fails: set health.enabled: true once HAProxy has a runtime API socket for it at health.haproxy.socket (`stats socket /run/haproxy/proxypair.sock mode 660 group proxypair level user` in haproxy.cfg)")
			tr.res.health = append(tr.res.health, "keepalived tracked nothing: off, as it was (see the warning to switch it on)")
		} else {
			tr.res.health = append(tr.res.health, "keepalived tracked no HAProxy check proxypair recognises: off (see the warnings)")
		}
		return
	}
	c.Health.Enabled = true
	c.Health.Weight = -254
	for _, t := range haproxy {
		tr.res.health = append(tr.res.health, fmt.Sprintf("%s %s: %s, every %s s, weight %d",
			t.def.Pos, t.name(), t.chk.what, valueOf(t.def, "interval", "1"), t.weight))
		if t.chk.unit != "" {
			c.Health.HAProxy.SystemdUnit = t.chk.unit
			tr.comment("health.haproxy.systemd_unit", fmt.Sprintf("%s %s asks systemd about it", t.def.Pos, t.name()))
		}
	}
	tr.res.health = append(tr.res.health,
		"proxypair checks HAProxy natively instead: its runtime API answers, its process lives (it notices",
		"a crash at once), frontends are open and backends have servers up, every health.interval (200ms)")
	tr.comment("health.weight", "priority 1 while HAProxy is unhealthy: the peer always takes over, and this node",
		"resigns at once (priority-0 adverts) instead of making the peer wait Master_Down")
	tr.comment("health.haproxy.socket", "proxypair's own HAProxy runtime API socket: add `stats socket /run/haproxy/proxypair.sock",
		"mode 660 group proxypair level user` to haproxy.cfg (level user is all it needs). Without it this node",
		"stays at priority 1 and never holds the VIP")
	tr.note(haproxy[0].def, "proxypair asks HAProxy over its runtime API at health.haproxy.socket (/run/haproxy/proxypair.sock): add `stats socket /run/haproxy/proxypair.sock mode 660 group proxypair level user` to haproxy.cfg, or point the key at a socket you have — without it this node never holds the VIP")
}

// resolve finds what one track_script/track_process line refers to.
func (tr *translator) resolve(kind string, ref *Statement) (tracked, bool) {
	name := ref.Keyword()
	var def *Statement
	if kind == "track_process" {
		def = tr.procs[name]
	} else {
		def = tr.scripts[name]
	}
	if def == nil {
		what := "vrrp_script"
		if kind == "track_process" {
			what = "vrrp_track_process"
		}
		tr.warn(ref, "no %s %s is defined: keepalived ignores this line; so does the import", what, name)
		return tracked{}, false
	}
	t := tracked{ref: ref, def: def}
	// The definition's weight, then the override on the tracking line.
	if s := find(def.Block, "weight"); s != nil {
		t.weight = tr.weight(s, s.Arg(1), s.Arg(2))
	}
	if len(ref.Words) >= 3 && ref.Words[1] == "weight" {
		t.weight = tr.weight(ref, ref.Words[2], ref.Arg(3))
	} else if len(ref.Words) > 1 {
		tr.warn(ref, "keepalived ignores %q here (only \"weight N\")", strings.Join(ref.Words[1:], " "))
	}
	if kind == "track_process" {
		t.chk = tr.process(def)
	} else {
		t.chk = tr.script(def)
	}
	return t, true
}

func (tr *translator) weight(s *Statement, v, opt string) int {
	n, err := strconv.Atoi(v)
	if err != nil || n < -254 || n > 254 {
		tr.warn(s, "weight %q is not a number from -254 to 254: keepalived ignores it", v)
		return 0
	}
	if opt == "reverse" {
		tr.warn(s, "\"reverse\" weights are not translated: the native check lowers the priority while HAProxy is unhealthy")
	}
	return n
}

// find returns the last statement with keyword kw.
func find(stmts []*Statement, kw string) *Statement {
	var found *Statement
	for _, s := range stmts {
		if s.Keyword() == kw {
			found = s
		}
	}
	return found
}

func valueOf(def *Statement, kw, dflt string) string {
	if s := find(def.Block, kw); s != nil && s.Arg(1) != "" {
		return s.Arg(1)
	}
	return dflt
}

// script analyses a vrrp_script block.
func (tr *translator) script(def *Statement) check {
	s := find(def.Block, "script")
	if s == nil {
		tr.warn(def, "has no script: keepalived ignores it")
		return check{}
	}
	line, argv, extra := s.Command()
	own := tr.res.Config.VRRP.SourceIP
	chk := analyseScript(line, argv, tr.files, own)
	if len(extra) > 0 {
		joined := strings.Join(append([]string{line}, extra...), " ")
		if whole := analyseScript(joined, splitQuoted(joined), tr.files, own); strings.HasPrefix(extra[0], "-") || whole.haproxy && !chk.haproxy {
			tr.warn(s, "the command is not in quotes: keepalived runs only %q and ignores the rest of the line, so this check has been failing on keepalived. The import reads the whole line, as meant; on keepalived nodes, write script \"%s\"", line, joined)
			return whole
		}
		tr.warn(s, "keepalived ignores %q after the command (quote the whole command to pass arguments)", strings.Join(extra, " "))
	}
	return chk
}

// process analyses a vrrp_track_process block (keepalived 2.x).
func (tr *translator) process(def *Statement) check {
	s := find(def.Block, "process")
	if s == nil {
		tr.warn(def, "has no process: keepalived ignores it")
		return check{}
	}
	if isHAProxy(s.Arg(1)) {
		return check{haproxy: true, what: "HAProxy's process is running (process " + strings.Join(s.Words[1:], " ") + ")"}
	}
	return check{others: []string{"process " + strings.Join(s.Words[1:], " ")}}
}

func (t tracked) describe() string {
	if len(t.chk.others) > 0 {
		return quoteList(t.chk.others)
	}
	return "no command"
}

func quoteList(list []string) string {
	if len(list) > 3 {
		list = append(list[:3:3], "…")
	}
	return "`" + strings.Join(list, "`, `") + "`"
}

// checkGap is the classic keepalived mistake: a weight smaller than the gap
// between the two priorities never moves the VIP.
func (tr *translator) checkGap(t tracked) {
	w, p := t.weight, tr.prio
	name := t.name()
	if peer := tr.opt.PeerPriority; peer != 0 {
		master, backup, role := p, peer, "this node"
		if p < peer {
			master, backup, role = peer, p, "the peer (assuming it runs the same check)"
		}
		switch {
		case w < 0 && master+w >= backup:
			tr.warn(t.ref, "weight %d never moves the VIP: when %s fails on the MASTER, %s, keepalived lowers its priority from %d to %d, not below the BACKUP's %d, so the VIP stays on the failed node. keepalived nodes that keep this check need a weight of at most %d (or 0: FAULT, the fastest). The output's health.weight -254 always moves it",
				w, name, role, master, master+w, backup, backup-master-1)
		case w > 0 && master >= backup+w:
			tr.warn(t.ref, "weight %d never moves the VIP: when %s fails on the MASTER, %s, its priority falls from %d to %d, but the BACKUP advertises only %d+%d = %d, so the VIP stays on the failed node. keepalived nodes that keep this check need a weight of at least %d (or 0: FAULT, the fastest). The output's health.weight -254 always moves it",
				w, name, role, master+w, master, backup, w, backup+w, master-backup+1)
		}
		return
	}
	// The peer's priority is unknown: reason from the usual pairs.
	switch tr.state {
	case "MASTER":
		// The BACKUP must be above need for the VIP to move.
		need := p + w
		if w > 0 {
			need = p - w
		}
		usual := 100
		if p <= 100 {
			usual = p - 1
		}
		if usual <= need {
			tr.warn(t.ref, "weight %d moves the VIP only if the BACKUP's priority is above %d: with the usual BACKUP priority %d (as in MASTER %d / BACKUP %d tutorials) it never fails over when %s fails, and the VIP stays on the failed node. Give the peer's priority with --peer-priority N to check your pair. The output's health.weight -254 always moves it",
				w, need, usual, p, usual, name)
		} else {
			tr.note(t.ref, "weight %d moves the VIP only if the BACKUP's priority is above %d; give it with --peer-priority N to check", w, need)
		}
	case "":
		// No state: this node may be either.
		need, limit := p+w, p-w
		if w > 0 {
			need, limit = p-w, p+w
		}
		tr.note(t.ref, "weight %d moves the VIP only if, with this node MASTER, the BACKUP's priority is above %d, or, with this node BACKUP, the MASTER's is below %d (assuming it runs the same check); give the peer's priority with --peer-priority N to check",
			w, need, limit)
	default:
		// This node is the BACKUP: the MASTER must fall below it.
		limit := p - w
		if w > 0 {
			limit = p + w
		}
		if limit <= p+1 {
			// The MASTER would have to be at or below this node's own
			// priority: no pair fails over with this weight.
			tr.warn(t.ref, "weight %d hands the VIP to this node only if the MASTER's priority is below %d, i.e. not above this node's own %d: with this weight no MASTER ever hands over when its %s fails. keepalived nodes that keep this check need a larger weight (or 0: FAULT, the fastest). The output's health.weight -254 always moves it",
				w, limit, p, name)
			return
		}
		tr.note(t.ref, "weight %d hands the VIP to this node only if the MASTER's priority is below %d (assuming it runs the same check); give it with --peer-priority N to check",
			w, limit)
	}
}
