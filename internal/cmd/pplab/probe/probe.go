// Package probe measures reachability outages: it sends a probe (an ICMP
// echo, an HTTP GET) at a fixed rate, records each probe's send time and
// outcome, and turns the record into outages.
//
// An outage runs from the send time of the first failed probe to the send
// time of the next successful one, so its resolution is the probe interval.
package probe

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// Prober sends one probe and waits for its answer until ctx ends.
type Prober interface {
	// Probe sends probe number seq (0, 1, 2, …). A nil error means
	// answered; detail says by whom or with what (for the record).
	Probe(ctx context.Context, seq int) (detail string, err error)
}

// Sample is the outcome of one probe.
type Sample struct {
	Seq    int       `json:"seq"`
	Sent   time.Time `json:"sent"`
	OK     bool      `json:"ok"`
	RTT    Duration  `json:"rtt_ms,omitempty"`
	Detail string    `json:"detail,omitempty"` // the answer, or why there was none
}

// Config paces a Run.
type Config struct {
	Every    time.Duration // interval between probe sends
	Timeout  time.Duration // how long one probe may wait for its answer
	Duration time.Duration // when to stop; 0 = only when ctx ends
}

// Run sends a probe every cfg.Every until cfg.Duration has passed or ctx
// ends, then waits for the probes in flight (each bounded by cfg.Timeout;
// stopping does not fail them) and returns every sample in send order.
func Run(ctx context.Context, p Prober, cfg Config) []Sample {
	var (
		mu      sync.Mutex
		samples []Sample
		wg      sync.WaitGroup
	)
	stop := ctx.Done()
	if cfg.Duration > 0 {
		dctx, cancel := context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
		stop = dctx.Done()
	}
	tick := time.NewTicker(cfg.Every)
	defer tick.Stop()

	// In-flight probes outlive the stop: cutting them short would record
	// failures that never happened.
	pctx := context.WithoutCancel(ctx)
	for seq := 0; ; seq++ {
		mu.Lock()
		samples = append(samples, Sample{Seq: seq})
		mu.Unlock()
		wg.Go(func() {
			c, cancel := context.WithTimeout(pctx, cfg.Timeout)
			defer cancel()
			sent := time.Now()
			detail, err := p.Probe(c, seq)
			s := Sample{Seq: seq, Sent: sent, OK: err == nil, Detail: detail}
			if err != nil {
				s.Detail = err.Error()
			} else {
				s.RTT = Duration(time.Since(sent))
			}
			mu.Lock()
			samples[seq] = s
			mu.Unlock()
		})
		select {
		case <-stop:
			wg.Wait()
			return samples
		case <-tick.C:
		}
	}
}

// Outage is one stretch of failed probes.
type Outage struct {
	Start    time.Time `json:"start"`       // send time of the first failed probe
	End      time.Time `json:"end"`         // send time of the next answered probe (run end if Ongoing)
	At       Duration  `json:"at_ms"`       // Start, relative to the run's start
	Duration Duration  `json:"duration_ms"` // End − Start
	Lost     int       `json:"lost"`        // failed probes in it
	Ongoing  bool      `json:"ongoing,omitempty"`
	Error    string    `json:"error,omitempty"` // why the first probe failed
}

// Outages finds the outages in samples, which must be in send order. A
// failure run still open at the last sample lasts until end and is marked
// Ongoing. At is measured from the first sample's send time.
func Outages(samples []Sample, end time.Time) []Outage {
	var (
		out  []Outage
		cur  *Outage
		zero time.Time
	)
	if len(samples) > 0 {
		zero = samples[0].Sent
	}
	for _, s := range samples {
		switch {
		case !s.OK && cur == nil:
			cur = &Outage{Start: s.Sent, At: Duration(s.Sent.Sub(zero)), Lost: 1, Error: s.Detail}
		case !s.OK:
			cur.Lost++
		case cur != nil:
			cur.End = s.Sent
			cur.Duration = Duration(cur.End.Sub(cur.Start))
			out = append(out, *cur)
			cur = nil
		}
	}
	if cur != nil {
		if end.Before(cur.Start) {
			end = cur.Start
		}
		cur.End, cur.Ongoing = end, true
		cur.Duration = Duration(end.Sub(cur.Start))
		out = append(out, *cur)
	}
	return out
}

// Result is what a probe run reports (the --json file).
type Result struct {
	Kind     string    `json:"kind"` // "icmp" or "http"
	Target   string    `json:"target"`
	Every    Duration  `json:"every_ms"`
	Timeout  Duration  `json:"timeout_ms"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Sent     int       `json:"sent"`
	Answered int       `json:"answered"`
	Outages  []Outage  `json:"outages"`
	Longest  Duration  `json:"longest_ms"`      // the longest outage
	Total    Duration  `json:"total_outage_ms"` // all outages together
	Samples  []Sample  `json:"samples,omitempty"`
}

// Summarize builds the Result of a run that ended at end.
func Summarize(kind, target string, cfg Config, samples []Sample, end time.Time) Result {
	r := Result{
		Kind:    kind,
		Target:  target,
		Every:   Duration(cfg.Every),
		Timeout: Duration(cfg.Timeout),
		End:     end,
		Sent:    len(samples),
		Outages: Outages(samples, end),
	}
	if len(samples) > 0 {
		r.Start = samples[0].Sent
	}
	if r.Outages == nil {
		r.Outages = []Outage{} // "outages": [] reads better than null
	}
	for _, s := range samples {
		if s.OK {
			r.Answered++
		}
	}
	for _, o := range r.Outages {
		r.Total += o.Duration
		r.Longest = max(r.Longest, o.Duration)
	}
	return r
}

// Summary is the one-line human summary of r.
func (r Result) Summary() string {
	s := fmt.Sprintf("%s %s: %d sent, %d answered, %d outage", r.Kind, r.Target, r.Sent, r.Answered, len(r.Outages))
	if len(r.Outages) != 1 {
		s += "s"
	}
	if len(r.Outages) > 0 {
		s += fmt.Sprintf(", longest %v, total %v", r.Longest, r.Total)
	}
	return s + fmt.Sprintf(" (every %v, %v)", r.Every, time.Duration(r.End.Sub(r.Start)).Round(time.Millisecond))
}

// Duration is a time.Duration that reads and writes JSON as milliseconds.
type Duration time.Duration

// MarshalJSON writes milliseconds with microsecond precision.
func (d Duration) MarshalJSON() ([]byte, error) {
	return strconv.AppendFloat(nil, float64(d)/float64(time.Millisecond), 'f', 3, 64), nil
}

// UnmarshalJSON reads milliseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var ms float64
	if err := json.Unmarshal(b, &ms); err != nil {
		return fmt.Errorf("probe: duration in ms: %w", err)
	}
	*d = Duration(ms * float64(time.Millisecond))
	return nil
}

func (d Duration) String() string { return time.Duration(d).Round(100 * time.Microsecond).String() }
