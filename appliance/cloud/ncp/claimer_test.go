package ncp

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

var (
	vip1 = netip.MustParseAddr("10.0.1.100")
	vip2 = netip.MustParseAddr("10.0.1.101")
)

// claimEnv is a fake NCP (gateway and metadata service sharing one clock and
// one keyring) with our server (instance 1111111, eth1 = NIC 2001) and the
// peer (instance 2222222, eth1 = NIC 2002, which holds vip1).
type claimEnv struct {
	gw      *fakeGateway
	md      *fakeMetadata
	clock   *fakeClock
	sleeper *fakeSleeper
	keys    *keyring
	logs    *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newClaimEnv(t *testing.T) *claimEnv {
	t.Helper()
	clock := newFakeClock()
	keys := &keyring{}
	keys.add(testAccessKey, testSecretKey, time.Time{})
	e := &claimEnv{
		gw:      newFakeGateway(t, clock.Now, keys),
		md:      newFakeMetadata(t, clock.Now, keys),
		clock:   clock,
		sleeper: &fakeSleeper{clock: clock},
		keys:    keys,
		logs:    &syncBuffer{},
	}
	e.gw.addNIC(&fakeNIC{No: "2000", Device: "eth0", Instance: "1111111", IP: "10.0.0.11"})
	e.gw.addNIC(&fakeNIC{No: "2001", Device: "eth1", Instance: "1111111", IP: "10.0.1.11"})
	e.gw.addNIC(&fakeNIC{No: "2002", Device: "eth1", Instance: "2222222", IP: "10.0.1.12", Secondary: []string{vip1.String()}})
	return e
}

// claimer returns a Claimer on the fakes. Unset cfg fields default to: device
// eth1, region and NIC from metadata and the API, keys from the Server Role.
// It never points at a real NCP address.
func (e *claimEnv) claimer(t *testing.T, cfg Config, opts ...Option) *Claimer {
	t.Helper()
	cfg.APIBaseURL = e.gw.URL()
	cfg.MetadataBaseURL = e.md.URL()
	if cfg.Device == "" && cfg.NetworkInterfaceNo == "" {
		cfg.Device = "eth1"
	}
	base := []Option{
		WithClock(e.clock.Now),
		WithSleep(e.sleeper.Sleep),
		WithRand(func() float64 { return 0.5 }),
		WithGetenv(func(string) string { return "" }),
	}
	c, err := NewClaimer(cfg, slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})), append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClaimMovesTheVIPInOneCall(t *testing.T) {
	e := newClaimEnv(t)
	c := e.claimer(t, Config{})
	res, err := c.Claim(context.Background(), []netip.Addr{vip1})
	if err != nil {
		t.Fatal(err)
	}
	if res.NetworkInterfaceNo != "2001" || res.Attempts != 1 || res.Polls != 1 || !res.Confirmed {
		t.Errorf("result = %+v, want NIC 2001, 1 attempt, 1 poll, confirmed", res)
	}
	assigns := e.gw.CallsTo(ActionAssignSecondaryIPs)
	if len(assigns) != 1 {
		t.Fatalf("assignSecondaryIps calls = %d, want exactly 1", len(assigns))
	}
	q := assigns[0].Query
	if q.Get("networkInterfaceNo") != "2001" || q.Get("secondaryIpList.1") != vip1.String() ||
		q.Get("allowReassign") != "true" || q.Get("regionCode") != "KR" {
		t.Errorf("assignSecondaryIps query = %v", q)
	}
	if ak, _ := roleKeys(1); assigns[0].AccessKey != ak {
		t.Errorf("signed with %s, want the Server Role's key %s", assigns[0].AccessKey, ak)
	}
	if got := e.gw.nic("2001").Secondary; len(got) != 1 || got[0] != vip1.String() {
		t.Errorf("our NIC holds %v, want [%v]", got, vip1)
	}
	if got := e.gw.nic("2002").Secondary; len(got) != 0 {
		t.Errorf("the peer's NIC still holds %v", got)
	}
	if s := e.sleeper.Slept(); len(s) != 0 {
		t.Errorf("slept %v on a clean success", s)
	}
	// The lookup is cached: a second claim makes no lookup and no metadata call.
	_, getsBefore, _, _ := e.md.counts()
	listsBefore := len(e.gw.CallsTo(ActionGetNetworkInterfaceList))
	if _, err := c.Claim(context.Background(), []netip.Addr{vip1}); err != nil {
		t.Fatal(err)
	}
	_, getsAfter, _, _ := e.md.counts()
	if getsAfter != getsBefore || len(e.gw.CallsTo(ActionGetNetworkInterfaceList)) != listsBefore+1 {
		t.Errorf("second claim: metadata GETs %d -> %d, list calls %d -> %d; want no metadata and only the confirm",
			getsBefore, getsAfter, listsBefore, len(e.gw.CallsTo(ActionGetNetworkInterfaceList)))
	}
}

func TestClaimRetriesRetryableErrors(t *testing.T) {
	throttled := canned{status: 429, body: gatewayError(GatewayThrottleLimited, "Throttle Limited", "")}
	tests := []struct {
		name      string
		answers   []canned
		wantSleep []time.Duration // with jitter fixed at 0.5: 0.75 of 200ms·2ⁿ
	}{
		{"throttled twice", []canned{throttled, throttled}, []time.Duration{150 * time.Millisecond, 300 * time.Millisecond}},
		{"bare 429", []canned{{status: 429}}, []time.Duration{150 * time.Millisecond}},
		{"5xx", []canned{{status: 503, body: gatewayError(GatewayEndpointError, "Endpoint Error", "")}}, []time.Duration{150 * time.Millisecond}},
		{"500 responseError", []canned{{status: 500, body: responseError("1300", "unknown")}}, []time.Duration{150 * time.Millisecond}},
		{"Retry-After longer than the backoff", []canned{{status: 429, header: http.Header{"Retry-After": {"2"}}}}, []time.Duration{2 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newClaimEnv(t)
			e.gw.push(ActionAssignSecondaryIPs, tt.answers...)
			c := e.claimer(t, Config{Region: "KR", NetworkInterfaceNo: "2001", AccessKey: testAccessKey, SecretKey: testSecretKey})
			res, err := c.Claim(context.Background(), []netip.Addr{vip1})
			if err != nil {
				t.Fatal(err)
			}
			if want := len(tt.answers) + 1; res.Attempts != want || len(e.gw.CallsTo(ActionAssignSecondaryIPs)) != want {
				t.Errorf("attempts = %d (gateway saw %d), want %d", res.Attempts, len(e.gw.CallsTo(ActionAssignSecondaryIPs)), want)
			}
			if got := e.sleeper.Slept(); !equalDurations(got, tt.wantSleep) {
				t.Errorf("slept %v, want %v", got, tt.wantSleep)
			}
			if !res.Confirmed || e.gw.nic("2001").Secondary[0] != vip1.String() {
				t.Errorf("result %+v; our NIC %v", res, e.gw.nic("2001").Secondary)
			}
			var total time.Duration
			for _, d := range tt.wantSleep {
				total += d
			}
			if res.Latency != total || res.AssignLatency != total {
				t.Errorf("latency %v (assign %v), want %v on the fake clock", res.Latency, res.AssignLatency, total)
			}
		})
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestClaimBackoffIsCappedAndJittered(t *testing.T) {
	e := newClaimEnv(t)
	for range 12 {
		e.gw.push(ActionAssignSecondaryIPs, canned{status: 429})
	}
	jitter := []float64{0, 0.99}
	var n int
	c := e.claimer(t, Config{Region: "KR", NetworkInterfaceNo: "2001", AccessKey: testAccessKey, SecretKey: testSecretKey},
		WithBackoff(100*time.Millisecond, time.Second),
		WithRand(func() float64 { n++; return jitter[n%2] }))
	if _, err := c.Claim(context.Background(), []netip.Addr{vip1}); err != nil {
		t.Fatal(err)
	}
	slept := e.sleeper.Slept()
	if len(slept) != 12 {
		t.Fatalf("slept %d times, want 12", len(slept))
	}
	for i, d := range slept {
		full := min(100*time.Millisecond<<i, time.Second)
		if d < full/2 || d >= full {
			t.Errorf("sleep %d = %v, want in [%v, %v)", i, d, full/2, full)
		}
	}
}

// TestClaimFailsAtOnceWhenFixedKeysAreRejected: keys from the config or the
// environment cannot be refreshed, so trying again cannot help.
func TestClaimFailsAtOnceWhenFixedKeysAreRejected(t *testing.T) {
	const wrong = "wrong-secret-do-not-log"
	tests := []struct {
		name  string
		cfg   Config
		env   map[string]string
		where string // what the error tells the operator to fix
	}{
		{"config", Config{AccessKey: testAccessKey, SecretKey: wrong}, nil, "cloud.access_key and cloud.secret_key"},
		{"env", Config{}, map[string]string{EnvAccessKey: testAccessKey, EnvSecretKey: wrong}, EnvAccessKey + " and " + EnvSecretKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newClaimEnv(t)
			tt.cfg.Region, tt.cfg.NetworkInterfaceNo = "KR", "2001"
			c := e.claimer(t, tt.cfg, WithGetenv(func(k string) string { return tt.env[k] }))
			res, err := c.Claim(context.Background(), []netip.Addr{vip1})
			var apiErr *APIError
			if !errors.Is(err, ErrCredentialsRejected) || !errors.As(err, &apiErr) || !apiErr.AuthFailure() {
				t.Fatalf("error = %v, want ErrCredentialsRejected wrapping the gateway's authentication failure", err)
			}
			if msg := err.Error(); !strings.Contains(msg, "cannot be refreshed") || !strings.Contains(msg, tt.where) {
				t.Errorf("error %q does not say the keys cannot be refreshed and to fix %s", msg, tt.where)
			}
			if res.Attempts != 1 || len(e.gw.Calls()) != 1 || len(e.sleeper.Slept()) != 0 {
				t.Errorf("attempts %d, gateway calls %d, sleeps %d; want 1, 1, 0", res.Attempts, len(e.gw.Calls()), len(e.sleeper.Slept()))
			}
			if _, _, _, issued := e.md.counts(); issued != 0 {
				t.Errorf("fetched Server Role keys %d times with fixed keys configured", issued)
			}
			if strings.Contains(e.logs.String(), "wrong-secret") || strings.Contains(err.Error(), "wrong-secret") {
				t.Errorf("the secret key leaked into the log or the error")
			}
			if !strings.Contains(e.logs.String(), "Authentication Failed") {
				t.Errorf("the log does not say why: %s", e.logs.String())
			}
		})
	}
}

func TestClaimStopsWhenCancelled(t *testing.T) {
	t.Run("between tries", func(t *testing.T) {
		e := newClaimEnv(t)
		for range 10 {
			e.gw.push(ActionAssignSecondaryIPs, canned{status: 429, body: gatewayError(GatewayRateLimited, "Rate Limited", "")})
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		e.sleeper.onSleep = func(n int) {
			if n == 3 {
				cancel() // the daemon left master
			}
		}
		c := e.claimer(t, Config{Region: "KR", NetworkInterfaceNo: "2001", AccessKey: testAccessKey, SecretKey: testSecretKey})
		res, err := c.Claim(ctx, []netip.Addr{vip1})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error = %v, want context.Canceled", err)
		}
		var apiErr *APIError
		if !errors.As(err, &apiErr) || !apiErr.Throttled() {
			t.Errorf("error = %v, want the last throttling error wrapped too", err)
		}
		if res.Attempts != 3 || len(e.gw.CallsTo(ActionAssignSecondaryIPs)) != 3 {
			t.Errorf("attempts = %d, want 3 (no call after the cancellation)", res.Attempts)
		}
	})

	t.Run("during a request", func(t *testing.T) {
		e := newClaimEnv(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		e.gw.set(func(g *fakeGateway) {
			g.onCall = func(r *http.Request, action string) {
				if action == ActionAssignSecondaryIPs {
					cancel()
					<-r.Context().Done() // a hung API: only the client's cancellation ends it
				}
			}
		})
		c := e.claimer(t, Config{Region: "KR", NetworkInterfaceNo: "2001", AccessKey: testAccessKey, SecretKey: testSecretKey})
		res, err := c.Claim(ctx, []netip.Addr{vip1})
		if !errors.Is(err, context.Canceled) || res.Attempts != 1 {
			t.Fatalf("result %+v, error %v; want 1 attempt and context.Canceled", res, err)
		}
	})

	t.Run("before starting", func(t *testing.T) {
		e := newClaimEnv(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		c := e.claimer(t, Config{})
		if _, err := c.Claim(ctx, []netip.Addr{vip1}); !errors.Is(err, context.Canceled) {
			t.Fatalf("error = %v, want context.Canceled", err)
		}
		if n := len(e.gw.Calls()); n != 0 {
			t.Errorf("gateway got %d calls", n)
		}
	})
}

func TestClaimConfirms(t *testing.T) {
	t.Run("polls until our NIC lists the VIP", func(t *testing.T) {
		e := newClaimEnv(t)
		e.gw.set(func(g *fakeGateway) { g.hideFresh = 2 }) // NCP shows the new secondary IP on the third look
		c := e.claimer(t, Config{Region: "KR", NetworkInterfaceNo: "2001", AccessKey: testAccessKey, SecretKey: testSecretKey},
			WithConfirm(time.Second, 5))
		res, err := c.Claim(context.Background(), []netip.Addr{vip1})
		if err != nil {
			t.Fatal(err)
		}
		if res.Attempts != 1 || res.Polls != 3 || !res.Confirmed {
			t.Errorf("result = %+v, want 1 attempt, 3 polls, confirmed", res)
		}
		if got := e.sleeper.Slept(); !equalDurations(got, []time.Duration{time.Second, time.Second}) {
			t.Errorf("slept %v, want 1s twice", got)
		}
		if res.AssignLatency != 0 || res.Latency != 2*time.Second {
			t.Errorf("latency: assign %v, total %v; want 0 and 2s", res.AssignLatency, res.Latency)
		}
	})

	t.Run("assigns again when the polls run out", func(t *testing.T) {
		e := newClaimEnv(t)
		e.gw.set(func(g *fakeGateway) { g.hideFresh = 3 })
		c := e.claimer(t, Config{Region: "KR", NetworkInterfaceNo: "2001", AccessKey: testAccessKey, SecretKey: testSecretKey},
			WithConfirm(time.Second, 2))
		res, err := c.Claim(context.Background(), []netip.Addr{vip1, vip2})
		if err != nil {
			t.Fatal(err)
		}
		// Polls 1-3 do not show the VIPs; the second assignment changes
		// nothing, and its second poll (the fourth) shows them.
		if res.Attempts != 2 || res.Polls != 4 || !res.Confirmed {
			t.Errorf("result = %+v, want 2 attempts, 4 polls, confirmed", res)
		}
		want := []time.Duration{time.Second, 150 * time.Millisecond, time.Second} // poll, backoff, poll
		if got := e.sleeper.Slept(); !equalDurations(got, want) {
			t.Errorf("slept %v, want %v", got, want)
		}
		if !strings.Contains(e.logs.String(), "does not list the VIPs") {
			t.Errorf("the log does not say why it assigned again:\n%s", e.logs.String())
		}
	})

	t.Run("listing refused after a successful assignment", func(t *testing.T) {
		e := newClaimEnv(t)
		e.gw.push(ActionGetNetworkInterfaceList, canned{status: 401, body: gatewayError(GatewayPermissionDenied, "Permission Denied", "")})
		c := e.claimer(t, Config{Region: "KR", NetworkInterfaceNo: "2001", AccessKey: testAccessKey, SecretKey: testSecretKey})
		res, err := c.Claim(context.Background(), []netip.Addr{vip1})
		if err != nil || res.Attempts != 1 || res.Polls != 1 || res.Confirmed {
			t.Fatalf("result %+v, error %v; want success after 1 attempt, unconfirmed", res, err)
		}
		if !strings.Contains(e.logs.String(), "not confirmed") {
			t.Errorf("the log does not warn:\n%s", e.logs.String())
		}
	})

	t.Run("off", func(t *testing.T) {
		e := newClaimEnv(t)
		c := e.claimer(t, Config{Region: "KR", NetworkInterfaceNo: "2001", AccessKey: testAccessKey, SecretKey: testSecretKey},
			WithConfirm(0, 0))
		res, err := c.Claim(context.Background(), []netip.Addr{vip1})
		if err != nil || res.Polls != 0 || res.Confirmed || len(e.gw.CallsTo(ActionGetNetworkInterfaceList)) != 0 {
			t.Errorf("result = %+v, %v; want no polls", res, err)
		}
	})
}

func TestClaimBatchesOfFive(t *testing.T) {
	e := newClaimEnv(t)
	var vips []netip.Addr
	for i := range 7 {
		vips = append(vips, netip.AddrFrom4([4]byte{10, 0, 1, byte(200 + i)}))
	}
	vips = append(vips, vips[0]) // a duplicate is claimed once
	c := e.claimer(t, Config{})
	res, err := c.Claim(context.Background(), vips)
	if err != nil {
		t.Fatal(err)
	}
	calls := e.gw.CallsTo(ActionAssignSecondaryIPs)
	if len(calls) != 2 || res.Attempts != 2 || len(res.VIPs) != 7 {
		t.Fatalf("assign calls %d, attempts %d, VIPs %d; want 2, 2, 7", len(calls), res.Attempts, len(res.VIPs))
	}
	if calls[0].Query.Get("secondaryIpList.5") == "" || calls[0].Query.Get("secondaryIpList.6") != "" ||
		calls[1].Query.Get("secondaryIpList.2") == "" || calls[1].Query.Get("secondaryIpList.3") != "" {
		t.Errorf("batches: %v / %v", calls[0].Query, calls[1].Query)
	}
	if got := len(e.gw.nic("2001").Secondary); got != 7 || !res.Confirmed {
		t.Errorf("our NIC holds %d VIPs (confirmed %v), want 7", got, res.Confirmed)
	}
}

func TestClaimAcceptsARefusalWhenTheVIPIsOursAlready(t *testing.T) {
	e := newClaimEnv(t)
	c := e.claimer(t, Config{Region: "KR", NetworkInterfaceNo: "2001", AccessKey: testAccessKey, SecretKey: testSecretKey})
	if _, err := c.Claim(context.Background(), []netip.Addr{vip1}); err != nil {
		t.Fatal(err)
	}
	e.gw.push(ActionAssignSecondaryIPs, canned{status: 400, body: responseError("1002031", "already assigned to this network interface")})
	res, err := c.Claim(context.Background(), []netip.Addr{vip1})
	if err != nil || !res.Confirmed {
		t.Fatalf("result %+v, error %v; want success", res, err)
	}

	// A refusal for a VIP we do not hold stays an error.
	e.gw.push(ActionAssignSecondaryIPs, canned{status: 400, body: responseError("1002030", "not in the subnet")})
	_, err = c.Claim(context.Background(), []netip.Addr{netip.MustParseAddr("10.9.9.9")})
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Code != "1002030" {
		t.Fatalf("error = %v, want returnCode 1002030", err)
	}
}

func TestClaimRejectsBadVIPs(t *testing.T) {
	tests := []struct {
		name string
		vips []netip.Addr
	}{
		{"none", nil},
		{"IPv6", []netip.Addr{netip.MustParseAddr("2001:db8::1")}},
		{"invalid", []netip.Addr{{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newClaimEnv(t)
			c := e.claimer(t, Config{})
			if _, err := c.Claim(context.Background(), tt.vips); err == nil {
				t.Error("no error")
			}
			if n := len(e.gw.Calls()); n != 0 {
				t.Errorf("gateway got %d calls", n)
			}
		})
	}
	// An IPv4-mapped IPv6 address is the IPv4 address.
	e := newClaimEnv(t)
	res, err := e.claimer(t, Config{}).Claim(context.Background(), []netip.Addr{netip.MustParseAddr("::ffff:10.0.1.100")})
	if err != nil || res.VIPs[0] != vip1 {
		t.Errorf("mapped address: %+v, %v", res, err)
	}
}

func TestClaimNICLookup(t *testing.T) {
	t.Run("from metadata and the API", func(t *testing.T) {
		e := newClaimEnv(t)
		nic, err := e.claimer(t, Config{Device: "eth1"}).Prepare(context.Background())
		if err != nil || nic.NetworkInterfaceNo != "2001" || nic.DeviceName != "eth1" {
			t.Fatalf("Prepare = %+v, %v", nic, err)
		}
		q := e.gw.CallsTo(ActionGetNetworkInterfaceList)[0].Query
		if q.Get("instanceNo") != "1111111" || q.Get("deviceName") != "eth1" || q.Get("regionCode") != "KR" {
			t.Errorf("lookup query = %v", q)
		}
	})
	t.Run("no such device", func(t *testing.T) {
		e := newClaimEnv(t)
		c := e.claimer(t, Config{Device: "eth2"})
		res, err := c.Claim(context.Background(), []netip.Addr{vip1})
		if !errors.Is(err, ErrNICNotFound) || res.Attempts != 0 || len(e.sleeper.Slept()) != 0 {
			t.Fatalf("result %+v, error %v; want ErrNICNotFound at once", res, err)
		}
	})
	t.Run("metadata down is retried", func(t *testing.T) {
		e := newClaimEnv(t)
		c := e.claimer(t, Config{Device: "eth1", AccessKey: testAccessKey, SecretKey: testSecretKey})
		e.md.srv.Close()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		e.sleeper.onSleep = func(n int) {
			if n == 2 {
				cancel()
			}
		}
		_, err := c.Claim(ctx, []netip.Addr{vip1})
		var te *TransportError
		if !errors.Is(err, context.Canceled) || !errors.As(err, &te) {
			t.Fatalf("error = %v, want cancellation after retrying a transport error", err)
		}
	})
	t.Run("configured NIC that does not exist", func(t *testing.T) {
		e := newClaimEnv(t)
		_, err := e.claimer(t, Config{NetworkInterfaceNo: "9999", Region: "KR"}).Prepare(context.Background())
		if !errors.Is(err, ErrNICNotFound) {
			t.Fatalf("error = %v, want ErrNICNotFound", err)
		}
	})
}

func TestClaimCredentialChain(t *testing.T) {
	const envAK, envSK = "AKIDFROMENV01", "env-secret-do-not-log"
	tests := []struct {
		name       string
		cfg        Config
		env        map[string]string
		wantAccess string
		wantSource string
	}{
		{"config", Config{AccessKey: testAccessKey, SecretKey: testSecretKey}, map[string]string{EnvAccessKey: envAK, EnvSecretKey: envSK}, testAccessKey, "config"},
		{"env", Config{}, map[string]string{EnvAccessKey: envAK, EnvSecretKey: envSK}, envAK, "env"},
		{"server role", Config{}, nil, "ROLEAK0001", "server-role"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newClaimEnv(t)
			e.keys.add(envAK, envSK, time.Time{})
			c := e.claimer(t, tt.cfg, WithGetenv(func(k string) string { return tt.env[k] }))
			if c.CredentialsSource() != tt.wantSource {
				t.Errorf("CredentialsSource = %q, want %q", c.CredentialsSource(), tt.wantSource)
			}
			if _, err := c.Claim(context.Background(), []netip.Addr{vip1}); err != nil {
				t.Fatal(err)
			}
			for _, call := range e.gw.Calls() {
				if call.AccessKey != tt.wantAccess {
					t.Errorf("%s signed with %s, want %s", call.Action, call.AccessKey, tt.wantAccess)
				}
			}
			for _, secret := range []string{testSecretKey, envSK, "role-secret"} {
				if strings.Contains(e.logs.String(), secret) {
					t.Errorf("log contains a secret key")
				}
			}
		})
	}
}

func TestClaimRefreshesRoleKeys(t *testing.T) {
	e := newClaimEnv(t)
	c := e.claimer(t, Config{})
	if _, err := c.Claim(context.Background(), []netip.Addr{vip1}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Hour) // the first keys expired long ago
	if _, err := c.Claim(context.Background(), []netip.Addr{vip1}); err != nil {
		t.Fatal(err)
	}
	calls := e.gw.CallsTo(ActionAssignSecondaryIPs)
	if ak, _ := roleKeys(2); calls[len(calls)-1].AccessKey != ak {
		t.Errorf("second claim signed with %s, want the refreshed key %s", calls[len(calls)-1].AccessKey, ak)
	}
}

// TestClaimFetchesNewRoleKeysAfterTheGatewayRejectsThem: Server Role keys
// rotated before their expiry are rejected; the same Claim fetches fresh ones
// and succeeds, at once.
func TestClaimFetchesNewRoleKeysAfterTheGatewayRejectsThem(t *testing.T) {
	e := newClaimEnv(t)
	c := e.claimer(t, Config{})
	if _, err := c.Claim(context.Background(), []netip.Addr{vip1}); err != nil {
		t.Fatal(err)
	}
	ak1, _ := roleKeys(1)
	ak2, _ := roleKeys(2)
	e.keys.remove(ak1) // revoked before their expiry
	before := len(e.gw.CallsTo(ActionAssignSecondaryIPs))

	res, err := c.Claim(context.Background(), []netip.Addr{vip2})
	if err != nil {
		t.Fatalf("claim with revoked keys: %v", err)
	}
	calls := e.gw.CallsTo(ActionAssignSecondaryIPs)[before:]
	if len(calls) != 2 || calls[0].AccessKey != ak1 || calls[0].Status != 401 || calls[1].AccessKey != ak2 || calls[1].Status != 200 {
		t.Fatalf("assignSecondaryIps calls %+v, want %s rejected (401) then %s accepted", calls, ak1, ak2)
	}
	if res.Attempts != 2 || res.KeyRefreshes != 1 || !res.Confirmed || !e.gw.nic("2001").hasSecondary(vip2) {
		t.Errorf("result %+v, our NIC %v; want 2 attempts, 1 key refresh, confirmed, vip2 ours", res, e.gw.nic("2001").Secondary)
	}
	if _, _, _, issued := e.md.counts(); issued != 2 {
		t.Errorf("role keys issued %d times, want 2 (one refresh)", issued)
	}
	if s := e.sleeper.Slept(); len(s) != 0 {
		t.Errorf("slept %v before retrying with fresh keys, want no wait", s)
	}
	if !strings.Contains(e.logs.String(), "retrying with fresh ones") {
		t.Errorf("the log does not say the keys were refreshed:\n%s", e.logs.String())
	}
}

// TestClaimRefreshesRoleKeysWhereverTheGatewayRejectsThem: a rejection of
// the NIC lookup is handled like one of the assignment, and a metadata
// service failing the refresh is retried with backoff.
func TestClaimRefreshesRoleKeysWhereverTheGatewayRejectsThem(t *testing.T) {
	rejected := canned{status: 401, body: gatewayError(GatewayAuthFailed, "Authentication Failed", "unknown access key")}
	tests := []struct {
		name        string
		action      string
		credsStatus []int // metadata answers to the refresh
		wantSleeps  int
	}{
		{"lookup", ActionGetNetworkInterfaceList, nil, 0},
		{"assignment", ActionAssignSecondaryIPs, nil, 0},
		{"refresh fails once", ActionAssignSecondaryIPs, []int{503}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newClaimEnv(t)
			e.gw.push(tt.action, rejected)
			e.gw.set(func(g *fakeGateway) {
				g.onCall = func(_ *http.Request, action string) {
					if action == tt.action {
						// The first keys are in use; script the refresh.
						e.md.set(func(m *fakeMetadata) {
							if m.issued == 1 && m.credsStatus == nil {
								m.credsStatus = tt.credsStatus
							}
						})
					}
				}
			})
			c := e.claimer(t, Config{})
			res, err := c.Claim(context.Background(), []netip.Addr{vip1})
			if err != nil || !res.Confirmed {
				t.Fatalf("result %+v, error %v; want a confirmed claim", res, err)
			}
			calls := e.gw.CallsTo(tt.action)
			ak1, _ := roleKeys(1)
			ak2, _ := roleKeys(2)
			if calls[0].AccessKey != ak1 || calls[0].Status != 401 || calls[1].AccessKey != ak2 || calls[1].Status != 200 {
				t.Errorf("%s calls %+v, want %s rejected then %s accepted", tt.action, calls, ak1, ak2)
			}
			if n := len(e.sleeper.Slept()); n != tt.wantSleeps {
				t.Errorf("slept %d times, want %d", n, tt.wantSleeps)
			}
		})
	}
}

// TestClaimFailsWhenFreshRoleKeysAreRejectedToo: the refreshes are bounded,
// and the error says the keys were refreshed.
func TestClaimFailsWhenFreshRoleKeysAreRejectedToo(t *testing.T) {
	e := newClaimEnv(t)
	for range DefaultAuthRetries + 5 {
		e.gw.push(ActionAssignSecondaryIPs, canned{status: 401, body: gatewayError(GatewayPermissionDenied, "Permission Denied", "")})
	}
	c := e.claimer(t, Config{Region: "KR", NetworkInterfaceNo: "2001"})
	res, err := c.Claim(context.Background(), []netip.Addr{vip1})
	var apiErr *APIError
	if !errors.Is(err, ErrCredentialsRejected) || !errors.As(err, &apiErr) || apiErr.Code != GatewayPermissionDenied {
		t.Fatalf("error = %v, want ErrCredentialsRejected wrapping the gateway's errorCode %s", err, GatewayPermissionDenied)
	}
	if msg := err.Error(); !strings.Contains(msg, "refreshed 2 times") || !strings.Contains(msg, "still rejected") {
		t.Errorf("error %q does not say the keys were refreshed and still rejected", msg)
	}
	calls := e.gw.CallsTo(ActionAssignSecondaryIPs)
	if res.Attempts != DefaultAuthRetries+1 || len(calls) != DefaultAuthRetries+1 || res.KeyRefreshes != DefaultAuthRetries {
		t.Fatalf("attempts %d (gateway saw %d), key refreshes %d; want %d and %d", res.Attempts, len(calls), res.KeyRefreshes, DefaultAuthRetries+1, DefaultAuthRetries)
	}
	for i, call := range calls {
		if ak, _ := roleKeys(i + 1); call.AccessKey != ak {
			t.Errorf("try %d signed with %s, want fresh keys %s", i+1, call.AccessKey, ak)
		}
	}
	// At once after the first rejection, after the backoff after the second.
	if got, want := e.sleeper.Slept(), []time.Duration{150 * time.Millisecond}; !equalDurations(got, want) {
		t.Errorf("slept %v, want %v", got, want)
	}
}

// TestClaimUnderSustainedThrottling: every wait honours Retry-After, and
// none exceeds the backoff's cap, however long the gateway asks for.
func TestClaimUnderSustainedThrottling(t *testing.T) {
	s := time.Second
	tests := []struct {
		name       string
		retryAfter string
		tries      int
		want       []time.Duration // jitter fixed at 0.5: 0.75 of min(200ms·2ⁿ, 5s)
	}{
		{"Retry-After under the cap", "1", 10,
			[]time.Duration{s, s, s, 1200 * time.Millisecond, 2400 * time.Millisecond, 3750 * time.Millisecond,
				3750 * time.Millisecond, 3750 * time.Millisecond, 3750 * time.Millisecond, 3750 * time.Millisecond}},
		{"Retry-After over the cap", "30", 6,
			[]time.Duration{5 * s, 5 * s, 5 * s, 5 * s, 5 * s, 5 * s}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newClaimEnv(t)
			for range tt.tries {
				e.gw.push(ActionAssignSecondaryIPs, canned{status: 429, header: http.Header{"Retry-After": {tt.retryAfter}},
					body: gatewayError(GatewayThrottleLimited, "Throttle Limited", "")})
			}
			c := e.claimer(t, Config{Region: "KR", NetworkInterfaceNo: "2001", AccessKey: testAccessKey, SecretKey: testSecretKey})
			res, err := c.Claim(context.Background(), []netip.Addr{vip1})
			if err != nil || !res.Confirmed || res.Attempts != tt.tries+1 {
				t.Fatalf("result %+v, error %v; want confirmed after %d attempts", res, err, tt.tries+1)
			}
			if got := e.sleeper.Slept(); !equalDurations(got, tt.want) {
				t.Errorf("slept %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNewClaimerChecksConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		opts    []Option
		env     map[string]string
		wantErr string
	}{
		{"unknown site", Config{Site: "moon", Device: "eth1"}, nil, nil, `unknown site "moon"`},
		{"no device or NIC", Config{}, nil, nil, "device name"},
		{"access key without secret", Config{Device: "eth1", AccessKey: "AK"}, nil, nil, "secret key is empty"},
		{"env secret without access key", Config{Device: "eth1"}, nil, map[string]string{EnvSecretKey: "x"}, EnvAccessKey + " is empty"},
		{"negative timeout", Config{Device: "eth1", Timeout: -time.Second}, nil, nil, "negative"},
		{"bad API URL", Config{Device: "eth1", APIBaseURL: "gopher://x"}, nil, nil, "API URL"},
		{"bad metadata URL", Config{Device: "eth1", MetadataBaseURL: "://"}, nil, nil, "metadata URL"},
		{"backoff upside down", Config{Device: "eth1"}, []Option{WithBackoff(time.Second, time.Millisecond)}, nil, "backoff"},
		{"confirm without interval", Config{Device: "eth1"}, []Option{WithConfirm(0, 3)}, nil, "confirmation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := append([]Option{WithGetenv(func(k string) string { return tt.env[k] })}, tt.opts...)
			_, err := NewClaimer(tt.cfg, nil, opts...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestSleepCtx(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		if err := sleepCtx(context.Background(), 3*time.Second); err != nil || time.Since(start) != 3*time.Second {
			t.Errorf("sleepCtx = %v after %v, want nil after 3s", err, time.Since(start))
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start = time.Now()
		if err := sleepCtx(ctx, time.Hour); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != time.Second {
			t.Errorf("sleepCtx = %v after %v, want DeadlineExceeded after 1s", err, time.Since(start))
		}
	})
}

// moveVIP makes ip a secondary IP of NIC to only, as a claim by that NIC
// would.
func (g *fakeGateway) moveVIP(ip netip.Addr, to string) {
	g.set(func(g *fakeGateway) {
		for _, n := range g.nics {
			n.Secondary = slices.DeleteFunc(n.Secondary, func(s string) bool { return s == ip.String() })
			if n.No == to {
				n.Secondary = append(n.Secondary, ip.String())
			}
		}
	})
}

func TestVerify(t *testing.T) {
	fixed := Config{Region: "KR", NetworkInterfaceNo: "2001", AccessKey: testAccessKey, SecretKey: testSecretKey}
	vips := []netip.Addr{vip1, vip2}

	t.Run("all held", func(t *testing.T) {
		e := newClaimEnv(t)
		e.gw.moveVIP(vip1, "2001")
		e.gw.moveVIP(vip2, "2001")
		res, err := e.claimer(t, fixed).Verify(context.Background(), vips)
		if err != nil {
			t.Fatal(err)
		}
		if !res.HoldsAll() || !slices.Equal(res.Held, vips) || len(res.Missing) != 0 || res.NetworkInterfaceNo != "2001" {
			t.Errorf("result %+v, want NIC 2001 holding both", res)
		}
		calls := e.gw.Calls()
		if len(calls) != 1 || calls[0].Action != ActionGetNetworkInterfaceList ||
			calls[0].Query.Get("networkInterfaceNoList.1") != "2001" || calls[0].Query.Get("regionCode") != "KR" {
			t.Errorf("gateway calls %+v, want one getNetworkInterfaceList of NIC 2001 in KR", calls)
		}
	})

	t.Run("one moved to the peer", func(t *testing.T) {
		e := newClaimEnv(t)
		c := e.claimer(t, Config{})
		if _, err := c.Claim(context.Background(), vips); err != nil {
			t.Fatal(err)
		}
		e.gw.moveVIP(vip2, "2002") // the peer claimed it, or its late request landed
		res, err := c.Verify(context.Background(), vips)
		if err != nil {
			t.Fatal(err)
		}
		if res.HoldsAll() || !slices.Equal(res.Held, []netip.Addr{vip1}) || !slices.Equal(res.Missing, []netip.Addr{vip2}) {
			t.Fatalf("result %+v, want vip1 held and vip2 missing", res)
		}
		// What the daemon does next: claim what is missing, verify again.
		if _, err := c.Claim(context.Background(), res.Missing); err != nil {
			t.Fatal(err)
		}
		if res, err := c.Verify(context.Background(), vips); err != nil || !res.HoldsAll() {
			t.Errorf("after re-claiming: %+v, %v; want both held", res, err)
		}
		if got := e.gw.nic("2002").Secondary; len(got) != 0 {
			t.Errorf("the peer's NIC still holds %v", got)
		}
	})

	t.Run("API down", func(t *testing.T) {
		tests := []struct {
			name      string
			answer    *canned // nil: the gateway is unreachable
			throttled bool
		}{
			{"unreachable", nil, false},
			{"endpoint error", &canned{status: 503, body: gatewayError(GatewayEndpointError, "Endpoint Error", "")}, false},
			{"throttled", &canned{status: 429, body: gatewayError(GatewayRateLimited, "Rate Limited", "")}, true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e := newClaimEnv(t)
				c := e.claimer(t, fixed)
				if tt.answer == nil {
					e.gw.srv.Close()
				} else {
					e.gw.push(ActionGetNetworkInterfaceList, *tt.answer)
				}
				res, err := c.Verify(context.Background(), vips)
				if err == nil || !Retryable(err) {
					t.Fatalf("error = %v, want a retryable one", err)
				}
				var apiErr *APIError
				if got := errors.As(err, &apiErr) && apiErr.Throttled(); got != tt.throttled {
					t.Errorf("throttled = %v, want %v (%v)", got, tt.throttled, err)
				}
				if len(res.Held)+len(res.Missing) != 0 {
					t.Errorf("result %+v on an error, want no verdict", res)
				}
				if n := len(e.gw.Calls()); n > 1 || len(e.sleeper.Slept()) != 0 {
					t.Errorf("%d calls, slept %v; want one call and no retry", n, e.sleeper.Slept())
				}
			})
		}
	})

	t.Run("role keys rejected", func(t *testing.T) {
		e := newClaimEnv(t)
		e.gw.moveVIP(vip1, "2001")
		c := e.claimer(t, Config{Region: "KR", NetworkInterfaceNo: "2001"})
		if _, err := c.Verify(context.Background(), vips[:1]); err != nil {
			t.Fatal(err)
		}
		ak1, _ := roleKeys(1)
		e.keys.remove(ak1)
		_, err := c.Verify(context.Background(), vips[:1])
		var apiErr *APIError
		if !errors.As(err, &apiErr) || !apiErr.AuthFailure() || errors.Is(err, ErrCredentialsRejected) {
			t.Fatalf("error = %v, want the authentication failure, not yet ErrCredentialsRejected", err)
		}
		res, err := c.Verify(context.Background(), vips[:1])
		if err != nil || !res.HoldsAll() {
			t.Fatalf("the next Verify: %+v, %v; want success with fresh keys", res, err)
		}
		calls := e.gw.Calls()
		if ak2, _ := roleKeys(2); calls[len(calls)-1].AccessKey != ak2 {
			t.Errorf("the next Verify signed with %s, want fresh keys %s", calls[len(calls)-1].AccessKey, ak2)
		}
	})

	t.Run("fixed keys rejected", func(t *testing.T) {
		e := newClaimEnv(t)
		cfg := fixed
		cfg.SecretKey = "wrong-secret-do-not-log"
		_, err := e.claimer(t, cfg).Verify(context.Background(), vips)
		var apiErr *APIError
		if !errors.Is(err, ErrCredentialsRejected) || !errors.As(err, &apiErr) || !apiErr.AuthFailure() {
			t.Fatalf("error = %v, want ErrCredentialsRejected wrapping the authentication failure", err)
		}
	})

	t.Run("our NIC gone", func(t *testing.T) {
		e := newClaimEnv(t)
		cfg := fixed
		cfg.NetworkInterfaceNo = "9999"
		_, err := e.claimer(t, cfg).Verify(context.Background(), vips)
		if !errors.Is(err, ErrNICNotFound) || Retryable(err) {
			t.Fatalf("error = %v, want ErrNICNotFound", err)
		}
	})

	t.Run("bad VIPs", func(t *testing.T) {
		e := newClaimEnv(t)
		if _, err := e.claimer(t, fixed).Verify(context.Background(), nil); err == nil || len(e.gw.Calls()) != 0 {
			t.Errorf("error = %v after %d calls, want an error and no call", err, len(e.gw.Calls()))
		}
	})
}
