package metrics

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/proxypair/proxypair/appliance/control"
	"github.com/proxypair/proxypair/internal/promtest"
)

// fakeSource is a control.Provider whose snapshot the test sets; err makes
// it fail, as a wedged loop's call does.
type fakeSource struct {
	mu    sync.Mutex
	st    control.Status
	err   error
	calls int
}

func (f *fakeSource) Status(context.Context) (control.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	return f.st, f.err
}

func (f *fakeSource) set(fn func(in *control.Instance)) {
	f.mu.Lock()
	fn(&f.st.Instances[0])
	f.mu.Unlock()
}

// fullStatus has every part the metrics read: a master with health
// tracking and a cloud claim.
func fullStatus(now time.Time) control.Status {
	return control.Status{Version: "v1.2.3", Instances: []control.Instance{{
		Interface: "eth1", VRID: 51, Version: 2, State: "MASTER", Since: now.Add(-time.Minute),
		ConfiguredPriority: 200, EffectivePriority: 200,
		VIPs: []string{"198.18.0.100/24", "198.18.0.101/24"}, VIPsHeld: []string{"198.18.0.100/24"},
		Link: "up", AdvertsSent: 60, AdvertsReceived: 7,
		Drops:          map[string]uint64{"auth_type": 5, "password": 2, "too_short": 1, "length_mismatch": 1, "ttl": 3, "address_set": 4, "zero_count": 1},
		MasterAdvertAt: now.Add(-300 * time.Millisecond),
		Counters: control.Counters{BecomeMaster: 2, ReleaseMaster: 1, PriorityZeroReceived: 1, PriorityZeroSent: 3,
			SendErrors: 1, AuthTypeUnknown: 2,
			Transitions: []control.TransitionCount{{From: "BACKUP", To: "MASTER", Reason: "master_down", Count: 2}, {From: "MASTER", To: "BACKUP", Reason: "unhealthy", Count: 1}}},
		Health: &control.Health{Healthy: true, Checks: []control.HealthCheck{
			{Name: "socket", OK: true, Duration: control.Duration(2 * time.Millisecond)},
			{Name: "backend be_app", OK: false, Duration: control.Duration(2 * time.Millisecond)},
		}},
		Cloud: &control.Cloud{Provider: "ncp", State: control.ClaimClaimed, Attempts: 3, Latency: control.Duration(1500 * time.Millisecond), Claims: 2, Failures: 1},
	}}}
}

// serve starts the endpoint on a loopback port for src.
func serve(t *testing.T, src control.Provider) (url string, s *Server) {
	t.Helper()
	h, err := Handler(src, BuildInfo{Version: "v1.2.3", Commit: "abc1234"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	s, err = Listen("127.0.0.1:0", h, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return "http://" + s.Addr().String() + Path, s
}

// value fails the test unless exactly one series of name matches labels.
func value(t *testing.T, f promtest.Families, name string, labels ...string) float64 {
	t.Helper()
	v, err := f.Value(name, labels...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

var inst = []string{"iname", "VI_51", "intf", "eth1", "vrid", "51"}

func with(extra ...string) []string { return append(append([]string{}, inst...), extra...) }

// TestEndpoint scrapes the endpoint over HTTP and checks every family:
// its name, labels and value, and that a value the instance changes
// changes in the next scrape.
func TestEndpoint(t *testing.T) {
	now := time.Now()
	src := &fakeSource{st: fullStatus(now)}
	url, s := serve(t, src)
	f, err := promtest.Scrape(http.DefaultClient, url)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"keepalived_up", nil, 1},
		{"keepalived_vrrp_state", with("ip_address", "198.18.0.100/24"), 2},
		{"keepalived_vrrp_state", with("ip_address", "198.18.0.101/24"), 2},
		{"keepalived_advertisements_received_total", inst, 7},
		{"keepalived_advertisements_sent_total", inst, 60},
		{"keepalived_become_master_total", inst, 2},
		{"keepalived_release_master_total", inst, 1},
		{"keepalived_priority_zero_received_total", inst, 1},
		{"keepalived_priority_zero_sent_total", inst, 3},
		{"keepalived_packet_length_errors_total", inst, 2},
		{"keepalived_advertisements_interval_errors_total", inst, 0},
		{"keepalived_ip_ttl_errors_total", inst, 3},
		{"keepalived_invalid_type_received_total", inst, 0},
		{"keepalived_address_list_errors_total", inst, 5},
		{"keepalived_authentication_invalid_total", inst, 2},
		{"keepalived_authentication_mismatch_total", inst, 3},
		{"keepalived_authentication_failure_total", inst, 2},
		{"proxypair_state", with("state", "MASTER"), 1},
		{"proxypair_state", with("state", "BACKUP"), 0},
		{"proxypair_state", with("state", "STOPPING"), 0},
		{"proxypair_state_change_timestamp_seconds", inst, float64(now.Add(-time.Minute).UnixNano()) / 1e9},
		{"proxypair_effective_priority", inst, 200},
		{"proxypair_configured_priority", inst, 200},
		{"proxypair_transitions_total", with("from", "BACKUP", "to", "MASTER", "reason", "master_down"), 2},
		{"proxypair_transitions_total", with("from", "MASTER", "to", "BACKUP", "reason", "unhealthy"), 1},
		{"proxypair_drops_total", with("reason", "auth_type"), 5},
		{"proxypair_drops_total", with("reason", "checksum"), 0}, // every reason, from the start
		{"proxypair_advert_send_errors_total", inst, 1},
		{"proxypair_vip_held", with("vip", "198.18.0.100/24"), 1},
		{"proxypair_vip_held", with("vip", "198.18.0.101/24"), 0},
		{"proxypair_vip_problem", inst, 0},
		{"proxypair_link_up", inst, 1},
		{"proxypair_health_healthy", inst, 1},
		{"proxypair_health_check_ok", with("check", "socket"), 1},
		{"proxypair_health_check_ok", with("check", "backend be_app"), 0},
		{"proxypair_health_check_duration_seconds", with("check", "socket"), 0.002},
		{"proxypair_cloud_claim_state", with("provider", "ncp", "state", "claimed"), 1},
		{"proxypair_cloud_claim_state", with("provider", "ncp", "state", "retrying"), 0},
		{"proxypair_cloud_claim_attempts", with("provider", "ncp"), 3},
		{"proxypair_cloud_claim_latency_seconds", with("provider", "ncp"), 1.5},
		{"proxypair_cloud_claims_total", with("provider", "ncp"), 2},
		{"proxypair_cloud_claim_failures_total", with("provider", "ncp"), 1},
		{"proxypair_build_info", []string{"version", "v1.2.3", "commit", "abc1234", "goversion", runtime.Version()}, 1},
	} {
		if got := value(t, f, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if age := value(t, f, "proxypair_master_advert_age_seconds", inst...); age < 0.3 || age > 60 {
		t.Errorf("master advert age %v, want 0.3s and a little", age)
	}
	if len(f.Series("proxypair_drops_total")) != 16 {
		t.Errorf("drops by reason: %v, want one series per reason", f.Series("proxypair_drops_total"))
	}
	for _, fam := range []string{"go_goroutines", "process_resident_memory_bytes"} {
		if f[fam] == nil {
			t.Errorf("no %s: the runtime's own metrics are missing", fam)
		}
	}

	// A takeover and a failed check, as the next snapshot reports them.
	src.set(func(in *control.Instance) {
		in.Counters.BecomeMaster = 3
		in.Health.Healthy = false
		in.State = "STOPPING"
	})
	f, err = promtest.Scrape(http.DefaultClient, url)
	if err != nil {
		t.Fatal(err)
	}
	if v := value(t, f, "keepalived_become_master_total", inst...); v != 3 {
		t.Errorf("become master after a takeover: %v, want 3", v)
	}
	if v := value(t, f, "proxypair_health_healthy", inst...); v != 0 {
		t.Errorf("health after a failure: %v, want 0", v)
	}
	if v := value(t, f, "keepalived_vrrp_state", with("ip_address", "198.18.0.100/24")...); v != 98 {
		t.Errorf("keepalived state while stopping: %v, want 98 (keepalived's VRRP_STATE_STOP)", v)
	}
	if v := value(t, f, "proxypair_state", with("state", "STOPPING")...); v != 1 {
		t.Errorf("proxypair_state{STOPPING} = %v", v)
	}

	// The landing page says where the metrics are; Close stops serving.
	resp, err := http.Get(strings.TrimSuffix(url, Path) + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), Path) {
		t.Errorf("landing page %q does not name %s", b, Path)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(url); err == nil {
		t.Error("still serving after Close")
	}
}

// TestOptionalParts: without health tracking, a cloud provider or a known
// master, their metrics are absent rather than made up.
func TestOptionalParts(t *testing.T) {
	st := fullStatus(time.Now())
	in := &st.Instances[0]
	in.Health, in.Cloud, in.MasterAdvertAt, in.State = nil, nil, time.Time{}, "FAULT"
	url, _ := serve(t, &fakeSource{st: st})
	f, err := promtest.Scrape(http.DefaultClient, url)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"proxypair_health_healthy", "proxypair_health_check_ok", "proxypair_cloud_claim_state", "proxypair_master_advert_age_seconds"} {
		if f[name] != nil {
			t.Errorf("%s is served without its part: %v", name, f.Series(name))
		}
	}
	if v := value(t, f, "keepalived_vrrp_state", with("ip_address", "198.18.0.100/24")...); v != 3 {
		t.Errorf("keepalived state in FAULT: %v, want 3", v)
	}
}

// TestNoSnapshot: when the loop does not answer, the scrape says so with
// keepalived_up 0 and serves no stale or invented instance metric.
func TestNoSnapshot(t *testing.T) {
	src := &fakeSource{st: fullStatus(time.Now()), err: errors.New("context deadline exceeded")}
	url, _ := serve(t, src)
	f, err := promtest.Scrape(http.DefaultClient, url)
	if err != nil {
		t.Fatal(err)
	}
	if v := value(t, f, "keepalived_up"); v != 0 {
		t.Errorf("keepalived_up %v with no snapshot, want 0", v)
	}
	for _, name := range f.Names() {
		if strings.HasPrefix(name, "keepalived_") && name != "keepalived_up" || strings.HasPrefix(name, "proxypair_") && name != "proxypair_build_info" {
			t.Errorf("%s served without a snapshot", name)
		}
	}
}

// TestOneSnapshotPerScrape: a scrape asks the loop once, whatever the
// number of families.
func TestOneSnapshotPerScrape(t *testing.T) {
	src := &fakeSource{st: fullStatus(time.Now())}
	url, _ := serve(t, src)
	for range 3 {
		if _, err := promtest.Scrape(http.DefaultClient, url); err != nil {
			t.Fatal(err)
		}
	}
	src.mu.Lock()
	defer src.mu.Unlock()
	if src.calls != 3 {
		t.Errorf("3 scrapes took %d snapshots", src.calls)
	}
}

// TestLint: the metrics follow Prometheus' naming rules (promlint).
func TestLint(t *testing.T) {
	problems, err := testutil.CollectAndLint(NewCollector(&fakeSource{st: fullStatus(time.Now())}, slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

// BenchmarkScrape is a whole scrape as Prometheus makes it (off the VRRP
// loop but for the snapshot): gather, the Go runtime's and the process's
// metrics included, and encode.
func BenchmarkScrape(b *testing.B) {
	h, err := Handler(&fakeSource{st: fullStatus(time.Now())}, BuildInfo{Version: "v1.2.3"}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, Path, nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
	}
}

// TestInameIsTheInstanceName: iname is vrrp.name when the daemon reports
// one (an imported keepalived config keeps its VI_1), else VI_<vrid>.
func TestInameIsTheInstanceName(t *testing.T) {
	st := fullStatus(time.Now())
	st.Instances[0].Name = "VI_1"
	url, _ := serve(t, &fakeSource{st: st})
	f, err := promtest.Scrape(http.DefaultClient, url)
	if err != nil {
		t.Fatal(err)
	}
	if got := value(t, f, "keepalived_advertisements_sent_total", "iname", "VI_1", "intf", "eth1", "vrid", "51"); got != 60 {
		t.Errorf("adverts sent labelled iname VI_1 = %v, want 60", got)
	}
	if _, err := f.Value("keepalived_advertisements_sent_total", inst...); err == nil {
		t.Error("a series still labelled iname VI_51 next to vrrp.name VI_1")
	}
}
