package bench

import (
	"regexp"
	"slices"
	"testing"
	"time"
)

func TestScenarios(t *testing.T) {
	var ids, labels []string
	for _, s := range Scenarios() {
		ids = append(ids, s.ID())
		labels = append(labels, s.Label())
	}
	wantIDs := []string{"v2-1s/hard", "v2-1s/graceful", "v3-50ms/hard", "v3-50ms/graceful", "v3-10ms/hard", "v3-10ms/graceful",
		"v2-1s/haproxy-kill", "v2-1s/backend-lost", "v2-1s/handover", "v3-50ms/haproxy-kill", "v3-50ms/backend-lost", "v3-10ms/haproxy-kill"}
	if !slices.Equal(ids, wantIDs) {
		t.Errorf("IDs %q, want %q", ids, wantIDs)
	}
	wantLabels := []string{
		"v2 1s   hard failure (link down)",
		"v2 1s   graceful stop (SIGTERM)",
		"v3 50ms hard failure (link down)",
		"v3 50ms graceful stop (SIGTERM)",
		"v3 10ms hard failure (link down)",
		"v3 10ms graceful stop (SIGTERM)",
		"v2 1s   HAProxy killed (SIGKILL)",
		"v2 1s   last backend server lost",
		"v2 1s   planned hand-over",
		"v3 50ms HAProxy killed (SIGKILL)",
		"v3 50ms last backend server lost",
		"v3 10ms HAProxy killed (SIGKILL)",
	}
	if !slices.Equal(labels, wantLabels) {
		t.Errorf("labels %q, want %q", labels, wantLabels)
	}
	if r := Resources(); r.ID() != "resources/v3-10ms" || r.Label() != "resources at v3 10ms, 30 s" {
		t.Errorf("resource row %q, %q", r.ID(), r.Label())
	}
	if h := HealthCost(); h.ID() != "health-cost/v2-1s" || h.Label() != "health checking at v2 1s, 30 s" || h.Settings != SeedV2 || h.MaxCPU != 1 {
		t.Errorf("health cost row %q, %q, %+v", h.ID(), h.Label(), h)
	}
}

// TestScenarioTargets: each row carries its issue's targets, probe and
// phase mode; the HAProxy rows also measure vrrp.pair, killed HAProxy
// with issue 13's 20 ms.
func TestScenarioTargets(t *testing.T) {
	type targets struct {
		Probe Probe
		Phase Phase
		Targets
		Pair Targets // zero: no vrrp.pair line
	}
	ping := targets{Probe: ProbeICMP, Phase: PhaseAdvert, Targets: Targets{MaxRatio: 1.0}}
	lost := Targets{MaxTakeover: 1200 * time.Millisecond}
	pair20 := Targets{MaxOutage: 20 * time.Millisecond}
	want := map[string]targets{
		"v2-1s/hard":           ping,
		"v2-1s/graceful":       ping,
		"v3-50ms/hard":         ping,
		"v3-50ms/graceful":     ping,
		"v3-10ms/hard":         {Probe: ProbeICMP, Phase: PhaseAdvert, Targets: Targets{MaxRatio: 1.0, MaxOutage: 50 * time.Millisecond}},
		"v3-10ms/graceful":     ping,
		"v2-1s/haproxy-kill":   {ProbeHTTP, PhaseSwept, Targets{MaxRatio: 0.25}, pair20},
		"v2-1s/backend-lost":   {ProbeHTTP, PhaseSwept, lost, lost},
		"v2-1s/handover":       {ProbeHTTP, PhaseSwept, Targets{ZeroLoss: true}, Targets{ZeroLoss: true}},
		"v3-50ms/haproxy-kill": {ProbeHTTP, PhaseSwept, Targets{MaxOutage: 150 * time.Millisecond}, pair20},
		"v3-50ms/backend-lost": {ProbeHTTP, PhaseSwept, lost, lost},
		"v3-10ms/haproxy-kill": {ProbeHTTP, PhaseSwept, Targets{}, pair20},
	}
	for _, s := range Scenarios() {
		got := targets{Probe: s.Probe, Phase: s.Phase, Targets: s.Targets}
		if s.Pair != nil {
			got.Pair = *s.Pair
		}
		if s.HTTP() != (s.Pair != nil) {
			t.Errorf("%s: HTTP %t but vrrp.pair line %t", s.ID(), s.HTTP(), s.Pair != nil)
		}
		if got != want[s.ID()] {
			t.Errorf("%s: %+v, want %+v", s.ID(), got, want[s.ID()])
		}
		if s.HTTP() != s.Failure.HAProxy() {
			t.Errorf("%s: HTTP %t but HAProxy failure %t", s.ID(), s.HTTP(), s.Failure.HAProxy())
		}
	}
}

func TestSelect(t *testing.T) {
	all := Scenarios()
	for _, tc := range []struct {
		re   string
		want []string
	}{
		{"", []string{"v2-1s/hard", "v2-1s/graceful", "v3-50ms/hard", "v3-50ms/graceful", "v3-10ms/hard", "v3-10ms/graceful",
			"v2-1s/haproxy-kill", "v2-1s/backend-lost", "v2-1s/handover", "v3-50ms/haproxy-kill", "v3-50ms/backend-lost", "v3-10ms/haproxy-kill"}},
		{"v3-10ms", []string{"v3-10ms/hard", "v3-10ms/graceful", "v3-10ms/haproxy-kill"}},
		{"/hard$", []string{"v2-1s/hard", "v3-50ms/hard", "v3-10ms/hard"}},
		{"haproxy-kill|backend-lost", []string{"v2-1s/haproxy-kill", "v2-1s/backend-lost", "v3-50ms/haproxy-kill", "v3-50ms/backend-lost", "v3-10ms/haproxy-kill"}},
		{"handover", []string{"v2-1s/handover"}},
		{"^resources", nil},
	} {
		var re *regexp.Regexp
		if tc.re != "" {
			re = regexp.MustCompile(tc.re)
		}
		var got []string
		for _, s := range Select(all, re) {
			got = append(got, s.ID())
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("Select(%q) = %q, want %q", tc.re, got, tc.want)
		}
	}
}

// TestSetupsOf: the ping rows share one untracked pair per settings, the
// HAProxy rows (the planned hand-over among them) one tracked pair per
// settings, in order of appearance.
func TestSetupsOf(t *testing.T) {
	got := setupsOf(Scenarios())
	want := []setup{
		{s: SeedV2}, {s: V3Fast}, {s: V3Faster},
		{s: SeedV2, haproxy: true, track: true}, {s: V3Fast, haproxy: true, track: true}, {s: V3Faster, haproxy: true, track: true},
	}
	if !slices.Equal(got, want) {
		t.Errorf("setupsOf = %+v, want %+v", got, want)
	}
	// Rows out of order still give each setup once.
	sc := Scenarios()
	mixed := []Scenario{sc[6], sc[0], sc[7], sc[1]}
	if got, want := setupsOf(mixed), []setup{{s: SeedV2, haproxy: true, track: true}, {s: SeedV2}}; !slices.Equal(got, want) {
		t.Errorf("setupsOf(mixed) = %+v, want %+v", got, want)
	}
}

func TestSweepDelay(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		n, trials int
		period    time.Duration
		want      time.Duration
	}{
		{1, 5, time.Second, 100 * ms},
		{3, 5, time.Second, 500 * ms},
		{5, 5, time.Second, 900 * ms},
		{6, 5, time.Second, 100 * ms}, // wraps around
		{1, 1, time.Second, 500 * ms},
		{2, 2, 50 * ms, 37500 * time.Microsecond},
		{0, 5, time.Second, 0},
		{1, 0, time.Second, 0},
		{1, 5, 0, 0},
	} {
		if got := SweepDelay(tc.n, tc.trials, tc.period); got != tc.want {
			t.Errorf("SweepDelay(%d, %d, %v) = %v, want %v", tc.n, tc.trials, tc.period, got, tc.want)
		}
	}
	// The sweep covers keepalived's script cycle at every setting.
	for _, s := range []Settings{SeedV2, V3Fast} {
		if got := SweepPeriod(s); got != time.Second {
			t.Errorf("SweepPeriod(%s) = %v, want 1s", s.Name(), got)
		}
	}
	if got := SweepPeriod(Settings{Version: 2, Interval: 3 * time.Second}); got != 3*time.Second {
		t.Errorf("SweepPeriod(v2 3s) = %v, want 3s", got)
	}
}

func TestMoveWithin(t *testing.T) {
	for _, tc := range []struct {
		sc   Scenario
		want time.Duration
	}{
		// 2 × Master_Down + 5 s
		{Scenario{Settings: SeedV2, Failure: HardFailure}, 2*SeedV2.MasterDown() + 5*time.Second},
		{Scenario{Settings: SeedV2, Failure: HAProxyKilled}, 2*SeedV2.MasterDown() + 5*time.Second},
		// script 1 s × fall 1 + Master_Down + 2 s
		{Scenario{Settings: SeedV2, Failure: BackendLost}, 6609375 * time.Microsecond},
		{Scenario{Settings: V3Fast, Failure: BackendLost}, 3*time.Second + V3Fast.MasterDown()},
	} {
		if got := tc.sc.MoveWithin(); got != tc.want {
			t.Errorf("%s: MoveWithin = %v, want %v", tc.sc.ID(), got, tc.want)
		}
	}
	if got := BackendCheck.DownTime(); got != 200*time.Millisecond {
		t.Errorf("BackendCheck.DownTime = %v, want fall 2 × inter 100ms", got)
	}
}

func TestMasterDown(t *testing.T) {
	for _, tc := range []struct {
		s    Settings
		want time.Duration
	}{
		// 3 × interval + (256 − 100)/256 × interval
		{SeedV2, 3*time.Second + 609375*time.Microsecond},
		{V3Fast, 150*time.Millisecond + 30468750*time.Nanosecond},
		{V3Faster, 30*time.Millisecond + 6093750*time.Nanosecond},
	} {
		if got := tc.s.MasterDown(); got != tc.want {
			t.Errorf("%s: MasterDown = %v, want %v", tc.s.Name(), got, tc.want)
		}
	}
}

// TestOutageWithin: a median outage is judged in whole probe intervals,
// so the probes' send jitter neither fails nor passes a row by itself.
func TestOutageWithin(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		median time.Duration
		want   bool
	}{
		{0, true},
		{10 * ms, true},
		{19600 * time.Microsecond, true},
		{20400 * time.Microsecond, true}, // two GETs, sent 10.2 ms apart
		{24900 * time.Microsecond, true},
		{25 * ms, false}, // rounds to three GETs
		{30 * ms, false},
	} {
		if got := OutageWithin(tc.median, PairMaxOutage, ProbeEvery); got != tc.want {
			t.Errorf("OutageWithin(%v, 20ms, 10ms) = %t, want %t", tc.median, got, tc.want)
		}
	}
}
