// Package packer holds the NCP image template and its provisioning scripts;
// this test-only package runs the offline checks CI can do without NCP
// credentials or network: packer fmt and validate, shellcheck, and the
// provisioning script against a scratch root.
package packer

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// modernOnlyKeys are ncloud builder arguments that Packer 1.6.6's built-in
// (Classic-only) ncloud builder does not know; the Classic variant for the
// full offline validate drops them. The ncloud plugin >= 1.0 has them all.
var modernOnlyKeys = []string{
	"site", "region_code", "support_vpc", "vpc_no", "subnet_no", "access_control_group_no",
}

// templateFiles are the template's files: everything Packer reads.
var templateFiles = []string{"plugins.pkr.hcl", "variables.pkr.hcl", "proxypair.pkr.hcl"}

func needPacker(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("packer")
	if err != nil {
		t.Skip("packer not installed (apt-get install packer)")
	}
	return bin
}

// packerCmd runs packer with no update check (it would phone home) and a
// throw-away HOME, so nothing outside the test's temp dirs is touched.
// prefix (e.g. `ip netns exec ns`) is prepended when not nil.
func packerCmd(t *testing.T, prefix []string, bin string, args ...string) *exec.Cmd {
	t.Helper()
	argv := append(slices.Clone(prefix), bin)
	argv = append(argv, args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(cleanEnv(), "CHECKPOINT_DISABLE=1", "HOME="+t.TempDir(), "PACKER_LOG=0")
	return cmd
}

// cleanEnv is the environment without any NCP credentials or PKR_VAR_*
// that the developer may have set.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "NCLOUD_") || strings.HasPrefix(kv, "PKR_VAR_") || strings.HasPrefix(kv, "PACKER_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// templateCopy copies the template without plugins.pkr.hcl (Packer 1.6.6
// rejects the packer { required_plugins } block) into a temp dir, with the
// scripts, so ${path.root}/scripts resolves.
func templateCopy(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range templateFiles {
		if f == "plugins.pkr.hcl" {
			continue
		}
		copyFile(t, f, filepath.Join(dir, f), 0o644)
	}
	scripts, err := filepath.Glob("scripts/*.sh")
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no provisioning scripts found: %v", err)
	}
	for _, s := range scripts {
		copyFile(t, s, filepath.Join(dir, s), 0o755)
	}
	return dir
}

func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, mode); err != nil {
		t.Fatal(err)
	}
}

func TestPackerFmt(t *testing.T) {
	bin := needPacker(t)
	cmd := packerCmd(t, nil, bin, "fmt", "-check", "-diff", ".")
	out, err := cmd.CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("packer fmt -check: %v; run `packer fmt packer/`:\n%s", err, out)
	}
}

func TestPluginsFile(t *testing.T) {
	b, err := os.ReadFile("plugins.pkr.hcl")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"required_plugins", `source  = "github.com/hashicorp/ncloud"`, `required_version = ">= 1.7.0"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("plugins.pkr.hcl lacks %q", want)
		}
	}
	// The block must live only there, or the copies below would still carry it.
	for _, f := range templateFiles[1:] {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if regexp.MustCompile(`(?m)^\s*(packer|required_plugins)\s*\{`).Match(b) {
			t.Errorf("%s has a packer/required_plugins block; keep it in plugins.pkr.hcl only", f)
		}
	}
}

func TestPackerValidateSyntaxOnly(t *testing.T) {
	bin := needPacker(t)
	dir := templateCopy(t)
	out, err := packerCmd(t, nil, bin, "validate", "-syntax-only", dir).CombinedOutput()
	if err != nil {
		t.Errorf("packer validate -syntax-only: %v\n%s", err, out)
	}
}

// classicVariant turns the template copy into one Packer 1.6.6's built-in
// Classic ncloud builder fully validates: it drops the arguments that
// builder does not know (each must be found exactly once, so this stays in
// step with the template).
func classicVariant(t *testing.T, dir string) {
	t.Helper()
	path := filepath.Join(dir, "proxypair.pkr.hcl")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range modernOnlyKeys {
		re := regexp.MustCompile(`(?m)^[ \t]*` + key + `[ \t]*=.*\n`)
		if n := len(re.FindAll(b, -1)); n != 1 {
			t.Fatalf("expected one %q argument in proxypair.pkr.hcl, found %d; update modernOnlyKeys", key, n)
		}
		b = re.ReplaceAll(b, nil)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// offlineNetns returns an `ip netns exec <ns>` prefix for a fresh network
// namespace holding only a down loopback, so a command run in it provably
// cannot reach the network. Without root it returns nil and the command
// runs normally (CHECKPOINT_DISABLE still keeps Packer quiet).
func offlineNetns(t *testing.T) []string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Log("not root: running packer validate outside a network namespace")
		return nil
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Log("ip (iproute2) not installed: running packer validate outside a network namespace")
		return nil
	}
	ns := fmt.Sprintf("ppf-pkr-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v\n%s", ns, err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	return []string{"ip", "netns", "exec", ns}
}

// TestPackerValidate fully validates the template for each Ubuntu release
// with Packer 1.6.6's built-in (Classic-only) ncloud builder: 18.04 from its
// Classic product code, and 18.04, 20.04 and 22.04 from a member server
// image, the way KVM-only releases are built (packer/README.md). VPC
// arguments are dropped for that builder (classicVariant); which product
// code each VPC release gets is TestPackerImageSelection's.
func TestPackerValidate(t *testing.T) {
	bin := needPacker(t)
	dir := templateCopy(t)
	classicVariant(t, dir)
	fakeDeb := filepath.Join(t.TempDir(), "proxypair_1.2.3-1_amd64.deb")
	if err := os.WriteFile(fakeDeb, []byte("!<arch>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Dummy keys long enough not to collide with text: Packer masks
	// sensitive values everywhere in its output.
	creds := []string{"NCLOUD_ACCESS_KEY=dummy-access-key-xxxx", "NCLOUD_SECRET_KEY=dummy-secret-key-yyyy"}
	base := []string{"-var", "support_vpc=false"}
	deb := []string{"-var", "proxypair_deb=" + fakeDeb}
	member := []string{"-var", "member_server_image_no=4321"}
	prefix := offlineNetns(t)

	tests := []struct {
		name    string
		env     []string
		vars    []string
		wantErr []string // substrings of the output; nil = must validate
	}{
		{name: "18.04 classic product code", env: creds, vars: deb},
		{name: "18.04 member server image", env: creds, vars: append(slices.Clone(deb), member...)},
		{name: "20.04 member server image", env: creds, vars: append(append(slices.Clone(deb), member...), "-var", "ubuntu_version=20.04")},
		{name: "22.04 member server image", env: creds, vars: append(append(slices.Clone(deb), member...), "-var", "ubuntu_version=22.04")},
		{
			name:    "no NCLOUD_* credentials in the environment",
			vars:    deb,
			wantErr: []string{"access_key is required", "secret_key is required"},
		},
		{
			name:    "no Classic 20.04 image",
			env:     creds,
			vars:    append(slices.Clone(deb), "-var", "ubuntu_version=20.04"),
			wantErr: []string{"server_image_product_code or member_server_image_no is required"},
		},
		{
			name:    "22.04 has no product code (KVM only)",
			env:     creds,
			vars:    append(slices.Clone(deb), "-var", "ubuntu_version=22.04"),
			wantErr: []string{"server_image_product_code or member_server_image_no is required"},
		},
		{
			name:    "unsupported Ubuntu",
			env:     creds,
			vars:    append(slices.Clone(deb), "-var", "ubuntu_version=16.04"),
			wantErr: []string{"The ubuntu_version value must be 18.04, 20.04 or 22.04."},
		},
		{
			name:    "unknown site",
			env:     creds,
			vars:    append(slices.Clone(deb), "-var", "site=moon"),
			wantErr: []string{"The site value must be public, gov or fin."},
		},
		{
			name:    "missing package",
			env:     creds,
			vars:    []string{"-var", "proxypair_deb=" + filepath.Join(dir, "nonexistent.deb")},
			wantErr: []string{"Bad source", "nonexistent.deb"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(append([]string{"validate"}, base...), tt.vars...)
			args = append(args, dir)
			cmd := packerCmd(t, prefix, bin, args...)
			cmd.Env = append(cmd.Env, tt.env...)
			out, err := cmd.CombinedOutput()
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("packer validate: %v\n%s", err, out)
				}
				return
			}
			if err == nil {
				t.Fatalf("packer validate passed, want errors %q\n%s", tt.wantErr, out)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

// TestPackerImageSelection evaluates, with `packer console`, which base
// image the template gives the builder for each platform and release: the
// VPC half of the template, which Packer 1.6.6's builder cannot validate.
func TestPackerImageSelection(t *testing.T) {
	bin := needPacker(t)
	dir := templateCopy(t)
	prefix := offlineNetns(t)
	tests := []struct {
		vars []string
		want string // local.image_product_code; "" = none, the member image is used
	}{
		{[]string{"-var", "support_vpc=false"}, "SPSW0LINUX000130"},
		{[]string{"-var", "support_vpc=true"}, "SW.VSVR.OS.LNX64.UBNTU.SVR1804.B050"},
		{[]string{"-var", "support_vpc=true", "-var", "ubuntu_version=20.04"}, "SW.VSVR.OS.LNX64.UBNTU.SVR2004.B050"},
		{[]string{"-var", "support_vpc=true", "-var", "ubuntu_version=22.04"}, ""},
		{[]string{"-var", "support_vpc=false", "-var", "ubuntu_version=20.04"}, ""},
		{[]string{"-var", "support_vpc=true", "-var", "member_server_image_no=4321"}, ""},
		{[]string{"-var", "support_vpc=true", "-var", "server_image_product_code=SW.VSVR.OS.LNX64.UBNTU.SVR1804.B050"}, "SW.VSVR.OS.LNX64.UBNTU.SVR1804.B050"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.vars, " "), func(t *testing.T) {
			cmd := packerCmd(t, prefix, bin, append(append([]string{"console"}, tt.vars...), dir)...)
			cmd.Stdin = strings.NewReader("local.image_product_code\n")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("packer console: %v\n%s", err, out)
			}
			if got := strings.TrimSpace(string(out)); got != tt.want {
				t.Errorf("image_product_code = %q, want %q", got, tt.want)
			}
		})
	}
}

// scripts are every shell script of the image, including the eth1 helper
// installed from systemd/.
func scripts(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("scripts/*.sh")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "build.sh", "../systemd/proxypair-eth1")
	if len(files) < 4 {
		t.Fatalf("expected provision.sh, cleanup.sh, build.sh and proxypair-eth1, got %q", files)
	}
	return files
}

func TestShellcheck(t *testing.T) {
	files := scripts(t)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte("#!/usr/bin/env bash\n")) {
			t.Errorf("%s: must start with #!/usr/bin/env bash", f)
		}
		if !regexp.MustCompile(`(?m)^set -euo pipefail$`).Match(b) {
			t.Errorf("%s: must set -euo pipefail", f)
		}
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm()&0o111 == 0 {
			t.Errorf("%s: not executable (%v)", f, err)
		}
	}
	bin, err := exec.LookPath("shellcheck")
	if err != nil {
		t.Skip("shellcheck not installed (apt-get install shellcheck)")
	}
	out, err := exec.Command(bin, append([]string{"--severity=style", "--external-sources"}, files...)...).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("shellcheck %s: %v\n%s", strings.Join(files, " "), err, out)
	}
}
