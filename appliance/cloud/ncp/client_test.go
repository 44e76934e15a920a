package ncp

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const (
	testAccessKey = "AKIDTESTKEY01"
	testSecretKey = "test-secret-key-do-not-log"
)

// newTestAPI returns a fake gateway with our NIC (eth1 of instance 1111111,
// no. 2001) and the peer's (eth1 of 2222222, no. 2002, holding the VIP), and
// a client signing with the test keys on the same clock.
func newTestAPI(t *testing.T) (*fakeGateway, *Client, *fakeClock) {
	t.Helper()
	clock := newFakeClock()
	keys := &keyring{}
	keys.add(testAccessKey, testSecretKey, time.Time{})
	gw := newFakeGateway(t, clock.Now, keys)
	gw.addNIC(&fakeNIC{No: "2000", Device: "eth0", Instance: "1111111", IP: "10.0.0.11"})
	gw.addNIC(&fakeNIC{No: "2001", Device: "eth1", Instance: "1111111", IP: "10.0.1.11"})
	gw.addNIC(&fakeNIC{No: "2002", Device: "eth1", Instance: "2222222", IP: "10.0.1.12", Secondary: []string{"10.0.1.100"}})
	creds, err := StaticCredentials(testAccessKey, testSecretKey, "test")
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(ClientConfig{BaseURL: gw.URL(), Credentials: creds, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return gw, c, clock
}

func TestGetNetworkInterfaceList(t *testing.T) {
	gw, c, _ := newTestAPI(t)
	nics, err := c.GetNetworkInterfaceList(context.Background(), NetworkInterfaceFilter{
		Region: "KR", InstanceNo: "2222222", DeviceName: "eth1",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []NetworkInterface{{
		NetworkInterfaceNo: "2002", Name: "nic-2002", DeviceName: "eth1", InstanceNo: "2222222", SubnetNo: "5555",
		IP: netip.MustParseAddr("10.0.1.12"), SecondaryIPs: []netip.Addr{netip.MustParseAddr("10.0.1.100")},
		Status: "USED", MACAddress: "F2:20:AF:00:00:01",
	}}
	if diff := cmp.Diff(want, nics, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("NICs (-want +got):\n%s", diff)
	}
	calls := gw.Calls()
	if len(calls) != 1 {
		t.Fatalf("gateway got %d calls, want 1", len(calls))
	}
	wantQuery := url.Values{"regionCode": {"KR"}, "instanceNo": {"2222222"}, "deviceName": {"eth1"}, "responseFormatType": {"json"}}
	if calls[0].Method != http.MethodGet || calls[0].Action != ActionGetNetworkInterfaceList {
		t.Errorf("call = %s %s, want GET %s", calls[0].Method, calls[0].Action, ActionGetNetworkInterfaceList)
	}
	if diff := cmp.Diff(wantQuery, calls[0].Query); diff != "" {
		t.Errorf("query (-want +got):\n%s", diff)
	}
}

func TestAssignSecondaryIPsTakesTheVIPFromThePeer(t *testing.T) {
	gw, c, _ := newTestAPI(t)
	vip := netip.MustParseAddr("10.0.1.100")
	nics, err := c.AssignSecondaryIPs(context.Background(), AssignSecondaryIPsInput{
		Region: "KR", NetworkInterfaceNo: "2001", IPs: []netip.Addr{vip, netip.MustParseAddr("10.0.1.101")}, AllowReassign: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(nics) != 1 || !nics[0].HasSecondaryIPs(vip) {
		t.Errorf("answer = %+v, want our NIC holding %v", nics, vip)
	}
	if got := gw.nic("2001").Secondary; !cmp.Equal(got, []string{"10.0.1.100", "10.0.1.101"}) {
		t.Errorf("our NIC's secondary IPs = %v", got)
	}
	if got := gw.nic("2002").Secondary; len(got) != 0 {
		t.Errorf("peer's NIC still has %v", got)
	}
	q := gw.CallsTo(ActionAssignSecondaryIPs)[0].Query
	wantQuery := url.Values{
		"regionCode": {"KR"}, "networkInterfaceNo": {"2001"}, "allowReassign": {"true"}, "responseFormatType": {"json"},
		"secondaryIpList.1": {"10.0.1.100"}, "secondaryIpList.2": {"10.0.1.101"},
	}
	if diff := cmp.Diff(wantQuery, q); diff != "" {
		t.Errorf("query (-want +got):\n%s", diff)
	}
}

func TestAssignSecondaryIPsRejectsBadInput(t *testing.T) {
	gw, c, _ := newTestAPI(t)
	ip := netip.MustParseAddr("10.0.1.100")
	tests := []struct {
		name string
		in   AssignSecondaryIPsInput
	}{
		{"no NIC", AssignSecondaryIPsInput{IPs: []netip.Addr{ip}}},
		{"no IPs", AssignSecondaryIPsInput{NetworkInterfaceNo: "2001"}},
		{"six IPs", AssignSecondaryIPsInput{NetworkInterfaceNo: "2001", IPs: []netip.Addr{ip, ip, ip, ip, ip, ip}}},
		{"IPv6", AssignSecondaryIPsInput{NetworkInterfaceNo: "2001", IPs: []netip.Addr{netip.MustParseAddr("2001:db8::1")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := c.AssignSecondaryIPs(context.Background(), tt.in); err == nil {
				t.Error("no error")
			}
		})
	}
	if n := len(gw.Calls()); n != 0 {
		t.Errorf("bad input reached the gateway %d times", n)
	}
}

func TestClientErrors(t *testing.T) {
	tests := []struct {
		name          string
		answer        canned
		want          APIError
		wantRetryable bool
		wantThrottled bool
		wantAuth      bool
		wantInMessage string
	}{
		{
			name:          "responseError",
			answer:        canned{status: 400, body: responseError("1002001", "network interface not found")},
			want:          APIError{Action: ActionAssignSecondaryIPs, HTTPStatus: 400, Source: SourceAPI, Code: "1002001", Message: "network interface not found"},
			wantInMessage: "ncp: assignSecondaryIps: HTTP 400: returnCode 1002001: network interface not found",
		},
		{
			name:          "responseError with a numeric code and HTTP 500",
			answer:        canned{status: 500, body: `{"responseError":{"returnCode":1300,"returnMessage":"unknown error"}}`},
			want:          APIError{Action: ActionAssignSecondaryIPs, HTTPStatus: 500, Source: SourceAPI, Code: "1300", Message: "unknown error"},
			wantRetryable: true,
		},
		{
			name:   "success shape with a failing returnCode",
			answer: canned{status: 200, body: `{"assignSecondaryIpsResponse":{"returnCode":"1002030","returnMessage":"already assigned"}}`},
			want:   APIError{Action: ActionAssignSecondaryIPs, HTTPStatus: 200, Source: SourceAPI, Code: "1002030", Message: "already assigned"},
		},
		{
			name:   "gateway authentication failure",
			answer: canned{status: 401, body: gatewayError(GatewayAuthFailed, "Authentication Failed", "Invalid authentication information.")},
			want: APIError{Action: ActionAssignSecondaryIPs, HTTPStatus: 401, Source: SourceGateway, Code: "200",
				Message: "Authentication Failed", Details: "Invalid authentication information."},
			wantAuth:      true,
			wantInMessage: "HTTP 401: gateway errorCode 200: Authentication Failed (Invalid authentication information.)",
		},
		{
			name:     "gateway permission denied",
			answer:   canned{status: 401, body: gatewayError(GatewayPermissionDenied, "Permission Denied", "")},
			want:     APIError{Action: ActionAssignSecondaryIPs, HTTPStatus: 401, Source: SourceGateway, Code: "210", Message: "Permission Denied"},
			wantAuth: true,
		},
		{
			name:          "gateway throttle limited",
			answer:        canned{status: 429, body: gatewayError(GatewayThrottleLimited, "Throttle Limited", "")},
			want:          APIError{Action: ActionAssignSecondaryIPs, HTTPStatus: 429, Source: SourceGateway, Code: "410", Message: "Throttle Limited"},
			wantRetryable: true, wantThrottled: true,
		},
		{
			name:          "gateway rate limited with Retry-After",
			answer:        canned{status: 429, body: gatewayError(GatewayRateLimited, "Rate Limited", ""), header: http.Header{"Retry-After": {"3"}}},
			want:          APIError{Action: ActionAssignSecondaryIPs, HTTPStatus: 429, Source: SourceGateway, Code: "420", Message: "Rate Limited", RetryAfter: 3 * time.Second},
			wantRetryable: true, wantThrottled: true,
		},
		{
			name:          "bare 429",
			answer:        canned{status: 429, body: ""},
			want:          APIError{Action: ActionAssignSecondaryIPs, HTTPStatus: 429, Source: SourceHTTP, Message: "Too Many Requests"},
			wantRetryable: true, wantThrottled: true,
		},
		{
			name:          "gateway endpoint error",
			answer:        canned{status: 503, body: gatewayError(GatewayEndpointError, "Endpoint Error", "")},
			want:          APIError{Action: ActionAssignSecondaryIPs, HTTPStatus: 503, Source: SourceGateway, Code: "500", Message: "Endpoint Error"},
			wantRetryable: true,
		},
		{
			name:          "HTML 502 from a proxy",
			answer:        canned{status: 502, body: "<html>\n<body>Bad Gateway</body>\n</html>"},
			want:          APIError{Action: ActionAssignSecondaryIPs, HTTPStatus: 502, Source: SourceHTTP, Message: "<html> <body>Bad Gateway</body> </html>"},
			wantRetryable: true,
		},
		{
			name:   "200 that is not JSON",
			answer: canned{status: 200, body: "hello"},
			want:   APIError{Action: ActionAssignSecondaryIPs, HTTPStatus: 200, Source: SourceHTTP, Message: "answer is not JSON: hello"},
		},
		{
			name:   "JSON without the action's response",
			answer: canned{status: 200, body: `{"otherResponse":{}}`},
			want:   APIError{Action: ActionAssignSecondaryIPs, HTTPStatus: 200, Source: SourceHTTP, Message: `answer has no assignSecondaryIpsResponse: {"otherResponse":{}}`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gw, c, _ := newTestAPI(t)
			gw.push(ActionAssignSecondaryIPs, tt.answer)
			_, err := c.AssignSecondaryIPs(context.Background(), AssignSecondaryIPsInput{
				NetworkInterfaceNo: "2001", IPs: []netip.Addr{netip.MustParseAddr("10.0.1.100")}, AllowReassign: true,
			})
			var apiErr *APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("error = %v (%T), want *APIError", err, err)
			}
			if diff := cmp.Diff(tt.want, *apiErr); diff != "" {
				t.Errorf("APIError (-want +got):\n%s", diff)
			}
			if apiErr.Retryable() != tt.wantRetryable || Retryable(err) != tt.wantRetryable || apiErr.Temporary() != tt.wantRetryable {
				t.Errorf("Retryable = %v, want %v", apiErr.Retryable(), tt.wantRetryable)
			}
			if apiErr.Throttled() != tt.wantThrottled {
				t.Errorf("Throttled = %v, want %v", apiErr.Throttled(), tt.wantThrottled)
			}
			if apiErr.AuthFailure() != tt.wantAuth {
				t.Errorf("AuthFailure = %v, want %v", apiErr.AuthFailure(), tt.wantAuth)
			}
			if tt.wantInMessage != "" && !strings.Contains(err.Error(), tt.wantInMessage) {
				t.Errorf("message %q does not contain %q", err.Error(), tt.wantInMessage)
			}
		})
	}
}

// TestGatewayRejectsBadSignatures makes sure the fake gateway checks what the
// real one checks, and that each rejection surfaces as a non-retryable
// authentication failure that does not leak the secret.
func TestGatewayRejectsBadSignatures(t *testing.T) {
	tests := []struct {
		name        string
		access      string
		secret      string
		clockOffset time.Duration
		wantDetails string
	}{
		{"wrong secret", testAccessKey, "not-the-secret", 0, "signature mismatch"},
		{"unknown access key", "AKIDUNKNOWN00", testSecretKey, 0, "unknown access key"},
		{"timestamp 6 minutes old", testAccessKey, testSecretKey, -6 * time.Minute, "timestamp is stale"},
		{"timestamp 6 minutes ahead", testAccessKey, testSecretKey, 6 * time.Minute, "timestamp is stale"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gw, _, clock := newTestAPI(t)
			creds, _ := StaticCredentials(tt.access, tt.secret, "test")
			c, err := NewClient(ClientConfig{BaseURL: gw.URL(), Credentials: creds,
				Now: func() time.Time { return clock.Now().Add(tt.clockOffset) }})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.GetNetworkInterfaceList(context.Background(), NetworkInterfaceFilter{})
			var apiErr *APIError
			if !errors.As(err, &apiErr) || !apiErr.AuthFailure() || apiErr.Retryable() {
				t.Fatalf("error = %v, want a non-retryable authentication failure", err)
			}
			if apiErr.Details != tt.wantDetails {
				t.Errorf("gateway details = %q, want %q", apiErr.Details, tt.wantDetails)
			}
			if strings.Contains(err.Error(), tt.secret) {
				t.Errorf("error %q contains the secret key", err)
			}
		})
	}

	t.Run("missing headers", func(t *testing.T) {
		gw, _, _ := newTestAPI(t)
		resp, err := http.Get(gw.URL() + "/vserver/v2/getNetworkInterfaceList?responseFormatType=json")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("unsigned request got HTTP %d, want 401", resp.StatusCode)
		}
	})
}

func TestClientTransportErrors(t *testing.T) {
	t.Run("connection refused is retryable", func(t *testing.T) {
		gw, c, _ := newTestAPI(t)
		gw.srv.Close()
		_, err := c.GetNetworkInterfaceList(context.Background(), NetworkInterfaceFilter{})
		var te *TransportError
		if !errors.As(err, &te) || !Retryable(err) {
			t.Fatalf("error = %v (%T), want a retryable *TransportError", err, err)
		}
	})

	t.Run("the caller's cancellation is not retryable", func(t *testing.T) {
		gw, c, _ := newTestAPI(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		gw.set(func(g *fakeGateway) {
			g.onCall = func(r *http.Request, _ string) {
				cancel()
				<-r.Context().Done() // hold the answer until the client gives up
			}
		})
		_, err := c.GetNetworkInterfaceList(ctx, NetworkInterfaceFilter{})
		if !errors.Is(err, context.Canceled) || Retryable(err) {
			t.Fatalf("error = %v, want context.Canceled, not retryable", err)
		}
	})

	t.Run("the per-call timeout is retryable", func(t *testing.T) {
		err := transportError(context.Background(), "x", context.DeadlineExceeded)
		if !Retryable(err) {
			t.Errorf("timeout of one call under a live context: Retryable = false")
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := transportError(ctx, "x", context.Canceled); Retryable(err) || !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled caller: %v, Retryable = %v", err, Retryable(err))
		}
	})
}

func TestNewClientConfig(t *testing.T) {
	creds, _ := StaticCredentials("a", "b", "test")
	tests := []struct {
		name    string
		cfg     ClientConfig
		wantErr string
	}{
		{"no credentials", ClientConfig{}, "credentials provider"},
		{"unknown site", ClientConfig{Site: "mars", Credentials: creds}, `unknown site "mars"`},
		{"ftp URL", ClientConfig{BaseURL: "ftp://x", Credentials: creds}, "scheme must be http or https"},
		{"URL with a query", ClientConfig{BaseURL: "https://x/?a=b", Credentials: creds}, "scheme://host"},
		{"URL without host", ClientConfig{BaseURL: "https://", Credentials: creds}, "no host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewClient(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}
