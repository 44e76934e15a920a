// Package systemd holds the units of the appliance image; this test-only
// package checks them offline.
package systemd

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// ubuntuSystemd are the systemd versions of the Ubuntu releases NCP offers
// images for (Ubuntu's package versions: 237-3ubuntu10, 245.4-4ubuntu3,
// 249.11-0ubuntu3). The units must load unchanged on each, so every directive
// must be known to the oldest.
var ubuntuSystemd = []struct {
	release string
	systemd int
}{
	{"18.04 bionic", 237},
	{"20.04 focal", 245},
	{"22.04 jammy", 249},
}

// introduced is the systemd version that added each directive we use, from
// systemd's NEWS (sections 229-236 read for this table; directives marked
// 229 are older, present in Ubuntu 16.04's systemd 229). A directive missing
// here fails the test: look it up before adding it.
var introduced = map[string]int{
	// [Unit]
	"Description":           229,
	"Documentation":         229,
	"After":                 229,
	"Before":                229,
	"Wants":                 229,
	"StartLimitIntervalSec": 230, // renamed from StartLimitInterval= and moved to [Unit]
	// [Service]
	"Type":                    229,
	"NotifyAccess":            229,
	"RemainAfterExit":         229,
	"ExecStart":               229,
	"ExecReload":              229,
	"ExecStopPost":            229,
	"EnvironmentFile":         229,
	"Restart":                 229,
	"RestartSec":              229,
	"TimeoutStartSec":         229,
	"TimeoutStopSec":          229,
	"KillMode":                229,
	"WatchdogSec":             229,
	"User":                    229,
	"Group":                   229,
	"SupplementaryGroups":     229,
	"AmbientCapabilities":     229,
	"CapabilityBoundingSet":   229,
	"NoNewPrivileges":         229,
	"ProtectSystem":           229, // the value "strict": 232, see introducedValue
	"ProtectHome":             229,
	"PrivateTmp":              229,
	"PrivateDevices":          229,
	"ProtectKernelTunables":   232,
	"ProtectKernelModules":    232,
	"ProtectControlGroups":    232,
	"RestrictAddressFamilies": 229,
	"RestrictNamespaces":      233,
	"RestrictRealtime":        231,
	"MemoryDenyWriteExecute":  231,
	"LockPersonality":         235,
	"SystemCallArchitectures": 229,
	"SystemCallFilter":        229, // @groups: 231+, see syscallGroups
	"SystemCallErrorNumber":   229,
	"RemoveIPC":               232,
	"UMask":                   229,
	"RuntimeDirectory":        229,
	"RuntimeDirectoryMode":    229,
	"StateDirectory":          235,
	"StateDirectoryMode":      235,
	"ReadWritePaths":          231, // was ReadWriteDirectories=
	"MemoryMax":               231, // cgroup v2 name; applied on v1 as MemoryLimit= since 232
	"TasksMax":                229, // 227
	// [Install]
	"WantedBy": 229,
}

// introducedValue covers values newer than their directive.
var introducedValue = map[string]int{
	"ProtectSystem=strict": 232,
}

// syscallGroups are the SystemCallFilter= groups and their first version.
var syscallGroups = map[string]int{
	"@clock": 231, "@cpu-emulation": 231, "@debug": 231, "@module": 231,
	"@mount": 231, "@obsolete": 231, "@raw-io": 231, "@privileged": 231,
	"@resources": 231, "@reboot": 233, "@swap": 233, "@filesystem": 233,
	"@system-service": 239, // too new: listed so the test says why
}

type directive struct {
	section, key, value string
	line                int
}

// parseUnit reads a unit file, checking as it goes that every directive has
// a comment directly above it (the unit documents itself line by line).
func parseUnit(t *testing.T, path string) []directive {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		out      []directive
		section  string
		prev     string
		s        = bufio.NewScanner(f)
		lineNo   = 0
		keyValue = regexp.MustCompile(`^([A-Za-z]+)=(.*)$`)
	)
	for s.Scan() {
		lineNo++
		line := strings.TrimSpace(s.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
		default:
			m := keyValue.FindStringSubmatch(line)
			if m == nil {
				t.Errorf("%s:%d: not a directive: %q", path, lineNo, line)
				break
			}
			if !strings.HasPrefix(prev, "#") {
				t.Errorf("%s:%d: %s= has no comment directly above it", path, lineNo, m[1])
			}
			out = append(out, directive{section: section, key: m[1], value: m[2], line: lineNo})
		}
		prev = line
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func units() []string { return []string{"proxypair.service", "proxypair-eth1.service"} }

// TestDirectivesExistInUbuntuSystemd checks each unit against the systemd of
// each Ubuntu release: a directive (or value, or syscall group) newer than a
// release's systemd would be ignored there with only a log line, silently
// dropping a sandbox setting or a limit.
func TestDirectivesExistInUbuntuSystemd(t *testing.T) {
	for _, u := range ubuntuSystemd {
		for _, unit := range units() {
			t.Run(u.release+"/"+unit, func(t *testing.T) {
				for _, problem := range newerThan(t, unit, u.systemd) {
					t.Errorf("%s; Ubuntu %s has systemd %d", problem, u.release, u.systemd)
				}
			})
		}
	}
}

// TestVersionCheckCatchesNewDirectives makes sure the check above can fail:
// the directives systemd 239 and 245 brought must be refused for 18.04 and
// accepted for the release that has them.
func TestVersionCheckCatchesNewDirectives(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "new.service")
	unit := "[Service]\n# 239\nSystemCallFilter=@system-service\n# 242\nProtectHostname=yes\n"
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	introduced["ProtectHostname"] = 242
	defer delete(introduced, "ProtectHostname")
	for _, tt := range []struct {
		systemd int
		want    int
	}{{237, 2}, {239, 1}, {245, 0}} {
		if got := newerThan(t, path, tt.systemd); len(got) != tt.want {
			t.Errorf("systemd %d: %d problems %q, want %d", tt.systemd, len(got), got, tt.want)
		}
	}
}

// newerThan lists what in the unit needs a systemd newer than version.
func newerThan(t *testing.T, unit string, version int) []string {
	t.Helper()
	var out []string
	for _, d := range parseUnit(t, unit) {
		v, ok := introduced[d.key]
		if !ok {
			t.Errorf("%s:%d: %s= is not in the version table; check systemd's NEWS for when it appeared and add it", unit, d.line, d.key)
			continue
		}
		if v > version {
			out = append(out, fmt.Sprintf("%s:%d: %s= needs systemd %d", unit, d.line, d.key, v))
		}
		if v, ok := introducedValue[d.key+"="+d.value]; ok && v > version {
			out = append(out, fmt.Sprintf("%s:%d: %s=%s needs systemd %d", unit, d.line, d.key, d.value, v))
		}
		if d.key != "SystemCallFilter" {
			continue
		}
		for _, g := range strings.Fields(strings.TrimPrefix(d.value, "~")) {
			if !strings.HasPrefix(g, "@") {
				continue
			}
			gv, ok := syscallGroups[g]
			switch {
			case !ok:
				t.Errorf("%s:%d: syscall group %s is not in the version table", unit, d.line, g)
			case gv > version:
				out = append(out, fmt.Sprintf("%s:%d: syscall group %s needs systemd %d", unit, d.line, g, gv))
			}
		}
	}
	return out
}

// TestProxypairUnitContract pins what issue 5 asks of the unit, so an edit
// cannot silently drop readiness, the watchdog, the cleanup or the sandbox.
func TestProxypairUnitContract(t *testing.T) {
	got := map[string][]string{}
	for _, d := range parseUnit(t, "proxypair.service") {
		k := d.section + "." + d.key
		got[k] = append(got[k], d.value)
	}
	want := []struct{ key, value string }{
		{"Unit.After", "network-online.target haproxy.service"},
		{"Unit.Wants", "network-online.target"},
		{"Service.Type", "notify"},
		{"Service.ExecStart", "/usr/bin/proxypair run"},
		{"Service.ExecReload", "/bin/kill -HUP $MAINPID"},
		{"Service.ExecStopPost", "/usr/bin/proxypair cleanup"},
		{"Service.EnvironmentFile", "-/etc/default/proxypair"},
		{"Service.Restart", "always"},
		{"Service.User", "proxypair"},
		{"Service.Group", "proxypair"},
		{"Service.AmbientCapabilities", "CAP_NET_ADMIN CAP_NET_RAW"},
		{"Service.CapabilityBoundingSet", "CAP_NET_ADMIN CAP_NET_RAW"},
		{"Service.NoNewPrivileges", "yes"},
		{"Service.ProtectSystem", "strict"},
		{"Service.RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6 AF_NETLINK AF_PACKET"},
		{"Service.RuntimeDirectory", "proxypair"},
		{"Service.MemoryMax", "128M"},
		{"Service.TasksMax", "64"},
		{"Install.WantedBy", "multi-user.target"},
	}
	for _, w := range want {
		if v := got[w.key]; len(v) != 1 || v[0] != w.value {
			t.Errorf("%s = %q, want exactly %q", w.key, v, w.value)
		}
	}
	if v := got["Service.WatchdogSec"]; len(v) != 1 || v[0] == "0" || v[0] == "" {
		t.Errorf("Service.WatchdogSec = %q, want one non-zero value", v)
	}
	// Least privilege: the proxypair group alone reaches HAProxy's socket for
	// proxypair (level user); any other group (haproxy: the operators' admin
	// socket) is a privilege it must not need.
	if v, ok := got["Service.SupplementaryGroups"]; ok {
		t.Errorf("Service.SupplementaryGroups = %q: proxypair needs no group but its own", v)
	}
	// proxypair must keep running (and advertise low priority) when HAProxy
	// is down: no hard dependency on it.
	for _, k := range []string{"Unit.Requires", "Unit.BindsTo", "Unit.Requisite", "Unit.PartOf"} {
		if v, ok := got[k]; ok {
			t.Errorf("%s = %q: proxypair must not depend hard on anything", k, v)
		}
	}
}

// hermeticCopy writes the unit into a temp dir with every command the
// package installs (/usr/bin/proxypair, /usr/libexec/proxypair/*) replaced by a
// stub executable, because verify checks that ExecStart= and friends exist.
// Nothing else changes; the test asserts exactly those lines differ.
func hermeticCopy(t *testing.T, unit string) string {
	t.Helper()
	dir := t.TempDir()
	stub := filepath.Join(dir, "stub")
	if err := os.WriteFile(stub, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	orig, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^(Exec[A-Za-z]+=[-+!@:]*)(/usr/bin/proxypair|/usr/libexec/proxypair/[a-z0-9-]+)\b`)
	copied := re.ReplaceAll(orig, []byte("${1}"+stub))
	origLines, copyLines := strings.Split(string(orig), "\n"), strings.Split(string(copied), "\n")
	changed := 0
	for i := range origLines {
		if origLines[i] != copyLines[i] {
			changed++
			if !strings.HasPrefix(origLines[i], "Exec") {
				t.Fatalf("hermetic copy changed a non-Exec line: %q", origLines[i])
			}
		}
	}
	if changed == 0 {
		t.Fatalf("%s: no Exec line runs a program of the package; update hermeticCopy", unit)
	}
	path := filepath.Join(dir, unit) // verify derives the unit name from it
	if err := os.WriteFile(path, copied, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSystemdAnalyzeVerify runs `systemd-analyze verify` and fails if it
// prints anything: it exits 0 on unknown keys and typos, so its output is
// the verdict.
//
// Hermetic: ExecStart=/ExecStopPost= point to a stub (verify fails on a
// missing executable). User=proxypair and SupplementaryGroups=haproxy need
// no such care: verify does not resolve users or groups (systemd 252 was
// checked with names that exist nowhere; the lookup happens when the service
// starts, failing with status 217/USER or 216/GROUP), so CI needs neither
// the user nor HAProxy installed for this test.
func TestSystemdAnalyzeVerify(t *testing.T) {
	bin, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed (apt-get install systemd)")
	}
	for _, unit := range units() {
		t.Run(unit, func(t *testing.T) {
			path := hermeticCopy(t, unit)
			cmd := exec.Command(bin, "verify", path)
			cmd.Dir = filepath.Dir(path)
			// No pager, no colour; the output must be empty anyway.
			cmd.Env = append(os.Environ(), "SYSTEMD_PAGER=cat", "SYSTEMD_COLORS=0", "SYSTEMD_LOG_COLOR=0")
			out, err := cmd.CombinedOutput()
			if err != nil || len(out) > 0 {
				t.Errorf("systemd-analyze verify %s: err=%v, output:\n%s", unit, err, out)
			}
		})
	}
}

// TestVerifyCatchesTypos makes sure the verify test above can fail: a
// misspelt directive must produce output.
func TestVerifyCatchesTypos(t *testing.T) {
	bin, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed (apt-get install systemd)")
	}
	path := hermeticCopy(t, "proxypair.service")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(b), "\nNoNewPrivileges=", "\nNoNewPrivilege=", 1)
	if err := os.WriteFile(path, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command(bin, "verify", path).CombinedOutput()
	if !strings.Contains(string(out), "NoNewPrivilege") {
		t.Errorf("verify printed %q for a misspelt directive, want a complaint naming it", out)
	}
}

// TestSysusers checks the sysusers.d line: a system user named proxypair
// with its own group, in the 4-column form systemd 237 understands.
func TestSysusers(t *testing.T) {
	b, err := os.ReadFile("sysusers.d/proxypair.conf")
	if err != nil {
		t.Fatal(err)
	}
	var entries [][]string
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		entries = append(entries, splitQuoted(line))
	}
	want := [][]string{{"u", "proxypair", "-", "proxypair VRRP daemon"}}
	if fmt.Sprint(entries) != fmt.Sprint(want) {
		t.Errorf("sysusers.d entries = %q, want %q", entries, want)
	}
}

// splitQuoted splits a sysusers.d line into fields, honouring "quotes".
func splitQuoted(s string) []string {
	var (
		out   []string
		cur   strings.Builder
		quote bool
		have  bool
	)
	for _, r := range s {
		switch {
		case r == '"':
			quote = !quote
			have = true
		case (r == ' ' || r == '\t') && !quote:
			if have {
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteRune(r)
			have = true
		}
	}
	if have {
		out = append(out, cur.String())
	}
	return out
}
