package bench

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/proxypair/proxypair/appliance/control"
	"github.com/proxypair/proxypair/internal/cmd/pplab/probe"
)

func TestLegsOf(t *testing.T) {
	failed := time.Date(2026, 11, 26, 1, 2, 3, 0, time.UTC)
	at := func(us int) time.Time { return failed.Add(time.Duration(us) * time.Microsecond) }
	ms := func(us int) probe.Duration { return probe.Duration(time.Duration(us) * time.Microsecond) }
	resign := &control.ResignTiming{Detected: at(3100), Handled: at(3150), Prio0Sent: at(3300)}
	takeover := &control.TakeoverTiming{Trigger: at(3600), AdvertSent: at(3650), VIPAdded: at(3900), FirstARP: at(3950), Reason: "peer_resigned"}
	for _, tc := range []struct {
		name    string
		a, b    control.Instance
		want    *Legs
		wantErr error
	}{
		{
			name: "HAProxy killed, every stamp",
			a:    control.Instance{LastResign: resign},
			b:    control.Instance{LastTakeover: takeover},
			want: &Legs{Detected: ms(3100), Handled: ms(3150), Prio0Sent: ms(3300), Master: ms(3600),
				AdvertSent: ms(3650), VIPAdded: ms(3900), FirstARP: ms(3950), Reason: "peer_resigned"},
		},
		{
			// A planned hand-over after a kill trial: a's resign is the
			// kill's, older than this failure, and must not count.
			name: "a's resign from an earlier trial",
			a:    control.Instance{LastResign: &control.ResignTiming{Detected: at(-9000000), Handled: at(-8999000), Prio0Sent: at(-8998000)}},
			b:    control.Instance{LastTakeover: takeover},
			want: &Legs{Master: ms(3600), AdvertSent: ms(3650), VIPAdded: ms(3900), FirstARP: ms(3950), Reason: "peer_resigned"},
		},
		{
			name: "b has not stamped its VIP and ARP yet",
			a:    control.Instance{LastResign: resign},
			b:    control.Instance{LastTakeover: &control.TakeoverTiming{Trigger: at(3600), AdvertSent: at(3650), Reason: "peer_resigned"}},
			want: &Legs{Detected: ms(3100), Handled: ms(3150), Prio0Sent: ms(3300), Master: ms(3600), AdvertSent: ms(3650), Reason: "peer_resigned"},
		},
		{
			// The hand-over's request reached a's loop at its MASTER →
			// HANDOVER transition; an older hand-over does not count.
			name: "planned hand-over",
			a: control.Instance{Transitions: []control.Transition{
				{At: at(-5000000), From: "MASTER", To: "HANDOVER"},
				{At: at(-4000000), From: "HANDOVER", To: "BACKUP"},
				{At: at(-1000000), From: "BACKUP", To: "MASTER"},
				{At: at(41000), From: "MASTER", To: "HANDOVER"},
			}},
			b:    control.Instance{LastTakeover: takeover},
			want: &Legs{Handled: ms(41000), Master: ms(3600), AdvertSent: ms(3650), VIPAdded: ms(3900), FirstARP: ms(3950), Reason: "peer_resigned"},
		},
		{
			name: "a stamp at the failure's own nanosecond",
			b:    control.Instance{LastTakeover: &control.TakeoverTiming{Trigger: failed}},
			want: &Legs{Master: 1},
		},
		{name: "b never took over", a: control.Instance{LastResign: resign}, wantErr: errNoTakeover},
		{
			name:    "b's takeover is from an earlier trial",
			b:       control.Instance{LastTakeover: &control.TakeoverTiming{Trigger: at(-1), FirstARP: at(10)}},
			wantErr: errNoTakeover,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := LegsOf(failed, tc.a, tc.b)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("error %v, want %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("legs (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLegsJSON: the JSON leaves out the stamps a node did not report, and
// keeps b's, which every legs has.
func TestLegsJSON(t *testing.T) {
	b, err := json.Marshal(Legs{Master: probe.Duration(609440 * time.Microsecond), FirstARP: probe.Duration(610 * time.Millisecond), Reason: "master_down"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"b_master_ms":609.440,"b_first_garp_ms":610.000,"b_reason":"master_down"}`; string(b) != want {
		t.Errorf("JSON %s, want %s", b, want)
	}
}

// legTrials builds trials whose legs are stamps in µs from the failure:
// detected, handled, prio-0 sent, b master, b advert sent, b VIP added, b
// first ARP; 0 is a stamp not reported. A nil stamp list is a failed
// trial.
func legTrials(stamps ...[]int) *Series {
	s := &Series{}
	for i, st := range stamps {
		t := Trial{N: i + 1, Outage: probe.Duration(10 * time.Millisecond)}
		if st == nil {
			t.Error = "settling: boom"
		} else {
			d := func(j int) probe.Duration { return probe.Duration(time.Duration(st[j]) * time.Microsecond) }
			t.Legs = &Legs{Detected: d(0), Handled: d(1), Prio0Sent: d(2), Master: d(3), AdvertSent: d(4), VIPAdded: d(5), FirstARP: d(6)}
		}
		s.Trials = append(s.Trials, t)
	}
	return s
}

// TestLegStats: each leg's median is over the trials that have both its
// stamps; failed trials and missing stamps do not count.
func TestLegStats(t *testing.T) {
	s := legTrials(
		[]int{3000, 3050, 3200, 3500, 3550, 3800, 3850},
		[]int{5000, 5030, 5100, 5300, 5340, 5500, 5520},
		[]int{0, 0, 0, 2000, 2100, 2300, 0},       // no resign, no ARP stamped
		[]int{0, 1000, 0, 1300, 1350, 1500, 1530}, // a planned hand-over: a handled, no prio-0
		nil,
	)
	us := func(v int) time.Duration { return time.Duration(v) * time.Microsecond }
	want := []struct {
		n      int
		median time.Duration
	}{
		{2, us(4000)}, // failure→a detected: 3000, 5000
		{3, us(50)},   // →a handled: 50, 30, and 1000 from the failure
		{2, us(110)},  // →a prio-0 sent: 150, 70
		{4, us(300)},  // →b master: 300, 200, 2000 from the failure, 300 from a handled
		{4, us(50)},   // →b advert sent: 50, 40, 100, 50
		{4, us(180)},  // →b VIP added: 250, 160, 200, 150
		{3, us(30)},   // →b first GARP: 50, 20, 30
		{3, us(3850)}, // failure→b first GARP: 3850, 5520, 1530
	}
	cols := legColumns()
	if len(want) != len(cols) {
		t.Fatalf("%d columns, the test knows %d", len(cols), len(want))
	}
	for i, w := range want {
		if st := s.LegStats(i); st.N != w.n || st.Median != w.median {
			t.Errorf("column %q: %d trials, median %v; want %d, %v", cols[i], st.N, st.Median, w.n, w.median)
		}
	}
	if n := s.withLegs(); n != 4 {
		t.Errorf("withLegs = %d, want 4", n)
	}
}

func TestLegsTable(t *testing.T) {
	sc := Scenarios()
	byID := map[string]Scenario{}
	for _, s := range sc {
		byID[s.ID()] = s
	}
	kill := row(byID["v2-1s/haproxy-kill"], httpTrials([2]float64{3600, 3600}), httpTrials([2]float64{620, 616}))
	kill.Proxypair = *legTrials([]int{3100, 3150, 3300, 612900, 612950, 613200, 613250})
	kill.Pair = legTrials([]int{3100, 3150, 3300, 3600, 3650, 3900, 3950}, []int{4100, 4130, 4200, 4500, 4550, 4700, 4730})
	// keepalived never has legs, nor a row without any.
	none := row(byID["v3-50ms/backend-lost"], httpTrials([2]float64{3180, 0}), httpTrials([2]float64{230, 231}))
	got, err := legsTable([]Row{kill, none})
	if err != nil {
		t.Fatal(err)
	}
	want := `scenario                          failure→a detected  →a handled  →a prio-0 sent  →b master  →b advert sent  →b VIP added  →b first GARP  failure→b first GARP  trials
v2 1s   HAProxy killed (SIGKILL)  3.10                0.05        0.15            609.60     0.05            0.25          0.05           613.25                1/1
  with vrrp.pair                  3.60                0.04        0.11            0.30       0.05            0.20          0.04           4.34                  2/2
`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("legs table (-want +got):\n%s", diff)
	}
	if got, err := legsTable([]Row{none}); err != nil || got != "" {
		t.Errorf("legs table without legs = %q, %v; want none", got, err)
	}
}
