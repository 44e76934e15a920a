package healthcheck

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// Defaults applied by New to zero fields of Config.
const (
	DefaultInterval     = 200 * time.Millisecond
	DefaultFall         = 1
	DefaultRise         = 2
	DefaultMinServersUp = 1
	DefaultTimeout      = time.Second
)

// Config says how often to look at HAProxy and how much evidence changes the
// verdict. Zero fields take the defaults above.
//
// Fall defaults to 1 and Rise to 2 on purpose: a failure on the master costs
// failed client requests until the VIP moves, so one failed look is enough to
// give the VIP away; coming back moves the VIP again (preemption), so we want
// two consecutive good looks before declaring HAProxy healthy, which keeps a
// flapping HAProxy or backend from bouncing the VIP between the nodes.
type Config struct {
	Interval time.Duration // time between two periodic checks; default 200ms
	Fall     int           // consecutive failed checks that make a healthy tracker unhealthy; default 1
	Rise     int           // consecutive good checks that make an unhealthy tracker healthy; default 2
	// Timeout bounds one check (runtime API round trip, systemd query). A
	// check that takes longer fails. Default 1s. Checks never overlap: the
	// next one starts Interval after the previous one ended.
	Timeout time.Duration
	HAProxy HAProxyConfig
}

// HAProxyConfig says how to reach HAProxy and what "healthy" means.
type HAProxyConfig struct {
	// Socket is HAProxy's runtime API socket, e.g. /run/haproxy/admin.sock.
	// Required, absolute. "level user" is enough: the tracker only sends
	// show info, show stat and prompt (tested on 1.8.8 and 2.6).
	Socket string
	// Backends must each have MinServersUp servers UP. Empty means every
	// backend that a frontend (or listen section) of the running
	// configuration uses through default_backend or use_backend; the
	// configuration files are those on the running HAProxy's command line.
	Backends []string
	// MinServersUp is the number of servers UP that each backend needs;
	// default 1.
	MinServersUp int
	// SystemdUnit, when set (e.g. "haproxy.service"), must be active
	// (or reloading) according to systemd over D-Bus. "" turns the check off.
	SystemdUnit string
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.Fall == 0 {
		c.Fall = DefaultFall
	}
	if c.Rise == 0 {
		c.Rise = DefaultRise
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.HAProxy.MinServersUp == 0 {
		c.HAProxy.MinServersUp = DefaultMinServersUp
	}
	return c
}

// validate returns every problem in c at once, each naming its config key.
func (c Config) validate() error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("healthcheck: %s: %s", key, fmt.Sprintf(format, args...)))
	}
	if c.Interval < 10*time.Millisecond || c.Interval > time.Minute {
		add("health.interval", "%v is outside 10ms-1m", c.Interval)
	}
	if c.Fall < 1 || c.Fall > 100 {
		add("health.fall", "%d is outside 1-100", c.Fall)
	}
	if c.Rise < 1 || c.Rise > 100 {
		add("health.rise", "%d is outside 1-100", c.Rise)
	}
	if c.Timeout < time.Millisecond || c.Timeout > time.Minute {
		add("health.timeout", "%v is outside 1ms-1m", c.Timeout)
	}
	h := c.HAProxy
	switch {
	case h.Socket == "":
		add("health.haproxy.socket", "must name HAProxy's runtime API socket")
	case !filepath.IsAbs(h.Socket):
		add("health.haproxy.socket", "%q must be an absolute path", h.Socket)
	}
	if h.MinServersUp < 1 {
		add("health.haproxy.min_servers_up", "%d must be at least 1", h.MinServersUp)
	}
	seen := make(map[string]bool)
	for i, b := range h.Backends {
		switch {
		case b == "" || strings.ContainsAny(b, " \t,"):
			add(fmt.Sprintf("health.haproxy.backends[%d]", i), "%q is not a backend name", b)
		case seen[b]:
			add(fmt.Sprintf("health.haproxy.backends[%d]", i), "%q is listed twice", b)
		}
		seen[b] = true
	}
	if u := h.SystemdUnit; u != "" {
		if strings.ContainsAny(u, "/ \t") || !strings.Contains(u, ".") || strings.HasPrefix(u, ".") {
			add("health.haproxy.systemd_unit", "%q is not a unit name (e.g. haproxy.service)", u)
		}
	}
	return errors.Join(errs...)
}
