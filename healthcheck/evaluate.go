package healthcheck

import (
	"fmt"
	"slices"
	"strings"
	"time"
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

// selectBackends decides which backends to check. Explicit names win. Else
// the backends the running configuration uses (usage), limited to those the
// runtime knows and that have servers (a backend without servers, e.g. one
// that only redirects, cannot have servers UP). When the configuration could
// not be read (usage nil), every backend with servers is checked: we would
// rather check too much than miss the one backend that serves the VIP.
func selectBackends(explicit []string, usage *backendUsage, rows []statRow) selection {
	if len(explicit) > 0 {
		return selection{Backends: slices.Clone(explicit), Explicit: true}
	}
	withServers := map[string]bool{}
	for _, r := range rows {
		if r.Type == rowServer {
			withServers[r.Proxy] = true
		}
	}
	if usage == nil {
		return selection{Backends: sortedKeys(withServers), Note: "every backend with servers (configuration unknown)"}
	}
	var sel selection
	for _, b := range usage.Used {
		if withServers[b] {
			sel.Backends = append(sel.Backends, b)
		}
	}
	sel.Note = "backends used by frontends"
	return sel
}

// backendCheck counts the servers UP in backend name.
func backendCheck(name string, rows []statRow, need int, at time.Time) Check {
	c := Check{Name: "backend " + name, At: at}
	found := false
	up, total := 0, 0
	var notUp []string
	for _, r := range rows {
		if r.Proxy != name {
			continue
		}
		switch r.Type {
		case rowBackend:
			found = true
		case rowServer:
			total++
			if ClassifyServer(r.Status) == ServerUp {
				up++
			} else {
				notUp = append(notUp, r.Name+" "+r.Status)
			}
		}
	}
	if !found {
		c.Detail = fmt.Sprintf("backend %s: not found", name)
		return c
	}
	c.OK = up >= need
	c.Detail = fmt.Sprintf("backend %s: %d/%d servers UP", name, up, total)
	if !c.OK {
		c.Detail += fmt.Sprintf(" (need %d)", need)
		if len(notUp) > 0 {
			c.Detail += ": " + joinLimit(notUp, 4)
		}
	}
	return c
}

// frontendChecks reports one check per frontend (and listen section) except
// those disabled in the configuration, which are STOP by design.
func frontendChecks(rows []statRow, disabled []string, at time.Time) []Check {
	var out []Check
	for _, r := range rows {
		if r.Type != rowFrontend || slices.Contains(disabled, r.Proxy) {
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

// reasonOf joins the details of the failed checks.
func reasonOf(checks []Check) string {
	var bad []string
	for _, c := range checks {
		if !c.OK {
			bad = append(bad, c.Detail)
		}
	}
	return strings.Join(bad, "; ")
}

func allOK(checks []Check) bool {
	for _, c := range checks {
		if !c.OK {
			return false
		}
	}
	return len(checks) > 0
}

func joinLimit(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:n], ", ") + fmt.Sprintf(" and %d more", len(items)-n)
}
