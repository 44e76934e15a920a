package healthcheck

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func fixtureRows(t *testing.T, name string) []statRow {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	st, err := parseInfoStat(string(b))
	if err != nil {
		t.Fatal(err)
	}
	return st.Rows
}

func TestSelectBackends(t *testing.T) {
	rows := fixtureRows(t, "info-stat-healthy.txt") // backends with servers: li_tcp, be_app, be_api
	tests := []struct {
		name     string
		explicit []string
		usage    *backendUsage
		want     selection
	}{
		{
			name:     "explicit names win, even unknown ones",
			explicit: []string{"be_api", "nope"},
			usage:    &backendUsage{Used: []string{"be_app"}},
			want:     selection{Backends: []string{"be_api", "nope"}, Explicit: true},
		},
		{
			name:  "used by frontends, limited to backends the runtime has with servers",
			usage: &backendUsage{Used: []string{"be_app", "be_gone", "fe_s1"}},
			want:  selection{Backends: []string{"be_app"}, Note: "backends used by frontends"},
		},
		{
			name:  "configuration unknown: every backend with servers",
			usage: nil,
			want:  selection{Backends: []string{"be_api", "be_app", "li_tcp"}, Note: "every backend with servers (configuration unknown)"},
		},
		{
			name:  "nothing used",
			usage: &backendUsage{},
			want:  selection{Note: "backends used by frontends"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := selectBackends(tt.explicit, tt.usage, indexStat(rows))
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("selectBackends (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBackendCheck(t *testing.T) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		fixture string
		backend string
		need    int
		ok      bool
		detail  string
	}{
		{"info-stat-healthy.txt", "be_app", 1, true, "backend be_app: 3/3 servers UP"},
		{"info-stat-healthy.txt", "be_app", 3, true, "backend be_app: 3/3 servers UP"},
		{"info-stat-healthy.txt", "be_app", 4, false, "backend be_app: 3/3 servers UP (need 4)"},
		{"info-stat-healthy.txt", "be_api", 1, true, "backend be_api: 1/2 servers UP"}, // "no check" counts
		{"info-stat-healthy.txt", "be_api", 2, false, "backend be_api: 1/2 servers UP (need 2): a2 DOWN"},
		{"info-stat-healthy.txt", "fe_s1", 1, false, "backend fe_s1: not found"}, // a frontend is no backend
		{"info-stat-healthy.txt", "nope", 1, false, "backend nope: not found"},
		{"info-stat-degraded.txt", "be_app", 1, false, "backend be_app: 0/3 servers UP (need 1): s1 MAINT, s2 DOWN, b1 DOWN"},
		{"info-stat-drain.txt", "be_app", 1, true, "backend be_app: 1/3 servers UP"}, // the backup server is UP
		{"info-stat-drain.txt", "be_app", 2, false, "backend be_app: 1/3 servers UP (need 2): s1 MAINT, s2 DRAIN"},
		{"info-stat-1.8.8.txt", "be_app", 3, true, "backend be_app: 3/3 servers UP"},
		{"info-stat-1.8.8.txt", "be_api", 2, false, "backend be_api: 1/2 servers UP (need 2): a2 DOWN"},
		{"info-stat-1.8.8-degraded.txt", "be_app", 1, false, "backend be_app: 0/3 servers UP (need 1): s1 MAINT, s2 DOWN, b1 DOWN"},
	}
	for _, tt := range tests {
		got := backendCheck(tt.backend, indexStat(fixtureRows(t, tt.fixture)), tt.need, at)
		want := Check{Name: "backend " + tt.backend, OK: tt.ok, Detail: tt.detail, At: at}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s %s need %d (-want +got):\n%s", tt.fixture, tt.backend, tt.need, diff)
		}
	}
}

func TestBackendCheckListsAtMostFourServers(t *testing.T) {
	var rows []statRow
	rows = append(rows, statRow{Proxy: "be", Name: "BACKEND", Type: rowBackend, Status: "DOWN"})
	for _, s := range []string{"a", "b", "c", "d", "e", "f"} {
		rows = append(rows, statRow{Proxy: "be", Name: s, Type: rowServer, Status: "MAINT"})
	}
	got := backendCheck("be", indexStat(rows), 1, time.Time{}).Detail
	if want := "backend be: 0/6 servers UP (need 1): a MAINT, b MAINT, c MAINT, d MAINT and 2 more"; got != want {
		t.Errorf("detail %q, want %q", got, want)
	}
}

func TestFrontendChecks(t *testing.T) {
	at := time.Unix(1, 0)
	got := frontendChecks(indexStat(fixtureRows(t, "info-stat-degraded.txt")), []string{"li_tcp"}, at)
	want := []Check{
		{Name: "frontend fe_main", OK: true, Detail: "frontend fe_main: OPEN", At: at},
		{Name: "frontend fe_s1", OK: false, Detail: "frontend fe_s1: PAUSED", At: at},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("frontendChecks (-want +got):\n%s", diff)
	}
	// 1.8 shows a paused frontend as STOP.
	got = frontendChecks(indexStat(fixtureRows(t, "info-stat-1.8.8-degraded.txt")), []string{"li_tcp"}, at)
	want[1].Detail = "frontend fe_s1: STOP"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("frontendChecks on 1.8.8 (-want +got):\n%s", diff)
	}
}

func TestReasonOf(t *testing.T) {
	checks := []Check{
		{Name: CheckSocket, OK: true, Detail: "haproxy socket /s: answers"},
		{Name: "frontend fe", OK: false, Detail: "frontend fe: STOP"},
		{Name: "backend be", OK: false, Detail: "backend be: 0/2 servers UP (need 1)"},
	}
	if got, want := reasonOf(checks), "frontend fe: STOP; backend be: 0/2 servers UP (need 1)"; got != want {
		t.Errorf("reasonOf = %q, want %q", got, want)
	}
	if allOK(checks) {
		t.Error("allOK with failed checks")
	}
	if allOK(nil) {
		t.Error("allOK(nil): no checks must not read as healthy")
	}
	if !allOK(checks[:1]) {
		t.Error("allOK of one good check is false")
	}
}

// Thousands of failing backends give a reason of at most MaxReasonLen bytes
// that names the first failures and counts the rest.
func TestReasonBounded(t *testing.T) {
	var checks []Check
	for i := range 3000 {
		name := fmt.Sprintf("be%d", i)
		checks = append(checks, Check{Name: "backend " + name, Detail: fmt.Sprintf("backend %s: 0/4 servers UP (need 1): s1 DOWN, s2 DOWN, s3 DOWN, s4 DOWN", name)})
	}
	got := reasonOf(checks)
	if len(got) > maxFailureLen {
		t.Errorf("reason is %d bytes, over %d: %q", len(got), maxFailureLen, got)
	}
	if !strings.HasPrefix(got, "backend be0: 0/4 servers UP (need 1): s1 DOWN, s2 DOWN, s3 DOWN, s4 DOWN; backend be1: ") {
		t.Errorf("reason %q does not start with the first failures", got)
	}
	m := regexp.MustCompile(`; backend be(\d+): [^;]*DOWN \(and (\d+) more\)$`).FindStringSubmatch(got)
	if m == nil {
		t.Fatalf("reason %q does not end with a whole failure and the count of the others", got)
	}
	last, _ := strconv.Atoi(m[1])
	if n, _ := strconv.Atoi(m[2]); last+1+n != len(checks) {
		t.Errorf("shows up to be%d and counts %d more: %d in all, want %d", last, n, last+1+n, len(checks))
	}

	// One failure longer than the bound is cut.
	long := strings.Repeat("é", MaxReasonLen)
	got = reasonOf([]Check{{Detail: long}, {Detail: "backend be: 0/1 servers UP (need 1)"}})
	if len(got) > maxFailureLen || !utf8.ValidString(got) || !strings.HasSuffix(got, "... (and 1 more)") {
		t.Errorf("cut reason (%d bytes) = %q", len(got), got)
	}

	// The tracker's longest wrapping still fits MaxReasonLen.
	synctest.Test(t, func(t *testing.T) {
		f := &fakeHAProxy{alive: true}
		var rows []statRow
		var used []string
		for i := range 3000 {
			be := fmt.Sprintf("be%d", i)
			used = append(used, be)
			rows = append(rows, statRow{Proxy: be, Name: "s1", Type: rowServer, Status: "DOWN"},
				statRow{Proxy: be, Name: "BACKEND", Type: rowBackend, Status: "DOWN"})
		}
		f.set(42, rows, nil)
		tr := newFakeTracker(t, Config{Rise: 2}, f)
		tr.usage = func(int) (backendUsage, error) { return backendUsage{Used: used}, nil }
		events := make(chan Event, 4)
		startFake(t, tr, events)
		time.Sleep(DefaultInterval)
		ev := recv(t, events)
		if ev.Healthy || len(ev.Reason) > MaxReasonLen || !strings.Contains(ev.Reason, "more)") {
			t.Fatalf("unhealthy event: reason (%d bytes) %q", len(ev.Reason), ev.Reason)
		}
		f.set(42, rowsOK(), nil)
		time.Sleep(DefaultInterval)
		synctest.Wait()
		s := tr.Snapshot()
		if !strings.HasPrefix(s.Reason, reasonRecoveringPrefix) || len(s.Reason) > MaxReasonLen {
			t.Errorf("recovering reason (%d bytes) %q", len(s.Reason), s.Reason)
		}
	})
}
