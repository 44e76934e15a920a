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
)

// want is one entry the provisioning script must lay out.
type want struct {
	path        string // below DESTDIR
	kind        byte   // 'f' file, 'd' directory, 'l' symlink
	mode        fs.FileMode
	owner       string // names, resolved through DESTDIR's passwd/group
	group       string
	target      string // symlink target
	sameAs      string // file whose bytes it must have, relative to the repo root; "bin" = the binary
	contains    string // or: text it must contain
	accountFile bool   // made by systemd-sysusers --root, only in DESTDIR runs
}

func dir(path string) want {
	return want{path: path, kind: 'd', mode: 0o755, owner: "root", group: "root"}
}

func file(path string, mode fs.FileMode, sameAs string) want {
	return want{path: path, kind: 'f', mode: mode, owner: "root", group: "root", sameAs: sameAs}
}

// expected is the complete layout for one variant: every file, directory
// and link below DESTDIR, and nothing else.
func expected(defaultConfig string) []want {
	w := []want{
		dir("/etc"),
		dir("/etc/default"),
		file("/etc/default/proxypair", 0o600, "configs/proxypair.env.example"),
		dir("/etc/haproxy"),
		file("/etc/haproxy/haproxy.cfg", 0o644, "configs/haproxy.cfg"),
		{path: "/etc/proxypair", kind: 'd', mode: 0o750, owner: "root", group: "proxypair"},
		{path: "/etc/proxypair/proxypair.yaml", kind: 'f', mode: 0o640, owner: "root", group: "proxypair", sameAs: "configs/" + defaultConfig},
		dir("/etc/sysctl.d"),
		{path: "/etc/sysctl.d/60-proxypair.conf", kind: 'f', mode: 0o644, owner: "root", group: "root", contains: "\nnet.ipv4.ip_nonlocal_bind = 1\n"},
		dir("/etc/systemd"),
		dir("/etc/systemd/system"),
		file("/etc/systemd/system/proxypair.service", 0o644, "systemd/proxypair.service"),
		file("/etc/systemd/system/proxypair-eth1.service", 0o644, "systemd/proxypair-eth1.service"),
		dir("/etc/systemd/system/multi-user.target.wants"),
		{path: "/etc/systemd/system/multi-user.target.wants/proxypair.service", kind: 'l', mode: 0o777, owner: "root", group: "root", target: "/etc/systemd/system/proxypair.service"},
		{path: "/etc/systemd/system/multi-user.target.wants/proxypair-eth1.service", kind: 'l', mode: 0o777, owner: "root", group: "root", target: "/etc/systemd/system/proxypair-eth1.service"},
		dir("/usr"),
		dir("/usr/lib"),
		dir("/usr/lib/sysusers.d"),
		file("/usr/lib/sysusers.d/proxypair.conf", 0o644, "systemd/sysusers.d/proxypair.conf"),
		dir("/usr/local"),
		dir("/usr/local/bin"),
		file("/usr/local/bin/proxypair", 0o755, "bin"),
		dir("/usr/local/sbin"),
		file("/usr/local/sbin/proxypair-eth1", 0o755, "systemd/proxypair-eth1"),
		dir("/usr/share"),
		dir("/usr/share/doc"),
		dir("/usr/share/doc/proxypair"),
		dir("/usr/share/doc/proxypair/examples"),
		// The account database systemd-sysusers --root creates; on a real
		// server these exist already and only gain the proxypair lines.
		{path: "/etc/passwd", kind: 'f', mode: 0o644, owner: "root", group: "root", accountFile: true},
		{path: "/etc/group", kind: 'f', mode: 0o644, owner: "root", group: "root", accountFile: true},
		{path: "/etc/shadow", kind: 'f', mode: 0o000, owner: "root", group: "root", accountFile: true},
		{path: "/etc/gshadow", kind: 'f', mode: 0o000, owner: "root", group: "root", accountFile: true},
		{path: "/etc/.pwd.lock", kind: 'f', mode: 0o600, owner: "root", group: "root", accountFile: true},
	}
	for _, ex := range []string{"master.yaml", "backup.yaml", "vpc-master.yaml", "vpc-backup.yaml", "master.env", "backup.env", "proxypair.env.example", "haproxy.cfg"} {
		w = append(w, file("/usr/share/doc/proxypair/examples/"+ex, 0o644, "configs/"+ex))
	}
	return w
}

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
	for _, tool := range []string{"apt-get", "systemctl", "sysctl", "haproxy", "cloud-init", "fuser", "useradd", "groupadd"} {
		script := fmt.Sprintf("#!/bin/sh\necho %s \"$@\" >> %s\nexit 1\n", tool, log)
		if err := os.WriteFile(filepath.Join(pathDir, tool), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return pathDir, log
}

type provisionRun struct {
	destdir, binary, variant string
}

func (r provisionRun) run(t *testing.T, pathDir string) (string, error) {
	t.Helper()
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("scripts/provision.sh")
	cmd.Env = append(cleanEnv(),
		"PATH="+pathDir+":"+os.Getenv("PATH"),
		"DESTDIR="+r.destdir,
		"SRC_DIR="+repo,
		"PROXYPAIR_BIN="+r.binary,
		"PROXYPAIR_VARIANT="+r.variant,
	)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func hostAccounts(t *testing.T) [32]byte {
	t.Helper()
	h := sha256.New()
	for _, f := range []string{"/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow"} {
		b, err := os.ReadFile(f)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		h.Write(b)
	}
	return [32]byte(h.Sum(nil))
}

func needProvisionTools(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_CHOWN) to install files owned by root and proxypair below DESTDIR")
	}
	if _, err := exec.LookPath("systemd-sysusers"); err != nil {
		t.Skip("systemd-sysusers not installed (apt-get install systemd)")
	}
}

func TestProvisionDestdir(t *testing.T) {
	needProvisionTools(t)
	tests := []struct{ variant, defaultConfig string }{
		{"vpc", "vpc-master.yaml"},
		{"classic", "master.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.variant, func(t *testing.T) {
			destdir := t.TempDir()
			binary := filepath.Join(t.TempDir(), "proxypair")
			if err := os.WriteFile(binary, []byte("#!/bin/sh\necho proxypair test binary\n"), 0o700); err != nil {
				t.Fatal(err)
			}
			pathDir, calls := fakeTools(t)
			before := hostAccounts(t)
			r := provisionRun{destdir: destdir, binary: binary, variant: tt.variant}

			if out, err := r.run(t, pathDir); err != nil {
				t.Fatalf("provision.sh: %v\n%s", err, out)
			}
			checkLayout(t, destdir, binary, expected(tt.defaultConfig))
			checkUser(t, destdir)

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
			checkLayout(t, destdir, binary, expected(tt.defaultConfig))
			checkUser(t, destdir)

			if b, err := os.ReadFile(calls); err == nil {
				t.Errorf("DESTDIR run called system tools:\n%s", b)
			}
			if hostAccounts(t) != before {
				t.Error("the host's /etc/passwd, group, shadow or gshadow changed")
			}
		})
	}
}

func TestProvisionKeepsDistroHAProxyConfig(t *testing.T) {
	needProvisionTools(t)
	destdir := t.TempDir()
	dist := []byte("# haproxy package default\nglobal\n")
	if err := os.MkdirAll(filepath.Join(destdir, "etc/haproxy"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(destdir, "etc/haproxy/haproxy.cfg"), dist, 0o644); err != nil {
		t.Fatal(err)
	}
	binary := filepath.Join(t.TempDir(), "proxypair")
	if err := os.WriteFile(binary, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	pathDir, _ := fakeTools(t)
	r := provisionRun{destdir: destdir, binary: binary, variant: "vpc"}
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
	needProvisionTools(t)
	binary := filepath.Join(t.TempDir(), "proxypair")
	if err := os.WriteFile(binary, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		run     provisionRun
		wantErr string
	}{
		{"unknown variant", provisionRun{binary: binary, variant: "azure"}, "PROXYPAIR_VARIANT='azure' must be vpc or classic"},
		{"missing binary", provisionRun{binary: binary + ".missing", variant: "vpc"}, "missing input " + binary + ".missing"},
		{"DESTDIR not a directory", provisionRun{binary: binary, variant: "vpc", destdir: binary}, "must be an existing directory"},
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

// checkLayout compares everything below destdir with the table: same set
// of paths, and for each its type, mode, owner, group and content.
func checkLayout(t *testing.T, destdir, binary string, table []want) {
	t.Helper()
	users := ids(t, filepath.Join(destdir, "etc/passwd"))
	groups := ids(t, filepath.Join(destdir, "etc/group"))

	var got []string
	err := filepath.WalkDir(destdir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != destdir {
			got = append(got, strings.TrimPrefix(p, destdir))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var wantPaths []string
	for _, w := range table {
		wantPaths = append(wantPaths, w.path)
	}
	slices.Sort(got)
	slices.Sort(wantPaths)
	for _, p := range got {
		if !slices.Contains(wantPaths, p) {
			t.Errorf("unexpected %s below DESTDIR (add it to the table in provision_test.go if intended)", p)
		}
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
			src := filepath.Join("..", w.sameAs)
			if w.sameAs == "bin" {
				src = binary
			}
			if string(mustRead(t, full)) != string(mustRead(t, src)) {
				t.Errorf("%s differs from %s", w.path, w.sameAs)
			}
		case w.contains != "":
			if !strings.Contains(string(mustRead(t, full)), w.contains) {
				t.Errorf("%s lacks %q", w.path, w.contains)
			}
		}
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
