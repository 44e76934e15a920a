package appliance

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/proxypair/proxypair/appliance/fsm"
	"github.com/proxypair/proxypair/appliance/metrics"
	"github.com/proxypair/proxypair/appliance/netio"
	"github.com/proxypair/proxypair/appliance/vrrp"
	"github.com/proxypair/proxypair/internal/promtest"
)

// metricsNode is a test node with health tracking and a cloud claim, and
// the metrics handler of its daemon.
type metricsNode struct {
	*testNode
	health  *fakeHealth
	handler http.Handler
}

func startMetricsNode(t *testing.T, l *lan, addr string, prio int) *metricsNode {
	t.Helper()
	h := newFakeHealth()
	n := startNodeEnv(t, l, addr, seedVRRP(prio), func(e *env) {
		e.health = h
		e.claimer, e.provider = &fakeClaimer{}, "fake"
	})
	handler, err := metrics.Handler(&node{inst: n.in, started: time.Now(), version: "test"},
		metrics.BuildInfo{Version: "test", Commit: "abc1234"}, slog.New(n.log))
	if err != nil {
		t.Fatal(err)
	}
	return &metricsNode{testNode: n, health: h, handler: handler}
}

// scrape serves one GET /metrics, as Prometheus would over the listener
// (the handler is the one the listener serves; a socket would take the
// bubble out of virtual time), and parses it.
func (n *metricsNode) scrape(t *testing.T) promtest.Families {
	t.Helper()
	rec := httptest.NewRecorder()
	n.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, metrics.Path, nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", metrics.Path, rec.Code, rec.Body)
	}
	f, err := promtest.Parse(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// want checks one series' value.
type want struct {
	name   string
	labels []string // besides iname, intf, vrid
	value  float64
}

func checkSeries(t *testing.T, who string, f promtest.Families, wants []want) {
	t.Helper()
	for _, w := range wants {
		labels := append([]string{"iname", "VI_51", "intf", "eth1", "vrid", "51"}, w.labels...)
		v, err := f.Value(w.name, labels...)
		if err != nil {
			t.Errorf("%s: %v", who, err)
			continue
		}
		if v != w.value {
			t.Errorf("%s: %s%v = %v, want %v", who, w.name, w.labels, v, w.value)
		}
	}
}

// TestMetricsFollowThePair scrapes both nodes of a pair through the
// metrics handler, in virtual time: after the election, after bad packets,
// and after the master's HAProxy fails and the backup takes over. Each
// family is checked by name, labels and a value that the events change;
// then every query of the shipped Grafana dashboard must name a metric
// these scrapes found.
func TestMetricsFollowThePair(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &lan{}
		a := startMetricsNode(t, l, "198.18.0.1", 200)
		b := startMetricsNode(t, l, "198.18.0.2", 100)
		time.Sleep(10 * time.Second)
		synctest.Wait()

		fa, fb := a.scrape(t), b.scrape(t)
		checkSeries(t, "a elected", fa, []want{
			{"keepalived_vrrp_state", []string{"ip_address", "198.18.0.100/24"}, 2},
			{"keepalived_become_master_total", nil, 1},
			{"keepalived_release_master_total", nil, 0},
			{"keepalived_priority_zero_sent_total", nil, 0},
			{"proxypair_state", []string{"state", "MASTER"}, 1},
			{"proxypair_effective_priority", nil, 200},
			{"proxypair_configured_priority", nil, 200},
			{"proxypair_transitions_total", []string{"from", "BACKUP", "to", "MASTER", "reason", "master_down"}, 1},
			{"proxypair_vip_held", []string{"vip", "198.18.0.100/24"}, 1},
			{"proxypair_vip_problem", nil, 0},
			{"proxypair_link_up", nil, 1},
			{"proxypair_health_healthy", nil, 1},
			{"proxypair_health_check_ok", []string{"check", "socket"}, 1},
			{"proxypair_health_check_duration_seconds", []string{"check", "socket"}, 0},
			{"proxypair_cloud_claim_state", []string{"provider", "fake", "state", "claimed"}, 1},
			{"proxypair_cloud_claim_attempts", []string{"provider", "fake"}, 1},
			{"proxypair_cloud_claim_latency_seconds", []string{"provider", "fake"}, 0.3},
			{"proxypair_cloud_claims_total", []string{"provider", "fake"}, 1},
			{"proxypair_cloud_claim_failures_total", []string{"provider", "fake"}, 0},
			{"proxypair_advert_send_errors_total", nil, 0},
		})
		checkSeries(t, "b elected", fb, []want{
			{"keepalived_vrrp_state", []string{"ip_address", "198.18.0.100/24"}, 1},
			{"keepalived_become_master_total", nil, 0},
			{"proxypair_state", []string{"state", "BACKUP"}, 1},
			{"proxypair_transitions_total", []string{"from", "INIT", "to", "BACKUP", "reason", "startup"}, 1},
			{"proxypair_vip_held", []string{"vip", "198.18.0.100/24"}, 0},
			{"proxypair_cloud_claim_state", []string{"provider", "fake", "state", "idle"}, 1},
		})
		sent, _ := fa.Value("keepalived_advertisements_sent_total", "vrid", "51")
		received, _ := fb.Value("keepalived_advertisements_received_total", "vrid", "51")
		if sent < 6 || received != sent {
			t.Errorf("a sent %v adverts and b accepted %v; want the same, at least 6", sent, received)
		}
		// The master's last advert went out at most one interval ago.
		for who, f := range map[string]promtest.Families{"a": fa, "b": fb} {
			if age, err := f.Value("proxypair_master_advert_age_seconds", "vrid", "51"); err != nil || age < 0 || age >= 1 {
				t.Errorf("%s: master advert age %v (%v), want under the 1 s interval", who, age, err)
			}
		}

		// Bad packets, each counted under keepalived's name for it.
		evil := netip.MustParseAddr("198.18.0.9")
		good := vrrp.Advertisement{Version: vrrp.Version2, Type: vrrp.TypeAdvertisement, VRID: 51, Priority: 254,
			AuthType: vrrp.AuthSimple, Interval: time.Second, Addresses: []netip.Addr{vip100.Addr()}}
		copy(good.AuthData[:], "pass1234")
		for _, mutate := range []func(*vrrp.Advertisement){
			func(a *vrrp.Advertisement) { copy(a.AuthData[:], "wrongpw!") },
			func(a *vrrp.Advertisement) { a.AuthType = vrrp.AuthNone },
			func(a *vrrp.Advertisement) { a.AuthType = 7 },
			func(a *vrrp.Advertisement) { a.AuthType = 7 },
			func(a *vrrp.Advertisement) { a.Interval = 3 * time.Second },
		} {
			adv := good
			mutate(&adv)
			payload, err := adv.Marshal(evil, vrrp.MulticastGroup, vrrp.PseudoHeader)
			if err != nil {
				t.Fatal(err)
			}
			b.conn.inject(netio.Packet{Packet: vrrp.Packet{Src: evil, Dst: vrrp.MulticastGroup, TTL: 255, Payload: payload}})
		}
		routed, err := good.Marshal(evil, vrrp.MulticastGroup, vrrp.PseudoHeader)
		if err != nil {
			t.Fatal(err)
		}
		b.conn.inject(netio.Packet{Packet: vrrp.Packet{Src: evil, Dst: vrrp.MulticastGroup, TTL: 64, Payload: routed}})
		b.conn.inject(netio.Packet{Packet: vrrp.Packet{Src: evil, Dst: vrrp.MulticastGroup, TTL: 255, Payload: routed[:4]}})
		synctest.Wait()
		checkSeries(t, "b after bad packets", b.scrape(t), []want{
			{"keepalived_authentication_failure_total", nil, 1},
			{"keepalived_authentication_mismatch_total", nil, 1},
			{"keepalived_authentication_invalid_total", nil, 2},
			{"keepalived_advertisements_interval_errors_total", nil, 1},
			{"keepalived_ip_ttl_errors_total", nil, 1},
			{"keepalived_packet_length_errors_total", nil, 1},
			{"keepalived_invalid_type_received_total", nil, 0},
			{"keepalived_address_list_errors_total", nil, 0},
			{"proxypair_drops_total", []string{"reason", "auth_type"}, 3},
			{"proxypair_drops_total", []string{"reason", "password"}, 1},
			{"proxypair_drops_total", []string{"reason", "checksum"}, 0},
		})

		// HAProxy fails on the master: it resigns (three priority-0
		// adverts) and b takes over after Skew_Time.
		a.health.set(false, "backend be_app: 0/2 servers UP")
		time.Sleep(2 * time.Second)
		synctest.Wait()
		fa2, fb2 := a.scrape(t), b.scrape(t)
		checkSeries(t, "a after resigning", fa2, []want{
			{"keepalived_vrrp_state", []string{"ip_address", "198.18.0.100/24"}, 1},
			{"keepalived_become_master_total", nil, 1},
			{"keepalived_release_master_total", nil, 1},
			{"keepalived_priority_zero_sent_total", nil, 3},
			{"proxypair_state", []string{"state", "MASTER"}, 0},
			{"proxypair_effective_priority", nil, 1},
			{"proxypair_configured_priority", nil, 200},
			{"proxypair_transitions_total", []string{"from", "MASTER", "to", "BACKUP", "reason", "unhealthy"}, 1},
			{"proxypair_health_healthy", nil, 0},
			{"proxypair_vip_held", []string{"vip", "198.18.0.100/24"}, 0},
			{"proxypair_cloud_claim_state", []string{"provider", "fake", "state", "idle"}, 1},
		})
		checkSeries(t, "b after the takeover", fb2, []want{
			{"keepalived_vrrp_state", []string{"ip_address", "198.18.0.100/24"}, 2},
			{"keepalived_become_master_total", nil, 1},
			{"keepalived_priority_zero_received_total", nil, 3},
			{"proxypair_transitions_total", []string{"from", "BACKUP", "to", "MASTER", "reason", "peer_resigned"}, 1},
			{"proxypair_vip_held", []string{"vip", "198.18.0.100/24"}, 1},
			{"proxypair_cloud_claims_total", []string{"provider", "fake"}, 1},
		})

		// Every query of the dashboard names metrics these scrapes found.
		found := map[string]bool{}
		for _, f := range []promtest.Families{fa, fb, fa2, fb2} {
			for _, n := range f.Names() {
				found[n] = true
			}
		}
		checkDashboard(t, "../configs/grafana-proxypair.json", found)
	})
}

// checkDashboard fails for every query of the dashboard at path that names
// a metric not in found, or none at all.
func checkDashboard(t *testing.T, path string, found map[string]bool) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	exprs, err := promtest.DashboardExprs(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(exprs) < 10 {
		t.Fatalf("%s has %d queries; the dashboard lost its panels?", path, len(exprs))
	}
	var used []string
	for _, e := range exprs {
		names := promtest.ExprMetricNames(e)
		if len(names) == 0 {
			t.Errorf("%s: query %q names no metric this test can check", path, e)
		}
		for _, n := range names {
			if !found[n] {
				t.Errorf("%s: query %q uses %s, which the daemon does not export", path, e, n)
			}
			used = append(used, n)
		}
	}
	slices.Sort(used)
	t.Logf("%s: %d queries over %d metrics", path, len(exprs), len(slices.Compact(used)))
}

// TestMetricsListenFailureIsNotFatal: a metrics address that cannot be
// listened on is logged and the daemon runs on without metrics; a free
// one serves them.
func TestMetricsListenFailureIsNotFatal(t *testing.T) {
	rec := &logRecorder{}
	o := Options{Log: slog.New(rec), Version: "test"}
	n := &node{started: time.Now(), version: "test"}
	s := serveMetrics("127.0.0.1:0", n, o)
	if s == nil {
		t.Fatal("no metrics server on a free port")
	}
	defer s.Close()
	if again := serveMetrics(s.Addr().String(), n, o); again != nil {
		again.Close()
		t.Fatal("a second server listened on a taken port")
	}
	if got := rec.count("control.metrics_listen: cannot serve metrics; running without them", ""); got != 1 {
		t.Errorf("%d error lines for a taken port, want 1", got)
	}
	if serveMetrics("", n, o) != nil {
		t.Error("metrics served with control.metrics_listen empty")
	}
}

// BenchmarkSnapshot is what a scrape (or `proxypair status`) costs the
// VRRP loop: building the instance's snapshot, counters included.
func BenchmarkSnapshot(b *testing.B) {
	in, err := newInstance(seedVRRP(200), -254, env{src: netip.MustParseAddr("198.18.0.1"), notifier: nopNotifier{}}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	in.step(time.Now(), fsm.Startup{})
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		in.snapshot(now)
	}
}
