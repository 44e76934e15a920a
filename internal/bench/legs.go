package bench

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/proxypair/proxypair/appliance/control"
	"github.com/proxypair/proxypair/internal/cmd/pplab/probe"
)

// Legs are where the time of one proxypair trial went, read from both
// nodes' status after it: a's last_resign (its tracker saw HAProxy fail,
// its VRRP loop took the verdict, its priority-0 adverts left; a planned
// hand-over has only the loop taking the request, its MASTER → HANDOVER
// transition) and b's last_takeover (the advert or timer that made it
// master, its first advert, the VIP in its kernel, its first gratuitous
// ARP). Each stamp is the time from the failure being set off: the bench
// and both namespaces read the same host clock. Zero is a stamp the node
// did not report, or one older than the failure (left from an earlier
// trial).
type Legs struct {
	Detected   probe.Duration `json:"a_detected_ms,omitzero"`
	Handled    probe.Duration `json:"a_handled_ms,omitzero"`
	Prio0Sent  probe.Duration `json:"a_prio0_sent_ms,omitzero"`
	Master     probe.Duration `json:"b_master_ms"`
	AdvertSent probe.Duration `json:"b_advert_sent_ms,omitzero"`
	VIPAdded   probe.Duration `json:"b_vip_added_ms,omitzero"`
	FirstARP   probe.Duration `json:"b_first_garp_ms,omitzero"`
	Reason     string         `json:"b_reason"` // why b became master
}

// handingOver is the state a master hands over in (fsm.HandingOver).
const handingOver = "HANDOVER"

// errNoTakeover is LegsOf's answer when b has not become master since the
// failure, by its own account.
var errNoTakeover = errors.New("b reports no takeover since the failure")

// LegsOf builds a trial's legs from the status of the master a and the
// backup b, read after b took over; failedAt is when the failure was set
// off.
func LegsOf(failedAt time.Time, a, b control.Instance) (*Legs, error) {
	since := func(t time.Time) probe.Duration {
		if t.IsZero() || t.Before(failedAt) {
			return 0
		}
		// A stamp at the very nanosecond of the failure is still a stamp.
		return probe.Duration(max(t.Sub(failedAt), 1))
	}
	tk := b.LastTakeover
	if tk == nil || since(tk.Trigger) == 0 {
		return nil, fmt.Errorf("bench: legs: %w (last_takeover %s)", errNoTakeover, describeTakeover(tk))
	}
	l := &Legs{
		Master:     since(tk.Trigger),
		AdvertSent: since(tk.AdvertSent),
		VIPAdded:   since(tk.VIPAdded),
		FirstARP:   since(tk.FirstARP),
		Reason:     tk.Reason,
	}
	if r := a.LastResign; r != nil && since(r.Detected) > 0 {
		l.Detected, l.Handled, l.Prio0Sent = since(r.Detected), since(r.Handled), since(r.Prio0Sent)
		return l, nil
	}
	// A planned hand-over has no resign: a's VRRP loop took the request
	// when it went from MASTER to HANDOVER.
	for _, tr := range slices.Backward(a.Transitions) {
		if tr.To == handingOver && since(tr.At) > 0 {
			l.Handled = since(tr.At)
			break
		}
	}
	return l, nil
}

func describeTakeover(tk *control.TakeoverTiming) string {
	if tk == nil {
		return "absent"
	}
	return fmt.Sprintf("triggered at %s (%s)", tk.Trigger.Format(time.RFC3339Nano), tk.Reason)
}

// stamp is one of Legs' stamps, in the order of a hand-over.
type stamp struct {
	name string
	of   func(*Legs) probe.Duration
}

// stamps are issue 13's tracker event → priority-0 sent → peer VIP added
// → first GARP, with the hops in between.
var stamps = []stamp{
	{"a detected", func(l *Legs) probe.Duration { return l.Detected }},
	{"a handled", func(l *Legs) probe.Duration { return l.Handled }},
	{"a prio-0 sent", func(l *Legs) probe.Duration { return l.Prio0Sent }},
	{"b master", func(l *Legs) probe.Duration { return l.Master }},
	{"b advert sent", func(l *Legs) probe.Duration { return l.AdvertSent }},
	{"b VIP added", func(l *Legs) probe.Duration { return l.VIPAdded }},
	{"b first GARP", func(l *Legs) probe.Duration { return l.FirstARP }},
}

// legColumns are the legs table's columns: a hop to each stamp, then the
// whole, from the failure to b's first gratuitous ARP.
func legColumns() []string {
	out := []string{"failure→" + stamps[0].name}
	for _, st := range stamps[1:] {
		out = append(out, "→"+st.name)
	}
	return append(out, "failure→"+stamps[len(stamps)-1].name)
}

// LegStats summarises column i of the legs table over the series' trials
// without error: the hop to stamp i from the trial's previous stamp (the
// latest earlier one it has, else the failure), over the trials that
// have stamp i; for i = len(stamps), the failure to the last stamp.
func (s *Series) LegStats(i int) Stats {
	var ds []time.Duration
	for _, t := range s.Trials {
		if t.Error != "" || t.Legs == nil {
			continue
		}
		if i == len(stamps) {
			if to := stamps[i-1].of(t.Legs); to != 0 {
				ds = append(ds, time.Duration(to))
			}
			continue
		}
		to := stamps[i].of(t.Legs)
		if to == 0 {
			continue
		}
		from := probe.Duration(0)
		for j := i - 1; j >= 0 && from == 0; j-- {
			from = stamps[j].of(t.Legs)
		}
		ds = append(ds, time.Duration(to-from))
	}
	st, _ := Summarize(ds)
	return st
}

// withLegs counts the series' trials that have legs.
func (s *Series) withLegs() int {
	n := 0
	for _, t := range s.Trials {
		if t.Error == "" && t.Legs != nil {
			n++
		}
	}
	return n
}

// legsTable is the legs of every proxypair series that has some, one line
// each, medians in milliseconds; "" when no series has legs.
func legsTable(rows []Row) (string, error) {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	header := "scenario"
	for _, c := range legColumns() {
		header += "\t" + c
	}
	fmt.Fprintln(tw, header+"\ttrials")
	lines := 0
	for _, row := range rows {
		printed := false // the row's first line, which names it
		for i, ln := range proxypairLines(&row) {
			n := ln.series.withLegs()
			if n == 0 {
				continue
			}
			lines++
			cells := ln.label
			if i > 0 && !printed {
				cells = row.Label + " " + strings.TrimSpace(ln.label)
			}
			printed = true
			for i := range len(stamps) + 1 {
				cells += "\t" + legCell(ln.series.LegStats(i))
			}
			fmt.Fprintf(tw, "%s\t%d/%d\n", cells, n, len(ln.series.Trials))
		}
	}
	if err := tw.Flush(); err != nil || lines == 0 {
		return "", err
	}
	return b.String(), nil
}

// legCell is a leg's median in milliseconds with two decimals (10 µs):
// "0.05", "609.44"; "-" without data.
func legCell(st Stats) string {
	if st.N == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", float64(st.Median)/float64(time.Millisecond))
}
