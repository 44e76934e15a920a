//go:build linux

package bench

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/proxypair/proxypair/appliance/config"
)

// TestProxypairConfig: the YAML the bench gives proxypair loads without
// problems and says what the table claims: the pair's VRRP settings,
// vrrp.pair on the "with vrrp.pair" lines only, and health tracking off,
// or on with the Health* settings and the node's HAProxy socket.
func TestProxypairConfig(t *testing.T) {
	for _, tc := range []struct {
		name   string
		s      Settings
		hpSock string
		pair   bool
	}{
		{"v2, tracking off", SeedV2, "", false},
		{"v3, tracking on", V3Fast, "/run/lab/a/haproxy.sock", false},
		{"v3 10ms, tracking on, pair", V3Faster, "/run/lab/a/haproxy.sock", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "proxypair.yaml")
			if err := os.WriteFile(file, []byte(proxypairConfig(tc.s, MasterPriority, "/run/lab/a/proxypair.sock", tc.hpSock, tc.pair)), 0o600); err != nil {
				t.Fatal(err)
			}
			c, problems, err := config.Load(config.Source{File: file})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range problems {
				t.Errorf("problem: %v", p)
			}
			v := c.VRRP
			if v.Version != tc.s.Version || v.AdvertInterval != tc.s.Interval || v.AuthPass != tc.s.AuthPass ||
				v.Priority != MasterPriority || v.VRID != VRID || len(v.VirtualIPs) != 1 || v.VirtualIPs[0] != VIP {
				t.Errorf("vrrp %+v, want %+v at priority %d, VRID %d, VIP %v", v, tc.s, MasterPriority, VRID, VIP)
			}
			if v.Pair != tc.pair || v.PairMode() != tc.pair {
				t.Errorf("vrrp.pair %t, pair mode %t; want %t", v.Pair, v.PairMode(), tc.pair)
			}
			h := c.Health
			if h.Enabled != (tc.hpSock != "") {
				t.Errorf("health.enabled %t", h.Enabled)
			}
			if tc.hpSock != "" && (h.Interval != HealthInterval || h.Fall != HealthFall || h.Rise != HealthRise ||
				h.Weight != HealthWeight || h.HAProxy.Socket != tc.hpSock) {
				t.Errorf("health %+v, want interval %v fall %d rise %d weight %d socket %s",
					h, HealthInterval, HealthFall, HealthRise, HealthWeight, tc.hpSock)
			}
		})
	}
}
