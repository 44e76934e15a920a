package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runSplit executes the CLI in-process with stdout and stderr apart.
func runSplit(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errw bytes.Buffer
	root := newRoot(&out, &errw)
	root.SetArgs(args)
	err := root.Execute()
	var ec exitError
	switch {
	case err == nil:
	case errors.As(err, &ec):
		code = int(ec)
	default:
		errw.WriteString(err.Error())
		code = 1
	}
	return out.String(), errw.String(), code
}

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const seedDir = "../../appliance/config/keepalived/testdata/"

// TestImportSeed: the seed's keepalived configs import with exit 0, the
// YAML on stdout and the warnings on stderr, and the output passes
// `proxypair validate`.
func TestImportSeed(t *testing.T) {
	for conf, prio := range map[string]string{"seed-master.conf": "priority: 200", "seed-backup.conf": "priority: 100"} {
		stdout, stderr, code := runSplit(t, "import", "keepalived", seedDir+conf)
		if code != 0 {
			t.Fatalf("%s: exit %d\n%s", conf, code, stderr)
		}
		if !strings.Contains(stdout, prio) || strings.Contains(stdout, "warning:") {
			t.Errorf("%s: stdout is not the YAML alone:\n%s", conf, stdout)
		}
		if !strings.Contains(stderr, "warning: "+seedDir+conf+":3: vrrp_instance: no vrrp_script") {
			t.Errorf("%s: stderr lacks the health warning:\n%s", conf, stderr)
		}
		out, code := run(t, "validate", "--config", writeFile(t, "proxypair.yaml", stdout))
		if code != 0 {
			t.Errorf("%s: the imported config does not validate: exit %d\n%s", conf, code, out)
		}
	}
}

func TestImportFlags(t *testing.T) {
	conf := writeFile(t, "keepalived.conf", `
vrrp_script chk { 
  script "pidof haproxy"
  weight -20
}
vrrp_instance A {
  interface eth1
  virtual_router_id 1
  @lb1 priority 150
  @lb2 priority 200
  virtual_ipaddress { 198.18.0.100/24 }
  track_script { chk }
}
vrrp_instance B {
  interface eth1
  virtual_router_id 2
  priority 99
  virtual_ipaddress { 198.18.0.101/24 }
}
`)
	stdout, stderr, code := runSplit(t, "import", "keepalived", "--config-id", "lb1", conf)
	if code != 0 || !strings.Contains(stdout, "priority: 150") || !strings.Contains(stderr, "translating the first, A") {
		t.Errorf("--config-id lb1: exit %d\n%s\n%s", code, stdout, stderr)
	}
	stdout, stderr, code = runSplit(t, "import", "keepalived", "--config-id", "lb2", "--instance", "B", conf)
	if code != 0 || !strings.Contains(stdout, "priority: 99") || !strings.Contains(stderr, "A is not translated") {
		t.Errorf("--instance B: exit %d\n%s\n%s", code, stdout, stderr)
	}
	stdout, stderr, code = runSplit(t, "import", "keepalived", "--config-id", "lb2", "--peer-priority", "100", conf)
	if code != 0 || !strings.Contains(stdout, "peer_priority: 100") || !strings.Contains(stderr, "weight -20 never moves the VIP") {
		t.Errorf("--peer-priority: exit %d\n%s\n%s", code, stdout, stderr)
	}
}

// TestImportFailures: exit 1, with a message naming the file (and line).
func TestImportFailures(t *testing.T) {
	for _, tc := range []struct {
		name, conf string
		args       []string
		want       string
		yaml       bool // the YAML is printed all the same
	}{
		{"parse error", "vrrp_instance VI_1 {\n  priority 100\n", nil, "keepalived.conf:1: the block of \"vrrp_instance VI_1\" is never closed", false},
		{"no instance", "global_defs {\n}\n", nil, "keepalived.conf: no vrrp_instance", false},
		{"unknown instance", "vrrp_instance A {\n}\n", []string{"--instance", "B"}, `no vrrp_instance "B"`, false},
		{"not valid", "vrrp_instance A {\n  interface eth1\n  virtual_router_id 7\n}\n", nil, "config: vrrp.virtual_ips: at least one virtual IP", true},
		{"bad peer priority", "vrrp_instance A {\n}\n", []string{"--peer-priority", "256"}, "peer priority 256", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf := writeFile(t, "keepalived.conf", tc.conf)
			stdout, stderr, code := runSplit(t, append(append([]string{"import", "keepalived"}, tc.args...), conf)...)
			if code != 1 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, want 1 with %q in stderr:\n%s", code, tc.want, stderr)
			}
			if got := strings.Contains(stdout, "vrrp:"); got != tc.yaml {
				t.Errorf("YAML printed = %v, want %v:\n%s", got, tc.yaml, stdout)
			}
		})
	}
	_, stderr, code := runSplit(t, "import", "keepalived", "/nonexistent/keepalived.conf")
	if code != 1 || !strings.Contains(stderr, "/nonexistent/keepalived.conf") {
		t.Errorf("missing file: exit %d\n%s", code, stderr)
	}
	if _, _, code := runSplit(t, "import", "keepalived"); code != 1 {
		t.Errorf("no FILE: exit %d, want 1", code)
	}
}
