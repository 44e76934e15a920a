package healthcheck

import (
	"errors"
	"fmt"
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

// parseInfoStat parses the answer to infoStatCommand. HAProxy (1.8 and 2.x)
// ends the output of each command with an empty line, so a whole answer
// ends with "\n\n"; anything else was cut short (HAProxy died or closed the
// connection mid-answer) and fails, rather than reading as a healthy
// HAProxy with fewer backends.
func parseInfoStat(answer string) (runtimeState, error) {
	var st runtimeState
	answer = strings.TrimLeft(answer, "\r\n")
	if strings.TrimSpace(answer) == "" {
		return st, errEmptyAnswer
	}
	i := strings.Index(answer, "# pxname")
	if i < 0 {
		if strings.HasPrefix(answer, "Name: HAProxy") && !strings.HasSuffix(answer, "\n\n") {
			return st, fmt.Errorf("answer truncated after %d bytes, in show info", len(answer))
		}
		return st, fmt.Errorf("no show stat header in answer %q", firstLine(answer))
	}
	if !strings.HasSuffix(answer, "\n\n") {
		return st, fmt.Errorf("answer truncated after %d bytes: show stat does not end with its empty line", len(answer))
	}
	info, stat := answer[:i], answer[i:]
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
	rows, err := parseStat(stat)
	if err != nil {
		return st, err
	}
	st.Rows = rows
	return st, nil
}

// parseStat parses `show stat` CSV, header line first (with or without its
// leading "# "). Columns are found by name, as HAProxy's management guide
// asks.
//
// It is a CSV reader of its own rather than encoding/csv because a check
// must stay cheap with tens of thousands of servers on the daemon's single
// P: it keeps only the fields up to the last column it needs ("type", the
// 33rd of about 100), as substrings of the answer, and skips the rest of a
// line with one byte search when it holds no quote. Quoted fields (HAProxy
// quotes fields holding commas, quotes or newlines, e.g. check
// descriptions) follow RFC 4180; FuzzParseStat compares it with
// encoding/csv.
func parseStat(text string) ([]statRow, error) {
	text = strings.TrimPrefix(text, "# ")
	header, rest, err := splitRecord(text, -1, nil)
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
	pxname, svname, status, typ, bck := col["pxname"], col["svname"], col["status"], col["type"], col["bck"]
	need := max(pxname, svname, status, typ)
	last := max(need, bck)
	rows := make([]statRow, 0, strings.Count(rest, "\n"))
	var rec []string
	for rest != "" {
		rec, rest, err = splitRecord(rest, last, rec[:0])
		if err != nil {
			return nil, fmt.Errorf("show stat: %w", err)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if len(rec) <= need {
			return nil, fmt.Errorf("show stat: short line %q", firstLine(strings.Join(rec, ",")))
		}
		t, err := strconv.Atoi(rec[typ])
		if err != nil {
			return nil, fmt.Errorf("show stat: bad type %q for %s/%s", rec[typ], rec[pxname], rec[svname])
		}
		row := statRow{
			Proxy:  rec[pxname],
			Name:   rec[svname],
			Type:   rowType(t),
			Status: rec[status],
		}
		if bck >= 0 && bck < len(rec) && row.Type == rowServer { // a backend's bck counts its backup servers
			row.Backup = rec[bck] == "1"
		}
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		return nil, errors.New("show stat lists no proxies")
	}
	return rows, nil
}

// splitRecord reads the CSV record at the start of s. It appends to fields
// the fields whose index is at most last (all of them if last < 0) and
// returns them with the text after the record. A quoted field may hold
// commas, newlines and doubled quotes; a quote inside an unquoted field is
// kept as it is (like encoding/csv's LazyQuotes). "\r\n" ends a record as
// "\n" does.
func splitRecord(s string, last int, fields []string) ([]string, string, error) {
	i := 0
	for n := 0; ; n++ {
		var f string
		if i < len(s) && s[i] == '"' {
			var b strings.Builder
			j := i + 1
			for {
				k := strings.IndexByte(s[j:], '"')
				if k < 0 {
					return fields, "", errors.New("quoted field not closed")
				}
				b.WriteString(s[j : j+k])
				j += k + 1
				if j < len(s) && s[j] == '"' { // "" is one quote
					b.WriteByte('"')
					j++
					continue
				}
				break
			}
			if j < len(s) && s[j] != ',' && s[j] != '\n' && !strings.HasPrefix(s[j:], "\r\n") {
				return fields, "", fmt.Errorf("text after the closing quote of field %d", n+1)
			}
			f, i = b.String(), j
		} else {
			k := i
			for k < len(s) && s[k] != ',' && s[k] != '\n' {
				k++
			}
			f, i = s[i:k], k
			if i < len(s) && s[i] == '\n' {
				f = strings.TrimSuffix(f, "\r")
			}
		}
		if last < 0 || n <= last {
			fields = append(fields, f)
		}
		if i >= len(s) {
			return fields, "", nil
		}
		if s[i] == '\r' && i+1 < len(s) && s[i+1] == '\n' {
			i++
		}
		if s[i] == '\n' {
			return fields, s[i+1:], nil
		}
		i++ // the comma
		if last >= 0 && n >= last {
			// Every wanted field is read: skip the line at once unless a
			// quote in it may hide a newline inside a field.
			nl := strings.IndexByte(s[i:], '\n')
			if nl < 0 {
				nl = len(s) - i
			}
			if strings.IndexByte(s[i:i+nl], '"') < 0 {
				return fields, s[min(i+nl+1, len(s)):], nil
			}
		}
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return s
}
