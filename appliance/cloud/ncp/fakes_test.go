package ncp

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock shared by the code under test and the fakes.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fakeSleeper records the Claimer's waits and advances the clock instead of
// waiting. onSleep, when set, runs after the n-th wait (1-based).
type fakeSleeper struct {
	mu      sync.Mutex
	clock   *fakeClock
	slept   []time.Duration
	onSleep func(n int)
}

func (s *fakeSleeper) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	s.slept = append(s.slept, d)
	n := len(s.slept)
	hook := s.onSleep
	s.mu.Unlock()
	s.clock.Advance(d)
	if hook != nil {
		hook(n)
	}
	return ctx.Err()
}

func (s *fakeSleeper) Slept() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.slept)
}

// keyring is the set of API keys the fake gateway accepts.
type keyring struct {
	mu   sync.Mutex
	keys map[string]keyEntry
}

type keyEntry struct {
	secret  string
	expires time.Time // zero = never
}

func (k *keyring) add(access, secret string, expires time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.keys == nil {
		k.keys = map[string]keyEntry{}
	}
	k.keys[access] = keyEntry{secret: secret, expires: expires}
}

func (k *keyring) remove(access string) {
	k.mu.Lock()
	delete(k.keys, access)
	k.mu.Unlock()
}

func (k *keyring) lookup(access string) (keyEntry, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	e, ok := k.keys[access]
	return e, ok
}

// gwCall is one request the fake gateway received.
type gwCall struct {
	Method    string
	Action    string
	Query     url.Values
	AccessKey string
	Status    int
}

// canned is a scripted answer.
type canned struct {
	status int
	body   string
	header http.Header
}

type fakeNIC struct {
	No, Device, Instance, IP string
	Secondary                []string
}

// fakeGateway answers like NCP's API gateway in front of vserver/v2. It checks
// every request's signature the way the gateway does: it recomputes it from
// the received method, request target, timestamp header and access key, and
// rejects missing, stale or wrong ones with the gateway's error shape.
type fakeGateway struct {
	t     *testing.T
	srv   *httptest.Server
	clock func() time.Time
	keys  *keyring

	mu        sync.Mutex
	nics      []*fakeNIC
	calls     []gwCall
	script    map[string][]canned // consumed before the simulated behaviour
	hideFresh int                 // list calls that do not show just-assigned IPs yet
	fresh     map[string]int      // ip -> list calls left before it shows
	onCall    func(r *http.Request, action string)
}

func newFakeGateway(t *testing.T, clock func() time.Time, keys *keyring) *fakeGateway {
	t.Helper()
	g := &fakeGateway{t: t, clock: clock, keys: keys, script: map[string][]canned{}, fresh: map[string]int{}}
	g.srv = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(g.srv.Close)
	return g
}

func (g *fakeGateway) URL() string { return g.srv.URL }

// set changes the gateway's behaviour under its lock.
func (g *fakeGateway) set(f func(g *fakeGateway)) {
	g.mu.Lock()
	f(g)
	g.mu.Unlock()
}

func (g *fakeGateway) addNIC(n *fakeNIC) {
	g.mu.Lock()
	g.nics = append(g.nics, n)
	g.mu.Unlock()
}

func (g *fakeGateway) nic(no string) fakeNIC {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, n := range g.nics {
		if n.No == no {
			c := *n
			c.Secondary = slices.Clone(n.Secondary)
			return c
		}
	}
	g.t.Fatalf("fake gateway: no NIC %s", no)
	return fakeNIC{}
}

// push queues scripted answers for action.
func (g *fakeGateway) push(action string, answers ...canned) {
	g.mu.Lock()
	g.script[action] = append(g.script[action], answers...)
	g.mu.Unlock()
}

func (g *fakeGateway) Calls() []gwCall {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.calls)
}

func (g *fakeGateway) CallsTo(action string) []gwCall {
	var out []gwCall
	for _, c := range g.Calls() {
		if c.Action == action {
			out = append(out, c)
		}
	}
	return out
}

func gatewayError(code, message, details string) string {
	b, _ := json.Marshal(map[string]any{"error": map[string]string{"errorCode": code, "message": message, "details": details}})
	return string(b)
}

func responseError(code, message string) string {
	b, _ := json.Marshal(map[string]any{"responseError": map[string]string{"returnCode": code, "returnMessage": message}})
	return string(b)
}

func (g *fakeGateway) serve(w http.ResponseWriter, r *http.Request) {
	action := strings.TrimPrefix(r.URL.Path, APIPathPrefix)
	status, body, header := g.answer(r, action)
	g.mu.Lock()
	g.calls = append(g.calls, gwCall{Method: r.Method, Action: action, Query: r.URL.Query(),
		AccessKey: r.Header.Get(HeaderAccessKey), Status: status})
	hook := g.onCall
	g.mu.Unlock()
	if hook != nil {
		hook(r, action)
	}
	for k, v := range header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// authenticate is the gateway's check.
func (g *fakeGateway) authenticate(r *http.Request) (ok bool, details string) {
	ts, ak, sig := r.Header.Get(HeaderTimestamp), r.Header.Get(HeaderAccessKey), r.Header.Get(HeaderSignature)
	if ts == "" || ak == "" || sig == "" {
		return false, "missing authentication headers"
	}
	ms, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false, "timestamp is not a number"
	}
	skew := g.clock().Sub(time.UnixMilli(ms))
	if skew > MaxClockSkew || skew < -MaxClockSkew {
		return false, "timestamp is stale"
	}
	key, found := g.keys.lookup(ak)
	if !found {
		return false, "unknown access key"
	}
	if !key.expires.IsZero() && !g.clock().Before(key.expires) {
		return false, "access key expired"
	}
	// r.RequestURI is the request target exactly as received.
	if want := Sign(key.secret, r.Method, r.RequestURI, ts, ak); sig != want {
		return false, "signature mismatch"
	}
	return true, ""
}

func (g *fakeGateway) answer(r *http.Request, action string) (int, string, http.Header) {
	if !strings.HasPrefix(r.URL.Path, APIPathPrefix) {
		return 404, gatewayError(GatewayNotFound, "Not Found Exception", r.URL.Path), nil
	}
	if ok, details := g.authenticate(r); !ok {
		return 401, gatewayError(GatewayAuthFailed, "Authentication Failed", details), nil
	}
	q := r.URL.Query()
	if q.Get("responseFormatType") != "json" {
		return 400, responseError("900", "responseFormatType must be json in this test"), nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if s := g.script[action]; len(s) > 0 {
		g.script[action] = s[1:]
		return s[0].status, s[0].body, s[0].header
	}
	switch action {
	case ActionGetNetworkInterfaceList:
		return 200, g.list(q), nil
	case ActionAssignSecondaryIPs:
		return g.assign(q)
	}
	return 404, gatewayError(GatewayNotFound, "Not Found Exception", action), nil
}

func listParam(q url.Values, name string) []string {
	var out []string
	for i := 1; ; i++ {
		v, ok := q[name+"."+strconv.Itoa(i)]
		if !ok {
			return out
		}
		out = append(out, v[0])
	}
}

func nicJSONOf(n *fakeNIC, hide map[string]int) map[string]any {
	sec := []string{}
	for _, ip := range n.Secondary {
		if hide[ip] == 0 {
			sec = append(sec, ip)
		}
	}
	return map[string]any{
		"networkInterfaceNo":       n.No,
		"networkInterfaceName":     "nic-" + n.No,
		"subnetNo":                 "5555",
		"deleteOnTermination":      false,
		"isDefault":                n.Device == "eth0",
		"deviceName":               n.Device,
		"networkInterfaceStatus":   map[string]string{"code": "USED", "codeName": "used"},
		"instanceType":             map[string]string{"code": "SVR", "codeName": "Server"},
		"instanceNo":               n.Instance,
		"ip":                       n.IP,
		"macAddress":               "F2:20:AF:00:00:01",
		"accessControlGroupNoList": []string{"1234"},
		"secondaryIpList":          sec,
	}
}

func wrap(action string, nics []map[string]any) string {
	b, _ := json.Marshal(map[string]any{action + "Response": map[string]any{
		"requestId": "req-1", "returnCode": "0", "returnMessage": "success",
		"totalRows": len(nics), "networkInterfaceList": nics,
	}})
	return string(b)
}

// list must be called with g.mu held.
func (g *fakeGateway) list(q url.Values) string {
	nos := listParam(q, "networkInterfaceNoList")
	var out []map[string]any
	for _, n := range g.nics {
		if v := q.Get("instanceNo"); v != "" && v != n.Instance {
			continue
		}
		if v := q.Get("deviceName"); v != "" && v != n.Device {
			continue
		}
		if len(nos) > 0 && !slices.Contains(nos, n.No) {
			continue
		}
		out = append(out, nicJSONOf(n, g.fresh))
	}
	for ip, left := range g.fresh {
		if left > 0 {
			g.fresh[ip] = left - 1
		}
	}
	return wrap(ActionGetNetworkInterfaceList, out)
}

// assign must be called with g.mu held.
func (g *fakeGateway) assign(q url.Values) (int, string, http.Header) {
	var nic *fakeNIC
	for _, n := range g.nics {
		if n.No == q.Get("networkInterfaceNo") {
			nic = n
		}
	}
	if nic == nil {
		return 400, responseError("1002001", "network interface not found"), nil
	}
	ips := listParam(q, "secondaryIpList")
	if len(ips) == 0 || len(ips) > MaxSecondaryIPsPerCall {
		return 400, responseError("1002002", fmt.Sprintf("secondaryIpList has %d entries", len(ips))), nil
	}
	for _, ip := range ips {
		for _, other := range g.nics {
			if other != nic && slices.Contains(other.Secondary, ip) && q.Get("allowReassign") != "true" {
				return 400, responseError("1002030", ip+" is assigned to another network interface"), nil
			}
		}
	}
	for _, ip := range ips {
		if slices.Contains(nic.Secondary, ip) {
			continue // already ours: nothing moves, nothing to hide
		}
		for _, other := range g.nics {
			other.Secondary = slices.DeleteFunc(other.Secondary, func(s string) bool { return s == ip })
		}
		nic.Secondary = append(nic.Secondary, ip)
		if g.hideFresh > 0 {
			g.fresh[ip] = g.hideFresh
		}
	}
	return 200, wrap(ActionAssignSecondaryIPs, []map[string]any{nicJSONOf(nic, nil)}), nil
}

// fakeMetadata answers like NCP's VPC metadata service.
type fakeMetadata struct {
	t     *testing.T
	srv   *httptest.Server
	clock func() time.Time
	keys  *keyring

	mu            sync.Mutex
	tokenStatus   int // answer to PUT /latest/api/token: 200 = v2 works
	emptyToken    bool
	requireToken  bool // v2 only: GETs without a token get 401
	tokens        map[string]time.Time
	ttlHeaders    []string
	puts          int
	gets          int
	getsWithToken int
	paths         []string
	instanceNo    string
	region        string
	role          string // "" = no Server Role
	credTTL       time.Duration
	issued        int
	credsStatus   []int // scripted statuses for role-key GETs, consumed first
	credsBody     string
}

func newFakeMetadata(t *testing.T, clock func() time.Time, keys *keyring) *fakeMetadata {
	t.Helper()
	m := &fakeMetadata{t: t, clock: clock, keys: keys, tokenStatus: 200, tokens: map[string]time.Time{},
		instanceNo: "1111111", region: "KR", role: "role-0001", credTTL: time.Hour}
	m.srv = httptest.NewServer(http.HandlerFunc(m.serve))
	t.Cleanup(m.srv.Close)
	return m
}

func (m *fakeMetadata) URL() string { return m.srv.URL }

// roleKeys is what the n-th issue of role keys holds.
func roleKeys(n int) (access, secret string) {
	return fmt.Sprintf("ROLEAK%04d", n), fmt.Sprintf("role-secret-%04d-do-not-log", n)
}

func (m *fakeMetadata) serve(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clock()
	if r.URL.Path == MetadataTokenPath {
		if r.Method != http.MethodPut {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		m.puts++
		ttlHeader := r.Header.Get(MetadataTokenTTLHeader)
		m.ttlHeaders = append(m.ttlHeaders, ttlHeader)
		if m.tokenStatus != http.StatusOK {
			http.Error(w, "token service off", m.tokenStatus)
			return
		}
		if m.emptyToken {
			return
		}
		ttl, err := strconv.Atoi(ttlHeader)
		if err != nil || ttl < 1 || ttl > 21600 {
			http.Error(w, "bad ttl", http.StatusBadRequest)
			return
		}
		tok := fmt.Sprintf("token-%d", m.puts)
		m.tokens[tok] = now.Add(time.Duration(ttl) * time.Second)
		_, _ = w.Write([]byte(tok))
		return
	}
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	m.gets++
	m.paths = append(m.paths, r.URL.Path)
	if tok := r.Header.Get(MetadataTokenHeader); tok != "" {
		exp, ok := m.tokens[tok]
		if !ok || !now.Before(exp) {
			http.Error(w, "invalid token", http.StatusUnauthorized)
			return
		}
		m.getsWithToken++
	} else if m.requireToken {
		http.Error(w, "token required", http.StatusUnauthorized)
		return
	}
	p := strings.TrimPrefix(r.URL.Path, metadataDataPrefix)
	switch {
	case p == MetadataServerInstanceNo:
		_, _ = w.Write([]byte(m.instanceNo))
	case p == MetadataRegionCode:
		_, _ = w.Write([]byte(m.region))
	case p == MetadataRoleCredentials || p == strings.TrimSuffix(MetadataRoleCredentials, "/"):
		if m.role == "" {
			http.Error(w, "Path Not found.", http.StatusNotFound)
			return
		}
		_, _ = w.Write([]byte(m.role)) // no newline, as NCP documents
	case m.role != "" && p == MetadataRoleCredentials+m.role:
		if len(m.credsStatus) > 0 {
			st := m.credsStatus[0]
			m.credsStatus = m.credsStatus[1:]
			if st != http.StatusOK {
				http.Error(w, "failure", st)
				return
			}
		}
		if m.credsBody != "" {
			_, _ = w.Write([]byte(m.credsBody))
			return
		}
		m.issued++
		ak, sk := roleKeys(m.issued)
		exp := now.Add(m.credTTL)
		m.keys.add(ak, sk, exp)
		b, _ := json.Marshal(map[string]string{
			"Code": "Success", "LastUpdated": now.Format(time.RFC3339), "Type": "AWS-HMAC",
			"AccessKeyId": ak, "SecretAccessKey": sk, "Expiration": exp.Format(time.RFC3339),
		})
		_, _ = w.Write(b)
	default:
		http.Error(w, "Path Not found.", http.StatusNotFound)
	}
}

func (m *fakeMetadata) counts() (puts, gets, getsWithToken, issued int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.puts, m.gets, m.getsWithToken, m.issued
}

func (m *fakeMetadata) ttlHeadersSeen() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.ttlHeaders)
}

func (m *fakeMetadata) set(f func(m *fakeMetadata)) {
	m.mu.Lock()
	f(m)
	m.mu.Unlock()
}

func (n fakeNIC) hasSecondary(ip netip.Addr) bool { return slices.Contains(n.Secondary, ip.String()) }
