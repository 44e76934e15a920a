//go:build linux

package e2e

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/proxypair/proxypair/internal/lab"
	"github.com/proxypair/proxypair/internal/lab/ppnode"
	"github.com/proxypair/proxypair/internal/promtest"
)

// TestMetricsScrape: real daemons serve /metrics on control.metrics_listen
// (set from the environment, as a unit's EnvironmentFile would), and each
// node's metrics, scraped once from its peer across the LAN, say who is
// master, in the keepalived exporter's names and proxypair's.
func TestMetricsScrape(t *testing.T) {
	t.Parallel()
	_, a, b := newPair(t)
	s := settings{version: 3, interval: 100 * time.Millisecond}
	start := func(h *lab.Host, prio int, peer netip.Prefix) *node {
		p, err := ppnode.StartEnv(h, bin.proxypair, s.yaml(prio, peer, ""),
			[]string{"PROXYPAIR_CONTROL_METRICS_LISTEN=" + h.Addr.Addr().String() + ":9542"})
		if err != nil {
			t.Fatal(err)
		}
		return &node{Node: p, t: t}
	}
	start(a, 200, addrB)
	nb := start(b, 100, addrA)
	waitHolder(t, a, s.masterDown(), a, b)
	nb.waitState("BACKUP", time.Second)

	scrape := func(from, of *lab.Host) promtest.Families {
		t.Helper()
		url := fmt.Sprintf("http://%s:9542/metrics", of.Addr.Addr())
		f, err := promtest.Scrape(from.HTTPClient(5*time.Second), url)
		if err != nil {
			t.Fatalf("scraping %s from %s: %v", of.Name, from.Name, err)
		}
		return f
	}
	labels := func(extra ...string) []string {
		return append([]string{"iname", "VI_51", "intf", "eth1", "vrid", "51"}, extra...)
	}
	check := func(who string, f promtest.Families, name string, ok func(float64) bool, l ...string) {
		t.Helper()
		v, err := f.Value(name, labels(l...)...)
		if err != nil {
			t.Errorf("%s: %v", who, err)
			return
		}
		if !ok(v) {
			t.Errorf("%s: %s%v = %v", who, name, l, v)
		}
	}
	is := func(want float64) func(float64) bool { return func(v float64) bool { return v == want } }
	positive := func(v float64) bool { return v > 0 }

	fa, fb := scrape(b, a), scrape(a, b)
	check("a", fa, "keepalived_vrrp_state", is(2), "ip_address", vip.String())
	check("a", fa, "keepalived_become_master_total", is(1))
	check("a", fa, "keepalived_advertisements_sent_total", positive)
	check("a", fa, "proxypair_state", is(1), "state", "MASTER")
	check("a", fa, "proxypair_vip_held", is(1), "vip", vip.String())
	check("a", fa, "proxypair_link_up", is(1))
	check("b", fb, "keepalived_vrrp_state", is(1), "ip_address", vip.String())
	check("b", fb, "keepalived_become_master_total", is(0))
	check("b", fb, "keepalived_advertisements_received_total", positive)
	check("b", fb, "proxypair_transitions_total", is(1), "from", "INIT", "to", "BACKUP", "reason", "startup")
	check("b", fb, "proxypair_master_advert_age_seconds", func(v float64) bool { return v >= 0 && v < s.masterDown().Seconds() })
	for who, f := range map[string]promtest.Families{"a": fa, "b": fb} {
		if v, err := f.Value("keepalived_up"); err != nil || v != 1 {
			t.Errorf("%s: keepalived_up %v, %v", who, v, err)
		}
		if v, err := f.Value("proxypair_build_info"); err != nil || v != 1 {
			t.Errorf("%s: proxypair_build_info %v, %v", who, v, err)
		}
		if f["process_resident_memory_bytes"] == nil {
			t.Errorf("%s: no process metrics", who)
		}
	}
}
