package bench

import (
	"fmt"
	"regexp"
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

// The settings of the rows.
var (
	SeedV2   = Settings{Version: 2, Interval: time.Second, AuthPass: seedPassword}
	V3Fast   = Settings{Version: 3, Interval: 50 * time.Millisecond}
	V3Faster = Settings{Version: 3, Interval: 10 * time.Millisecond}
)

// Failure is how the master goes away in a trial, and how it comes back.
type Failure string

// The failures. Issue 4 adds HAProxy's death and its last backend's.
const (
	// HardFailure takes the master's eth1 down: the host drops off the
	// network without a word. Restored by taking the link up again.
	HardFailure Failure = "hard"
	// GracefulStop sends SIGTERM to the master's daemon: it says goodbye
	// with a priority-0 advert. Restored by starting the daemon again.
	GracefulStop Failure = "graceful"
)

// Label is the failure as the table shows it.
func (f Failure) Label() string {
	switch f {
	case HardFailure:
		return "hard failure (link down)"
	case GracefulStop:
		return "graceful stop (SIGTERM)"
	}
	return string(f)
}

// Probe is what the client measures the VIP with.
type Probe string

// The probes (`pplab probe <kind>`). Issue 4's rows use ProbeHTTP.
const (
	ProbeICMP Probe = "icmp"
	ProbeHTTP Probe = "http"
)

// Scenario is one row of the outage table.
type Scenario struct {
	Settings Settings `json:"settings"`
	Failure  Failure  `json:"failure"`
	Probe    Probe    `json:"probe"`
	// MaxRatio is the target for proxypair's median over keepalived's.
	MaxRatio float64 `json:"max_ratio"`
	// MaxOutage, if set, is an absolute target for proxypair's median.
	MaxOutage time.Duration `json:"max_outage_ns,omitempty"`
}

// ID names the row for --only and the JSON: "v2-1s/hard".
func (s Scenario) ID() string { return s.Settings.ID() + "/" + string(s.Failure) }

// Label is the row's first column: "v2 1s   hard failure (link down)".
func (s Scenario) Label() string { return fmt.Sprintf("%-8s%s", s.Settings.Name(), s.Failure.Label()) }

// Scenarios are issue 3's rows: each setting with a hard failure and a
// graceful stop, pinged every 10 ms.
func Scenarios() []Scenario {
	var out []Scenario
	for _, s := range []Settings{SeedV2, V3Fast, V3Faster} {
		for _, f := range []Failure{HardFailure, GracefulStop} {
			sc := Scenario{Settings: s, Failure: f, Probe: ProbeICMP, MaxRatio: 1.0}
			if s == V3Faster && f == HardFailure {
				sc.MaxOutage = 50 * time.Millisecond
			}
			out = append(out, sc)
		}
	}
	return out
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
