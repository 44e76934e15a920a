// Package packaging holds proxypair's Debian packaging: the maintainer
// scripts, the manual page, the sysctl file and the lintian overrides
// (internal/cmd/mkdeb assembles the package). This test-only package builds
// the package and checks it without installing it on the host: its files,
// control data and scripts are read with dpkg-deb, the scripts run against
// stubs in a private mount and network namespace, and dpkg installs it only
// into scratch roots (--root, never the host's database).
package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/proxypair/proxypair/internal/debtest"
)

// sourceDateEpoch is the commit time the test packages are built with.
const sourceDateEpoch = debtest.SourceDateEpoch

// buildPackage returns the package of proxypair stamped with tag, and its
// binary (internal/debtest builds each version once).
func buildPackage(t *testing.T, tag string) (deb, binary string) {
	t.Helper()
	p := debtest.Build(t, tag)
	return p.Deb, p.Binary
}

// mkdeb is the mkdeb the test packages were built with.
func mkdeb(t *testing.T) string {
	t.Helper()
	return debtest.Build(t, "v1.2.3").Mkdeb
}

func stderr(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

func TestMain(m *testing.M) {
	code := m.Run()
	debtest.Cleanup()
	os.Exit(code)
}

func needTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed (apt-get install %s)", name, pkg)
	}
	return p
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr(err))
	}
	return string(out)
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// extract unpacks the package's files (dpkg-deb -x) and control files
// (dpkg-deb -e) into fresh temp dirs. Unpacking as root keeps the owners.
func extract(t *testing.T, deb string) (root, control string) {
	t.Helper()
	needTool(t, "dpkg-deb", "dpkg")
	root, control = t.TempDir(), filepath.Join(t.TempDir(), "DEBIAN")
	run(t, "dpkg-deb", "-x", deb, root)
	run(t, "dpkg-deb", "-e", deb, control)
	return root, control
}

func TestMkdebRefusesBadInput(t *testing.T) {
	_, binary := buildPackage(t, "v1.2.3")
	for _, tt := range []struct {
		name    string
		args    []string
		epoch   string
		wantErr string
	}{
		{"no SOURCE_DATE_EPOCH", []string{"-binary", binary}, "", "SOURCE_DATE_EPOCH=\"\" must be the commit time"},
		{"not a binary", []string{"-binary", "../README.md"}, sourceDateEpoch, "../README.md is not a Go binary"},
		{"missing src", []string{"-binary", binary, "-src", t.TempDir()}, sourceDateEpoch, "the manual page: open "},
		{"arguments", []string{"-binary", binary, "extra"}, sourceDateEpoch, "unexpected arguments"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append(tt.args, "-out", t.TempDir())
			if !strings.Contains(strings.Join(args, " "), "-src") {
				args = append(args, "-src", "..")
			}
			cmd := exec.Command(mkdeb(t), args...)
			cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH="+tt.epoch)
			out, err := cmd.CombinedOutput()
			if err == nil || !strings.Contains(string(out), tt.wantErr) {
				t.Errorf("mkdeb %s: err=%v output %q, want failure mentioning %q", strings.Join(args, " "), err, out, tt.wantErr)
			}
		})
	}
}

// TestReproducible: the same binary and commit give the same package bytes.
func TestReproducible(t *testing.T) {
	deb, binary := buildPackage(t, "v1.2.3")
	out := t.TempDir()
	cmd := exec.Command(mkdeb(t), "-binary", binary, "-src", "..", "-out", out)
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH="+sourceDateEpoch)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mkdeb: %v\n%s", err, b)
	}
	again := filepath.Join(out, filepath.Base(deb))
	if string(mustRead(t, deb)) != string(mustRead(t, again)) {
		t.Errorf("two builds of the same binary and commit differ: %s, %s", deb, again)
	}
}

func TestPackageName(t *testing.T) {
	deb, _ := buildPackage(t, "v1.2.3")
	if got := filepath.Base(deb); got != "proxypair_1.2.3-1_amd64.deb" {
		t.Errorf("package file %s, want proxypair_1.2.3-1_amd64.deb", got)
	}
}
