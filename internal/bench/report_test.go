package bench

import (
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
	want := `proxypair bench — 3 trials per row, failure phase-locked to the master's advert
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
