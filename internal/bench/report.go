package bench

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/proxypair/proxypair/internal/cmd/pplab/probe"
)

// Daemon names, as the report and the JSON spell them.
const (
	Keepalived = "keepalived"
	Proxypair  = "proxypair"
)

// Report is everything one bench run measured: the --json document and
// the source of the table.
type Report struct {
	Started     time.Time         `json:"started"`
	Finished    time.Time         `json:"finished"`
	TrialsPer   int               `json:"trials_per_row"`
	Only        string            `json:"only,omitempty"`
	Method      Method            `json:"method"`
	Host        HostInfo          `json:"host"`
	Versions    map[string]string `json:"versions"`
	Rows        []Row             `json:"rows"`
	Resources   *ResourceRow      `json:"resources,omitempty"`
	Interrupted bool              `json:"interrupted,omitempty"`
}

// Method records how the numbers were taken, so a reader of the JSON need
// not guess.
type Method struct {
	ProbeEvery   probe.Duration `json:"probe_every_ms"`
	ProbeTimeout probe.Duration `json:"probe_timeout_ms"`
	PhaseLock    string         `json:"phase_lock"`
	Outage       string         `json:"outage"`
	Resources    string         `json:"resources"`
}

// HostInfo is the machine the run was on.
type HostInfo struct {
	Kernel string `json:"kernel"`
	CPUs   int    `json:"cpus"`
}

// Row is one scenario measured for both daemons.
type Row struct {
	ID         string   `json:"id"`
	Label      string   `json:"label"`
	Scenario   Scenario `json:"scenario"`
	Keepalived Series   `json:"keepalived"`
	Proxypair  Series   `json:"proxypair"`
	Ratio      *float64 `json:"ratio,omitempty"` // proxypair median / keepalived median
}

// Series is one daemon's trials of a row.
type Series struct {
	Trials []Trial         `json:"trials"`
	OK     int             `json:"ok"` // trials with a number
	Median *probe.Duration `json:"median_ms,omitempty"`
	Min    *probe.Duration `json:"min_ms,omitempty"`
	Max    *probe.Duration `json:"max_ms,omitempty"`
}

// Trial is one failover: its outage and how it went.
type Trial struct {
	N int `json:"n"`
	// Outage is the probe's longest outage in the trial.
	Outage probe.Duration `json:"outage_ms"`
	// Outages is every outage the probe saw (normally exactly one).
	Outages []probe.Outage `json:"outages"`
	// Sent and Answered count the probes.
	Sent     int `json:"sent"`
	Answered int `json:"answered"`
	// FailedAt is when the failure was set off (the probe's outages are
	// on the same clock).
	FailedAt time.Time `json:"failed_at"`
	// PhaseDelay is from the client receiving the master's advert to the
	// failure being set off (the phase lock's own latency).
	PhaseDelay probe.Duration `json:"advert_to_failure_ms"`
	// FailureCall is how long setting off the failure took (the netlink
	// call that takes eth1 down, or kill(2)).
	FailureCall probe.Duration `json:"failure_call_ms"`
	// Takeover is from the failure until the bench saw the VIP on b
	// (polled every 5 ms).
	Takeover probe.Duration `json:"failure_to_vip_on_backup_ms"`
	Error    string         `json:"error,omitempty"`
	Note     string         `json:"note,omitempty"` // something odd that did not spoil the number
}

// Usage is one process set's CPU over a window and its RSS at the end.
type Usage struct {
	PIDs       []int          `json:"pids"`
	Window     probe.Duration `json:"window_ms"`
	CPUTicks   uint64         `json:"cpu_ticks"` // utime+stime, clock ticks
	CPUPercent float64        `json:"cpu_percent"`
	RSSBytes   int64          `json:"rss_bytes"`
}

// DaemonUsage is one pair's resource measurement.
type DaemonUsage struct {
	Master *Usage `json:"master,omitempty"`
	Backup *Usage `json:"backup,omitempty"`
	Error  string `json:"error,omitempty"`
}

// ResourceRow is the steady-state cost of both pairs.
type ResourceRow struct {
	ID         string           `json:"id"`
	Label      string           `json:"label"`
	Scenario   ResourceScenario `json:"scenario"`
	Keepalived DaemonUsage      `json:"keepalived"`
	Proxypair  DaemonUsage      `json:"proxypair"`
}

// Finish fills the series' statistics and the row's ratio from the trials.
func (r *Row) Finish() {
	r.Keepalived.finish()
	r.Proxypair.finish()
	r.Ratio = nil
	if ratio, ok := Ratio(r.Proxypair.Stats(), r.Keepalived.Stats()); ok {
		r.Ratio = &ratio
	}
}

// Stats summarises the trials that have a number.
func (s *Series) Stats() Stats {
	var ds []time.Duration
	for _, t := range s.Trials {
		if t.Error == "" {
			ds = append(ds, time.Duration(t.Outage))
		}
	}
	st, _ := Summarize(ds)
	return st
}

func (s *Series) finish() {
	st := s.Stats()
	s.OK = st.N
	s.Median, s.Min, s.Max = nil, nil, nil
	if st.N > 0 {
		med, lo, hi := probe.Duration(st.Median), probe.Duration(st.Min), probe.Duration(st.Max)
		s.Median, s.Min, s.Max = &med, &lo, &hi
	}
}

// WriteTable prints the report as the table `make bench` shows, the
// targets next to the numbers, then notes on the method.
func WriteTable(w io.Writer, r *Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "proxypair bench — %d trials per row, failure phase-locked to the master's advert\n", r.TrialsPer)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tkeepalived (median, min–max)\tproxypair (median, min–max)\tratio\ttarget")
	for _, row := range r.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", row.Label,
			seriesCell(&row.Keepalived), seriesCell(&row.Proxypair), ratioCell(&row), targetCell(&row))
	}
	if rr := r.Resources; rr != nil {
		fmt.Fprintf(tw, "%s\t%s\t%s\t\t%s\n", rr.Label,
			usageCell(rr.Keepalived), usageCell(rr.Proxypair), resourceTargetCell(rr))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range notes(r) {
		fmt.Fprintf(&b, "  * %s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func seriesCell(s *Series) string {
	st := s.Stats()
	if st.N == 0 {
		if len(s.Trials) == 0 {
			return "-"
		}
		return fmt.Sprintf("no data (%d failed)", len(s.Trials))
	}
	cell := FormatRange(st)
	if st.N < len(s.Trials) {
		cell += fmt.Sprintf(" [%d/%d ok]", st.N, len(s.Trials))
	}
	return cell
}

// FormatRange renders Stats as "3.21s (3.20–3.23)" or "62ms (50–70)": the
// median's unit, whole milliseconds below a second (the probe's
// resolution is 10 ms), hundredths of a second above.
func FormatRange(s Stats) string {
	if s.Median >= time.Second {
		sec := func(d time.Duration) string { return fmt.Sprintf("%.2f", d.Seconds()) }
		return fmt.Sprintf("%ss (%s–%s)", sec(s.Median), sec(s.Min), sec(s.Max))
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%d", d.Round(time.Millisecond).Milliseconds()) }
	return fmt.Sprintf("%sms (%s–%s)", ms(s.Median), ms(s.Min), ms(s.Max))
}

// ratioCell is the ratio as printed. A keepalived median of zero has no
// ratio: equal when proxypair's is zero too, infinitely worse otherwise.
func ratioCell(row *Row) string {
	if row.Ratio != nil {
		return fmt.Sprintf("%.2f", *row.Ratio)
	}
	switch zeroKeepalived(row) {
	case "equal":
		return "0/0"
	case "worse":
		return "∞"
	}
	return "n/a"
}

// zeroKeepalived says, when keepalived's median is zero and both have
// data, whether proxypair's is zero too ("equal") or not ("worse").
func zeroKeepalived(row *Row) string {
	ka, pp := row.Keepalived.Stats(), row.Proxypair.Stats()
	switch {
	case ka.N == 0 || pp.N == 0 || ka.Median != 0:
		return ""
	case pp.Median == 0:
		return "equal"
	}
	return "worse"
}

// verdict is a target check as the table shows it.
func verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "MISS"
}

func targetCell(row *Row) string {
	sc := row.Scenario
	parts := []string{}
	if row.Ratio == nil {
		v := "n/a"
		switch zeroKeepalived(row) {
		case "equal":
			v = "ok"
		case "worse":
			v = "MISS"
		}
		parts = append(parts, fmt.Sprintf("ratio ≤ %.1f: %s", sc.MaxRatio, v))
	} else {
		// Judged as printed: the probe's 10 ms resolution makes the third
		// decimal noise.
		parts = append(parts, fmt.Sprintf("ratio ≤ %.1f: %s", sc.MaxRatio, verdict(math.Round(*row.Ratio*100)/100 <= sc.MaxRatio)))
	}
	if sc.MaxOutage > 0 {
		st := row.Proxypair.Stats()
		v := "n/a"
		if st.N > 0 {
			v = verdict(st.Median <= sc.MaxOutage)
		}
		parts = append(parts, fmt.Sprintf("proxypair ≤ %v: %s", sc.MaxOutage, v))
	}
	return strings.Join(parts, "; ")
}

func usageCell(u DaemonUsage) string {
	switch {
	case u.Error != "":
		return "error"
	case u.Master == nil:
		return "-"
	}
	return fmt.Sprintf("CPU %.2f%% RSS %s", u.Master.CPUPercent, FormatMB(u.Master.RSSBytes))
}

// FormatMB renders bytes in decimal megabytes: "9.8 MB".
func FormatMB(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/1e6) }

func resourceTargetCell(rr *ResourceRow) string {
	sc, m := rr.Scenario, rr.Proxypair.Master
	cpu, rss := "n/a", "n/a"
	if m != nil {
		cpu, rss = verdict(m.CPUPercent <= sc.MaxCPU), verdict(m.RSSBytes <= sc.MaxRSS)
	}
	return fmt.Sprintf("proxypair CPU ≤ %g%%: %s; RSS ≤ %g MB: %s", sc.MaxCPU, cpu, float64(sc.MaxRSS)/1e6, rss)
}

// notes are the table's footnotes: how the numbers were taken, and every
// trial that failed or looked odd.
func notes(r *Report) []string {
	var out []string
	var phase []time.Duration
	for _, row := range r.Rows {
		for _, s := range []*Series{&row.Keepalived, &row.Proxypair} {
			for _, t := range s.Trials {
				if t.Error == "" {
					phase = append(phase, time.Duration(t.PhaseDelay))
				}
			}
		}
	}
	if r.Method.PhaseLock != "" && len(r.Rows) > 0 {
		n := r.Method.PhaseLock
		if st, ok := Summarize(phase); ok {
			n += fmt.Sprintf(" Advert → failure: median %v, max %v.", st.Median.Round(10*time.Microsecond), st.Max.Round(10*time.Microsecond))
		}
		out = append(out, n)
	}
	if r.Method.Outage != "" && len(r.Rows) > 0 {
		out = append(out, r.Method.Outage)
	}
	if r.Resources != nil && r.Method.Resources != "" {
		out = append(out, r.Method.Resources)
	}
	for _, row := range r.Rows {
		for _, d := range []struct {
			name string
			s    *Series
		}{{Keepalived, &row.Keepalived}, {Proxypair, &row.Proxypair}} {
			for _, t := range d.s.Trials {
				switch {
				case t.Error != "":
					out = append(out, fmt.Sprintf("%s %s trial %d failed: %s", row.ID, d.name, t.N, t.Error))
				case t.Note != "":
					out = append(out, fmt.Sprintf("%s %s trial %d: %s", row.ID, d.name, t.N, t.Note))
				}
			}
		}
	}
	if rr := r.Resources; rr != nil {
		if e := rr.Keepalived.Error; e != "" {
			out = append(out, fmt.Sprintf("%s %s: %s", rr.ID, Keepalived, e))
		}
		if e := rr.Proxypair.Error; e != "" {
			out = append(out, fmt.Sprintf("%s %s: %s", rr.ID, Proxypair, e))
		}
	}
	if r.Interrupted {
		out = append(out, "interrupted: the rows above are what was measured before the signal")
	}
	return out
}
