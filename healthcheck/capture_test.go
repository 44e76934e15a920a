//go:build linux

package healthcheck

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/proxypair/proxypair/internal/lab"
)

// TestCapture188 (re)captures the HAProxy 1.8.8 fixtures: it runs Ubuntu
// 18.04's HAProxy (lab.HAProxy188) with testdata/fixtures-1.8.8.cfg in a
// network namespace and writes its raw answers to "show info;show stat",
// exactly as the tracker reads them, to testdata/info-stat-1.8.8.txt
// (healthy as started) and testdata/info-stat-1.8.8-degraded.txt. It runs
// only when asked:
//
//	HEALTHCHECK_CAPTURE=1 go test ./healthcheck -run TestCapture188 -v
func TestCapture188(t *testing.T) {
	if os.Getenv("HEALTHCHECK_CAPTURE") == "" {
		t.Skip("set HEALTHCHECK_CAPTURE=1 to capture testdata/info-stat-1.8.8*.txt")
	}
	bin, err := lab.PeerBinary(lab.HAProxy188)
	if err != nil {
		t.Fatal(err)
	}
	host, err := lab.NewT(t).AddHost("haproxy", netip.MustParsePrefix("198.18.0.1/24"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile("testdata/fixtures-1.8.8.cfg")
	if err != nil {
		t.Fatal(err)
	}
	hp := &lab.HAProxy{ConfigFile: filepath.Join(host.Dir, "haproxy.cfg"), Socket: filepath.Join(host.Dir, "admin.sock")}
	cfg = []byte(strings.ReplaceAll(string(cfg), "/run/haproxy/admin.sock", hp.Socket))
	if err := os.WriteFile(hp.ConfigFile, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	if hp.Process, err = host.Start(bin, "-db", "-f", hp.ConfigFile); err != nil {
		t.Fatal(err)
	}
	capture := func(file string, want map[string]string) {
		t.Helper()
		var answer string
		waitFor(t, 10*time.Second, file+": "+strings.Join(mapKeys(want), ", "), func() bool {
			var err error
			answer, err = hp.API(infoStatCommand)
			if err != nil {
				return false
			}
			_, stat, _ := strings.Cut(answer, "# pxname")
			for k, v := range want {
				px, sv, _ := strings.Cut(k, "/")
				if statusOf("# pxname"+stat, px, sv) != v {
					return false
				}
			}
			return true
		})
		if _, err := parseInfoStat(answer); err != nil {
			t.Fatalf("the captured answer does not parse: %v", err)
		}
		if err := os.WriteFile("testdata/"+file, []byte(answer), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote testdata/%s (%d bytes)", file, len(answer))
	}
	capture("info-stat-1.8.8.txt", map[string]string{
		"be_app/s1": "UP", "be_app/s2": "UP", "be_app/b1": "UP", "be_api/a2": "DOWN",
	})
	for _, cmd := range []string{"set server be_app/s1 state maint", "set server be_app/s2 state drain", "disable frontend fe_s1"} {
		if out, err := hp.API(cmd); err != nil || strings.TrimSpace(out) != "" {
			t.Fatalf("%s: %q, %v", cmd, out, err)
		}
	}
	capture("info-stat-1.8.8-degraded.txt", map[string]string{
		"be_app/s1": "MAINT", "be_app/s2": "DOWN", "be_app/b1": "DOWN", "fe_s1/FRONTEND": "STOP",
	})
}

func mapKeys(m map[string]string) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k+"="+m[k])
	}
	return keys
}
