package bench

import (
	"regexp"
	"slices"
	"testing"
	"time"
)

func TestScenarios(t *testing.T) {
	var ids, labels []string
	for _, s := range Scenarios() {
		ids = append(ids, s.ID())
		labels = append(labels, s.Label())
		if s.Probe != ProbeICMP || s.MaxRatio != 1.0 {
			t.Errorf("%s: probe %q, max ratio %v; want icmp and 1.0", s.ID(), s.Probe, s.MaxRatio)
		}
		if want := s.ID() == "v3-10ms/hard"; (s.MaxOutage == 50*time.Millisecond) != want {
			t.Errorf("%s: max outage %v", s.ID(), s.MaxOutage)
		}
	}
	wantIDs := []string{"v2-1s/hard", "v2-1s/graceful", "v3-50ms/hard", "v3-50ms/graceful", "v3-10ms/hard", "v3-10ms/graceful"}
	if !slices.Equal(ids, wantIDs) {
		t.Errorf("IDs %q, want %q", ids, wantIDs)
	}
	wantLabels := []string{
		"v2 1s   hard failure (link down)",
		"v2 1s   graceful stop (SIGTERM)",
		"v3 50ms hard failure (link down)",
		"v3 50ms graceful stop (SIGTERM)",
		"v3 10ms hard failure (link down)",
		"v3 10ms graceful stop (SIGTERM)",
	}
	if !slices.Equal(labels, wantLabels) {
		t.Errorf("labels %q, want %q", labels, wantLabels)
	}
	if r := Resources(); r.ID() != "resources/v3-10ms" || r.Label() != "resources at v3 10ms, 30 s" {
		t.Errorf("resource row %q, %q", r.ID(), r.Label())
	}
}

func TestSelect(t *testing.T) {
	all := Scenarios()
	for _, tc := range []struct {
		re   string
		want []string
	}{
		{"", []string{"v2-1s/hard", "v2-1s/graceful", "v3-50ms/hard", "v3-50ms/graceful", "v3-10ms/hard", "v3-10ms/graceful"}},
		{"v3-10ms", []string{"v3-10ms/hard", "v3-10ms/graceful"}},
		{"/hard$", []string{"v2-1s/hard", "v3-50ms/hard", "v3-10ms/hard"}},
		{"^resources", nil},
	} {
		var re *regexp.Regexp
		if tc.re != "" {
			re = regexp.MustCompile(tc.re)
		}
		var got []string
		for _, s := range Select(all, re) {
			got = append(got, s.ID())
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("Select(%q) = %q, want %q", tc.re, got, tc.want)
		}
	}
}

func TestMasterDown(t *testing.T) {
	for _, tc := range []struct {
		s    Settings
		want time.Duration
	}{
		// 3 × interval + (256 − 100)/256 × interval
		{SeedV2, 3*time.Second + 609375*time.Microsecond},
		{V3Fast, 150*time.Millisecond + 30468750*time.Nanosecond},
		{V3Faster, 30*time.Millisecond + 6093750*time.Nanosecond},
	} {
		if got := tc.s.MasterDown(); got != tc.want {
			t.Errorf("%s: MasterDown = %v, want %v", tc.s.Name(), got, tc.want)
		}
	}
}
