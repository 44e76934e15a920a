package ncp

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestSign(t *testing.T) {
	// Every want was computed outside this package, with:
	//   printf '%s %s\n%s\n%s' METHOD REQUEST_URI TIMESTAMP ACCESS_KEY \
	//     | openssl dgst -sha256 -hmac SECRET_KEY -binary | base64
	// (OpenSSL 3.0.19).
	tests := []struct {
		name                        string
		secret, method, uri, ts, ak string
		want                        string
	}{
		{
			name:   "getNetworkInterfaceList by instance and device",
			secret: "ncpSecretKeyExample", method: "GET",
			uri: "/vserver/v2/getNetworkInterfaceList?deviceName=eth1&instanceNo=1234567&regionCode=KR&responseFormatType=json",
			ts:  "1700000000000", ak: "ncpAccessKeyExample",
			want: "ld3kCS6pG0KmzLN9O68TwTof/G1H7vdwqQBkxAn/ero=",
		},
		{
			name:   "assignSecondaryIps with two addresses",
			secret: "ncpSecretKeyExample", method: "GET",
			uri: "/vserver/v2/assignSecondaryIps?allowReassign=true&networkInterfaceNo=98765&regionCode=KR&responseFormatType=json&secondaryIpList.1=10.0.1.100&secondaryIpList.2=10.0.1.101",
			ts:  "1700000000123", ak: "ncpAccessKeyExample",
			want: "+NT5VA3DPqtTvfrEnOGeR88skcUxxFdIBgcXQjPPwIs=",
		},
		{
			name:   "short keys",
			secret: "SK", method: "GET", uri: "/vserver/v2/getRegionList?responseFormatType=json", ts: "1", ak: "AK",
			want: "mU1clBzUe0rQSXF5uYV8k7QBnxl9Tp6Ag5W1BlfhCz0=",
		},
		{
			name:   "POST without query, key with spaces, secret with base64 characters",
			secret: "secret+/=", method: "POST", uri: "/vserver/v2/getServerInstanceList", ts: "1609459200000", ak: "access key with spaces",
			want: "sks3Y8/dkwwt/9IS5bZ4KiQhKTb35chn0QsudrqLM4o=",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Sign(tt.secret, tt.method, tt.uri, tt.ts, tt.ak); got != tt.want {
				t.Errorf("Sign() = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestTimestamp(t *testing.T) {
	tm := time.Date(2023, 11, 14, 22, 13, 20, 123456789, time.UTC)
	if got, want := Timestamp(tm), "1700000000123"; got != want {
		t.Errorf("Timestamp = %s, want %s (Unix milliseconds)", got, want)
	}
}

// TestSignRequestSignsTheWireTarget sends signed requests whose paths and
// queries need escaping and checks the signature against the request target
// the server actually received.
func TestSignRequestSignsTheWireTarget(t *testing.T) {
	creds := Credentials{AccessKey: "AKIDWIRE", SecretKey: "wire-secret"}
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		want := Sign(creds.SecretKey, r.Method, r.RequestURI, r.Header.Get(HeaderTimestamp), r.Header.Get(HeaderAccessKey))
		if r.Header.Get(HeaderSignature) != want {
			got <- "mismatch for " + r.RequestURI
		} else {
			got <- r.RequestURI
		}
	}))
	defer srv.Close()

	tests := []struct{ name, url, wantURI string }{
		{"plain", srv.URL + "/vserver/v2/getNetworkInterfaceList?regionCode=KR", "/vserver/v2/getNetworkInterfaceList?regionCode=KR"},
		{"escaped query", srv.URL + "/vserver/v2/x?name=a+b%2Fc&ip=10.0.0.1", "/vserver/v2/x?name=a+b%2Fc&ip=10.0.0.1"},
		{"escaped path under a prefix", srv.URL + "/gw%20prefix/vserver/v2/x", "/gw%20prefix/vserver/v2/x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, tt.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			SignRequest(req, creds, time.UnixMilli(1700000000000))
			if v := req.Header.Get(HeaderTimestamp); v != "1700000000000" {
				t.Errorf("%s = %q", HeaderTimestamp, v)
			}
			if v := req.Header.Get(HeaderAccessKey); v != creds.AccessKey {
				t.Errorf("%s = %q", HeaderAccessKey, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if uri := <-got; uri != tt.wantURI {
				t.Errorf("server saw %q, want a valid signature for %q", uri, tt.wantURI)
			}
		})
	}
}

func TestSites(t *testing.T) {
	tests := []struct {
		in      string
		want    Site
		wantURL string
		wantErr bool
	}{
		{"", SitePublic, "https://ncloud.apigw.ntruss.com", false},
		{"public", SitePublic, "https://ncloud.apigw.ntruss.com", false},
		{" GOV ", SiteGov, "https://ncloud.apigw.gov-ntruss.com", false},
		{"fin", SiteFin, "https://fin-ncloud.apigw.fin-ntruss.com", false},
		{"classic", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSite(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseSite(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if got != tt.want || got.APIURL() != tt.wantURL {
				t.Errorf("ParseSite(%q) = %q (%q), want %q (%q)", tt.in, got, got.APIURL(), tt.want, tt.wantURL)
			}
		})
	}
}
