package healthcheck

import (
	"fmt"
	"testing"
)

func TestHysteresis(t *testing.T) {
	type step struct {
		ok      bool
		healthy bool
		changed bool
	}
	ok := func(healthy, changed bool) step { return step{true, healthy, changed} }
	bad := func(healthy, changed bool) step { return step{false, healthy, changed} }
	tests := []struct {
		name       string
		fall, rise int
		steps      []step
	}{
		{"first verdict healthy after rise", 1, 2, []step{ok(false, false), ok(true, true), ok(true, false)}},
		{"first verdict unhealthy after fall", 1, 2, []step{bad(false, true), bad(false, false)}},
		{"first verdict unhealthy after fall 3", 3, 2, []step{bad(false, false), bad(false, false), bad(false, true)}},
		{"interrupted rise restarts the count", 1, 2, []step{ok(false, false), bad(false, true), ok(false, false), ok(true, true)}},
		{"fall 1 drops at once", 1, 2, []step{ok(false, false), ok(true, true), bad(false, true)}},
		{"fall 2 ignores one failure", 2, 2, []step{ok(false, false), ok(true, true), bad(true, false), ok(true, false), bad(true, false), bad(false, true)}},
		{"rise 3 after unhealthy", 1, 3, []step{bad(false, true), ok(false, false), ok(false, false), ok(true, true)}},
		{"rise 1 fall 1 follows every result", 1, 1, []step{ok(true, true), bad(false, true), ok(true, true), ok(true, false)}},
		{"flapping never rises with rise 2", 1, 2, []step{bad(false, true), ok(false, false), bad(false, false), ok(false, false), bad(false, false)}},
		{"thresholds below 1 act as 1", 0, -5, []step{ok(true, true), bad(false, true)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewHysteresis(tt.fall, tt.rise)
			for i, s := range tt.steps {
				healthy, changed := h.Observe(s.ok)
				if healthy != s.healthy || changed != s.changed {
					t.Fatalf("step %d Observe(%v) = (%v, %v), want (%v, %v)", i, s.ok, healthy, changed, s.healthy, s.changed)
				}
				if h.Healthy() != healthy {
					t.Fatalf("step %d: Healthy() = %v, Observe said %v", i, h.Healthy(), healthy)
				}
			}
		})
	}
}

func TestHysteresisZeroValue(t *testing.T) {
	var h Hysteresis
	if h.Known() {
		t.Fatal("zero value knows a verdict")
	}
	if healthy, changed := h.Observe(true); !healthy || !changed {
		t.Fatalf("zero value Observe(true) = %v, %v; want true, true (fall 1, rise 1)", healthy, changed)
	}
}

// TestHysteresisTransitionsNeedRuns checks, over every sequence of 8 results,
// that the verdict changes exactly when the last Rise (or Fall) results agree
// and differ from the previous verdict.
func TestHysteresisTransitionsNeedRuns(t *testing.T) {
	for _, th := range [][2]int{{1, 2}, {2, 3}, {3, 1}} {
		fall, rise := th[0], th[1]
		for seq := range 1 << 8 {
			h := NewHysteresis(fall, rise)
			var results []bool
			known, verdict := false, false
			for i := range 8 {
				ok := seq&(1<<i) != 0
				results = append(results, ok)
				need := fall
				if ok {
					need = rise
				}
				run := 0
				for j := len(results) - 1; j >= 0 && results[j] == ok; j-- {
					run++
				}
				wantChange := run >= need && (!known || verdict != ok)
				if wantChange {
					known, verdict = true, ok
				}
				healthy, changed := h.Observe(ok)
				if changed != wantChange || healthy != verdict {
					t.Fatalf("fall %d rise %d results %v: got (%v, %v), want (%v, %v)",
						fall, rise, fmt.Sprint(results), healthy, changed, verdict, wantChange)
				}
			}
		}
	}
}
