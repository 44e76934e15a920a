package promtest

import (
	"slices"
	"strings"
	"testing"
)

func TestExprMetricNames(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{`keepalived_vrrp_state`, []string{"keepalived_vrrp_state"}},
		{`sum by (iname, intf) (rate(keepalived_become_master_total{intf="eth1", vrid=~"$vrid"}[$__rate_interval]))`,
			[]string{"keepalived_become_master_total"}},
		{`sum(rate(proxypair_drops_total[5m])) without (reason)`, []string{"proxypair_drops_total"}},
		{`keepalived_vrrp_state == 2 and on(instance, vrid) proxypair_link_up`, []string{"keepalived_vrrp_state", "proxypair_link_up"}},
		{`count(proxypair_state{state="MASTER"} == 1) by (vrid) > bool 1`, []string{"proxypair_state"}},
		{`label_replace(up, "dst", "$1", "src", "(.*)")`, []string{"up"}},
		{`rate(x_total[5m] offset 1h) * 1e3 + .5`, []string{"x_total"}},
		{`a / ignoring(reason) group_left(iname) b`, []string{"a", "b"}},
		{`max_over_time(proxypair_master_advert_age_seconds{instance=~"${node:regex}"}[1m:10s])`, []string{"proxypair_master_advert_age_seconds"}},
		{"# a comment naming not_a_metric\nproxypair_vip_held", []string{"proxypair_vip_held"}},
		{`histogram_quantile(0.9, x_bucket) or vector(0) and Inf`, []string{"x_bucket"}},
		{`{__name__="hidden"}`, nil},
		{`proxypair_state{state="}"} + proxypair_state`, []string{"proxypair_state"}},
	} {
		if got := ExprMetricNames(tc.expr); !slices.Equal(got, tc.want) {
			t.Errorf("ExprMetricNames(%q) = %q, want %q", tc.expr, got, tc.want)
		}
	}
}

func TestDashboardExprs(t *testing.T) {
	got, err := DashboardExprs([]byte(`{"panels": [
		{"targets": [{"expr": "b"}, {"expr": "a"}]},
		{"type": "row", "panels": [{"targets": [{"expr": "c", "legendFormat": "{{iname}}"}]}]}],
		"templating": {"list": [
			{"type": "datasource", "query": "prometheus"},
			{"type": "query", "query": {"query": "label_values(d{x=\"1,2\"}, vrid)"}, "definition": "x"},
			{"type": "query", "query": "query_result(max(f))"},
			{"type": "query", "query": "label_values(vrid)"},
			{"expr": "e"}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"", "a", "b", "c", "d{x=\"1,2\"}", "e", "max(f)"}; !slices.Equal(got, want) {
		t.Errorf("exprs %q, want %q", got, want)
	}
	if _, err := DashboardExprs([]byte(`{"panels": [`)); err == nil {
		t.Error("a truncated dashboard parsed")
	}
}

func TestParseAndValue(t *testing.T) {
	f, err := Parse(strings.NewReader(`# TYPE a_total counter
a_total{x="1",y="p"} 3
a_total{x="2",y="p"} 4
# TYPE g gauge
g 0.5
`))
	if err != nil {
		t.Fatal(err)
	}
	if v, err := f.Value("a_total", "x", "2"); err != nil || v != 4 {
		t.Errorf("a_total{x=2} = %v, %v", v, err)
	}
	if _, err := f.Value("a_total", "y", "p"); err == nil {
		t.Error("two series matched and Value chose one")
	}
	if v, err := f.Value("g"); err != nil || v != 0.5 {
		t.Errorf("g = %v, %v", v, err)
	}
	if _, err := f.Value("missing"); err == nil {
		t.Error("a missing family has a value")
	}
	if got := f.Names(); !slices.Equal(got, []string{"a_total", "g"}) {
		t.Errorf("names %q", got)
	}
	if _, err := Parse(strings.NewReader("a_total{x=1} 3\n")); err == nil {
		t.Error("bad exposition parsed")
	}
}
