package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/proxypair/proxypair/internal/cmd/pplab/probe"
)

// demoRequest is one GET of the demo's client.
type demoRequest struct {
	sent time.Time
	done time.Time // zero while in flight
	ok   bool
	by   string // who answered (the body: the host's name), or why nothing did
}

// demoRequests records the client's requests in send order, for the live
// view (what finished in the last second) and for each step's account
// (what was sent while it ran).
type demoRequests struct {
	mu   sync.Mutex
	reqs []demoRequest
}

// add records a request sent at sent and returns its index for finish.
func (r *demoRequests) add(sent time.Time) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, demoRequest{sent: sent})
	return len(r.reqs) - 1
}

// finish records request i's outcome.
func (r *demoRequests) finish(i int, done time.Time, ok bool, by string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	q := &r.reqs[i]
	q.done, q.ok, q.by = done, ok, by
}

// finished counts the requests that ended in (since, until] and says who
// answered the last one that succeeded.
func (r *demoRequests) finished(since, until time.Time) (ok, total int, by string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var last time.Time
	for _, q := range r.reqs {
		if q.done.IsZero() || !q.done.After(since) || q.done.After(until) {
			continue
		}
		total++
		if q.ok {
			ok++
			if q.done.After(last) {
				last, by = q.done, q.by
			}
		}
	}
	return ok, total, by
}

// inFlight reports whether a request sent before t has not ended yet.
func (r *demoRequests) inFlight(t time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.reqs) - 1; i >= 0; i-- {
		q := r.reqs[i]
		if q.sent.Before(t) && q.done.IsZero() {
			return true
		}
	}
	return false
}

// clientAccount is what the client saw of the requests sent in a step.
type clientAccount struct {
	Sent, Lost int
	// Outage is the longest one: from the first failed request's send to
	// the next answered one's (probe.Outages), or to the step's end when
	// the failures last until then. Run is how many requests failed in a
	// row in it, Why why the first of them failed.
	Outage time.Duration
	Run    int
	Why    string
}

// account sums up the requests sent in [from, to).
func (r *demoRequests) account(from, to time.Time) clientAccount {
	r.mu.Lock()
	var (
		a       clientAccount
		samples []probe.Sample
	)
	for _, q := range r.reqs {
		if q.sent.Before(from) || !q.sent.Before(to) {
			continue
		}
		s := probe.Sample{Seq: len(samples), Sent: q.sent, OK: q.ok}
		if !q.ok {
			s.Detail = q.by
			a.Lost++
		}
		samples = append(samples, s)
	}
	r.mu.Unlock()
	a.Sent = len(samples)
	for i, o := range probe.Outages(samples, to) {
		if d := time.Duration(o.Duration); i == 0 || d > a.Outage {
			a.Outage, a.Run, a.Why = d, o.Lost, o.Error
		}
	}
	return a
}

// served checks that every request sent in [from, to) was answered, by
// one of holders, and says what went wrong if not.
func (r *demoRequests) served(from, to time.Time, holders []string) (bool, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, q := range r.reqs {
		if q.sent.Before(from) || !q.sent.Before(to) {
			continue
		}
		n++
		switch {
		case !q.ok:
			return false, "a request got no answer: " + q.by
		case !slices.Contains(holders, q.by):
			return false, fmt.Sprintf("a request was answered by %s, which does not hold the VIP", q.by)
		}
	}
	if n == 0 {
		return false, "no request was sent"
	}
	return true, ""
}

// plannedRun is the most requests in a row a planned move may fail: the
// ones caught in flight at the instant the VIP moves (under load, two
// can overlap). A takeover after Skew_Time fails several.
const plannedRun = 2

// stepResult is one step of the demo as the summary shows it.
type stepResult struct {
	N       int
	Title   string
	Holders string        // who held the VIP when the step settled: "a", "b", "a+b"
	Took    time.Duration // from the step's action to the VIP settling there
	// Counted is false before the first election, when there is no VIP
	// to miss yet.
	Counted bool
	clientAccount
	// Stayed: the VIP never moved (Took is then how long the step ran).
	Stayed bool
	// Planned marks a planned move, which must leave no gap (at most
	// plannedRun requests in a row may fail). Failed says what went
	// against an expectation.
	Planned bool
	Failed  string
}

// resultLine is the line closing a step.
func (s stepResult) resultLine() string {
	b := fmt.Sprintf("→ VIP on %s after %s", s.Holders, roundDuration(s.Took))
	if s.Stayed {
		b = "→ VIP stays on " + s.Holders
	}
	if !s.Counted {
		return b
	}
	switch {
	case s.Lost == 0:
		b += fmt.Sprintf("; client: no request lost (%d sent)", s.Sent)
	default:
		b += fmt.Sprintf("; client: %d of %d requests lost, longest outage %s", s.Lost, s.Sent, roundDuration(s.Outage))
		if s.Why != "" {
			b += " (" + s.Why + ")"
		}
	}
	if s.Failed != "" {
		b += "\n   ✗ " + s.Failed
	}
	return b
}

// writeSummary prints the table of every step.
func writeSummary(w io.Writer, results []stepResult, client string) error {
	fmt.Fprintf(w, "Summary (client: %s; outage: the longest run of failed requests)\n\n", client)
	var table strings.Builder
	tw := tabwriter.NewWriter(&table, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  #\tstep\tVIP on\ttook\toutage\tlost\t")
	for _, s := range results {
		outage, lost := "-", "-"
		if s.Counted {
			outage, lost = "none", fmt.Sprintf("0 of %d", s.Sent)
			if s.Lost > 0 {
				outage, lost = roundDuration(s.Outage), fmt.Sprintf("%d of %d", s.Lost, s.Sent)
			}
		}
		mark := ""
		switch {
		case s.Failed != "":
			mark = "✗ " + s.Failed
		case s.Planned:
			mark = "planned: no gap"
		}
		took := roundDuration(s.Took)
		if s.Stayed {
			took = "stays"
		}
		fmt.Fprintf(tw, "%3d\t%s\t%s\t%s\t%s\t%s\t%s\n", s.N, s.Title, s.Holders, took, outage, lost, mark)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for line := range strings.Lines(table.String()) {
		fmt.Fprintln(w, strings.TrimRight(line, " \n"))
	}
	if slices.ContainsFunc(results, func(s stepResult) bool { return s.Planned }) {
		fmt.Fprintln(w, "\nA planned move keeps the VIP served throughout (make before break). A request whose")
		fmt.Fprintln(w, "connection is open at the instant the client's ARP entry moves can still fail (the new")
		fmt.Fprintln(w, "holder never saw that connection): \"no gap\" allows such a stray, never a run of failures.")
	}
	return nil
}

// roundDuration shows a duration to 10 ms, the client's resolution.
func roundDuration(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
	return fmt.Sprintf("%.1fs", d.Seconds())
}

// holderNames is "a", "b", "a+b", or "nobody".
func holderNames(names []string) string {
	if len(names) == 0 {
		return "nobody"
	}
	return strings.Join(names, "+")
}
