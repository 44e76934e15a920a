package healthcheck

import (
	"encoding/csv"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The fixtures are real answers to "show info;show stat": of HAProxy 2.6.12
// (preceded by "set severity-output number;", hence a leading empty line)
// for testdata/fixtures.cfg, and of 1.8.8 for testdata/fixtures-1.8.8.cfg
// (captured by TestCapture188). 1.8.8 has fewer columns (up to "dses") and
// shows a paused frontend as STOP.
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
		file    string
		version string
		rows    []statRow
	}{
		{"info-stat-healthy.txt", "2.6.", []statRow{
			fe("fe_main", "OPEN"), fe("fe_s1", "OPEN"), fe("li_tcp", "OPEN"),
			srv("li_tcp", "t1", "no check", false), be("li_tcp", "UP"),
			srv("be_app", "s1", "UP", false), srv("be_app", "s2", "UP", false), srv("be_app", "b1", "UP", true), be("be_app", "UP"),
			srv("be_api", "a1", "no check", false), srv("be_api", "a2", "DOWN", false), be("be_api", "UP"),
		}},
		{"info-stat-degraded.txt", "2.6.", []statRow{
			fe("fe_main", "OPEN"), fe("fe_s1", "PAUSED"), fe("li_tcp", "OPEN"),
			srv("li_tcp", "t1", "no check", false), be("li_tcp", "UP"),
			srv("be_app", "s1", "MAINT", false), srv("be_app", "s2", "DOWN", false), srv("be_app", "b1", "DOWN", true), be("be_app", "DOWN"),
			srv("be_api", "a1", "no check", false), srv("be_api", "a2", "DOWN", false), be("be_api", "UP"),
		}},
		{"info-stat-drain.txt", "2.6.", []statRow{
			fe("fe_main", "OPEN"), fe("fe_s1", "OPEN"), fe("li_tcp", "OPEN"),
			srv("li_tcp", "t1", "no check", false), be("li_tcp", "UP"),
			srv("be_app", "s1", "MAINT", false), srv("be_app", "s2", "DRAIN", false), srv("be_app", "b1", "UP", true), be("be_app", "UP"),
			srv("be_api", "a1", "no check", false), srv("be_api", "a2", "DOWN", false), be("be_api", "UP"),
		}},
		{"info-stat-1.8.8.txt", "1.8.8", []statRow{
			fe("fe_main", "OPEN"), fe("fe_s1", "OPEN"), fe("li_tcp", "OPEN"),
			srv("li_tcp", "t1", "no check", false), be("li_tcp", "UP"),
			srv("be_app", "s1", "UP", false), srv("be_app", "s2", "UP", false), srv("be_app", "b1", "UP", true), be("be_app", "UP"),
			srv("be_api", "a1", "no check", false), srv("be_api", "a2", "DOWN", false), be("be_api", "UP"),
		}},
		{"info-stat-1.8.8-degraded.txt", "1.8.8", []statRow{
			fe("fe_main", "OPEN"), fe("fe_s1", "STOP"), fe("li_tcp", "OPEN"),
			srv("li_tcp", "t1", "no check", false), be("li_tcp", "UP"),
			srv("be_app", "s1", "MAINT", false), srv("be_app", "s2", "DOWN", false), srv("be_app", "b1", "DOWN", true), be("be_app", "DOWN"),
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
			if st.PID <= 0 || !strings.HasPrefix(st.Version, tt.version) {
				t.Errorf("PID %d version %q, want a PID and %s", st.PID, st.Version, tt.version)
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
		{"no stat", "Name: HAProxy\nPid: 12\n\n", "no show stat header"},
		{"permission denied", "[3]: Permission denied\n\n", "no show stat header"},
		{"no pid", "Name: HAProxy\n" + header + "fe,FRONTEND,OPEN,0\n\n", "no Pid"},
		{"bad pid", "Pid: x1\n" + header + "fe,FRONTEND,OPEN,0\n\n", `bad Pid "x1"`},
		{"no status column", "Pid: 1\n# pxname,svname,type\nfe,FRONTEND,0\n\n", `no "status" column`},
		{"no rows", "Pid: 1\n" + header + "\n", "lists no proxies"},
		{"short row", "Pid: 1\n" + header + "fe,FRONTEND\n\n", "short line"},
		{"bad type", "Pid: 1\n" + header + "fe,FRONTEND,OPEN,x\n\n", `bad type "x"`},
		{"open quote", "Pid: 1\n" + header + "fe,FRONTEND,\"OPEN,0\n\n", "quoted field not closed"},
		{"truncated in show info", "Name: HAProxy\nVersion: 2.6.12\nPid: 1", "answer truncated after 36 bytes, in show info"},
		{"truncated mid-line", "Pid: 1\n" + header + "fe,FRONTEND,OPEN,0\nbe,s1,U", "answer truncated after 61 bytes: show stat does not end with its empty line"},
		{"truncated after a line", "Pid: 1\n" + header + "fe,FRONTEND,OPEN,0\n", "answer truncated after 54 bytes"},
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
	rows, err := parseStat(in)
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
	for _, name := range []string{"info-stat-healthy.txt", "info-stat-degraded.txt", "info-stat-1.8.8.txt"} {
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

// FuzzParseStat checks parseStat against encoding/csv: whenever parseStat
// accepts a text, encoding/csv (with the LazyQuotes leniency parseStat
// shares) must read the same rows from it.
func FuzzParseStat(f *testing.F) {
	for _, name := range []string{"info-stat-healthy.txt", "info-stat-degraded.txt", "info-stat-1.8.8.txt"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		_, stat, _ := strings.Cut(string(b), "# pxname")
		f.Add("# pxname" + stat)
	}
	f.Add("pxname,svname,status,type,bck,x\nbe,s1,UP,2,1,\"a,\nb\"\"c\"\nbe,s2,DOWN,2,0,x\"y\n")
	f.Add("type,status,svname,pxname\n2,\"UP 1/3\",\"s\"\"1\",be\r\n")
	f.Fuzz(func(t *testing.T, text string) {
		rows, err := parseStat(text)
		if err != nil {
			return
		}
		if strings.Contains(text, "\r") {
			return // encoding/csv turns "\r\n" into "\n" inside quoted fields too; HAProxy writes no "\r"
		}
		want, err := csvReference(text)
		if err != nil {
			t.Fatalf("parseStat accepted %q, encoding/csv: %v", text, err)
		}
		if diff := cmp.Diff(want, rows); diff != "" {
			t.Fatalf("parseStat(%q) differs from encoding/csv (-csv +parseStat):\n%s", text, diff)
		}
	})
}

// csvReference parses show stat with encoding/csv, as the tracker did before
// parseStat.
func csvReference(text string) ([]statRow, error) {
	cr := csv.NewReader(strings.NewReader(strings.TrimPrefix(text, "# ")))
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	header, err := cr.Read()
	if err != nil {
		return nil, err
	}
	col := map[string]int{"pxname": -1, "svname": -1, "status": -1, "type": -1, "bck": -1}
	for i, name := range header {
		if _, want := col[name]; want {
			col[name] = i
		}
	}
	var rows []statRow
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, err
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		typ, err := strconv.Atoi(rec[col["type"]])
		if err != nil {
			return nil, err
		}
		row := statRow{Proxy: rec[col["pxname"]], Name: rec[col["svname"]], Type: rowType(typ), Status: rec[col["status"]]}
		if i := col["bck"]; i >= 0 && i < len(rec) && row.Type == rowServer {
			row.Backup = rec[i] == "1"
		}
		rows = append(rows, row)
	}
}
