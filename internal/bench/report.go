package bench

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/proxypair/proxypair/internal/cmd/pplab/probe"
)

// Daemon names, as the report and the JSON spell them.
const (
	Keepalived = "keepalived"
	Proxypair  = "proxypair"
	// ProxypairPair is proxypair with vrrp.pair on both nodes.
	ProxypairPair = "proxypair-pair"
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
	HealthCost  *HealthCostRow    `json:"health_cost,omitempty"`
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
	// The HAProxy rows and the health-checking cost.
	PhaseSweep string `json:"phase_sweep,omitempty"`
	HTTPOutage string `json:"http_outage,omitempty"`
	Tracking   string `json:"tracking,omitempty"`
	HealthCost string `json:"health_cost,omitempty"`
	// The "with vrrp.pair" lines, the planned hand-over and the legs.
	PairMode string `json:"pair_mode,omitempty"`
	Handover string `json:"handover,omitempty"`
	Legs     string `json:"legs,omitempty"`
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
	// Pair is proxypair with vrrp.pair on both nodes, in the rows whose
	// scenario asks for it (Scenario.Pair); PairRatio is its median over
	// keepalived's.
	Pair      *Series  `json:"proxypair_pair,omitempty"`
	PairRatio *float64 `json:"pair_ratio,omitempty"`
}

// Series is the row's series of the daemon named name (Keepalived,
// Proxypair, ProxypairPair), or nil when the row does not measure it.
func (r *Row) Series(name string) *Series {
	switch name {
	case Keepalived:
		return &r.Keepalived
	case Proxypair:
		return &r.Proxypair
	case ProxypairPair:
		return r.Pair
	}
	return nil
}

// Series is one daemon's trials of a row.
type Series struct {
	Trials []Trial `json:"trials"`
	OK     int     `json:"ok"` // trials with a number
	// NotMoved counts the trials whose VIP never reached b (BackendLost).
	NotMoved int             `json:"not_moved,omitempty"`
	Median   *probe.Duration `json:"median_ms,omitempty"`
	Min      *probe.Duration `json:"min_ms,omitempty"`
	Max      *probe.Duration `json:"max_ms,omitempty"`
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
	// failure being set off: PhaseTarget plus the phase lock's own latency.
	PhaseDelay probe.Duration `json:"advert_to_failure_ms"`
	// PhaseTarget is the delay after the advert the trial aimed for: 0
	// for PhaseAdvert, SweepDelay for PhaseSwept.
	PhaseTarget probe.Duration `json:"phase_target_ms"`
	// FailureCall is how long setting off the failure took (the netlink
	// call that takes eth1 down, or kill(2)).
	FailureCall probe.Duration `json:"failure_call_ms"`
	// Takeover is from the failure until the bench saw the VIP on b
	// (polled every 5 ms).
	Takeover probe.Duration `json:"failure_to_vip_on_backup_ms"`
	// NotMovedWithin is set when the VIP never reached b within this long
	// after the failure (BackendLost: keepalived's `kill -0` cannot see
	// it). Outage is then the probe's outage until it was stopped, and
	// the trial has no number in the statistics.
	NotMovedWithin probe.Duration `json:"vip_not_moved_within_ms,omitempty"`
	// Restored is from the restore (HAProxy or its server started again)
	// until a was master and b backup again (HAProxy rows).
	Restored probe.Duration `json:"restore_to_master_ms,omitempty"`
	// Legs are where a proxypair trial's time went, by both daemons'
	// own stamps (nil for keepalived, or when they could not be read:
	// see Note).
	Legs  *Legs  `json:"legs,omitempty"`
	Error string `json:"error,omitempty"`
	Note  string `json:"note,omitempty"` // something odd that did not spoil the number
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
	// HAProxy is the master's HAProxy, in pairs that run one.
	HAProxy *Usage `json:"master_haproxy,omitempty"`
	Error   string `json:"error,omitempty"`
}

// ResourceRow is the steady-state cost of both pairs.
type ResourceRow struct {
	ID         string           `json:"id"`
	Label      string           `json:"label"`
	Scenario   ResourceScenario `json:"scenario"`
	Keepalived DaemonUsage      `json:"keepalived"`
	Proxypair  DaemonUsage      `json:"proxypair"`
}

// HealthCostRow is proxypair's master with and without health tracking,
// measured over the same window.
type HealthCostRow struct {
	ID       string             `json:"id"`
	Label    string             `json:"label"`
	Scenario HealthCostScenario `json:"scenario"`
	Off      DaemonUsage        `json:"tracking_off"`
	On       DaemonUsage        `json:"tracking_on"`
}

// Cost is the master's CPU with tracking minus without, in % of one core;
// ok is false when either is missing.
func (h *HealthCostRow) Cost() (percent float64, ok bool) {
	if h.On.Master == nil || h.Off.Master == nil {
		return 0, false
	}
	return h.On.Master.CPUPercent - h.Off.Master.CPUPercent, true
}

// Finish fills the series' statistics and the row's ratio from the trials.
func (r *Row) Finish() {
	r.Keepalived.finish()
	r.Proxypair.finish()
	r.Ratio = ratioOf(&r.Proxypair, &r.Keepalived)
	r.PairRatio = nil
	if r.Pair != nil {
		r.Pair.finish()
		r.PairRatio = ratioOf(r.Pair, &r.Keepalived)
	}
}

func ratioOf(pp, ka *Series) *float64 {
	if ratio, ok := Ratio(pp.Stats(), ka.Stats()); ok {
		return &ratio
	}
	return nil
}

// line is one proxypair series of a row as the tables print it.
type line struct {
	label   string
	series  *Series
	ratio   *float64
	targets Targets
}

// pairLabel is the first cell of a row's "with vrrp.pair" line.
const pairLabel = "  with vrrp.pair"

// proxypairLines are the row's proxypair series: without vrrp.pair, then
// with it if the row measures it.
func proxypairLines(r *Row) []line {
	out := []line{{label: r.Label, series: &r.Proxypair, ratio: r.Ratio, targets: r.Scenario.Targets}}
	if r.Pair != nil {
		var t Targets
		if r.Scenario.Pair != nil {
			t = *r.Scenario.Pair
		}
		out = append(out, line{label: pairLabel, series: r.Pair, ratio: r.PairRatio, targets: t})
	}
	return out
}

// Stats summarises the outages of the trials that have a number: no
// error, and the VIP moved.
func (s *Series) Stats() Stats {
	return s.summarize(func(t Trial) time.Duration { return time.Duration(t.Outage) })
}

// TakeoverStats summarises the failure → VIP on b times of the same
// trials.
func (s *Series) TakeoverStats() Stats {
	return s.summarize(func(t Trial) time.Duration { return time.Duration(t.Takeover) })
}

func (s *Series) summarize(of func(Trial) time.Duration) Stats {
	var ds []time.Duration
	for _, t := range s.Trials {
		if t.Error == "" && t.NotMovedWithin == 0 {
			ds = append(ds, of(t))
		}
	}
	st, _ := Summarize(ds)
	return st
}

// notMoved counts the trials without error whose VIP never moved, and
// returns the longest window they waited.
func (s *Series) notMoved() (n int, within time.Duration) {
	for _, t := range s.Trials {
		if t.Error == "" && t.NotMovedWithin > 0 {
			n++
			within = max(within, time.Duration(t.NotMovedWithin))
		}
	}
	return n, within
}

func (s *Series) finish() {
	st := s.Stats()
	s.OK = st.N
	s.NotMoved, _ = s.notMoved()
	s.Median, s.Min, s.Max = nil, nil, nil
	if st.N > 0 {
		med, lo, hi := probe.Duration(st.Median), probe.Duration(st.Min), probe.Duration(st.Max)
		s.Median, s.Min, s.Max = &med, &lo, &hi
	}
}

// WriteTable prints the report as the table `make bench` shows, the
// targets next to the numbers, then notes on the method. Issue 3's rows
// (ping) and issue 4's (HTTP, HAProxy tracked) are two tables.
func WriteTable(w io.Writer, r *Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "proxypair bench — %d trials per row\n", r.TrialsPer)
	var icmp, http []Row
	for _, row := range r.Rows {
		if row.Scenario.HTTP() {
			http = append(http, row)
		} else {
			icmp = append(icmp, row)
		}
	}
	if len(icmp) > 0 || r.Resources != nil {
		fmt.Fprintf(&b, "\nVRRP failover: the client pings the VIP every %v; failure right after the master's advert\n", ProbeEvery)
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "scenario\tkeepalived (median, min–max)\tproxypair (median, min–max)\tratio\ttarget")
		for _, row := range icmp {
			for i, ln := range proxypairLines(&row) {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", ln.label,
					keepalivedCell(&row, i), seriesCell(ln.series), ratioCell(ln.ratio, &row.Keepalived, ln.series),
					targetCell(ln.targets, ln.ratio, &row.Keepalived, ln.series))
			}
		}
		if rr := r.Resources; rr != nil {
			fmt.Fprintf(tw, "%s\t%s\t%s\t\t%s\n", rr.Label,
				usageCell(rr.Keepalived), usageCell(rr.Proxypair), resourceTargetCell(rr))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(http) > 0 || r.HealthCost != nil {
		fmt.Fprintf(&b, "\nHAProxy tracking: HAProxy on both nodes; the client GETs http://%s/ every %v (new connection each); HTTP outage; failure swept over the script cycle\n",
			vipAddr, ProbeEvery)
	}
	if len(http) > 0 {
		if hasPair(http) {
			fmt.Fprintln(&b, "proxypair without vrrp.pair: the backup waits Skew_Time after the master's priority-0 advert (RFC 3768/5798); \"with vrrp.pair\": both nodes with vrrp.pair, the only backup takes over at once; same keepalived trials")
		}
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "scenario\tkeepalived + vrrp_script (median, min–max)\tproxypair + health (median, min–max)\tratio\tproxypair failure→VIP on b\ttarget")
		for _, row := range http {
			for i, ln := range proxypairLines(&row) {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", ln.label,
					keepalivedCell(&row, i), seriesCell(ln.series), ratioCell(ln.ratio, &row.Keepalived, ln.series),
					takeoverCell(ln.series), targetCell(ln.targets, ln.ratio, &row.Keepalived, ln.series))
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if hc := r.HealthCost; hc != nil {
		fmt.Fprintln(&b, healthCostLine(hc))
	}
	lt, err := legsTable(r.Rows)
	if err != nil {
		return err
	}
	if lt != "" {
		fmt.Fprintln(&b, "\nproxypair's legs: medians in ms, each from the previous stamp; stamped by the daemons (a's last_resign, b's last_takeover in `proxypair status --json`) on the bench's clock")
		b.WriteString(lt)
	}
	for _, n := range notes(r) {
		fmt.Fprintf(&b, "  * %s\n", n)
	}
	_, err = io.WriteString(w, b.String())
	return err
}

// hasPair reports whether any of rows has a "with vrrp.pair" line.
func hasPair(rows []Row) bool {
	for _, r := range rows {
		if r.Pair != nil {
			return true
		}
	}
	return false
}

// keepalivedCell is the keepalived cell of a row's line i: the numbers on
// the first, a pointer to them on the others (same trials).
func keepalivedCell(row *Row, i int) string {
	if i > 0 {
		return "(as above)"
	}
	return seriesCell(&row.Keepalived)
}

func seriesCell(s *Series) string {
	st := s.Stats()
	nm, within := s.notMoved()
	if st.N == 0 {
		switch {
		case len(s.Trials) == 0:
			return "-"
		case nm > 0:
			cell := fmt.Sprintf("never moved (within %.1f s)", within.Seconds())
			if nm < len(s.Trials) {
				cell += fmt.Sprintf(" [%d/%d]", nm, len(s.Trials))
			}
			return cell
		}
		return fmt.Sprintf("no data (%d failed)", len(s.Trials))
	}
	cell := FormatRange(st)
	if nm > 0 {
		cell += fmt.Sprintf(" [%d/%d never moved]", nm, len(s.Trials))
	} else if st.N < len(s.Trials) {
		cell += fmt.Sprintf(" [%d/%d ok]", st.N, len(s.Trials))
	}
	return cell
}

// takeoverCell is a series' failure → VIP on b times.
func takeoverCell(s *Series) string {
	st := s.TakeoverStats()
	if st.N == 0 {
		if nm, within := s.notMoved(); nm > 0 {
			return fmt.Sprintf("never moved (within %.1f s)", within.Seconds())
		}
		return "-"
	}
	return FormatRange(st)
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
func ratioCell(ratio *float64, ka, pp *Series) string {
	if ratio != nil {
		return fmt.Sprintf("%.2f", *ratio)
	}
	switch zeroKeepalived(ka, pp) {
	case "equal":
		return "0/0"
	case "worse":
		return "∞"
	}
	return "n/a"
}

// zeroKeepalived says, when keepalived's median is zero and both have
// data, whether proxypair's is zero too ("equal") or not ("worse").
func zeroKeepalived(kas, pps *Series) string {
	ka, pp := kas.Stats(), pps.Stats()
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

// targetCell judges one proxypair series (pp, with its ratio over ka)
// against its targets.
func targetCell(sc Targets, ratio *float64, ka, pp *Series) string {
	parts := []string{}
	switch {
	case sc.MaxRatio <= 0:
	case ratio == nil:
		v := "n/a"
		switch zeroKeepalived(ka, pp) {
		case "equal":
			v = "ok"
		case "worse":
			v = "MISS"
		}
		parts = append(parts, fmt.Sprintf("ratio ≤ %s: %s", formatRatio(sc.MaxRatio), v))
	default:
		// Judged as printed: the probe's 10 ms resolution makes the third
		// decimal noise.
		parts = append(parts, fmt.Sprintf("ratio ≤ %s: %s", formatRatio(sc.MaxRatio), verdict(math.Round(*ratio*100)/100 <= sc.MaxRatio)))
	}
	if sc.MaxOutage > 0 {
		st := pp.Stats()
		v := "n/a"
		if st.N > 0 {
			v = verdict(OutageWithin(st.Median, sc.MaxOutage, ProbeEvery))
		}
		parts = append(parts, fmt.Sprintf("proxypair ≤ %v: %s", sc.MaxOutage, v))
	}
	if sc.MaxTakeover > 0 {
		parts = append(parts, fmt.Sprintf("proxypair VIP on b ≤ check %v + 1s, every trial: %s",
			BackendCheck.DownTime(), takeoverVerdict(pp, sc.MaxTakeover)))
	}
	if sc.ZeroLoss {
		parts = append(parts, "proxypair 0 lost, every trial: "+zeroLossVerdict(pp))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, "; ")
}

// zeroLossVerdict judges every trial with a result: each must have had
// every probe answered.
func zeroLossVerdict(s *Series) string {
	n := 0
	for _, t := range s.Trials {
		if t.Error != "" {
			continue
		}
		if t.Answered != t.Sent || t.NotMovedWithin > 0 {
			return "MISS"
		}
		n++
	}
	if n == 0 {
		return "n/a"
	}
	return "ok"
}

// takeoverVerdict judges every trial with a result: each must have moved
// the VIP within limit.
func takeoverVerdict(s *Series, limit time.Duration) string {
	if nm, _ := s.notMoved(); nm > 0 {
		return "MISS"
	}
	st := s.TakeoverStats()
	if st.N == 0 {
		return "n/a"
	}
	return verdict(st.Max <= limit)
}

// formatRatio prints a ratio target with at least one decimal: "1.0",
// "0.25".
func formatRatio(x float64) string {
	s := strconv.FormatFloat(x, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
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

// healthCostLine is the health-checking cost under the HAProxy table.
func healthCostLine(hc *HealthCostRow) string {
	if e := errors.Join(usageErr(hc.Off), usageErr(hc.On)); e != nil || hc.On.Master == nil || hc.Off.Master == nil {
		return fmt.Sprintf("%s: no data (see the notes)", hc.Label)
	}
	cost, _ := hc.Cost()
	line := fmt.Sprintf("%s, proxypair master: CPU %.2f%% tracking on, %.2f%% off → health checking %.2f%% of one core (target ≤ %g%%: %s); RSS %s on, %s off",
		hc.Label, hc.On.Master.CPUPercent, hc.Off.Master.CPUPercent, cost, hc.Scenario.MaxCPU, verdict(cost <= hc.Scenario.MaxCPU),
		FormatMB(hc.On.Master.RSSBytes), FormatMB(hc.Off.Master.RSSBytes))
	if hc.On.HAProxy != nil && hc.Off.HAProxy != nil {
		line += fmt.Sprintf("; the master's HAProxy: CPU %.2f%% on, %.2f%% off", hc.On.HAProxy.CPUPercent, hc.Off.HAProxy.CPUPercent)
	}
	return line
}

func usageErr(u DaemonUsage) error {
	if u.Error == "" {
		return nil
	}
	return errors.New(u.Error)
}

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
	// phaseExcess is advert → failure beyond the aimed-for delay, by phase
	// mode: the phase lock's own latency.
	excess := map[Phase][]time.Duration{}
	hasICMP, hasHTTP := false, false
	for _, row := range r.Rows {
		if row.Scenario.HTTP() {
			hasHTTP = true
		} else {
			hasICMP = true
		}
		for _, s := range []*Series{&row.Keepalived, &row.Proxypair, row.Pair} {
			if s == nil {
				continue
			}
			for _, t := range s.Trials {
				if t.Error == "" {
					excess[row.Scenario.Phase] = append(excess[row.Scenario.Phase], time.Duration(t.PhaseDelay-t.PhaseTarget))
				}
			}
		}
	}
	withStats := func(note, what string, ds []time.Duration) string {
		if st, ok := Summarize(ds); ok {
			note += fmt.Sprintf(" %s: median %v, max %v.", what, st.Median.Round(10*time.Microsecond), st.Max.Round(10*time.Microsecond))
		}
		return note
	}
	if hasICMP {
		if r.Method.PhaseLock != "" {
			out = append(out, withStats(r.Method.PhaseLock, "Advert → failure", excess[PhaseAdvert]))
		}
		if r.Method.Outage != "" {
			out = append(out, r.Method.Outage)
		}
	}
	if r.Resources != nil && r.Method.Resources != "" {
		out = append(out, r.Method.Resources)
	}
	if hasHTTP {
		if r.Method.PhaseSweep != "" {
			out = append(out, withStats(r.Method.PhaseSweep, "Advert → failure beyond the aimed-for delay", excess[PhaseSwept]))
		}
		for _, n := range []string{r.Method.HTTPOutage, r.Method.Tracking} {
			if n != "" {
				out = append(out, n)
			}
		}
	}
	var pair, handover, withLegs bool
	for _, row := range r.Rows {
		pair = pair || row.Pair != nil
		handover = handover || row.Scenario.Failure == PlannedHandover
		for _, ln := range proxypairLines(&row) {
			withLegs = withLegs || ln.series.withLegs() > 0
		}
	}
	for _, n := range []struct {
		on   bool
		note string
	}{{pair, r.Method.PairMode}, {handover, r.Method.Handover}, {withLegs, r.Method.Legs}} {
		if n.on && n.note != "" {
			out = append(out, n.note)
		}
	}
	if r.HealthCost != nil && r.Method.HealthCost != "" {
		out = append(out, r.Method.HealthCost)
	}
	for _, row := range r.Rows {
		for _, d := range []struct {
			name string
			s    *Series
		}{{Keepalived, &row.Keepalived}, {Proxypair, &row.Proxypair}, {ProxypairPair, row.Pair}} {
			if d.s == nil {
				continue
			}
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
	if hc := r.HealthCost; hc != nil {
		if e := hc.Off.Error; e != "" {
			out = append(out, fmt.Sprintf("%s tracking off: %s", hc.ID, e))
		}
		if e := hc.On.Error; e != "" {
			out = append(out, fmt.Sprintf("%s tracking on: %s", hc.ID, e))
		}
	}
	if r.Interrupted {
		out = append(out, "interrupted: the rows above are what was measured before the signal")
	}
	return out
}
