package healthcheck

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Check names. Backend and frontend checks are named "backend <name>" and
// "frontend <name>".
const (
	CheckSocket  = "socket"  // the runtime API answered show info and show stat
	CheckProcess = "process" // HAProxy's process (PID from show info) is alive
	CheckSystemd = "systemd" // the configured systemd unit is active
)

// selection is the set of backends one check covers and why.
type selection struct {
	Backends []string
	Explicit bool   // from Config.HAProxy.Backends: missing or empty backends fail
	Note     string // how the set was chosen when it was not configured
}

// statIndex is one show stat answer grouped by proxy. It is built in one pass
// over the rows, so that a check costs time linear in the rows: looking
// every checked backend up in the rows instead costs backends × rows, which
// at 2,500 backends of 4 servers is longer than the check interval.
type statIndex struct {
	backends  map[string]*backendTally // by proxy name; every proxy with a BACKEND or server row
	frontends []statRow                // FRONTEND rows, in answer order
}

// backendTally is what show stat says about one backend's servers.
type backendTally struct {
	found bool // a BACKEND row: the proxy is a backend (or listen section)
	up    int  // servers that count as UP, see ClassifyServer
	total int
	notUp []string // "name STATUS" of the first maxListedServers servers not UP
	more  int      // servers not UP beyond those listed
}

// maxListedServers is how many servers that are not UP a backend's detail names.
const maxListedServers = 4

func indexStat(rows []statRow) statIndex {
	idx := statIndex{backends: make(map[string]*backendTally)}
	tally := func(proxy string) *backendTally {
		b := idx.backends[proxy]
		if b == nil {
			b = &backendTally{}
			idx.backends[proxy] = b
		}
		return b
	}
	for _, r := range rows {
		switch r.Type {
		case rowFrontend:
			idx.frontends = append(idx.frontends, r)
		case rowBackend:
			tally(r.Proxy).found = true
		case rowServer:
			b := tally(r.Proxy)
			b.total++
			switch {
			case ClassifyServer(r.Status) == ServerUp:
				b.up++
			case len(b.notUp) < maxListedServers:
				b.notUp = append(b.notUp, r.Name+" "+r.Status)
			default:
				b.more++
			}
		}
	}
	return idx
}

// selectBackends decides which backends to check. Explicit names win. Else
// the backends the running configuration uses (usage), limited to those the
// runtime knows and that have servers (a backend without servers, e.g. one
// that only redirects, cannot have servers UP). When the configuration could
// not be read (usage nil), every backend with servers is checked: we would
// rather check too much than miss the one backend that serves the VIP.
func selectBackends(explicit []string, usage *backendUsage, idx statIndex) selection {
	if len(explicit) > 0 {
		return selection{Backends: slices.Clone(explicit), Explicit: true}
	}
	hasServers := func(name string) bool {
		b := idx.backends[name]
		return b != nil && b.total > 0
	}
	if usage == nil {
		var all []string
		for name := range idx.backends {
			if hasServers(name) {
				all = append(all, name)
			}
		}
		slices.Sort(all)
		return selection{Backends: all, Note: "every backend with servers (configuration unknown)"}
	}
	var sel selection
	for _, b := range usage.Used {
		if hasServers(b) {
			sel.Backends = append(sel.Backends, b)
		}
	}
	sel.Note = "backends used by frontends"
	return sel
}

// backendCheck says whether backend name has at least need servers UP.
func backendCheck(name string, idx statIndex, need int, at time.Time) Check {
	c := Check{Name: "backend " + name, At: at}
	b := idx.backends[name]
	if b == nil || !b.found {
		c.Detail = fmt.Sprintf("backend %s: not found", name)
		return c
	}
	c.OK = b.up >= need
	c.Detail = fmt.Sprintf("backend %s: %d/%d servers UP", name, b.up, b.total)
	if !c.OK {
		c.Detail += fmt.Sprintf(" (need %d)", need)
		if len(b.notUp) > 0 {
			c.Detail += ": " + strings.Join(b.notUp, ", ")
			if b.more > 0 {
				c.Detail += fmt.Sprintf(" and %d more", b.more)
			}
		}
	}
	return c
}

// frontendChecks reports one check per frontend (and listen section) except
// those disabled in the configuration, which are STOP by design.
func frontendChecks(idx statIndex, disabled []string, at time.Time) []Check {
	skip := make(map[string]bool, len(disabled))
	for _, d := range disabled {
		skip[d] = true
	}
	out := make([]Check, 0, len(idx.frontends))
	for _, r := range idx.frontends {
		if skip[r.Proxy] {
			continue
		}
		out = append(out, Check{
			Name:   "frontend " + r.Proxy,
			OK:     FrontendOK(r.Status),
			Detail: fmt.Sprintf("frontend %s: %s", r.Proxy, r.Status),
			At:     at,
		})
	}
	slices.SortFunc(out, func(a, b Check) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// MaxReasonLen bounds Event.Reason in bytes. The daemon puts the reason in
// systemd's STATUS= (whose whole notify message must fit in 4 KiB) and in
// log lines, and thousands of failing backends must not make either huge.
const MaxReasonLen = 400

// maxFailureLen bounds reasonOf, leaving room in MaxReasonLen for the longest
// prefix the tracker puts around it ("recovering (last failure: ...)").
const maxFailureLen = MaxReasonLen - len(reasonRecoveringPrefix+")")

const reasonRecoveringPrefix = "recovering (last failure: "

// reasonOf joins the details of the failed checks with "; ", in check order,
// as far as maxFailureLen allows, and counts the rest, e.g. "backend be1:
// 0/4 servers UP (need 1): ...; backend be2: ... (and 1234 more)". A single
// detail too long to fit is cut.
func reasonOf(checks []Check) string {
	var bad []string
	for _, c := range checks {
		if !c.OK {
			bad = append(bad, c.Detail)
		}
	}
	return joinBounded(bad, "; ", maxFailureLen)
}

// joinBounded joins items with sep into at most limit bytes: whole items
// while they fit, then " (and N more)". If not even the first item fits, it
// is cut at a UTF-8 boundary and marked with "...".
func joinBounded(items []string, sep string, limit int) string {
	more := func(n int) string { return fmt.Sprintf(" (and %d more)", n) }
	var b strings.Builder
	for i, item := range items {
		rest := len(items) - i - 1
		need := len(item)
		if i > 0 {
			need += len(sep)
		}
		if rest > 0 {
			need += len(more(rest)) // room to say what did not fit after this one
		}
		if b.Len()+need > limit {
			shown := i
			if i == 0 {
				room := limit - len("...")
				if rest > 0 {
					room -= len(more(rest))
				}
				b.WriteString(cutUTF8(item, max(room, 0)) + "...")
				shown = 1
			}
			if n := len(items) - shown; n > 0 {
				b.WriteString(more(n))
			}
			return b.String()
		}
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(item)
	}
	return b.String()
}

// cutUTF8 returns the longest prefix of s of at most n bytes that does not
// split a UTF-8 sequence.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func allOK(checks []Check) bool {
	for _, c := range checks {
		if !c.OK {
			return false
		}
	}
	return len(checks) > 0
}
