package healthcheck

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// infoStatCommand is sent as one runtime API round trip: HAProxy runs the
// commands in order on one connection, so a check costs one connection.
const infoStatCommand = "show info;show stat"

// errEmptyAnswer is an answer with nothing in it: the runtime API accepted the
// connection and closed it (HAProxy stopping, CLI overloaded). client-native
// returns it with no error, so it must never read as healthy.
var errEmptyAnswer = errors.New("empty answer")

// rowType is the "type" column of `show stat`.
type rowType int

const (
	rowFrontend rowType = 0
	rowBackend  rowType = 1
	rowServer   rowType = 2
	rowListener rowType = 3
)

// statRow is the part of one `show stat` line that the checks use.
type statRow struct {
	Proxy  string // pxname
	Name   string // svname: FRONTEND, BACKEND or the server's name
	Type   rowType
	Status string
	Backup bool // a backup server
}

// runtimeState is what one "show info;show stat" answer says.
type runtimeState struct {
	PID     int
	Version string
	Rows    []statRow
}

// parseInfoStat parses the answer to infoStatCommand.
func parseInfoStat(answer string) (runtimeState, error) {
	var st runtimeState
	answer = strings.TrimLeft(answer, "\r\n")
	if strings.TrimSpace(answer) == "" {
		return st, errEmptyAnswer
	}
	info, stat, found := strings.Cut(answer, "# pxname")
	if !found {
		return st, fmt.Errorf("no show stat header in answer %q", firstLine(answer))
	}
	for line := range strings.SplitSeq(info, "\n") {
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch key {
		case "Pid":
			pid, err := strconv.Atoi(strings.TrimSpace(val))
			if err != nil || pid <= 0 {
				return st, fmt.Errorf("bad Pid %q in show info", strings.TrimSpace(val))
			}
			st.PID = pid
		case "Version":
			st.Version = strings.TrimSpace(val)
		}
	}
	if st.PID == 0 {
		return st, fmt.Errorf("no Pid in show info answer %q", firstLine(answer))
	}
	rows, err := parseStatCSV(strings.NewReader("pxname" + stat))
	if err != nil {
		return st, err
	}
	st.Rows = rows
	return st, nil
}

// parseStatCSV parses `show stat` CSV whose header line has lost its "# ".
// Columns are found by name, as HAProxy's management guide asks.
func parseStatCSV(r io.Reader) ([]statRow, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("show stat header: %w", err)
	}
	col := map[string]int{"pxname": -1, "svname": -1, "status": -1, "type": -1, "bck": -1}
	for i, name := range header {
		if _, want := col[name]; want {
			col[name] = i
		}
	}
	for name, i := range col {
		if i < 0 && name != "bck" {
			return nil, fmt.Errorf("show stat header has no %q column", name)
		}
	}
	var rows []statRow
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("show stat: %w", err)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if len(rec) <= max(col["pxname"], col["svname"], col["status"], col["type"]) {
			return nil, fmt.Errorf("show stat: short line %q", strings.Join(rec, ","))
		}
		typ, err := strconv.Atoi(rec[col["type"]])
		if err != nil {
			return nil, fmt.Errorf("show stat: bad type %q for %s/%s", rec[col["type"]], rec[col["pxname"]], rec[col["svname"]])
		}
		row := statRow{
			Proxy:  rec[col["pxname"]],
			Name:   rec[col["svname"]],
			Type:   rowType(typ),
			Status: rec[col["status"]],
		}
		if i := col["bck"]; i >= 0 && i < len(rec) && row.Type == rowServer { // a backend's bck counts its backup servers
			row.Backup = rec[i] == "1"
		}
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		return nil, errors.New("show stat lists no proxies")
	}
	return rows, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return s
}
