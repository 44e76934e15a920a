package packer

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/proxypair/proxypair/internal/debtest"
)

// want is one entry below DESTDIR that the package's file list does not
// account for: what provision.sh itself writes and what the maintainer
// scripts create.
type want struct {
	path     string // below DESTDIR
	kind     byte   // 'f' file, 'd' directory, 'l' symlink
	mode     fs.FileMode
	owner    string // names, resolved through DESTDIR's passwd/group
	group    string
	target   string // symlink target
	sameAs   string // file whose bytes it must have, relative to the repo root
	contains string // or: text it must contain
}

func dir(path string) want {
	return want{path: path, kind: 'd', mode: 0o755, owner: "root", group: "root"}
}

func link(path, target string) want {
	return want{path: path, kind: 'l', mode: 0o777, owner: "root", group: "root", target: target}
}

// expected lists, for a variant, what below DESTDIR is not a file of the
// package, plus the package's files whose state the image depends on.
func expected(defaultConfig string) []want {
	return []want{
		// Checked although they are the package's: the config the variant
		// starts from, readable by the daemon's group only.
		{path: "/etc/proxypair", kind: 'd', mode: 0o750, owner: "root", group: "proxypair"},
		{path: "/etc/proxypair/proxypair.yaml", kind: 'f', mode: 0o640, owner: "root", group: "proxypair", sameAs: "configs/" + defaultConfig},
		{path: "/etc/default/proxypair", kind: 'f', mode: 0o600, owner: "root", group: "root", sameAs: "configs/proxypair.env.example"},
		{path: "/usr/lib/sysctl.d/60-proxypair.conf", kind: 'f', mode: 0o644, owner: "root", group: "root", contains: "\nnet.ipv4.ip_nonlocal_bind = 1\n"},
		// provision.sh: HAProxy's config with proxypair's socket.
		dir("/etc/haproxy"),
		{path: "/etc/haproxy/haproxy.cfg", kind: 'f', mode: 0o644, owner: "root", group: "root", sameAs: "configs/haproxy.cfg"},
		// The postinst: units enabled (deb-systemd-helper's links and state).
		dir("/etc/systemd"),
		dir("/etc/systemd/system"),
		dir("/etc/systemd/system/multi-user.target.wants"),
		link("/etc/systemd/system/multi-user.target.wants/proxypair.service", "/lib/systemd/system/proxypair.service"),
		link("/etc/systemd/system/multi-user.target.wants/proxypair-eth1.service", "/lib/systemd/system/proxypair-eth1.service"),
		// The postinst: the account database systemd-sysusers --root
		// creates; on a server these exist and gain the proxypair lines.
		{path: "/etc/passwd", kind: 'f', mode: 0o644, owner: "root", group: "root"},
		{path: "/etc/group", kind: 'f', mode: 0o644, owner: "root", group: "root"},
		{path: "/etc/shadow", kind: 'f', mode: 0o000, owner: "root", group: "root"},
		{path: "/etc/gshadow", kind: 'f', mode: 0o000, owner: "root", group: "root"},
		{path: "/etc/.pwd.lock", kind: 'f', mode: 0o600, owner: "root", group: "root"},
		// dpkg's and deb-systemd-helper's bookkeeping (contents not checked).
		dir("/var"),
		dir("/var/lib"),
		dir("/var/log"),
		{path: "/var/log/dpkg.log", kind: 'f', mode: 0o644, owner: "root", group: "root", contains: "status installed proxypair:amd64 1.2.3-1"},
	}
}

// bookkeeping are trees whose contents belong to dpkg and
// deb-systemd-helper: the test asks dpkg about them instead.
var bookkeeping = []string{"/var/lib/dpkg/", "/var/lib/systemd/"}

// ids maps numeric IDs to names from DESTDIR's passwd or group file.
func ids(t *testing.T, path string) map[uint32]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := map[uint32]string{0: "root"}
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Split(s.Text(), ":")
		if len(fields) < 3 {
			continue
		}
		id, err := strconv.ParseUint(fields[2], 10, 32)
		if err == nil {
			m[uint32(id)] = fields[0]
		}
	}
	return m
}

// fakeTools puts stand-ins for every command a DESTDIR run must not call
// first in PATH; each records its call in calls.log.
func fakeTools(t *testing.T) (pathDir, log string) {
	t.Helper()
	pathDir = t.TempDir()
	log = filepath.Join(pathDir, "calls.log")
	for _, tool := range []string{"apt-get", "apt", "systemctl", "deb-systemd-invoke", "sysctl", "haproxy", "cloud-init", "fuser", "useradd", "groupadd", "proxypair"} {
		script := fmt.Sprintf("#!/bin/sh\necho %s \"$@\" >> %s\nexit 1\n", tool, log)
		if err := os.WriteFile(filepath.Join(pathDir, tool), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return pathDir, log
}

type provisionRun struct {
	destdir, deb, variant string
}

func (r provisionRun) run(t *testing.T, pathDir string) (string, error) {
	t.Helper()
	cmd := exec.Command("scripts/provision.sh")
	cmd.Env = append(cleanEnv(),
		"PATH="+pathDir+":"+os.Getenv("PATH"),
		"DESTDIR="+r.destdir,
		"PROXYPAIR_DEB="+r.deb,
		"PROXYPAIR_VARIANT="+r.variant,
	)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// hostState fingerprints what a provisioning that escaped DESTDIR would
// change: the host's accounts, package database and units.
func hostState(t *testing.T) [32]byte {
	t.Helper()
	h := sha256.New()
	for _, f := range []string{"/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow", "/var/lib/dpkg/status", "/var/lib/dpkg/statoverride"} {
		b, err := os.ReadFile(f)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		h.Write(b)
	}
	for _, pattern := range []string{"/etc/systemd/system/*/proxypair*", "/lib/systemd/system/proxypair*", "/usr/bin/proxypair", "/etc/proxypair", "/usr/lib/sysctl.d/60-proxypair.conf"} {
		m, _ := filepath.Glob(pattern)
		h.Write([]byte(strings.Join(m, "\n")))
	}
	return [32]byte(h.Sum(nil))
}

func needProvisionTools(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: dpkg installs files owned by root and proxypair below DESTDIR")
	}
	for _, tool := range []struct{ name, pkg string }{
		{"dpkg", "dpkg"}, {"systemd-sysusers", "systemd"}, {"deb-systemd-helper", "init-system-helpers"},
	} {
		if _, err := exec.LookPath(tool.name); err != nil {
			t.Skipf("%s not installed (apt-get install %s)", tool.name, tool.pkg)
		}
	}
}

// TestProvisionDestdir runs provision.sh into a scratch root, where it
// installs the package with dpkg (a database of its own below DESTDIR), and
// checks the result: the package installed, every other file accounted for
// with its owner and mode, the variant's config, HAProxy's, the units
// enabled, and nothing done to the host.
func TestProvisionDestdir(t *testing.T) {
	needProvisionTools(t)
	deb := debtest.Build(t, "v1.2.3").Deb
	tests := []struct{ variant, defaultConfig string }{
		{"vpc", "vpc-master.yaml"},
		{"classic", "master.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.variant, func(t *testing.T) {
			destdir := t.TempDir()
			pathDir, calls := fakeTools(t)
			before := hostState(t)
			r := provisionRun{destdir: destdir, deb: deb, variant: tt.variant}

			if out, err := r.run(t, pathDir); err != nil {
				t.Fatalf("provision.sh: %v\n%s", err, out)
			}
			checkLayout(t, destdir, expected(tt.defaultConfig))
			checkUser(t, destdir)
			checkConffile(t, destdir, tt.variant == "classic")

			// A second run changes nothing and keeps the node's settings.
			node := filepath.Join(destdir, "etc/default/proxypair")
			local := []byte("NODE_ADDRESS=198.18.0.11/24\n")
			if err := os.WriteFile(node, local, 0o600); err != nil {
				t.Fatal(err)
			}
			if out, err := r.run(t, pathDir); err != nil {
				t.Fatalf("second provision.sh run: %v\n%s", err, out)
			}
			if got, _ := os.ReadFile(node); string(got) != string(local) {
				t.Errorf("second run replaced /etc/default/proxypair: %q", got)
			}
			if err := os.WriteFile(node, mustRead(t, "../configs/proxypair.env.example"), 0o600); err != nil {
				t.Fatal(err)
			}
			checkLayout(t, destdir, expected(tt.defaultConfig))
			checkUser(t, destdir)

			if b, err := os.ReadFile(calls); err == nil {
				t.Errorf("DESTDIR run called system tools:\n%s", b)
			}
			if hostState(t) != before {
				t.Error("the host's accounts, dpkg database or units changed")
			}
		})
	}
}

func TestProvisionKeepsDistroHAProxyConfig(t *testing.T) {
	needProvisionTools(t)
	deb := debtest.Build(t, "v1.2.3").Deb
	destdir := t.TempDir()
	dist := []byte("# haproxy package default\nglobal\n")
	if err := os.MkdirAll(filepath.Join(destdir, "etc/haproxy"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(destdir, "etc/haproxy/haproxy.cfg"), dist, 0o644); err != nil {
		t.Fatal(err)
	}
	pathDir, _ := fakeTools(t)
	r := provisionRun{destdir: destdir, deb: deb, variant: "vpc"}
	for range 2 {
		if out, err := r.run(t, pathDir); err != nil {
			t.Fatalf("provision.sh: %v\n%s", err, out)
		}
	}
	if got := mustRead(t, filepath.Join(destdir, "etc/haproxy/haproxy.cfg.dist")); string(got) != string(dist) {
		t.Errorf("haproxy.cfg.dist = %q, want the package's original", got)
	}
	if got := mustRead(t, filepath.Join(destdir, "etc/haproxy/haproxy.cfg")); string(got) != string(mustRead(t, "../configs/haproxy.cfg")) {
		t.Error("haproxy.cfg is not configs/haproxy.cfg")
	}
}

func TestProvisionRejectsBadInput(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("provision.sh refuses to run without root before it checks anything else")
	}
	deb := filepath.Join(t.TempDir(), "proxypair_1.2.3-1_amd64.deb")
	if err := os.WriteFile(deb, []byte("!<arch>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		run     provisionRun
		wantErr string
	}{
		{"unknown variant", provisionRun{deb: deb, variant: "azure"}, "PROXYPAIR_VARIANT='azure' must be vpc or classic"},
		{"no package named", provisionRun{variant: "vpc"}, "PROXYPAIR_DEB is not set"},
		{"missing package", provisionRun{deb: deb + ".missing", variant: "vpc"}, "missing input " + deb + ".missing"},
		{"DESTDIR not a directory", provisionRun{deb: deb, variant: "vpc", destdir: deb}, "must be an existing directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.run.destdir == "" {
				tt.run.destdir = t.TempDir()
			}
			pathDir, _ := fakeTools(t)
			out, err := tt.run.run(t, pathDir)
			if err == nil || !strings.Contains(out, tt.wantErr) {
				t.Errorf("err=%v output %q, want failure mentioning %q", err, out, tt.wantErr)
			}
		})
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// packageFiles is what dpkg, in DESTDIR's database, says the installed
// package owns (dpkg -L), checking on the way that it is installed.
func packageFiles(t *testing.T, destdir string) []string {
	t.Helper()
	admin := "--admindir=" + filepath.Join(destdir, "var/lib/dpkg")
	status, err := exec.Command("dpkg-query", admin, "-W", "-f=${Status} ${Version}", "proxypair").Output()
	if err != nil || string(status) != "install ok installed 1.2.3-1" {
		t.Fatalf("dpkg-query in DESTDIR: %q (%v), want proxypair 1.2.3-1 installed", status, err)
	}
	out, err := exec.Command("dpkg-query", admin, "-L", "proxypair").Output()
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line != "/." {
			files = append(files, line)
		}
	}
	return files
}

// checkLayout checks that everything below destdir is a file of the
// package, an entry of the table or dpkg's bookkeeping, and each table
// entry's type, mode, owner, group and content.
func checkLayout(t *testing.T, destdir string, table []want) {
	t.Helper()
	users := ids(t, filepath.Join(destdir, "etc/passwd"))
	groups := ids(t, filepath.Join(destdir, "etc/group"))
	owned := packageFiles(t, destdir)

	var wantPaths []string
	for _, w := range table {
		wantPaths = append(wantPaths, w.path)
	}
	err := filepath.WalkDir(destdir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(p, destdir)
		if rel == "" || slices.Contains(owned, rel) || slices.Contains(wantPaths, rel) {
			return nil
		}
		for _, b := range bookkeeping {
			if strings.HasPrefix(rel+"/", b) {
				return nil
			}
		}
		t.Errorf("unexpected %s below DESTDIR: not the package's, not in the table in provision_test.go", rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	for _, w := range table {
		full := filepath.Join(destdir, w.path)
		fi, err := os.Lstat(full)
		if err != nil {
			t.Errorf("%s: %v", w.path, err)
			continue
		}
		st := fi.Sys().(*syscall.Stat_t)
		kind := map[bool]byte{true: 'd'}[fi.IsDir()]
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			kind = 'l'
		case fi.Mode().IsRegular():
			kind = 'f'
		}
		if kind != w.kind {
			t.Errorf("%s: type %q, want %q", w.path, kind, w.kind)
			continue
		}
		if got := fi.Mode().Perm(); got != w.mode {
			t.Errorf("%s: mode %04o, want %04o", w.path, got, w.mode)
		}
		if got := users[st.Uid]; got != w.owner {
			t.Errorf("%s: owner %q (uid %d), want %q", w.path, got, st.Uid, w.owner)
		}
		if got := groups[st.Gid]; got != w.group {
			t.Errorf("%s: group %q (gid %d), want %q", w.path, got, st.Gid, w.group)
		}
		switch {
		case w.kind == 'l':
			if target, _ := os.Readlink(full); target != w.target {
				t.Errorf("%s -> %q, want -> %q", w.path, target, w.target)
			}
		case w.sameAs != "":
			if string(mustRead(t, full)) != string(mustRead(t, filepath.Join("..", w.sameAs))) {
				t.Errorf("%s differs from %s", w.path, w.sameAs)
			}
		case w.contains != "":
			if !strings.Contains(string(mustRead(t, full)), w.contains) {
				t.Errorf("%s lacks %q", w.path, w.contains)
			}
		}
	}
}

// checkConffile: dpkg sees the config as the package's (VPC) or as the
// admin's version (Classic), so an upgrade keeps the Classic settings.
func checkConffile(t *testing.T, destdir string, modified bool) {
	t.Helper()
	out, err := exec.Command("dpkg", "--root="+destdir, "--verify", "proxypair").CombinedOutput()
	changed := strings.Contains(string(out), " c /etc/proxypair/proxypair.yaml")
	if (err != nil && !changed) || changed != modified {
		t.Errorf("dpkg --verify: %v\n%s\nwant the config reported as a changed conffile: %v", err, out, modified)
	}
}

// checkUser: proxypair is a system user with its own group and no login.
func checkUser(t *testing.T, destdir string) {
	t.Helper()
	var fields []string
	for _, line := range strings.Split(string(mustRead(t, filepath.Join(destdir, "etc/passwd"))), "\n") {
		if strings.HasPrefix(line, "proxypair:") {
			if fields != nil {
				t.Error("proxypair appears twice in passwd")
			}
			fields = strings.Split(line, ":")
		}
	}
	if len(fields) != 7 {
		t.Fatalf("no proxypair entry in DESTDIR's passwd")
	}
	uid, _ := strconv.Atoi(fields[2])
	if uid <= 0 || uid >= 1000 {
		t.Errorf("proxypair uid %d, want a system uid (1-999)", uid)
	}
	if groups := ids(t, filepath.Join(destdir, "etc/group")); groups[uint32(mustAtoi(t, fields[3]))] != "proxypair" {
		t.Errorf("proxypair's primary group is gid %s, want group proxypair", fields[3])
	}
	if !strings.HasSuffix(fields[6], "nologin") {
		t.Errorf("proxypair's shell is %q, want nologin", fields[6])
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
