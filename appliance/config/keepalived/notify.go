package keepalived

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Hook is one command run on a state change: a program and its arguments.
type Hook struct {
	Argv    []string
	Pos     Pos
	Comment string // how it was made from keepalived's line
}

// Notify holds the hooks for each state, in the order keepalived ran them
// (the state's own script, then the generic notify): proxypair's ordered
// notify hooks (notify.master, notify.backup, notify.fault, notify.stop:
// argv lists), which the translation also sets in Config.Notify.
type Notify struct {
	Master, Backup, Fault, Stop []Hook
}

func (n *Notify) empty() bool {
	return len(n.Master)+len(n.Backup)+len(n.Fault)+len(n.Stop) == 0
}

// notify translates the instance's notify scripts, and those of a sync
// group it belongs to.
func (tr *translator) notify(inst *Statement, stmts []*Statement) {
	type source struct {
		s          *Statement
		kind, name string // what keepalived passes to a generic notify script
	}
	var all []source
	for _, s := range stmts {
		all = append(all, source{s, "INSTANCE", inst.Arg(1)})
	}
	for _, g := range tr.groups {
		if !groupHas(g, inst.Arg(1)) {
			continue
		}
		for _, s := range g.Block {
			switch s.Keyword() {
			case "notify_master", "notify_backup", "notify_fault", "notify_stop", "notify":
				all = append(all, source{s, "GROUP", g.Arg(1)})
			}
		}
	}
	// keepalived runs the generic notify script after the state's own
	// (keepalived.conf(5): "notify script is called AFTER the notify_*
	// script(s)"), wherever each is written.
	generic := func(src source) int {
		if src.s.Keyword() == "notify" {
			return 1
		}
		return 0
	}
	slices.SortStableFunc(all, func(a, b source) int { return generic(a) - generic(b) })
	seen := map[string]bool{}
	n := &tr.res.Notify
	for _, src := range all {
		s := src.s
		kw := s.Keyword()
		key := src.kind + " " + kw
		if seen[key] {
			tr.warn(s, "a second %s: keepalived ignores it (it runs the first); so does the import", kw)
			continue
		}
		seen[key] = true
		line, argv, extra := s.Command()
		if line == "" || len(argv) == 0 || argv[0] == "" {
			tr.warn(s, "has no command; keepalived ignores it")
			continue
		}
		if len(extra) > 0 {
			tr.warn(s, "keepalived reads %q as the user (and group) to run the script as — if these were meant as arguments, the command needed quotes, and keepalived never ran it. proxypair runs hooks as its own user; the import takes only %q",
				strings.Join(extra, " "), line)
		}
		why := fmt.Sprintf("%s %s", s.Pos, strings.Join(s.Words, " "))
		shell := shellSyntax.MatchString(line)
		switch {
		case shell:
			// keepalived 1.3 hands the line to /bin/sh (2.x does not).
			argv = []string{"/bin/sh", "-c", line}
			why += " (through /bin/sh, as keepalived 1.3 runs it)"
		case !strings.Contains(argv[0], "/"):
			// keepalived finds a bare name on its PATH; proxypair's hooks
			// need a full path, and env does the same search.
			tr.warn(s, "keepalived finds %q on its PATH; the hook runs it through /usr/bin/env, which searches the same way — better write its full path", argv[0])
			argv = append([]string{"/usr/bin/env"}, argv...)
		}
		hook := func(state string) Hook {
			if kw != "notify" {
				return Hook{Argv: argv, Pos: s.Pos, Comment: why}
			}
			// keepalived's generic notify script gets: INSTANCE|GROUP,
			// the name, the state and the priority.
			args := []string{src.kind, src.name, state, strconv.Itoa(tr.prio)}
			a := append(append([]string{}, argv...), args...)
			if shell {
				a = append([]string{"/bin/sh", "-c", line + ` "$@"`, "sh"}, args...)
			}
			return Hook{Argv: a, Pos: s.Pos, Comment: why}
		}
		switch kw {
		case "notify_master":
			n.Master = append(n.Master, hook("MASTER"))
		case "notify_backup":
			n.Backup = append(n.Backup, hook("BACKUP"))
		case "notify_fault":
			n.Fault = append(n.Fault, hook("FAULT"))
		case "notify_stop":
			n.Stop = append(n.Stop, hook("STOP"))
		case "notify":
			n.Master = append(n.Master, hook("MASTER"))
			n.Backup = append(n.Backup, hook("BACKUP"))
			n.Fault = append(n.Fault, hook("FAULT"))
			n.Stop = append(n.Stop, hook("STOP"))
		}
		if kw == "notify" {
			tr.note(s, "keepalived passes the current priority as the 4th argument; the hooks pass the configured %d (proxypair's hooks have the current one in PROXYPAIR_PRIORITY)", tr.prio)
		}
	}
	c := &tr.res.Config.Notify
	c.Master, c.Backup, c.Fault, c.Stop = argvs(n.Master), argvs(n.Backup), argvs(n.Fault), argvs(n.Stop)
}

// argvs is the config's form of hooks: nil when there are none, as a
// loaded config has it.
func argvs(hooks []Hook) [][]string {
	var out [][]string
	for _, h := range hooks {
		out = append(out, slices.Clone(h.Argv))
	}
	return out
}

func groupHas(g *Statement, name string) bool {
	for _, s := range g.Block {
		if s.Keyword() != "group" {
			continue
		}
		for _, m := range s.Block {
			for _, w := range m.Words {
				if w == name {
					return true
				}
			}
		}
	}
	return false
}
