package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// run executes the CLI in-process and returns its output and exit code.
func run(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	root := newRoot(&out, &out)
	root.SetArgs(args)
	err := root.Execute()
	var code exitError
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &code):
		return out.String(), int(code)
	default:
		return out.String() + err.Error(), 1
	}
}

func TestValidateExamples(t *testing.T) {
	for _, f := range []string{"../../configs/master.yaml", "../../configs/backup.yaml"} {
		out, code := run(t, "validate", "--config", f)
		if code != 0 || !strings.Contains(out, "config ok") {
			t.Errorf("validate %s: exit %d\n%s", f, code, out)
		}
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(p, []byte("vrrp:\n  priorty: 5\n  priority: 300\n  virtual_ips: [192.168.200.300/24]\n  auth_pass: muchtoolong\n"), 0o600)
	out, code := run(t, "validate", "--config", p)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, key := range []string{"vrrp.priorty:", "vrrp.priority:", "vrrp.virtual_ips:", "vrrp.auth_pass:"} {
		found := false
		for _, l := range lines {
			found = found || strings.HasPrefix(l, key)
		}
		if !found {
			t.Errorf("no line starting with %q in:\n%s", key, out)
		}
	}
}

// TestEnvOverride: the environment beats the file, and --set beats both.
func TestEnvOverride(t *testing.T) {
	t.Setenv("PROXYPAIR_VRRP_PRIORITY", "255")
	out, code := run(t, "validate", "--config", "../../configs/master.yaml")
	if code != 1 || !strings.Contains(out, "vrrp.priority: 255 is outside 1-254") {
		t.Errorf("env not honoured: exit %d\n%s", code, out)
	}
	out, code = run(t, "validate", "--config", "../../configs/master.yaml", "--set", "vrrp.priority=150")
	if code != 0 {
		t.Errorf("--set did not beat the environment: exit %d\n%s", code, out)
	}
}

func TestBadSetFlag(t *testing.T) {
	out, code := run(t, "validate", "--config", "../../configs/master.yaml", "--set", "vrrp.priority")
	if code != 1 || !strings.Contains(out, "want key=value") {
		t.Errorf("exit %d\n%s", code, out)
	}
}

func TestMissingConfigFile(t *testing.T) {
	out, code := run(t, "validate", "--config", "/nonexistent/proxypair.yaml")
	if code != 1 || !strings.Contains(out, "/nonexistent/proxypair.yaml") {
		t.Errorf("exit %d\n%s", code, out)
	}
}

func TestVersion(t *testing.T) {
	out, code := run(t, "version")
	if code != 0 || !strings.HasPrefix(out, "proxypair ") || !strings.Contains(out, "go1.") {
		t.Errorf("exit %d: %q", code, out)
	}
}

// TestValidateSaysWhenHAProxyCannotBeAsked: with health tracking on and
// nothing at the socket, the node would never win; validate says so, and
// how to fix it, but the config is still valid.
func TestValidateSaysWhenHAProxyCannotBeAsked(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "missing.sock")
	out, code := run(t, "validate", "-c", "../../configs/master.yaml", "--set", "health.haproxy.socket="+sock)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, want := range []string{"warning: health.haproxy.socket: " + sock + " does not exist", "never wins the VIP",
		"level user", "health.enabled: false"} {
		if !strings.Contains(out, want) {
			t.Errorf("validate's output lacks %q:\n%s", want, out)
		}
	}
	out, code = run(t, "validate", "-c", "../../configs/master.yaml", "--set", "health.enabled=false")
	if code != 0 || strings.Contains(out, "never wins") {
		t.Errorf("tracking off: exit %d:\n%s", code, out)
	}
}

// TestStatusNotRunning: a daemon that does not answer is reported as not
// running (exit 3), never as its last known state.
func TestStatusNotRunning(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "pp.sock")
	out, code := run(t, "status", "-c", "../../configs/master.yaml", "--set", "control.socket="+sock)
	if code != 3 || !strings.Contains(out, "proxypair is not running: nothing answers at "+sock) {
		t.Errorf("status with no daemon: exit %d:\n%s", code, out)
	}
	out, code = run(t, "status", "--json", "-c", "../../configs/master.yaml", "--set", "control.socket="+sock)
	if code != 3 || !strings.Contains(out, `"running": false`) {
		t.Errorf("status --json with no daemon: exit %d:\n%s", code, out)
	}
}

func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh"} {
		out, code := run(t, "completion", shell)
		if code != 0 || !strings.Contains(out, "proxypair") || len(out) < 1000 {
			t.Errorf("completion %s: exit %d, %d bytes", shell, code, len(out))
		}
	}
}
