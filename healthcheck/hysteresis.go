package healthcheck

// Hysteresis turns a stream of check results into a verdict that changes only
// after Fall consecutive failures (healthy → unhealthy) or Rise consecutive
// successes (unhealthy → healthy). It is a pure value: no clock, no I/O.
//
// Before the first verdict the state is unknown; the first verdict is reached
// after Rise successes or Fall failures in a row, whichever comes first, and
// Observe reports it as a change. The zero value behaves as Fall 1, Rise 1.
type Hysteresis struct {
	fall, rise int
	known      bool
	healthy    bool
	run        int  // length of the current run of equal results
	runOK      bool // result of the current run
}

// NewHysteresis returns a Hysteresis with the given thresholds; values below
// 1 are taken as 1.
func NewHysteresis(fall, rise int) *Hysteresis {
	return &Hysteresis{fall: max(fall, 1), rise: max(rise, 1)}
}

// Observe records one check result and returns the verdict after it, and
// whether the verdict changed (or was reached for the first time).
func (h *Hysteresis) Observe(ok bool) (healthy, changed bool) {
	if h.run == 0 || ok != h.runOK {
		h.run, h.runOK = 0, ok
	}
	h.run++
	need := h.fall
	if ok {
		need = h.rise
	}
	if h.run >= need && (!h.known || h.healthy != ok) {
		h.known, h.healthy = true, ok
		return h.healthy, true
	}
	return h.healthy, false
}

// Known reports whether a first verdict has been reached.
func (h *Hysteresis) Known() bool { return h.known }

// Healthy reports the current verdict (false before the first one).
func (h *Hysteresis) Healthy() bool { return h.healthy }
