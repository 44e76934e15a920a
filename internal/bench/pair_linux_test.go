//go:build linux

package bench

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/proxypair/proxypair/appliance/config"
)

// TestProxypairConfig: the YAML the bench gives proxypair loads without
// problems and says what the table claims: the pair's VRRP settings, and
// health tracking off, or on with the Health* settings and the node's
// HAProxy socket.
func TestProxypairConfig(t *testing.T) {
	for _, tc := range []struct {
		name   string
		s      Settings
		hpSock string
	}{
		{"v2, tracking off", SeedV2, ""},
		{"v3, tracking on", V3Fast, "/run/lab/a/haproxy.sock"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "proxypair.yaml")
			if err := os.WriteFile(file, []byte(proxypairConfig(tc.s, MasterPriority, "/run/lab/a/proxypair.sock", tc.hpSock)), 0o600); err != nil {
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
