package probe

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// pattern turns "..xx.x" into samples 10ms apart: '.' answered, 'x' failed.
func pattern(p string) []Sample {
	var s []Sample
	for i, c := range p {
		s = append(s, Sample{Seq: i, Sent: t0.Add(time.Duration(i) * 10 * time.Millisecond), OK: c == '.', Detail: string(c)})
	}
	return s
}

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func TestOutages(t *testing.T) {
	at := func(n int) time.Time { return t0.Add(ms(n)) }
	for _, tc := range []struct {
		name    string
		samples string
		end     time.Time
		want    []Outage
	}{
		{name: "none", samples: "", end: at(0), want: nil},
		{name: "all answered", samples: ".....", end: at(50), want: nil},
		{
			name: "one in the middle", samples: "..xxx..", end: at(70),
			want: []Outage{{Start: at(20), End: at(50), At: Duration(ms(20)), Duration: Duration(ms(30)), Lost: 3, Error: "x"}},
		},
		{
			name: "single lost probe", samples: ".x.", end: at(30),
			want: []Outage{{Start: at(10), End: at(20), At: Duration(ms(10)), Duration: Duration(ms(10)), Lost: 1, Error: "x"}},
		},
		{
			name: "two", samples: ".xx..x.", end: at(70),
			want: []Outage{
				{Start: at(10), End: at(30), At: Duration(ms(10)), Duration: Duration(ms(20)), Lost: 2, Error: "x"},
				{Start: at(50), End: at(60), At: Duration(ms(50)), Duration: Duration(ms(10)), Lost: 1, Error: "x"},
			},
		},
		{
			name: "from the start (target not up yet)", samples: "xx...", end: at(50),
			want: []Outage{{Start: at(0), End: at(20), At: 0, Duration: Duration(ms(20)), Lost: 2, Error: "x"}},
		},
		{
			name: "still open at the end", samples: "..xx", end: at(45),
			want: []Outage{{Start: at(20), End: at(45), At: Duration(ms(20)), Duration: Duration(ms(25)), Lost: 2, Ongoing: true, Error: "x"}},
		},
		{
			name: "open, end before its start", samples: "..x", end: at(0),
			want: []Outage{{Start: at(20), End: at(20), At: Duration(ms(20)), Lost: 1, Ongoing: true, Error: "x"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Outages(pattern(tc.samples), tc.end)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Outages(%q) mismatch (-want +got):\n%s", tc.samples, diff)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	cfg := Config{Every: ms(10), Timeout: ms(500)}
	r := Summarize("icmp", "198.18.0.100", cfg, pattern(".xx...xxxx.."), t0.Add(ms(120)))
	if r.Sent != 12 || r.Answered != 6 || len(r.Outages) != 2 {
		t.Fatalf("sent %d answered %d outages %d; want 12, 6, 2", r.Sent, r.Answered, len(r.Outages))
	}
	if r.Longest != Duration(ms(40)) || r.Total != Duration(ms(60)) {
		t.Errorf("longest %v total %v; want 40ms, 60ms", r.Longest, r.Total)
	}
	want := "icmp 198.18.0.100: 12 sent, 6 answered, 2 outages, longest 40ms, total 60ms (every 10ms, 120ms)"
	if got := r.Summary(); got != want {
		t.Errorf("Summary() =\n%q\nwant\n%q", got, want)
	}

	none := Summarize("http", "x", cfg, pattern("..."), t0.Add(ms(30)))
	b, err := json.Marshal(none)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"outages":[]`) || !strings.Contains(string(b), `"every_ms":10.000`) {
		t.Errorf("JSON %s: want \"outages\":[] and every_ms in milliseconds", b)
	}

	var back Result
	if err := json.Unmarshal(mustJSON(t, r), &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r, back); diff != "" {
		t.Errorf("JSON round trip mismatch (-want +got):\n%s", diff)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// scripted answers probe n according to fail(n), after a fixed delay.
type scripted struct {
	delay time.Duration
	fail  func(seq int) bool
}

func (s scripted) Probe(ctx context.Context, seq int) (string, error) {
	select {
	case <-time.After(s.delay):
	case <-ctx.Done():
		return "", ctx.Err()
	}
	if s.fail(seq) {
		<-ctx.Done() // a lost probe waits for its timeout
		return "", errors.New("timeout")
	}
	return "pong", nil
}

func TestRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// 195ms, not 200: a tick and the stop at the same instant would
		// race.
		cfg := Config{Every: ms(10), Timeout: ms(100), Duration: ms(195)}
		p := scripted{delay: ms(1), fail: func(seq int) bool { return seq >= 5 && seq < 9 }}
		start := time.Now()
		samples := Run(context.Background(), p, cfg)
		end := time.Now()

		if len(samples) != 20 { // t = 0, 10ms, …, 190ms
			t.Fatalf("sent %d probes in 195ms every 10ms, want 20", len(samples))
		}
		for i, s := range samples {
			if s.Seq != i || !s.Sent.Equal(start.Add(time.Duration(i)*ms(10))) {
				t.Errorf("sample %d: seq %d sent at +%v; want seq %d at +%v", i, s.Seq, s.Sent.Sub(start), i, time.Duration(i)*ms(10))
			}
			if wantOK := i < 5 || i >= 9; s.OK != wantOK {
				t.Errorf("sample %d: ok %t, want %t (%s)", i, s.OK, wantOK, s.Detail)
			}
			if s.OK && s.RTT != Duration(ms(1)) {
				t.Errorf("sample %d: rtt %v, want 1ms", i, s.RTT)
			}
		}
		if got := end.Sub(start); got != ms(195) {
			t.Errorf("Run returned after %v, want 195ms", got)
		}
		out := Outages(samples, end)
		if len(out) != 1 || time.Duration(out[0].Duration) != ms(40) || out[0].Lost != 4 {
			t.Errorf("outages = %+v, want one of 40ms with 4 lost", out)
		}
	})
}

func TestRunStopsOnCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cfg := Config{Every: ms(10), Timeout: ms(100)} // no Duration: only ctx stops it
		// Every probe takes 50ms: stopping at 95ms leaves probes in flight
		// that must still count as answered.
		p := scripted{delay: ms(50), fail: func(int) bool { return false }}
		time.AfterFunc(ms(95), cancel)
		start := time.Now()
		samples := Run(ctx, p, cfg)
		// The last probe, sent at 90ms, is waited for, not cut off.
		if got := time.Since(start); got != ms(140) {
			t.Errorf("Run returned after %v, want 140ms (the last answer)", got)
		}
		if len(samples) != 10 {
			t.Errorf("sent %d probes before the stop at 95ms, want 10", len(samples))
		}
		for _, s := range samples {
			if !s.OK {
				t.Errorf("probe %d in flight at the stop failed: %s", s.Seq, s.Detail)
			}
		}
	})
}

func TestHTTPURL(t *testing.T) {
	for _, tc := range []struct{ in, want, wantErr string }{
		{in: "198.18.0.100", want: "http://198.18.0.100/"},
		{in: "198.18.0.100:8080", want: "http://198.18.0.100:8080/"},
		{in: "http://198.18.0.100/health", want: "http://198.18.0.100/health"},
		{in: "https://198.18.0.100/", wantErr: "want an address"},
		{in: "", wantErr: "empty"},
	} {
		got, err := HTTPURL(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("HTTPURL(%q) = %q, %v; want error containing %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("HTTPURL(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
