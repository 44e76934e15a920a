package bench

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"time"
)

// Settings are the VRRP parameters both daemons of a pair share. The rest
// is fixed for every row: VRID 51, master a (198.18.0.1, priority 200),
// backup b (198.18.0.2, priority 100), VIP 198.18.0.100/24, multicast.
type Settings struct {
	Version  int           `json:"version"`
	Interval time.Duration `json:"interval_ns"`
	AuthPass string        `json:"auth_pass,omitempty"` // v2 PASS
}

// Name is the settings as the table shows them: "v2 1s", "v3 50ms".
func (s Settings) Name() string { return fmt.Sprintf("v%d %v", s.Version, s.Interval) }

// ID is the settings in scenario IDs: "v2-1s", "v3-50ms".
func (s Settings) ID() string { return fmt.Sprintf("v%d-%v", s.Version, s.Interval) }

// MasterDown is RFC 3768/5798's Master_Down_Interval of the backup
// (priority 100): 3 × interval + Skew_Time.
func (s Settings) MasterDown() time.Duration {
	return 3*s.Interval + s.Interval*(256-BackupPriority)/256
}

// The pair's fixed parameters.
const (
	VRID            = 51
	MasterPriority  = 200
	BackupPriority  = 100
	ProbeEvery      = 10 * time.Millisecond
	seedPassword    = "pass1234"
	resourceSeconds = 30
)

// The lab's addresses.
var (
	VIP     = netip.MustParsePrefix("198.18.0.100/24")
	AddrA   = netip.MustParsePrefix("198.18.0.1/24") // the master
	AddrB   = netip.MustParsePrefix("198.18.0.2/24") // the backup
	AddrC   = netip.MustParsePrefix("198.18.0.3/24") // the client
	vipAddr = VIP.Addr().String()
)

// The settings of the rows.
var (
	SeedV2   = Settings{Version: 2, Interval: time.Second, AuthPass: seedPassword}
	V3Fast   = Settings{Version: 3, Interval: 50 * time.Millisecond}
	V3Faster = Settings{Version: 3, Interval: 10 * time.Millisecond}
)

// Failure is how the master goes away in a trial, and how it comes back.
type Failure string

// The failures: issue 3's take the VRRP daemon away; issue 4's take away
// what it serves (HAProxy, or HAProxy's last backend server) while the
// daemon runs on.
const (
	// HardFailure takes the master's eth1 down: the host drops off the
	// network without a word. Restored by taking the link up again.
	HardFailure Failure = "hard"
	// GracefulStop sends SIGTERM to the master's daemon: it says goodbye
	// with a priority-0 advert. Restored by starting the daemon again.
	GracefulStop Failure = "graceful"
	// HAProxyKilled sends SIGKILL to the master's HAProxy. Restored by
	// starting HAProxy again (same config, socket and pid file).
	HAProxyKilled Failure = "haproxy-kill"
	// BackendLost sends SIGKILL to the only server of the master's HAProxy
	// backend (a separate process): HAProxy stays up and marks the server
	// DOWN by its own check. Restored by starting the server again.
	BackendLost Failure = "backend-lost"
	// PlannedHandover moves the VIP off a master that is fine, as before
	// patching it: keepalived is stopped with SIGTERM (what `systemctl
	// stop` does) and restored by starting it again; proxypair's master
	// runs `proxypair handover` and is restored by `proxypair resume`.
	PlannedHandover Failure = "handover"
)

// Label is the failure as the table shows it.
func (f Failure) Label() string {
	switch f {
	case HardFailure:
		return "hard failure (link down)"
	case GracefulStop:
		return "graceful stop (SIGTERM)"
	case HAProxyKilled:
		return "HAProxy killed (SIGKILL)"
	case BackendLost:
		return "last backend server lost"
	case PlannedHandover:
		return "planned hand-over"
	}
	return string(f)
}

// HAProxy reports whether the failure needs HAProxy on both nodes, tracked
// by both daemons. A planned hand-over needs it too: its client GETs the
// VIP, and it runs on the pairs of the HAProxy rows.
func (f Failure) HAProxy() bool {
	return f == HAProxyKilled || f == BackendLost || f == PlannedHandover
}

// Probe is what the client measures the VIP with.
type Probe string

// The probes (`pplab probe <kind>`). Issue 4's rows use ProbeHTTP.
const (
	ProbeICMP Probe = "icmp"
	ProbeHTTP Probe = "http"
)

// Phase says when, relative to the master's adverts, a trial sets off
// the failure.
type Phase string

const (
	// PhaseAdvert fails the master right after one of its adverts reaches
	// the client: both daemons' backups then wait the same time for the
	// next advert that never comes.
	PhaseAdvert Phase = "after-advert"
	// PhaseSwept fails the master SweepDelay after one of its adverts:
	// trial n of N at (n−½)/N of SweepPeriod, so the failures spread evenly
	// over keepalived's vrrp_script cycle and both daemons see the same
	// phases. proxypair's resign does not depend on the phase; keepalived's
	// script path does, and pinning it to one phase would pick its best or
	// worst case.
	PhaseSwept Phase = "swept"
)

// Targets are what one proxypair series of a row must reach.
type Targets struct {
	// MaxRatio, if set, is the target for proxypair's median over
	// keepalived's.
	MaxRatio float64 `json:"max_ratio,omitempty"`
	// MaxOutage, if set, is an absolute target for proxypair's median,
	// judged in whole probe intervals (see OutageWithin).
	MaxOutage time.Duration `json:"max_outage_ns,omitempty"`
	// MaxTakeover, if set, is a target for every proxypair trial's time
	// from the failure to the VIP on b.
	MaxTakeover time.Duration `json:"max_takeover_ns,omitempty"`
	// ZeroLoss: every trial must answer every probe (a planned hand-over,
	// make-before-break).
	ZeroLoss bool `json:"zero_loss,omitempty"`
}

// Scenario is one row of the outage table.
type Scenario struct {
	Settings Settings `json:"settings"`
	Failure  Failure  `json:"failure"`
	Probe    Probe    `json:"probe"`
	Phase    Phase    `json:"phase"`
	// Targets are proxypair's, both nodes without vrrp.pair: the backup
	// waits Skew_Time after a priority-0 advert, as RFC 3768/5798 say.
	Targets
	// Pair, if set, also measures two proxypair nodes with vrrp.pair (the
	// only backup takes over at once on a priority-0 advert), against the
	// same keepalived trials, with these targets.
	Pair *Targets `json:"pair,omitempty"`
}

// ID names the row for --only and the JSON: "v2-1s/hard".
func (s Scenario) ID() string { return s.Settings.ID() + "/" + string(s.Failure) }

// Label is the row's first column: "v2 1s   hard failure (link down)".
func (s Scenario) Label() string { return fmt.Sprintf("%-8s%s", s.Settings.Name(), s.Failure.Label()) }

// MoveWithin is how long a trial waits for the VIP on b after the failure.
// For BackendLost, which keepalived's `kill -0` never notices, not moving
// within it is a result ("never moved"), not an error: it is longer than
// keepalived would need had its script noticed (one script cycle, then a
// full Master_Down at the lowered priority), plus 2 s.
func (s Scenario) MoveWithin() time.Duration {
	if s.Failure == BackendLost {
		return time.Duration(ScriptFall)*ScriptInterval + s.Settings.MasterDown() + 2*time.Second
	}
	return 2*s.Settings.MasterDown() + 5*time.Second
}

// PairMaxOutage is issue 13's target: HAProxy killed on the master of
// two proxypair nodes with vrrp.pair costs the client at most this much
// HTTP outage (median), at any advert interval.
const PairMaxOutage = 20 * time.Millisecond

// Scenarios are issue 3's rows (each setting with a hard failure and a
// graceful stop, pinged every 10 ms), then the HAProxy rows, with HAProxy
// on both nodes and a GET every 10 ms: issue 4's (HAProxy killed and its
// last backend server lost), issue 13's (HAProxy killed at v3 10 ms, and
// every HAProxy row also with vrrp.pair) and issue 12's planned hand-over.
func Scenarios() []Scenario {
	var out []Scenario
	for _, s := range []Settings{SeedV2, V3Fast, V3Faster} {
		for _, f := range []Failure{HardFailure, GracefulStop} {
			sc := Scenario{Settings: s, Failure: f, Probe: ProbeICMP, Phase: PhaseAdvert, Targets: Targets{MaxRatio: 1.0}}
			if s == V3Faster && f == HardFailure {
				sc.MaxOutage = 50 * time.Millisecond
			}
			out = append(out, sc)
		}
	}
	http := func(s Settings, f Failure, rfc, pair Targets) Scenario {
		return Scenario{Settings: s, Failure: f, Probe: ProbeHTTP, Phase: PhaseSwept, Targets: rfc, Pair: &pair}
	}
	lost := Targets{MaxTakeover: BackendCheck.DownTime() + time.Second}
	handover := Targets{ZeroLoss: true}
	return append(out,
		http(SeedV2, HAProxyKilled, Targets{MaxRatio: 0.25}, Targets{MaxOutage: PairMaxOutage}),
		http(SeedV2, BackendLost, lost, lost),
		http(SeedV2, PlannedHandover, handover, handover),
		http(V3Fast, HAProxyKilled, Targets{MaxOutage: 150 * time.Millisecond}, Targets{MaxOutage: PairMaxOutage}),
		http(V3Fast, BackendLost, lost, lost),
		http(V3Faster, HAProxyKilled, Targets{}, Targets{MaxOutage: PairMaxOutage}),
	)
}

// OutageWithin judges a median outage against limit in whole probe
// intervals, the probe's resolution: a run of k failed probes lasts k ×
// every give or take the probes' send jitter, so 20.4 ms is two failed
// GETs, as is 19.6 ms.
func OutageWithin(median, limit, every time.Duration) bool {
	return median.Round(every) <= limit
}

// HTTP reports whether the row belongs to the HAProxy table.
func (s Scenario) HTTP() bool { return s.Probe == ProbeHTTP }

// The keepalived pair's vrrp_script in the HAProxy rows: the usual
// `kill -0 $(cat haproxy.pid)`, issue 4's baseline.
const (
	ScriptInterval = time.Second
	ScriptFall     = 1
	ScriptRise     = 1
	ScriptWeight   = -150
)

// The proxypair pair's health tracking in the HAProxy rows: proxypair's
// defaults, written out so the numbers say what they measured.
const (
	HealthInterval = 200 * time.Millisecond
	HealthFall     = 1
	HealthRise     = 2
	HealthWeight   = -254
)

// CheckTiming is HAProxy's health check of a backend server.
type CheckTiming struct {
	Inter time.Duration // "inter" (also fastinter and downinter in the lab)
	Fall  int           // consecutive failed checks before DOWN
}

// DownTime is HAProxy's own check time: how long after a server dies
// HAProxy marks it DOWN at the latest (fall × inter; a dead server's
// checks fail at once, with a refused connection).
func (c CheckTiming) DownTime() time.Duration { return time.Duration(c.Fall) * c.Inter }

// BackendCheck is the lab HAProxy's server check (internal/lab renders
// "inter 100ms ... fall 2"; TestHAProxyExternalServer reads it back).
var BackendCheck = CheckTiming{Inter: 100 * time.Millisecond, Fall: 2}

// SweepPeriod is the span PhaseSwept spreads the failures over: the
// longer of the advert interval and keepalived's script interval (1 s for
// every HAProxy row).
func SweepPeriod(s Settings) time.Duration { return max(s.Interval, ScriptInterval) }

// SweepDelay is how long after the master's advert trial n (1-based) of
// trials sets off the failure: (n−½)/trials of period. Trials beyond
// trials wrap around.
func SweepDelay(n, trials int, period time.Duration) time.Duration {
	if trials < 1 || n < 1 || period <= 0 {
		return 0
	}
	k := (n - 1) % trials
	return period * time.Duration(2*k+1) / time.Duration(2*trials)
}

// ResourceScenario is the steady-state cost row: both daemons of a pair
// running for Window; the master's CPU and RSS are measured.
type ResourceScenario struct {
	Settings Settings      `json:"settings"`
	Window   time.Duration `json:"window_ns"`
	MaxCPU   float64       `json:"max_cpu_percent"` // % of one core
	MaxRSS   int64         `json:"max_rss_bytes"`   // decimal MB: 20 MB = 20e6 bytes
}

// ID names the row for --only: "resources/v3-10ms".
func (r ResourceScenario) ID() string { return "resources/" + r.Settings.ID() }

// Label is the row's first column: "resources at v3 10ms, 30 s".
func (r ResourceScenario) Label() string {
	return fmt.Sprintf("resources at %s, %v s", r.Settings.Name(), r.Window.Seconds())
}

// Resources is issue 3's resource row: v3 at 10 ms for 30 s; targets 2%
// of one core and 20 MB.
func Resources() ResourceScenario {
	return ResourceScenario{Settings: V3Faster, Window: resourceSeconds * time.Second, MaxCPU: 2, MaxRSS: 20_000_000}
}

// HealthCostScenario is the cost of health checking itself: two
// proxypair pairs at Settings, each with HAProxy on both nodes, one
// tracking it and one not, measured over the same Window.
type HealthCostScenario struct {
	Settings Settings      `json:"settings"`
	Window   time.Duration `json:"window_ns"`
	MaxCPU   float64       `json:"max_cpu_percent"` // tracking on − off, % of one core
}

// ID names the row for --only: "health-cost/v2-1s".
func (h HealthCostScenario) ID() string { return "health-cost/" + h.Settings.ID() }

// Label is the row's first column: "health checking at v2 1s, 30 s".
func (h HealthCostScenario) Label() string {
	return fmt.Sprintf("health checking at %s, %v s", h.Settings.Name(), h.Window.Seconds())
}

// HealthCost is issue 4's resource line: proxypair's master at the seed's
// settings, health tracking on vs off at its default interval; target 1%
// of one core.
func HealthCost() HealthCostScenario {
	return HealthCostScenario{Settings: SeedV2, Window: resourceSeconds * time.Second, MaxCPU: 1}
}

// setup is what a pair runs besides the daemons.
type setup struct {
	s       Settings
	haproxy bool // HAProxy on a and b, each with its backend server a separate process
	track   bool // the daemons track HAProxy (needs haproxy)
}

// setupOf is the setup a row needs: the HAProxy rows track HAProxy, the
// others run the daemons alone.
func setupOf(sc Scenario) setup {
	tracked := sc.Failure.HAProxy()
	return setup{s: sc.Settings, haproxy: tracked, track: tracked}
}

// setupsOf lists the distinct setups of rows, in the order they first
// appear.
func setupsOf(rows []Scenario) []setup {
	var out []setup
	for _, sc := range rows {
		if st := setupOf(sc); !slices.Contains(out, st) {
			out = append(out, st)
		}
	}
	return out
}

// Select keeps the scenarios whose ID matches re (all when re is nil).
func Select(all []Scenario, re *regexp.Regexp) []Scenario {
	var out []Scenario
	for _, s := range all {
		if re == nil || re.MatchString(s.ID()) {
			out = append(out, s)
		}
	}
	return out
}
