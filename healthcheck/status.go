package healthcheck

import "strings"

// ServerStatus is the class of a server's "status" column in `show stat`.
type ServerStatus int

// Server status classes. Only ServerUp counts towards MinServersUp.
const (
	ServerUnknown ServerStatus = iota // a status string this package does not know
	ServerUp                          // UP, UP x/y (failing checks, still up), no check
	ServerDown                        // DOWN, DOWN x/y (passing checks, not up yet), DOWN (agent)
	ServerNoLB                        // NOLB, NOLB x/y: up but takes no new traffic (weight 0 / 404)
	ServerDrain                       // DRAIN, DRAIN x/y, DRAIN (agent): admin drain, no new traffic
	ServerMaint                       // MAINT, MAINT (via be/s), MAINT (resolution)
)

var serverStatusNames = [...]string{"unknown", "up", "down", "nolb", "drain", "maint"}

func (s ServerStatus) String() string {
	if s < 0 || int(s) >= len(serverStatusNames) {
		return "invalid"
	}
	return serverStatusNames[s]
}

// ClassifyServer maps a server status string from `show stat` (HAProxy 2.x)
// to its class.
//
// "UP x/y" is a server that failed x of the y checks that take it down: it is
// still in the load-balancing pool, so it counts as UP. "DOWN x/y" is a server
// that passed x of the y checks it needs to come up: it gets no traffic yet, so
// it does not. "no check" is a server without health checks, which HAProxy
// always sends traffic to, so it counts as UP. NOLB and DRAIN servers only
// finish existing sessions and MAINT servers get nothing, so none of them count.
// Unknown strings do not count either: we would rather fail over than trust a
// status we cannot read.
func ClassifyServer(status string) ServerStatus {
	s := strings.TrimSpace(status)
	word, rest, _ := strings.Cut(s, " ")
	switch word {
	case "UP":
		if rest == "" || isProgress(rest) {
			return ServerUp
		}
	case "DOWN":
		if rest == "" || rest == "(agent)" || isProgress(rest) {
			return ServerDown
		}
	case "NOLB":
		if rest == "" || isProgress(rest) {
			return ServerNoLB
		}
	case "DRAIN":
		if rest == "" || rest == "(agent)" || isProgress(rest) {
			return ServerDrain
		}
	case "MAINT":
		if rest == "" || (strings.HasPrefix(rest, "(") && strings.HasSuffix(rest, ")")) {
			return ServerMaint
		}
	case "no":
		if rest == "check" {
			return ServerUp
		}
	}
	return ServerUnknown
}

// isProgress reports whether s has the form "x/y" with decimal x and y.
func isProgress(s string) bool {
	a, b, ok := strings.Cut(s, "/")
	return ok && isDigits(a) && isDigits(b)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// FrontendOK reports whether a frontend status string from `show stat` means
// the frontend accepts connections. OPEN does; FULL (maxconn reached) does
// too, because a saturated HAProxy is busy, not broken, and moving the VIP
// would only move the overload. STOP (disabled, stopped) and PAUSED
// (`disable frontend`) do not, nor does anything unknown.
func FrontendOK(status string) bool {
	switch strings.TrimSpace(status) {
	case "OPEN", "FULL":
		return true
	}
	return false
}
