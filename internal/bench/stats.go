package bench

import (
	"slices"
	"time"
)

// Stats summarises the outages of one daemon in one row.
type Stats struct {
	N      int           // trials that produced a number
	Median time.Duration // the middle value; the mean of the two middle ones for even N
	Min    time.Duration
	Max    time.Duration
}

// Summarize computes Stats over ds; ok is false when ds is empty.
func Summarize(ds []time.Duration) (s Stats, ok bool) {
	if len(ds) == 0 {
		return Stats{}, false
	}
	sorted := slices.Clone(ds)
	slices.Sort(sorted)
	n := len(sorted)
	s = Stats{N: n, Min: sorted[0], Max: sorted[n-1]}
	if n%2 == 1 {
		s.Median = sorted[n/2]
	} else {
		// Halve each before adding: no overflow for any durations.
		s.Median = sorted[n/2-1]/2 + sorted[n/2]/2 + (sorted[n/2-1]%2+sorted[n/2]%2)/2
	}
	return s, true
}

// Ratio is proxypair's median over keepalived's; ok is false when either
// has no data or keepalived's median is zero (no ratio to speak of).
func Ratio(proxypair, keepalived Stats) (r float64, ok bool) {
	if proxypair.N == 0 || keepalived.N == 0 || keepalived.Median <= 0 {
		return 0, false
	}
	return float64(proxypair.Median) / float64(keepalived.Median), true
}
