//go:build linux

package lab

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// KeepalivedConfig is one keepalived VRRP instance on the host's eth1, in
// state BACKUP (keepalived then elects by priority, as proxypair does).
type KeepalivedConfig struct {
	Instance     string         // vrrp_instance name; default "VI_1"
	VRID         int            // virtual_router_id, 1-255
	Priority     int            // 1-255
	Version      int            // VRRP version 2 or 3; 0 means 2
	Interval     time.Duration  // advert_int; 0 means 1s. v2: whole seconds; v3: 10ms steps
	AuthPass     string         // v2 "auth_type PASS" password, at most 8 bytes; empty = no auth
	VIPs         []netip.Prefix // virtual_ipaddress on eth1, in 198.18.0.0/24
	UnicastPeers []netip.Addr   // empty = multicast; the source is the host's own address
	NoPreempt    bool
	PreemptDelay time.Duration     // 0-1000s in 10ms steps
	Script       *KeepalivedScript // optional vrrp_script tracked by the instance
}

// KeepalivedScript is the usual HAProxy check: a vrrp_script running
// `kill -0 $(cat PIDFile)`.
type KeepalivedScript struct {
	PIDFile  string        // e.g. HAProxy.PIDFile
	Interval time.Duration // whole seconds; 0 means 1s
	Fall     int           // 0 means 1
	Rise     int           // 0 means 1
	Weight   int           // -253..253; 0 puts the instance in FAULT on failure
}

// Keepalived is a running keepalived (VRRP subsystem only, foreground).
type Keepalived struct {
	*Process
	ConfigFile  string
	PIDFile     string // the parent's
	VRRPPIDFile string // the VRRP child's
}

var instanceNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// withDefaults fills the zero fields that have a default.
func (c KeepalivedConfig) withDefaults() KeepalivedConfig {
	if c.Instance == "" {
		c.Instance = "VI_1"
	}
	if c.Version == 0 {
		c.Version = 2
	}
	if c.Interval == 0 {
		c.Interval = time.Second
	}
	if c.Script != nil {
		s := *c.Script
		if s.Interval == 0 {
			s.Interval = time.Second
		}
		if s.Fall == 0 {
			s.Fall = 1
		}
		if s.Rise == 0 {
			s.Rise = 1
		}
		c.Script = &s
	}
	return c
}

// validate returns every problem at once, each naming its field.
func (c KeepalivedConfig) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !instanceNameRE.MatchString(c.Instance) {
		bad("Instance %q: want letters, digits, '_' or '-'", c.Instance)
	}
	if c.VRID < 1 || c.VRID > 255 {
		bad("VRID %d: want 1-255", c.VRID)
	}
	if c.Priority < 1 || c.Priority > 255 {
		bad("Priority %d: want 1-255", c.Priority)
	}
	switch c.Version {
	case 2:
		if c.Interval%time.Second != 0 || c.Interval < time.Second || c.Interval > 255*time.Second {
			bad("Interval %v: VRRP v2 wants whole seconds 1s-255s", c.Interval)
		}
	case 3:
		if c.Interval%(10*time.Millisecond) != 0 || c.Interval < 10*time.Millisecond || c.Interval > 40950*time.Millisecond {
			bad("Interval %v: VRRP v3 wants 10ms-40.95s in 10ms steps", c.Interval)
		}
		if c.AuthPass != "" {
			bad("AuthPass: VRRP v3 has no authentication")
		}
	default:
		bad("Version %d: want 2 or 3", c.Version)
	}
	if len(c.AuthPass) > 8 || strings.ContainsAny(c.AuthPass, " \t\n\"'{}#!") {
		bad("AuthPass %q: want at most 8 bytes, no spaces, quotes, braces or comment marks", c.AuthPass)
	}
	if len(c.VIPs) == 0 {
		bad("VIPs: want at least one")
	}
	for _, v := range c.VIPs {
		if err := checkAddr(v); err != nil {
			bad("VIPs: %v", err)
		}
	}
	for _, p := range c.UnicastPeers {
		if err := checkAddr(netip.PrefixFrom(p, 32)); err != nil {
			bad("UnicastPeers: %v", err)
		}
	}
	if c.PreemptDelay < 0 || c.PreemptDelay > 1000*time.Second || c.PreemptDelay%(10*time.Millisecond) != 0 {
		bad("PreemptDelay %v: want 0-1000s in 10ms steps", c.PreemptDelay)
	}
	if s := c.Script; s != nil {
		if s.PIDFile == "" || strings.ContainsAny(s.PIDFile, "'\n") {
			bad("Script.PIDFile %q: want a path without quotes or newlines", s.PIDFile)
		}
		if s.Interval%time.Second != 0 || s.Interval < time.Second {
			bad("Script.Interval %v: want whole seconds, at least 1s", s.Interval)
		}
		if s.Fall < 1 || s.Rise < 1 {
			bad("Script.Fall %d, Script.Rise %d: want at least 1", s.Fall, s.Rise)
		}
		if s.Weight < -253 || s.Weight > 253 {
			bad("Script.Weight %d: want -253..253", s.Weight)
		}
	}
	return errors.Join(errs...)
}

// render writes keepalived.conf for a host whose own address is src. script
// is the path of the check script (used only when c.Script is set).
func (c KeepalivedConfig) render(routerID string, src netip.Addr, script string) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# written by internal/lab")
	w("global_defs {")
	w("    router_id %s", routerID)
	w("    script_user root")
	w("    enable_script_security")
	w("}")
	if c.Script != nil {
		w("vrrp_script chk_pid {")
		w("    script %q", script)
		w("    interval %s", seconds(c.Script.Interval))
		w("    fall %d", c.Script.Fall)
		w("    rise %d", c.Script.Rise)
		w("    weight %d", c.Script.Weight)
		w("}")
	}
	w("vrrp_instance %s {", c.Instance)
	w("    state BACKUP")
	w("    interface %s", HostInterface)
	w("    version %d", c.Version)
	w("    virtual_router_id %d", c.VRID)
	w("    priority %d", c.Priority)
	w("    advert_int %s", seconds(c.Interval))
	if c.NoPreempt {
		w("    nopreempt")
	}
	if c.PreemptDelay > 0 {
		w("    preempt_delay %s", seconds(c.PreemptDelay))
	}
	if c.AuthPass != "" {
		w("    authentication {")
		w("        auth_type PASS")
		w("        auth_pass %s", c.AuthPass)
		w("    }")
	}
	if len(c.UnicastPeers) > 0 {
		w("    unicast_src_ip %s", src)
		w("    unicast_peer {")
		for _, p := range c.UnicastPeers {
			w("        %s", p)
		}
		w("    }")
	}
	w("    virtual_ipaddress {")
	for _, v := range c.VIPs {
		w("        %s dev %s", v, HostInterface)
	}
	w("    }")
	if c.Script != nil {
		w("    track_script {")
		w("        chk_pid")
		w("    }")
	}
	w("}")
	return b.String()
}

// seconds formats d as keepalived's decimal seconds ("1", "0.05").
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}

// StartKeepalived writes cfg to h.Dir and runs keepalived in the
// foreground, VRRP subsystem only, with its pid files in h.Dir (never the
// host's /run/keepalived.pid). It checks the config with `keepalived -t`
// first and returns once the VRRP child runs.
func (h *Host) StartKeepalived(cfg KeepalivedConfig) (*Keepalived, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("lab: keepalived on %s: %w", h.Name, err)
	}
	k := &Keepalived{
		ConfigFile:  filepath.Join(h.Dir, "keepalived.conf"),
		PIDFile:     filepath.Join(h.Dir, "keepalived.pid"),
		VRRPPIDFile: filepath.Join(h.Dir, "keepalived-vrrp.pid"),
	}
	script := filepath.Join(h.Dir, "keepalived-check.sh")
	if cfg.Script != nil {
		body := fmt.Sprintf("#!/bin/sh\n# vrrp_script written by internal/lab\nexec kill -0 \"$(cat '%s')\"\n", cfg.Script.PIDFile)
		if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
			return nil, fmt.Errorf("lab: keepalived on %s: %w", h.Name, err)
		}
	}
	conf := cfg.render(h.NS, h.Addr.Addr(), script)
	if err := os.WriteFile(k.ConfigFile, []byte(conf), 0o644); err != nil {
		return nil, fmt.Errorf("lab: keepalived on %s: %w", h.Name, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := h.Run(ctx, "keepalived", "--config-test", "-f", k.ConfigFile); err != nil {
		return nil, fmt.Errorf("lab: keepalived on %s: config %s rejected: %w", h.Name, k.ConfigFile, err)
	}
	for _, f := range []string{k.PIDFile, k.VRRPPIDFile} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("lab: keepalived on %s: %w", h.Name, err)
		}
	}
	p, err := h.Start("keepalived",
		"--dont-fork", "--log-console", "--log-detail", "--no-syslog", "--vrrp",
		"--use-file", k.ConfigFile, "--pid", k.PIDFile, "--vrrp_pid", k.VRRPPIDFile)
	if err != nil {
		return nil, err
	}
	k.Process = p
	if err := waitStarted(ctx, p, func() bool { return fileExists(k.VRRPPIDFile) }); err != nil {
		_ = p.Kill()
		return nil, fmt.Errorf("lab: keepalived on %s: no VRRP child: %w", h.Name, err)
	}
	return k, nil
}

// waitStarted polls ready until it holds, the process exits, or ctx ends.
func waitStarted(ctx context.Context, p *Process, ready func() bool) error {
	err := Eventually(ctx, 10*time.Millisecond, func() (bool, string) {
		if ready() {
			return true, ""
		}
		if p.Exited() {
			return true, "exited"
		}
		return false, "not ready"
	})
	if err != nil {
		return fmt.Errorf("%w\n%s", err, p.Output())
	}
	if p.Exited() {
		code, err := p.exitStatus()
		return fmt.Errorf("exited (status %d, %v) at start:\n%s", code, err, p.Output())
	}
	return nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
