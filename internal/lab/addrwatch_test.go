//go:build linux

package lab

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"
)

func TestCoverage(t *testing.T) {
	t0 := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	at := func(ms float64) time.Time { return t0.Add(time.Duration(ms * float64(time.Millisecond))) }
	ev := func(ms float64, host string, held bool) AddrEvent {
		return AddrEvent{At: at(ms), Host: host, Held: held}
	}
	for _, tc := range []struct {
		name     string
		events   []AddrEvent
		from, to float64
		want     Coverage
	}{
		{
			name:   "one holder throughout",
			events: []AddrEvent{ev(0, "a", true)},
			from:   1, to: 100,
			want: Coverage{Holders: []string{"a"}},
		},
		{
			name: "make before break: an overlap, no gap",
			events: []AddrEvent{
				ev(0, "a", true),
				ev(10, "b", true), ev(12, "a", false), // to b, 2 ms of both
				ev(50, "a", true), ev(50.5, "b", false), // back, 0.5 ms of both
			},
			from: 1, to: 100,
			want: Coverage{Changes: 4, Overlaps: 2, LongestOverlap: 2 * time.Millisecond, Holders: []string{"a"}},
		},
		{
			name: "break before make: a gap, no overlap",
			events: []AddrEvent{
				ev(0, "a", true),
				ev(10, "a", false), ev(132, "b", true),
			},
			from: 1, to: 200,
			want: Coverage{Changes: 2, Gaps: 1, LongestGap: 122 * time.Millisecond, Holders: []string{"b"}},
		},
		{
			name: "stretches cut at the span's ends",
			events: []AddrEvent{
				ev(0, "a", true), ev(5, "b", true), // both from 5 ms
				ev(20, "a", false), ev(30, "b", false), // nobody from 30 ms
			},
			from: 10, to: 40,
			want: Coverage{Changes: 2, Overlaps: 1, LongestOverlap: 10 * time.Millisecond, Gaps: 1, LongestGap: 10 * time.Millisecond},
		},
		{
			name: "events after the span do not count",
			events: []AddrEvent{
				ev(0, "a", true), ev(50, "a", false),
			},
			from: 1, to: 40,
			want: Coverage{Holders: []string{"a"}},
		},
		{
			name: "a repeated event changes nothing",
			events: []AddrEvent{
				ev(0, "a", true), ev(10, "a", true), ev(20, "b", true), ev(20, "b", true), ev(25, "b", false),
			},
			from: 1, to: 40,
			want: Coverage{Changes: 2, Overlaps: 1, LongestOverlap: 5 * time.Millisecond, Holders: []string{"a"}},
		},
		{
			name:   "nobody before the first event",
			events: []AddrEvent{ev(10, "a", true)},
			from:   0, to: 20,
			want: Coverage{Changes: 1, Gaps: 1, LongestGap: 10 * time.Millisecond, Holders: []string{"a"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &AddrWatch{events: tc.events}
			got := w.Coverage(at(tc.from), at(tc.to))
			if got.String() != tc.want.String() {
				t.Errorf("got  %v\nwant %v", got, tc.want)
			}
		})
	}
}

// TestWatchAddr: the watch sees the address come and go on the hosts it
// watches, each in its own namespace, in order; nothing else.
func TestWatchAddr(t *testing.T) {
	t.Parallel()
	needRoot(t)
	l := NewT(t)
	a := mustHost(t, l, "a", "198.18.0.1/24")
	b := mustHost(t, l, "b", "198.18.0.2/24")
	c := mustHost(t, l, "c", "198.18.0.3/24") // not watched
	vip := netip.MustParsePrefix("198.18.0.100/24")
	other := netip.MustParsePrefix("198.18.0.101/24")
	if err := a.AddAddr(vip); err != nil {
		t.Fatal(err)
	}
	w, err := WatchAddr(vip.Addr(), a, b)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := w.Close(); err != nil {
			t.Error(err)
		}
	})
	wait := func(want ...string) {
		t.Helper()
		if err := Eventually(timeout(t, 5*time.Second), 5*time.Millisecond, func() (bool, string) {
			got := w.Holders()
			return slices.Equal(got, want), fmt.Sprint(got)
		}); err != nil {
			t.Fatalf("holders, want %v: %v", want, err)
		}
	}
	wait("a") // from the first dump
	from := time.Now()
	for _, step := range []func() error{
		func() error { return b.AddAddr(other) }, // not watched
		func() error { return c.AddAddr(vip) },   // nor is c
		func() error { return b.AddAddr(vip) },
		func() error { return a.DelAddr(vip) },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	wait("b")
	cov := w.Coverage(from, time.Now())
	if cov.Changes != 2 || cov.Overlaps != 1 || cov.Gaps != 0 || cov.LongestOverlap <= 0 || !slices.Equal(cov.Holders, []string{"b"}) {
		t.Errorf("coverage of a move with an overlap: %v", cov)
	}
	if err := b.DelAddr(vip); err != nil {
		t.Fatal(err)
	}
	wait()
	ev := w.Events()
	var got []string
	for _, e := range ev {
		got = append(got, fmt.Sprintf("%s %t", e.Host, e.Held))
	}
	if want := []string{"a true", "b true", "a false", "b false"}; !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
}
