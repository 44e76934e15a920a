//go:build linux

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proxypair/proxypair/appliance/cloud/ncp"
)

// fakeNCP answers like NCP's metadata service and vserver API for the lab:
// instance "inst-N" and NIC "nic-N" belong to the host whose address ends
// in .N. It checks every API signature as the gateway does.
type fakeNCP struct {
	mu      sync.Mutex
	owner   map[string]string // VIP → NIC holding it
	assigns []string          // "nic-N 198.18.0.100" per assignSecondaryIps call
	down    bool              // answer 503 to assignSecondaryIps
	bad     []string          // requests the fake refused, for the test log
}

const (
	fakeAccessKey = "AKLAB000000000000000"
	fakeSecretKey = "SKLAB0000000000000000000000000000000000"
)

func (f *fakeNCP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host := strings.Split(r.RemoteAddr, ":")[0]
	n := host[strings.LastIndex(host, ".")+1:]
	switch {
	case r.Method == http.MethodPut && r.URL.Path == ncp.MetadataTokenPath:
		fmt.Fprint(w, "lab-token")
	case r.URL.Path == "/latest/meta-data/serverInstanceNo":
		fmt.Fprint(w, "inst-"+n)
	case r.URL.Path == "/latest/meta-data/regionCode":
		fmt.Fprint(w, "KR")
	case strings.HasPrefix(r.URL.Path, "/vserver/v2/"):
		if err := checkSignature(r); err != nil {
			f.refuse(w, r, http.StatusUnauthorized, err.Error())
			return
		}
		f.api(w, r, strings.TrimPrefix(r.URL.Path, "/vserver/v2/"))
	default:
		f.refuse(w, r, http.StatusNotFound, "no such path")
	}
}

func checkSignature(r *http.Request) error {
	ts := r.Header.Get(ncp.HeaderTimestamp)
	if r.Header.Get(ncp.HeaderAccessKey) != fakeAccessKey {
		return fmt.Errorf("unknown access key")
	}
	if got, want := r.Header.Get(ncp.HeaderSignature), ncp.Sign(fakeSecretKey, r.Method, r.RequestURI, ts, fakeAccessKey); got != want {
		return fmt.Errorf("signature mismatch")
	}
	return nil
}

func (f *fakeNCP) refuse(w http.ResponseWriter, r *http.Request, code int, msg string) {
	f.mu.Lock()
	f.bad = append(f.bad, r.Method+" "+r.RequestURI+": "+msg)
	f.mu.Unlock()
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"errorCode": fmt.Sprint(code), "message": msg}})
}

func (f *fakeNCP) api(w http.ResponseWriter, r *http.Request, action string) {
	q := r.URL.Query()
	f.mu.Lock()
	defer f.mu.Unlock()
	var nic string
	switch action {
	case "getNetworkInterfaceList":
		nic = "nic-" + strings.TrimPrefix(q.Get("instanceNo"), "inst-")
		if q.Get("networkInterfaceNoList.1") != "" {
			nic = q.Get("networkInterfaceNoList.1")
		}
	case "assignSecondaryIps":
		if f.down {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"error":{"errorCode":"500","message":"lab: API down"}}`)
			return
		}
		nic = q.Get("networkInterfaceNo")
		ip := q.Get("secondaryIpList.1")
		if q.Get("allowReassign") != "true" {
			f.mu.Unlock()
			f.refuse(w, r, http.StatusBadRequest, "allowReassign must be true")
			f.mu.Lock()
			return
		}
		f.owner[ip] = nic
		f.assigns = append(f.assigns, nic+" "+ip)
	default:
		w.WriteHeader(http.StatusNotFound)
		return
	}
	var secondary []string
	for ip, owner := range f.owner {
		if owner == nic {
			secondary = append(secondary, ip)
		}
	}
	json.NewEncoder(w).Encode(map[string]any{action + "Response": map[string]any{
		"returnCode": "0", "returnMessage": "success", "totalRows": 1,
		"networkInterfaceList": []map[string]any{{
			"networkInterfaceNo": nic, "deviceName": "eth1", "instanceNo": "inst-" + strings.TrimPrefix(nic, "nic-"),
			"ip": "198.18.0." + strings.TrimPrefix(nic, "nic-"), "secondaryIpList": secondary,
		}},
	}})
}

func (f *fakeNCP) calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.assigns...)
}

func (f *fakeNCP) setDown(down bool) {
	f.mu.Lock()
	f.down = down
	f.mu.Unlock()
}

// TestNCPTakeoverClaimsVIP: in an NCP VPC set-up (unicast, cloud.provider
// ncp) every takeover makes exactly one assignSecondaryIps call, from the new
// master's NIC; an API that is down changes nothing in VRRP.
func TestNCPTakeoverClaimsVIP(t *testing.T) {
	t.Parallel()
	l, a, b := newPair(t)
	api, err := l.AddHost("ncp", netip.MustParsePrefix("198.18.0.9/24"))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := api.Listen("tcp", "198.18.0.9:80")
	if err != nil {
		t.Fatal(err)
	}
	fake := &fakeNCP{owner: map[string]string{}}
	srv := &http.Server{Handler: fake}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	t.Cleanup(func() {
		fake.mu.Lock()
		defer fake.mu.Unlock()
		if len(fake.bad) > 0 {
			t.Errorf("the fake NCP refused: %v", fake.bad)
		}
	})

	s := settings{version: 3, interval: 200 * time.Millisecond, unicast: true}
	cloud := fmt.Sprintf("cloud:\n  provider: ncp\n  api_url: http://198.18.0.9\n  metadata_url: http://198.18.0.9\n  access_key: %s\n  secret_key: %s\n",
		fakeAccessKey, fakeSecretKey)
	na := startProxypair(t, a, s.yaml(200, addrB, cloud))
	nb := startProxypair(t, b, s.yaml(100, addrA, cloud))

	waitHolder(t, a, s.masterDown(), a, b)
	eventually(t, "a's claim", 5*time.Second, func() (bool, string) {
		c := na.status().Cloud
		return c != nil && c.State == "claimed", fmt.Sprintf("%+v", c)
	})
	if got := fake.calls(); len(got) != 1 || got[0] != "nic-1 198.18.0.100" {
		t.Fatalf("assignSecondaryIps calls after a's election: %v", got)
	}

	// Failover: exactly one call, from b's NIC.
	setLink(t, a, false)
	waitHolder(t, b, s.masterDown(), a, b)
	eventually(t, "b's claim", 5*time.Second, func() (bool, string) {
		return nb.status().Cloud.State == "claimed", string(nb.status().Cloud.State)
	})
	steady(t, b, time.Second, a, b)
	if got := fake.calls(); len(got) != 2 || got[1] != "nic-2 198.18.0.100" {
		t.Fatalf("assignSecondaryIps calls after the failover: %v, want one more, from nic-2", got)
	}

	// The API goes down; a comes back and preempts. VRRP does not wait for
	// the API: a is master (VIP on eth1, b backup) while its claim retries.
	fake.setDown(true)
	setLink(t, a, true)
	waitHolder(t, a, 2*s.masterDown(), a, b)
	nb.waitState("BACKUP", time.Second)
	steady(t, a, 2*time.Second, a, b)
	if c := na.status().Cloud; c.State != "claiming" {
		t.Errorf("a's cloud state with the API down: %+v, want claiming", c)
	}
	before := len(nb.status().Transitions)
	fake.setDown(false)
	eventually(t, "a's claim once the API is back", 15*time.Second, func() (bool, string) {
		return na.status().Cloud.State == "claimed", string(na.status().Cloud.State)
	})
	if after := len(nb.status().Transitions); after != before {
		t.Errorf("b changed state %d times while a's claim retried", after-before)
	}
	got := fake.calls()
	if got[len(got)-1] != "nic-1 198.18.0.100" {
		t.Errorf("last assignSecondaryIps call %q, want from nic-1", got[len(got)-1])
	}
}
