// Package promtest reads what a Prometheus endpoint serves and what a
// Grafana dashboard queries, for tests: the text exposition format parsed
// into families, series looked up by labels, and the metric names a PromQL
// expression uses.
package promtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Families are the metric families of one scrape, by name.
type Families map[string]*dto.MetricFamily

// Parse reads the text exposition format.
func Parse(r io.Reader) (Families, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("promtest: %w", err)
	}
	return fams, nil
}

// Scrape GETs url with c and parses the answer.
func Scrape(c *http.Client, url string) (Families, error) {
	resp, err := c.Get(url)
	if err != nil {
		return nil, fmt.Errorf("promtest: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("promtest: GET %s: %s: %s", url, resp.Status, b)
	}
	return Parse(resp.Body)
}

// Names returns the family names, sorted.
func (f Families) Names() []string {
	names := make([]string, 0, len(f))
	for n := range f {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Series is one sample: its labels and value (a counter's, a gauge's or an
// untyped metric's).
type Series struct {
	Labels map[string]string
	Value  float64
}

// Series returns the samples of family name, with their labels.
func (f Families) Series(name string) []Series {
	fam := f[name]
	if fam == nil {
		return nil
	}
	out := make([]Series, 0, len(fam.Metric))
	for _, m := range fam.Metric {
		s := Series{Labels: map[string]string{}}
		for _, l := range m.Label {
			s.Labels[l.GetName()] = l.GetValue()
		}
		switch {
		case m.Counter != nil:
			s.Value = m.Counter.GetValue()
		case m.Gauge != nil:
			s.Value = m.Gauge.GetValue()
		case m.Untyped != nil:
			s.Value = m.Untyped.GetValue()
		}
		out = append(out, s)
	}
	return out
}

// Value returns the value of the one series of family name whose labels
// include want (label name, value, name, value ...), or an error naming
// what is there instead.
func (f Families) Value(name string, want ...string) (float64, error) {
	if len(want)%2 != 0 {
		return 0, fmt.Errorf("promtest: odd label list %q", want)
	}
	var found []Series
	for _, s := range f.Series(name) {
		match := true
		for i := 0; i < len(want); i += 2 {
			if v, ok := s.Labels[want[i]]; !ok || v != want[i+1] {
				match = false
				break
			}
		}
		if match {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		return 0, fmt.Errorf("promtest: %d series of %s with %v; the family has %v", len(found), name, want, f.Series(name))
	}
	return found[0].Value, nil
}

// DashboardExprs returns every query of a Grafana dashboard (JSON): each
// "expr" (panels, rows, targets, annotations) and the query of each
// template variable of type "query", with Grafana's label_values(sel,
// label) and query_result(expr) unwrapped to the PromQL inside.
func DashboardExprs(dashboard []byte) ([]string, error) {
	var doc any
	if err := json.Unmarshal(dashboard, &doc); err != nil {
		return nil, fmt.Errorf("promtest: dashboard: %w", err)
	}
	var exprs []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if v["type"] == "query" {
				q := v["query"]
				if m, ok := q.(map[string]any); ok {
					q = m["query"]
				}
				if s, ok := q.(string); ok {
					exprs = append(exprs, unwrapVariable(s))
				}
			}
			for k, x := range v {
				if s, ok := x.(string); ok && k == "expr" {
					exprs = append(exprs, s)
					continue
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	sort.Strings(exprs)
	return exprs, nil
}

// unwrapVariable returns the PromQL of a Grafana variable query:
// label_values(sel, label) → sel, query_result(expr) → expr;
// label_values(label) selects no metric and becomes "".
func unwrapVariable(q string) string {
	q = strings.TrimSpace(q)
	if inner, ok := strings.CutPrefix(q, "query_result("); ok {
		return strings.TrimSuffix(inner, ")")
	}
	inner, ok := strings.CutPrefix(q, "label_values(")
	if !ok {
		return q
	}
	inner = strings.TrimSuffix(inner, ")")
	if i := strings.LastIndexByte(inner, ','); i >= 0 {
		return strings.TrimSpace(inner[:i])
	}
	return ""
}

// keywords are PromQL words that are not metric names. Followed by a
// parenthesis, the grouping ones take a list of labels, not expressions.
var keywords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"bool": true, "and": true, "or": true, "unless": true, "offset": true, "inf": true, "nan": true,
}

var labelLists = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true}

// ExprMetricNames returns the metric names a PromQL expression selects,
// sorted and without repeats. It is a tokenizer, not a parser: it skips
// string literals, label matchers {…}, ranges […], Grafana variables
// ($var, ${var}), numbers and durations, function names (an identifier
// before "("), keywords and the label lists of by/without/on/ignoring/
// group_left/group_right; every other identifier is a metric name. A
// selector by {__name__="…"} alone names none.
func ExprMetricNames(expr string) []string {
	var names []string
	s := expr
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '"' || c == '\'' || c == '`':
			i = skipString(s, i)
		case c == '{':
			i = skipGroup(s, i, '{', '}')
		case c == '[':
			i = skipGroup(s, i, '[', ']')
		case c == '$':
			i++
			if i < len(s) && s[i] == '{' {
				i = skipGroup(s, i, '{', '}')
			} else {
				for i < len(s) && isIdent(s[i]) {
					i++
				}
			}
		case isDigit(c) || (c == '.' && i+1 < len(s) && isDigit(s[i+1])):
			for i < len(s) && (isIdent(s[i]) || s[i] == '.') {
				i++
			}
		case isIdentStart(c):
			start := i
			for i < len(s) && isIdent(s[i]) {
				i++
			}
			word := s[start:i]
			j := i
			for j < len(s) && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n' || s[j] == '\r') {
				j++
			}
			paren := j < len(s) && s[j] == '('
			switch {
			case labelLists[strings.ToLower(word)] && paren:
				i = skipGroup(s, j, '(', ')')
			case keywords[strings.ToLower(word)], paren, startsWord(s[j:], "by"), startsWord(s[j:], "without"):
				// a keyword, or a function or aggregation (sum(…), sum by (…) (…))
			default:
				names = append(names, word)
			}
		default:
			i++
		}
	}
	sort.Strings(names)
	return slices.Compact(names)
}

// skipString returns the index after the string literal starting at i.
func skipString(s string, i int) int {
	q := s[i]
	for i++; i < len(s); i++ {
		switch {
		case s[i] == '\\' && q != '`':
			i++
		case s[i] == q:
			return i + 1
		}
	}
	return i
}

// skipGroup returns the index after the group opened at i, skipping
// strings inside it and nested groups of the same kind.
func skipGroup(s string, i int, open, close byte) int {
	depth := 0
	for i < len(s) {
		switch c := s[i]; {
		case c == '"' || c == '\'' || c == '`':
			i = skipString(s, i)
			continue
		case c == open:
			depth++
		case c == close:
			depth--
			if depth == 0 {
				return i + 1
			}
		}
		i++
	}
	return i
}

// startsWord reports whether s starts with the word w (not a longer
// identifier).
func startsWord(s, w string) bool {
	return strings.HasPrefix(s, w) && (len(s) == len(w) || !isIdent(s[len(w)]))
}

func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isIdentStart(c byte) bool { return c == '_' || c == ':' || (c|0x20 >= 'a' && c|0x20 <= 'z') }
func isIdent(c byte) bool      { return isIdentStart(c) || isDigit(c) }
