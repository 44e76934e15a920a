package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// requests replays a client's record: one request every 10 ms from t0,
// ok or not as pattern says ('.' answered by by, 'x' failed), each done
// 1 ms after it was sent.
func requests(t0 time.Time, pattern, by string) *demoRequests {
	r := &demoRequests{}
	for i, c := range pattern {
		sent := t0.Add(time.Duration(i) * 10 * time.Millisecond)
		n := r.add(sent)
		if c == '.' {
			r.finish(n, sent.Add(time.Millisecond), true, by)
		} else {
			r.finish(n, sent.Add(time.Millisecond), false, "connection refused")
		}
	}
	return r
}

func TestDemoAccount(t *testing.T) {
	t0 := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * 10 * time.Millisecond) }
	for _, tc := range []struct {
		name     string
		pattern  string
		from, to int // request indexes: the window [from, to)
		want     clientAccount
	}{
		{"none lost", "..........", 0, 10, clientAccount{Sent: 10}},
		{"one outage", "...xxx....", 0, 10, clientAccount{Sent: 10, Lost: 3, Outage: 30 * time.Millisecond, Run: 3, Why: "connection refused"}},
		{"the longest of two", ".x..xxxx..", 0, 10, clientAccount{Sent: 10, Lost: 5, Outage: 40 * time.Millisecond, Run: 4, Why: "connection refused"}},
		// A run still failing at the window's end lasts until the end.
		{"ongoing at the end", "......xxxx", 0, 10, clientAccount{Sent: 10, Lost: 4, Outage: 40 * time.Millisecond, Run: 4, Why: "connection refused"}},
		// Only what was sent inside the window counts.
		{"window", "xx......xx", 2, 8, clientAccount{Sent: 6}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := requests(t0, tc.pattern, "a")
			if got := r.account(at(tc.from), at(tc.to)); got != tc.want {
				t.Errorf("account of %q [%d, %d) = %+v, want %+v", tc.pattern, tc.from, tc.to, got, tc.want)
			}
		})
	}
}

func TestDemoServed(t *testing.T) {
	t0 := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	end := t0.Add(100 * time.Millisecond)
	for _, tc := range []struct {
		name    string
		r       *demoRequests
		holders []string
		ok      bool
		why     string
	}{
		{"served by the holder", requests(t0, "..........", "a"), []string{"a"}, true, ""},
		{"served by either of two", requests(t0, "..........", "b"), []string{"a", "b"}, true, ""},
		{"a failure", requests(t0, ".........x", "a"), []string{"a"}, false, "no answer: connection refused"},
		{"served by the wrong node", requests(t0, "..........", "b"), []string{"a"}, false, "answered by b, which does not hold"},
		{"nothing sent", &demoRequests{}, []string{"a"}, false, "no request was sent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, why := tc.r.served(t0, end, tc.holders)
			if ok != tc.ok || !strings.Contains(why, tc.why) {
				t.Errorf("served = %t, %q; want %t, %q", ok, why, tc.ok, tc.why)
			}
		})
	}
}

func TestDemoFinished(t *testing.T) {
	t0 := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	r := requests(t0, "..xx......", "a")
	n := r.add(t0.Add(100 * time.Millisecond)) // still in flight
	ok, total, by := r.finished(t0, t0.Add(time.Second))
	if ok != 8 || total != 10 || by != "a" {
		t.Errorf("finished = %d/%d by %q, want 8/10 by a (the request in flight not counted)", ok, total, by)
	}
	if !r.inFlight(t0.Add(101 * time.Millisecond)) {
		t.Error("inFlight: the unanswered request is not seen")
	}
	r.finish(n, t0.Add(110*time.Millisecond), true, "b")
	if r.inFlight(t0.Add(time.Second)) {
		t.Error("inFlight after every request ended")
	}
	if _, _, by := r.finished(t0, t0.Add(time.Second)); by != "b" {
		t.Errorf("finished: served by %q, want the last answer's b", by)
	}
}

func TestDemoSummary(t *testing.T) {
	results := []stepResult{
		{N: 1, Title: "election", Holders: "a", Took: 3400 * time.Millisecond},
		{N: 2, Title: "HAProxy killed on a", Holders: "b", Took: 620 * time.Millisecond, Counted: true,
			clientAccount: clientAccount{Sent: 161, Lost: 62, Outage: 620 * time.Millisecond, Run: 62}},
		{N: 3, Title: "planned hand-over", Holders: "b", Took: 260 * time.Millisecond, Counted: true, Planned: true,
			clientAccount: clientAccount{Sent: 75}},
		{N: 4, Title: "b runs keepalived", Holders: "a", Took: 900 * time.Millisecond, Stayed: true, Counted: true,
			clientAccount: clientAccount{Sent: 90, Lost: 90, Outage: 900 * time.Millisecond, Run: 90, Why: "i/o timeout"}, Failed: "the client is not served"},
	}
	var b bytes.Buffer
	if err := writeSummary(&b, results, "c GETs the VIP"); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"Summary (client: c GETs the VIP; outage: the longest run of failed requests)",
		"  1  election             a       3.4s   -       -",
		"  2  HAProxy killed on a  b       0.62s  0.62s   62 of 161",
		"  3  planned hand-over    b       0.26s  none    0 of 75",
		"planned: no gap",
		"  4  b runs keepalived    a       stays  0.90s   90 of 90   ✗ the client is not served",
		"A planned move keeps the VIP served throughout",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if got := results[1].resultLine(); got != "→ VIP on b after 0.62s; client: 62 of 161 requests lost, longest outage 0.62s" {
		t.Errorf("result line: %q", got)
	}
	if got := results[3].resultLine(); !strings.HasPrefix(got, "→ VIP stays on a; client: 90 of 90 requests lost, longest outage 0.90s (i/o timeout)") || !strings.Contains(got, "✗ the client is not served") {
		t.Errorf("result line: %q", got)
	}
}
