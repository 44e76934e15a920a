package healthcheck

import (
	"strings"
	"testing"
	"time"
)

func TestNewDefaults(t *testing.T) {
	tr, err := New(Config{HAProxy: HAProxyConfig{Socket: "/run/haproxy/admin.sock"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := tr.cfg
	if c.Interval != 200*time.Millisecond || c.Fall != 1 || c.Rise != 2 || c.Timeout != time.Second || c.HAProxy.MinServersUp != 1 {
		t.Errorf("defaults = %+v", c)
	}
	if s := tr.Snapshot(); s.Healthy || s.Reason != "no verdict yet" {
		t.Errorf("Snapshot before Run = %+v, want unhealthy with no verdict", s)
	}
}

func TestNewValidation(t *testing.T) {
	good := Config{HAProxy: HAProxyConfig{Socket: "/run/haproxy/admin.sock"}}
	tests := []struct {
		name  string
		edit  func(*Config)
		wants []string
	}{
		{"no socket", func(c *Config) { c.HAProxy.Socket = "" }, []string{"health.haproxy.socket: must name"}},
		{"relative socket", func(c *Config) { c.HAProxy.Socket = "admin.sock" }, []string{`health.haproxy.socket: "admin.sock" must be an absolute path`}},
		{"interval", func(c *Config) { c.Interval = time.Millisecond }, []string{"health.interval: 1ms is outside 10ms-1m"}},
		{"negative interval", func(c *Config) { c.Interval = -time.Second }, []string{"health.interval: -1s"}},
		{"fall", func(c *Config) { c.Fall = -1 }, []string{"health.fall: -1 is outside 1-100"}},
		{"rise", func(c *Config) { c.Rise = 101 }, []string{"health.rise: 101 is outside 1-100"}},
		{"timeout", func(c *Config) { c.Timeout = -1 }, []string{"health.timeout"}},
		{"min servers", func(c *Config) { c.HAProxy.MinServersUp = -2 }, []string{"health.haproxy.min_servers_up: -2 must be at least 1"}},
		{"backends", func(c *Config) { c.HAProxy.Backends = []string{"be", "", "be", "a b"} }, []string{
			`health.haproxy.backends[1]: "" is not a backend name`,
			`health.haproxy.backends[2]: "be" is listed twice`,
			`health.haproxy.backends[3]: "a b" is not a backend name`,
		}},
		{"unit", func(c *Config) { c.HAProxy.SystemdUnit = "haproxy" }, []string{`health.haproxy.systemd_unit: "haproxy" is not a unit name`}},
		{"every problem at once", func(c *Config) { c.HAProxy.Socket = ""; c.Fall = -1; c.Rise = -1 }, []string{
			"health.haproxy.socket", "health.fall", "health.rise",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.edit(&cfg)
			_, err := New(cfg, nil)
			if err == nil {
				t.Fatal("New accepted a bad config")
			}
			for _, w := range tt.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if n := strings.Count(err.Error(), "healthcheck: "); n != len(tt.wants) {
				t.Errorf("error %q has %d problems, want %d", err, n, len(tt.wants))
			}
		})
	}
	if _, err := New(Config{HAProxy: HAProxyConfig{Socket: "/s", Backends: []string{"a", "b"}, SystemdUnit: "haproxy.service"}}, nil); err != nil {
		t.Errorf("good config rejected: %v", err)
	}
}
