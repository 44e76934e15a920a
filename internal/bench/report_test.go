package bench

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/proxypair/proxypair/internal/cmd/pplab/probe"
)

func TestFormatRange(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		s    Stats
		want string
	}{
		{Stats{N: 5, Median: 3210 * ms, Min: 3200 * ms, Max: 3230 * ms}, "3.21s (3.20–3.23)"},
		{Stats{N: 5, Median: time.Second, Min: 990 * ms, Max: 1100 * ms}, "1.00s (0.99–1.10)"},
		{Stats{N: 5, Median: 62 * ms, Min: 50 * ms, Max: 70 * ms}, "62ms (50–70)"},
		{Stats{N: 5, Median: 999 * ms, Min: 500 * ms, Max: 1500 * ms}, "999ms (500–1500)"},
		{Stats{N: 3, Median: 8400 * time.Microsecond, Min: 0, Max: 8600 * time.Microsecond}, "8ms (0–9)"},
	} {
		if got := FormatRange(tc.s); got != tc.want {
			t.Errorf("FormatRange(%+v) = %q, want %q", tc.s, got, tc.want)
		}
	}
}

// trials builds a series' trials from outages in milliseconds; a negative
// value is a failed trial.
func trials(outages ...float64) Series {
	var s Series
	for i, o := range outages {
		t := Trial{N: i + 1, Outage: probe.Duration(o * float64(time.Millisecond)), PhaseDelay: probe.Duration(time.Millisecond)}
		if o < 0 {
			t = Trial{N: i + 1, Error: "b taking over within 5s: condition not met"}
		}
		s.Trials = append(s.Trials, t)
	}
	return s
}

func row(sc Scenario, ka, pp Series) Row {
	r := Row{ID: sc.ID(), Label: sc.Label(), Scenario: sc, Keepalived: ka, Proxypair: pp}
	r.Finish()
	return r
}

func TestWriteTable(t *testing.T) {
	sc := Scenarios()
	rs := Resources()
	rep := &Report{
		TrialsPer: 3,
		Method: Method{
			PhaseLock: "Phase lock: wait-advert.",
			Outage:    "Outage: longest run.",
			Resources: "Resources: utime+stime.",
		},
		Rows: []Row{
			row(sc[0], trials(3210, 3200, 3230), trials(3200, 3190, 3220)),
			row(sc[1], trials(610, 600, 620), trials(605, 600, 600)),
			// 1.004 prints as 1.00 and is judged as printed.
			row(sc[2], trials(250, 250, 250), trials(251, 251, 251)),
			row(sc[4], trials(40, 30, 40), trials(60, -1, 60)),
			row(sc[5], trials(0, 0, 0), trials(0, 10, 0)),
			row(sc[5], trials(0, 10, 0), trials(20, 10, 20)),
		},
		Resources: &ResourceRow{
			ID: rs.ID(), Label: rs.Label(), Scenario: rs,
			Keepalived: DaemonUsage{Master: &Usage{CPUPercent: 1.234, RSSBytes: 9_800_000}},
			Proxypair:  DaemonUsage{Master: &Usage{CPUPercent: 2.5, RSSBytes: 7_100_000}},
		},
	}
	var b strings.Builder
	if err := WriteTable(&b, rep); err != nil {
		t.Fatal(err)
	}
	want := `proxypair bench — 3 trials per row

VRRP failover: the client pings the VIP every 10ms; failure right after the master's advert
scenario                          keepalived (median, min–max)  proxypair (median, min–max)  ratio  target
v2 1s   hard failure (link down)  3.21s (3.20–3.23)             3.20s (3.19–3.22)            1.00   ratio ≤ 1.0: ok
v2 1s   graceful stop (SIGTERM)   610ms (600–620)               600ms (600–605)              0.98   ratio ≤ 1.0: ok
v3 50ms hard failure (link down)  250ms (250–250)               251ms (251–251)              1.00   ratio ≤ 1.0: ok
v3 10ms hard failure (link down)  40ms (30–40)                  60ms (60–60) [2/3 ok]        1.50   ratio ≤ 1.0: MISS; proxypair ≤ 50ms: MISS
v3 10ms graceful stop (SIGTERM)   0ms (0–0)                     0ms (0–10)                   0/0    ratio ≤ 1.0: ok
v3 10ms graceful stop (SIGTERM)   0ms (0–10)                    20ms (10–20)                 ∞      ratio ≤ 1.0: MISS
resources at v3 10ms, 30 s        CPU 1.23% RSS 9.8 MB          CPU 2.50% RSS 7.1 MB                proxypair CPU ≤ 2%: MISS; RSS ≤ 20 MB: ok
  * Phase lock: wait-advert. Advert → failure: median 1ms, max 1ms.
  * Outage: longest run.
  * Resources: utime+stime.
  * v3-10ms/hard proxypair trial 2 failed: b taking over within 5s: condition not met
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
}

func TestRowFinish(t *testing.T) {
	r := row(Scenarios()[0], trials(-1, -1), trials(3000))
	if r.Keepalived.OK != 0 || r.Keepalived.Median != nil || r.Ratio != nil {
		t.Errorf("keepalived with no data: ok %d, median %v, ratio %v", r.Keepalived.OK, r.Keepalived.Median, r.Ratio)
	}
	if r.Proxypair.OK != 1 || r.Proxypair.Median == nil || time.Duration(*r.Proxypair.Median) != 3*time.Second {
		t.Errorf("proxypair: ok %d, median %v", r.Proxypair.OK, r.Proxypair.Median)
	}
	var b strings.Builder
	rep := &Report{TrialsPer: 2, Rows: []Row{r}, Interrupted: true}
	if err := WriteTable(&b, rep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"no data (2 failed)", "ratio ≤ 1.0: n/a", "trial 1 failed", "trial 2 failed", "interrupted"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}

// httpTrials builds trials from (outage, takeover) pairs in milliseconds;
// a takeover of 0 means the VIP never moved within 6.6 s, a negative
// outage a failed trial.
func httpTrials(pairs ...[2]float64) Series {
	var s Series
	for i, p := range pairs {
		t := Trial{N: i + 1, Outage: probe.Duration(p[0] * float64(time.Millisecond)),
			Takeover:    probe.Duration(p[1] * float64(time.Millisecond)),
			PhaseTarget: probe.Duration(100 * time.Millisecond), PhaseDelay: probe.Duration(100*time.Millisecond + 400*time.Microsecond)}
		switch {
		case p[0] < 0:
			t = Trial{N: i + 1, Error: "settling: a master and b backup for 6s, within 23s: condition not met"}
		case p[1] == 0:
			t.Takeover, t.NotMovedWithin = 0, probe.Duration(6609375*time.Microsecond)
		}
		s.Trials = append(s.Trials, t)
	}
	return s
}

// TestWriteTableHTTP: the HAProxy rows get their own table with
// proxypair's failure → VIP on b, "never moved" cells, the targets of
// issue 4, and the health-checking cost under it.
func TestWriteTableHTTP(t *testing.T) {
	sc := Scenarios()
	byID := map[string]Scenario{}
	for _, s := range sc {
		byID[s.ID()] = s
	}
	hc := HealthCost()
	rep := &Report{
		TrialsPer: 3,
		Method:    Method{PhaseSweep: "Sweep.", HTTPOutage: "HTTP outage.", Tracking: "Tracking.", HealthCost: "Cost.", PhaseLock: "Lock.", Outage: "Ping outage."},
		Rows: []Row{
			row(byID["v2-1s/haproxy-kill"], httpTrials([2]float64{3600, 3600}, [2]float64{4100, 4100}, [2]float64{3100, 3100}),
				httpTrials([2]float64{620, 616}, [2]float64{610, 612}, [2]float64{630, 625})),
			row(byID["v2-1s/backend-lost"], httpTrials([2]float64{6600, 0}, [2]float64{6600, 0}, [2]float64{6600, 0}),
				httpTrials([2]float64{790, 800}, [2]float64{-1, 0}, [2]float64{1250, 1260})),
			row(byID["v3-50ms/haproxy-kill"], httpTrials([2]float64{1080, 1086}, [2]float64{560, 570}, [2]float64{1500, 1510}),
				httpTrials([2]float64{40, 42}, [2]float64{40, 41}, [2]float64{50, 48})),
			row(byID["v3-50ms/backend-lost"], httpTrials([2]float64{3180, 0}, [2]float64{3180, 0}, [2]float64{200, 210}),
				httpTrials([2]float64{230, 231}, [2]float64{180, 190}, [2]float64{3180, 0})),
		},
		HealthCost: &HealthCostRow{
			ID: hc.ID(), Label: hc.Label(), Scenario: hc,
			Off: DaemonUsage{Master: &Usage{CPUPercent: 0.03, RSSBytes: 8_100_000}, HAProxy: &Usage{CPUPercent: 0.01}},
			On:  DaemonUsage{Master: &Usage{CPUPercent: 0.66, RSSBytes: 10_000_000}, HAProxy: &Usage{CPUPercent: 0.4}},
		},
	}
	var b strings.Builder
	if err := WriteTable(&b, rep); err != nil {
		t.Fatal(err)
	}
	want := `proxypair bench — 3 trials per row

HAProxy tracking: HAProxy on both nodes; the client GETs http://198.18.0.100/ every 10ms (new connection each); HTTP outage; failure swept over the script cycle
scenario                          keepalived + vrrp_script (median, min–max)  proxypair + health (median, min–max)  ratio  proxypair failure→VIP on b  target
v2 1s   HAProxy killed (SIGKILL)  3.60s (3.10–4.10)                           620ms (610–630)                       0.17   616ms (612–625)             ratio ≤ 0.25: ok
v2 1s   last backend server lost  never moved (within 6.6 s)                  1.02s (0.79–1.25) [2/3 ok]            n/a    1.03s (0.80–1.26)           proxypair VIP on b ≤ check 200ms + 1s, every trial: MISS
v3 50ms HAProxy killed (SIGKILL)  1.08s (0.56–1.50)                           40ms (40–50)                          0.04   42ms (41–48)                proxypair ≤ 150ms: ok
v3 50ms last backend server lost  200ms (200–200) [2/3 never moved]           205ms (180–230) [1/3 never moved]     1.02   211ms (190–231)             proxypair VIP on b ≤ check 200ms + 1s, every trial: MISS
health checking at v2 1s, 30 s, proxypair master: CPU 0.66% tracking on, 0.03% off → health checking 0.63% of one core (target ≤ 1%: ok); RSS 10.0 MB on, 8.1 MB off; the master's HAProxy: CPU 0.40% on, 0.01% off
  * Sweep. Advert → failure beyond the aimed-for delay: median 400µs, max 400µs.
  * HTTP outage.
  * Tracking.
  * Cost.
  * v2-1s/backend-lost proxypair trial 2 failed: settling: a master and b backup for 6s, within 23s: condition not met
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
}

func TestTakeoverVerdict(t *testing.T) {
	limit := 1200 * time.Millisecond
	for _, tc := range []struct {
		name string
		s    Series
		want string
	}{
		{"all within", httpTrials([2]float64{790, 800}, [2]float64{900, 1200}), "ok"},
		{"one late", httpTrials([2]float64{790, 800}, [2]float64{1300, 1201}), "MISS"},
		{"one never moved", httpTrials([2]float64{790, 800}, [2]float64{6600, 0}), "MISS"},
		{"only failures", httpTrials([2]float64{-1, 0}), "n/a"},
		{"no trials", Series{}, "n/a"},
	} {
		if got := takeoverVerdict(&tc.s, limit); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestFormatRatio(t *testing.T) {
	for x, want := range map[float64]string{1: "1.0", 0.25: "0.25", 2.5: "2.5", 0.1: "0.1"} {
		if got := formatRatio(x); got != want {
			t.Errorf("formatRatio(%v) = %q, want %q", x, got, want)
		}
	}
}

func TestHealthCost(t *testing.T) {
	row := &HealthCostRow{ID: "health-cost/v2-1s", Label: "health checking at v2 1s, 30 s", Scenario: HealthCost(),
		Off: DaemonUsage{Master: &Usage{CPUPercent: 0.2}},
		On:  DaemonUsage{Master: &Usage{CPUPercent: 1.5}}}
	if got, ok := row.Cost(); !ok || math.Abs(got-1.3) > 1e-9 {
		t.Errorf("Cost = %v, %t; want 1.3", got, ok)
	}
	if line := healthCostLine(row); !strings.Contains(line, "health checking 1.30% of one core (target ≤ 1%: MISS)") {
		t.Errorf("line %q does not judge 1.3%% a miss", line)
	}
	row.On = DaemonUsage{Error: "settling: boom"}
	if _, ok := row.Cost(); ok {
		t.Error("Cost with no tracking-on numbers is ok")
	}
	var b strings.Builder
	if err := WriteTable(&b, &Report{TrialsPer: 1, HealthCost: row}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"health checking at v2 1s, 30 s: no data (see the notes)", "health-cost/v2-1s tracking on: settling: boom"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}

// TestStatsSkipNotMoved: a trial whose VIP never moved has no number, so
// it neither counts in the median nor as OK.
func TestStatsSkipNotMoved(t *testing.T) {
	s := httpTrials([2]float64{6600, 0}, [2]float64{800, 810}, [2]float64{900, 905})
	s.finish()
	st := s.Stats()
	if st.N != 2 || st.Median != 850*time.Millisecond || s.OK != 2 || s.NotMoved != 1 {
		t.Errorf("stats %+v, ok %d, not moved %d; want 2 trials, median 850ms, 1 not moved", st, s.OK, s.NotMoved)
	}
	if tk := s.TakeoverStats(); tk.N != 2 || tk.Max != 905*time.Millisecond {
		t.Errorf("takeover stats %+v", tk)
	}
}

// handoverTrials builds trials from (outage ms, GETs lost) pairs; a
// negative outage is a failed trial.
func handoverTrials(pairs ...[2]int) *Series {
	s := &Series{}
	for i, p := range pairs {
		t := Trial{N: i + 1, Outage: probe.Duration(time.Duration(p[0]) * time.Millisecond), Sent: 200, Answered: 200 - p[1],
			Takeover: probe.Duration(640 * time.Millisecond), PhaseTarget: probe.Duration(100 * time.Millisecond), PhaseDelay: probe.Duration(100 * time.Millisecond)}
		if p[0] < 0 {
			t = Trial{N: i + 1, Error: "restoring the master: bench: proxypair handover on a: exit 1"}
		}
		s.Trials = append(s.Trials, t)
	}
	return s
}

// TestWriteTablePair: a row that measures vrrp.pair gets a second line
// under it, judged against its own targets and the same keepalived
// trials; the planned hand-over is judged on every GET answered; the
// legs come under the table, and the notes say what the lines mean.
func TestWriteTablePair(t *testing.T) {
	byID := map[string]Scenario{}
	for _, s := range Scenarios() {
		byID[s.ID()] = s
	}
	pairRow := func(id string, ka, pp Series, pair *Series) Row {
		r := Row{ID: id, Label: byID[id].Label(), Scenario: byID[id], Keepalived: ka, Proxypair: pp, Pair: pair}
		r.Finish()
		return r
	}
	pair := func(s Series) *Series { return &s }
	kill := pairRow("v2-1s/haproxy-kill",
		httpTrials([2]float64{3600, 3600}, [2]float64{4100, 4100}, [2]float64{3100, 3100}),
		httpTrials([2]float64{620, 616}, [2]float64{610, 612}, [2]float64{630, 625}),
		// 20.4 ms is two failed GETs: within 20 ms at the probe's
		// resolution.
		pair(httpTrials([2]float64{10, 6}, [2]float64{20.4, 7}, [2]float64{30, 8})))
	for i := range kill.Pair.Trials {
		kill.Pair.Trials[i].Legs = &Legs{Detected: probe.Duration(3 * time.Millisecond), Prio0Sent: probe.Duration(3300 * time.Microsecond),
			Master: probe.Duration(3600 * time.Microsecond), FirstARP: probe.Duration(4 * time.Millisecond)}
	}
	fast := pairRow("v3-10ms/haproxy-kill",
		httpTrials([2]float64{760, 766}, [2]float64{1080, 1086}, [2]float64{560, 570}),
		httpTrials([2]float64{20, 12}, [2]float64{20, 13}, [2]float64{10, 11}),
		pair(httpTrials([2]float64{30, 6}, [2]float64{30, 6}, [2]float64{20, 5})))
	handover := pairRow("v2-1s/handover",
		*handoverTrials([2]int{610, 61}, [2]int{600, 60}, [2]int{620, 62}),
		*handoverTrials([2]int{0, 0}, [2]int{0, 0}, [2]int{-1, 0}),
		handoverTrials([2]int{0, 0}, [2]int{10, 1}, [2]int{0, 0}))
	rep := &Report{
		TrialsPer: 3,
		Method:    Method{HTTPOutage: "HTTP outage.", PairMode: "Pair mode.", Handover: "Hand-over.", Legs: "Legs."},
		Rows:      []Row{kill, handover, fast},
	}
	var b strings.Builder
	if err := WriteTable(&b, rep); err != nil {
		t.Fatal(err)
	}
	want := `proxypair bench — 3 trials per row

HAProxy tracking: HAProxy on both nodes; the client GETs http://198.18.0.100/ every 10ms (new connection each); HTTP outage; failure swept over the script cycle
proxypair without vrrp.pair: the backup waits Skew_Time after the master's priority-0 advert (RFC 3768/5798); "with vrrp.pair": both nodes with vrrp.pair, the only backup takes over at once; same keepalived trials
scenario                          keepalived + vrrp_script (median, min–max)  proxypair + health (median, min–max)  ratio  proxypair failure→VIP on b  target
v2 1s   HAProxy killed (SIGKILL)  3.60s (3.10–4.10)                           620ms (610–630)                       0.17   616ms (612–625)             ratio ≤ 0.25: ok
  with vrrp.pair                  (as above)                                  20ms (10–30)                          0.01   7ms (6–8)                   proxypair ≤ 20ms: ok
v2 1s   planned hand-over         610ms (600–620)                             0ms (0–0) [2/3 ok]                    0.00   640ms (640–640)             proxypair 0 lost, every trial: ok
  with vrrp.pair                  (as above)                                  0ms (0–10)                            0.00   640ms (640–640)             proxypair 0 lost, every trial: MISS
v3 10ms HAProxy killed (SIGKILL)  760ms (560–1080)                            20ms (10–20)                          0.03   12ms (11–13)                -
  with vrrp.pair                  (as above)                                  30ms (20–30)                          0.04   6ms (5–6)                   proxypair ≤ 20ms: MISS

proxypair's legs: medians in ms, each from the previous stamp; stamped by the daemons (a's last_resign, b's last_takeover in ` + "`proxypair status --json`" + `) on the bench's clock
scenario                                         failure→a detected  →a handled  →a prio-0 sent  →b master  →b advert sent  →b VIP added  →b first GARP  failure→b first GARP  trials
v2 1s   HAProxy killed (SIGKILL) with vrrp.pair  3.00                -           0.30            0.30       -               -             0.40           4.00                  3/3
  * HTTP outage.
  * Pair mode.
  * Hand-over.
  * Legs.
  * v2-1s/handover proxypair trial 3 failed: restoring the master: bench: proxypair handover on a: exit 1
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
}

func TestZeroLossVerdict(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    *Series
		want string
	}{
		{"every GET answered", handoverTrials([2]int{0, 0}, [2]int{0, 0}), "ok"},
		{"one GET lost once", handoverTrials([2]int{0, 0}, [2]int{10, 1}), "MISS"},
		{"failed trials do not count", handoverTrials([2]int{0, 0}, [2]int{-1, 0}), "ok"},
		{"only failures", handoverTrials([2]int{-1, 0}), "n/a"},
		{"never moved", &Series{Trials: []Trial{{N: 1, Sent: 10, Answered: 10, NotMovedWithin: 1}}}, "MISS"},
	} {
		if got := zeroLossVerdict(tc.s); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestSeriesOfRow: each daemon finds its series; a row without the
// vrrp.pair line has none for it.
func TestSeriesOfRow(t *testing.T) {
	r := Row{Pair: &Series{}}
	if r.Series(Keepalived) != &r.Keepalived || r.Series(Proxypair) != &r.Proxypair || r.Series(ProxypairPair) != r.Pair {
		t.Error("a daemon's series is not the row's")
	}
	if (&Row{}).Series(ProxypairPair) != nil || r.Series("frr") != nil {
		t.Error("a series for a daemon the row does not measure")
	}
}
