package bench

import (
	"math"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		in     []time.Duration
		want   Stats
		wantOK bool
	}{
		{"empty", nil, Stats{}, false},
		{"one", ms(42), Stats{N: 1, Median: 42 * time.Millisecond, Min: 42 * time.Millisecond, Max: 42 * time.Millisecond}, true},
		{"odd, unsorted", ms(30, 10, 20), Stats{N: 3, Median: 20 * time.Millisecond, Min: 10 * time.Millisecond, Max: 30 * time.Millisecond}, true},
		{"even: mean of the middle two", ms(40, 10, 30, 20), Stats{N: 4, Median: 25 * time.Millisecond, Min: 10 * time.Millisecond, Max: 40 * time.Millisecond}, true},
		{"even, odd nanoseconds", []time.Duration{1, 2}, Stats{N: 2, Median: 1, Min: 1, Max: 2}, true},
		{"even, both odd nanoseconds", []time.Duration{1, 3}, Stats{N: 2, Median: 2, Min: 1, Max: 3}, true},
		{"no overflow", []time.Duration{math.MaxInt64, math.MaxInt64}, Stats{N: 2, Median: math.MaxInt64, Min: math.MaxInt64, Max: math.MaxInt64}, true},
		{"zeros count", ms(0, 0, 10), Stats{N: 3, Median: 0, Min: 0, Max: 10 * time.Millisecond}, true},
	} {
		got, ok := Summarize(tc.in)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("%s: Summarize = %+v, %t; want %+v, %t", tc.name, got, ok, tc.want, tc.wantOK)
		}
	}
}

func TestSummarizeLeavesInputAlone(t *testing.T) {
	in := []time.Duration{3, 1, 2}
	Summarize(in)
	if in[0] != 3 || in[1] != 1 || in[2] != 2 {
		t.Errorf("Summarize reordered its input: %v", in)
	}
}

func TestRatio(t *testing.T) {
	s := func(n int, med time.Duration) Stats { return Stats{N: n, Median: med} }
	for _, tc := range []struct {
		name   string
		pp, ka Stats
		want   float64
		wantOK bool
	}{
		{"faster", s(5, time.Second), s(5, 2*time.Second), 0.5, true},
		{"slower", s(5, 3*time.Second), s(5, 2*time.Second), 1.5, true},
		{"proxypair zero", s(5, 0), s(5, 10*time.Millisecond), 0, true},
		{"keepalived zero", s(5, 10*time.Millisecond), s(5, 0), 0, false},
		{"no proxypair data", s(0, 0), s(5, time.Second), 0, false},
		{"no keepalived data", s(5, time.Second), s(0, 0), 0, false},
	} {
		got, ok := Ratio(tc.pp, tc.ka)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("%s: Ratio = %v, %t; want %v, %t", tc.name, got, ok, tc.want, tc.wantOK)
		}
	}
}
