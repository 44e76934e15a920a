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
//
// The lab renders the same config for every keepalived release it runs:
// each keyword it writes means the same to 1.3.9 (Ubuntu 18.04) and 2.2.7
// (Debian 12). Where the releases differ (command line, how a config is
// checked, what a keyword accepts), StartKeepalived asks the binary for its
// version and adapts; keepalivedRelease lists each difference.
type KeepalivedConfig struct {
	// Binary is the keepalived to run: empty means "keepalived" on PATH
	// (Debian 12's 2.2.7); PeerBinary(Keepalived139) is Ubuntu 18.04's.
	Binary       string
	Instance     string         // vrrp_instance name; default "VI_1"
	VRID         int            // virtual_router_id, 1-255
	Priority     int            // 1-255
	Version      int            // VRRP version 2 or 3; 0 means 2
	Interval     time.Duration  // advert_int; 0 means 1s. v2: whole seconds; v3: 10ms steps
	AuthPass     string         // v2 "auth_type PASS" password, at most 8 bytes; empty = no auth
	VIPs         []netip.Prefix // virtual_ipaddress on eth1, in 198.18.0.0/24
	UnicastPeers []netip.Addr   // empty = multicast; the source is the host's own address
	NoPreempt    bool
	PreemptDelay time.Duration     // 0-1000s in 10ms steps (whole seconds before keepalived 2.0)
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
	Version     string // the release running, from its --version: "2.2.7", "1.3.9"
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

// checkRelease returns the problems only release r has with c (validate
// has checked everything common to all releases).
func (c KeepalivedConfig) checkRelease(r keepalivedRelease) error {
	if !r.decimalPreemptDelay() && c.PreemptDelay%time.Second != 0 {
		// 1.3.9 reads preempt_delay with strtoul: "1.5" would silently be 1s.
		return fmt.Errorf("PreemptDelay %v: keepalived %v wants whole seconds", c.PreemptDelay, r)
	}
	return nil
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

// StartKeepalived writes cfg to h.Dir and runs cfg.Binary (default:
// keepalived on PATH) in the foreground, VRRP subsystem only, with its pid
// files in h.Dir (never the host's /run/keepalived.pid). It checks the
// config first (`--config-test` where the release has it, else the
// start-up log: see keepalivedRelease) and returns once the VRRP child runs.
func (h *Host) StartKeepalived(cfg KeepalivedConfig) (*Keepalived, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("lab: keepalived on %s: %w", h.Name, err)
	}
	binary := cfg.Binary
	if binary == "" {
		binary = "keepalived"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// --version only prints; it runs inside the host all the same.
	out, err := h.Run(ctx, binary, "--version")
	if err != nil {
		return nil, fmt.Errorf("lab: keepalived on %s: %s --version: %w", h.Name, binary, err)
	}
	rel, err := parseKeepalivedVersion(out)
	if err != nil {
		return nil, fmt.Errorf("lab: keepalived on %s: %s: %w", h.Name, binary, err)
	}
	if err := cfg.checkRelease(rel); err != nil {
		return nil, fmt.Errorf("lab: keepalived on %s: %w", h.Name, err)
	}

	k := &Keepalived{
		Version:     rel.String(),
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

	if rel.hasConfigTest() {
		if _, err := h.Run(ctx, binary, "--config-test", "-f", k.ConfigFile); err != nil {
			return nil, fmt.Errorf("lab: keepalived %v on %s: config %s rejected: %w", rel, h.Name, k.ConfigFile, err)
		}
	}
	for _, f := range []string{k.PIDFile, k.VRRPPIDFile} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("lab: keepalived on %s: %w", h.Name, err)
		}
	}
	// 1.3.9 and 2.2.7 share these long options; only --no-syslog is newer.
	args := []string{"--dont-fork", "--log-console", "--log-detail"}
	if rel.hasNoSyslog() {
		args = append(args, "--no-syslog")
	}
	args = append(args, "--vrrp", "--use-file", k.ConfigFile, "--pid", k.PIDFile, "--vrrp_pid", k.VRRPPIDFile)
	p, err := h.Start(binary, args...)
	if err != nil {
		return nil, err
	}
	k.Process = p
	ready := func() bool { return fileExists(k.VRRPPIDFile) }
	if !rel.hasConfigTest() {
		// Without --config-test the VRRP child's log is the only verdict
		// on the config, complete once the instance enters its first state.
		ready = func() bool { return fileExists(k.VRRPPIDFile) && vrrpStateRE.MatchString(p.Output()) }
	}
	if err := waitStarted(ctx, p, ready); err != nil {
		_ = p.Kill()
		return nil, fmt.Errorf("lab: keepalived %v on %s: no VRRP child: %w", rel, h.Name, err)
	}
	if !rel.hasConfigTest() {
		if bad := configComplaints(p.Output()); len(bad) > 0 {
			_ = p.Kill()
			return nil, fmt.Errorf("lab: keepalived %v on %s: config %s not taken as written:\n%s",
				rel, h.Name, k.ConfigFile, strings.Join(bad, "\n"))
		}
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

// keepalivedRelease is the version of a keepalived binary. The lab runs
// Ubuntu 18.04's 1.3.9 and Debian 12's 2.2.7; the methods below name every
// difference between them that the lab meets, with the release that
// brought the newer behaviour (read from keepalived's tags).
type keepalivedRelease struct{ major, minor, patch int }

var keepalivedVersionRE = regexp.MustCompile(`Keepalived v(\d+)\.(\d+)\.(\d+)`)

// parseKeepalivedVersion reads the release from `keepalived --version`
// ("Keepalived v1.3.9 (unknown)", "Keepalived v2.2.7 (01/16,2022)").
func parseKeepalivedVersion(out string) (keepalivedRelease, error) {
	m := keepalivedVersionRE.FindStringSubmatch(out)
	if m == nil {
		first, _, _ := strings.Cut(out, "\n")
		return keepalivedRelease{}, fmt.Errorf("no \"Keepalived vX.Y.Z\" in its --version output %q", first)
	}
	var r keepalivedRelease
	for i, p := range []*int{&r.major, &r.minor, &r.patch} {
		n, err := strconv.Atoi(m[i+1])
		if err != nil {
			return keepalivedRelease{}, fmt.Errorf("version %q: %w", m[0], err)
		}
		*p = n
	}
	return r, nil
}

func (r keepalivedRelease) String() string {
	return fmt.Sprintf("%d.%d.%d", r.major, r.minor, r.patch)
}

func (r keepalivedRelease) atLeast(major, minor, patch int) bool {
	if r.major != major {
		return r.major > major
	}
	if r.minor != minor {
		return r.minor > minor
	}
	return r.patch >= patch
}

// hasConfigTest: `--config-test` came in 2.0.4. 1.3.9 cannot check a config
// without running it: it logs what it ignores ("Unknown keyword 'x'") and
// carries on, so the lab reads its start-up log instead (configComplaints).
func (r keepalivedRelease) hasConfigTest() bool { return r.atLeast(2, 0, 4) }

// hasNoSyslog: `--no-syslog` came in 1.4.0. 1.3.9's --log-console copies
// every line to syslog as well; the lab has no way to stop that (on a
// machine without /dev/log the copies are lost).
func (r keepalivedRelease) hasNoSyslog() bool { return r.atLeast(1, 4, 0) }

// decimalPreemptDelay: preempt_delay takes decimal seconds since 2.0.0;
// 1.3.9 reads it with strtoul, so "1.5" is 1s. (advert_int has always been
// decimal.)
func (r keepalivedRelease) decimalPreemptDelay() bool { return r.atLeast(2, 0, 0) }

// vrrpStateRE matches the VRRP child's first state line, logged once the
// whole config is read: "VRRP_Instance(VI_1) Entering BACKUP STATE" (1.3.9),
// "(VI_1) Entering BACKUP STATE (init)" (2.2.7).
var vrrpStateRE = regexp.MustCompile(`Entering [A-Z]+ STATE`)

// complaintRE matches keepalived 1.3.9's messages about a config it did not
// take as written: unknown keywords, values it rejected, rounded or reset,
// options it ignored (the wordings of its parsers' log_message calls).
var complaintRE = regexp.MustCompile(`(?i)unknown|not valid|invalid|error|ignor|skipping|missing|` +
	`incompatible|conflicts|rounding|out of range|resetting|defaulting|reconfigure|cannot|cant |unable|warning`)

// configComplaints returns the lines of a keepalived start-up log, up to the
// first state line, in which keepalived says it did not take the config as
// written.
func configComplaints(log string) []string {
	var bad []string
	for line := range strings.Lines(log) {
		if vrrpStateRE.MatchString(line) {
			break
		}
		// The banner is no complaint: "Starting Keepalived v1.3.9 (unknown)"
		// (a build from git has no date).
		if complaintRE.MatchString(line) && !keepalivedVersionRE.MatchString(line) {
			bad = append(bad, strings.TrimSpace(line))
		}
	}
	return bad
}
