package healthcheck

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The fixtures are real answers of HAProxy 2.6.12 to
// "set severity-output number;show info;show stat" for testdata/fixtures.cfg.
func TestParseInfoStatFixtures(t *testing.T) {
	srv := func(px, name, status string, backup bool) statRow {
		return statRow{Proxy: px, Name: name, Type: rowServer, Status: status, Backup: backup}
	}
	fe := func(px, status string) statRow {
		return statRow{Proxy: px, Name: "FRONTEND", Type: rowFrontend, Status: status}
	}
	be := func(px, status string) statRow {
		return statRow{Proxy: px, Name: "BACKEND", Type: rowBackend, Status: status}
	}
	tests := []struct {
		file string
		rows []statRow
	}{
		{"info-stat-healthy.txt", []statRow{
			fe("fe_main", "OPEN"), fe("fe_s1", "OPEN"), fe("li_tcp", "OPEN"),
			srv("li_tcp", "t1", "no check", false), be("li_tcp", "UP"),
			srv("be_app", "s1", "UP", false), srv("be_app", "s2", "UP", false), srv("be_app", "b1", "UP", true), be("be_app", "UP"),
			srv("be_api", "a1", "no check", false), srv("be_api", "a2", "DOWN", false), be("be_api", "UP"),
		}},
		{"info-stat-degraded.txt", []statRow{
			fe("fe_main", "OPEN"), fe("fe_s1", "PAUSED"), fe("li_tcp", "OPEN"),
			srv("li_tcp", "t1", "no check", false), be("li_tcp", "UP"),
			srv("be_app", "s1", "MAINT", false), srv("be_app", "s2", "DOWN", false), srv("be_app", "b1", "DOWN", true), be("be_app", "DOWN"),
			srv("be_api", "a1", "no check", false), srv("be_api", "a2", "DOWN", false), be("be_api", "UP"),
		}},
		{"info-stat-drain.txt", []statRow{
			fe("fe_main", "OPEN"), fe("fe_s1", "OPEN"), fe("li_tcp", "OPEN"),
			srv("li_tcp", "t1", "no check", false), be("li_tcp", "UP"),
			srv("be_app", "s1", "MAINT", false), srv("be_app", "s2", "DRAIN", false), srv("be_app", "b1", "UP", true), be("be_app", "UP"),
			srv("be_api", "a1", "no check", false), srv("be_api", "a2", "DOWN", false), be("be_api", "UP"),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile("testdata/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			st, err := parseInfoStat(string(b))
			if err != nil {
				t.Fatalf("parseInfoStat: %v", err)
			}
			if st.PID <= 0 || !strings.HasPrefix(st.Version, "2.6.") {
				t.Errorf("PID %d version %q, want a PID and 2.6.x", st.PID, st.Version)
			}
			if diff := cmp.Diff(tt.rows, st.Rows); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseInfoStatErrors(t *testing.T) {
	const header = "# pxname,svname,status,type\n"
	tests := []struct {
		name   string
		answer string
		want   string
	}{
		{"empty", "", "empty answer"},
		{"blank lines", "\n\n  \n", "empty answer"},
		{"no stat", "Name: HAProxy\nPid: 12\n", "no show stat header"},
		{"permission denied", "[3]: Permission denied\n", "no show stat header"},
		{"no pid", "Name: HAProxy\n" + header + "fe,FRONTEND,OPEN,0\n", "no Pid"},
		{"bad pid", "Pid: x1\n" + header + "fe,FRONTEND,OPEN,0\n", `bad Pid "x1"`},
		{"no status column", "Pid: 1\n# pxname,svname,type\nfe,FRONTEND,0\n", `no "status" column`},
		{"no rows", "Pid: 1\n" + header, "lists no proxies"},
		{"short row", "Pid: 1\n" + header + "fe,FRONTEND\n", "short line"},
		{"bad type", "Pid: 1\n" + header + "fe,FRONTEND,OPEN,x\n", `bad type "x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseInfoStat(tt.answer)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("parseInfoStat(%q) error = %v, want one containing %q", tt.answer, err, tt.want)
			}
		})
	}
	if _, err := parseInfoStat(""); !errors.Is(err, errEmptyAnswer) {
		t.Errorf("empty answer error %v is not errEmptyAnswer", err)
	}
}

// HAProxy quotes CSV fields that contain commas (e.g. check descriptions);
// columns are found by name, not position.
func TestParseStatCSVQuotingAndColumnOrder(t *testing.T) {
	in := "type,status,svname,pxname,last_chk,bck\n" +
		`2,UP 1/3,s1,be,"Layer7 wrong status, code: 503",0` + "\n" +
		`2,DOWN,s2,be,"a ""quoted"" text",1` + "\n"
	rows, err := parseStatCSV(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []statRow{
		{Proxy: "be", Name: "s1", Type: rowServer, Status: "UP 1/3"},
		{Proxy: "be", Name: "s2", Type: rowServer, Status: "DOWN", Backup: true},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
}

func FuzzParseInfoStat(f *testing.F) {
	for _, name := range []string{"info-stat-healthy.txt", "info-stat-degraded.txt"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add("Pid: 1\n# pxname,svname,status,type\nfe,FRONTEND,OPEN,0\n")
	f.Fuzz(func(t *testing.T, answer string) {
		st, err := parseInfoStat(answer)
		if err == nil && (st.PID <= 0 || len(st.Rows) == 0) {
			t.Fatalf("accepted an answer without PID or rows: %+v", st)
		}
	})
}
