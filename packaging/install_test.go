package packaging

import (
	"crypto/sha256"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// scratchRoot is an empty root with a dpkg database of its own.
func scratchRoot(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: dpkg sets the files' owners and runs the maintainer scripts")
	}
	needTool(t, "dpkg", "dpkg")
	needTool(t, "systemd-sysusers", "systemd")
	needTool(t, "deb-systemd-helper", "init-system-helpers")
	root := t.TempDir()
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates", "var/log"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "var/lib/dpkg/status"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// dpkgIn runs dpkg on the scratch root: its own database (--root), the
// maintainer scripts run here with DPKG_ROOT set instead of chrooted
// (the root has no shell), and the dependencies (systemd,
// init-system-helpers) are the host's tools, not packages of the root.
func dpkgIn(t *testing.T, root string, args ...string) string {
	t.Helper()
	argv := append([]string{"--root=" + root, "--force-script-chrootless", "--force-depends",
		"--force-confold", "--log=" + filepath.Join(root, "var/log/dpkg.log")}, args...)
	out, err := exec.Command("dpkg", argv...).CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg %s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return string(out)
}

// hostState fingerprints what installing on the host would change: its
// package database, accounts, units and enablement state.
func hostState(t *testing.T) [32]byte {
	t.Helper()
	h := sha256.New()
	for _, f := range []string{"/var/lib/dpkg/status", "/var/lib/dpkg/statoverride", "/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow"} {
		b, err := os.ReadFile(f)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		h.Write(b)
	}
	for _, pattern := range []string{"/etc/systemd/system/*/proxypair*", "/etc/systemd/system/proxypair*", "/lib/systemd/system/proxypair*",
		"/var/lib/systemd/deb-systemd-helper-*/*/proxypair*", "/usr/bin/proxypair", "/etc/proxypair"} {
		m, _ := filepath.Glob(pattern)
		h.Write([]byte(strings.Join(m, "\n")))
	}
	return [32]byte(h.Sum(nil))
}

// idsOf maps numeric IDs to names from the root's passwd or group file.
func idsOf(t *testing.T, path string) map[uint32]string {
	t.Helper()
	m := map[uint32]string{0: "root"}
	for _, line := range strings.Split(string(mustRead(t, path)), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 3 {
			continue
		}
		if id, err := strconv.ParseUint(f[2], 10, 32); err == nil {
			m[uint32(id)] = f[0]
		}
	}
	return m
}

// owner returns path's mode, user and group (names from the root).
func owner(t *testing.T, root, path string) (fs.FileMode, string, string) {
	t.Helper()
	fi, err := os.Lstat(filepath.Join(root, path))
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return fi.Mode().Perm(), idsOf(t, filepath.Join(root, "etc/passwd"))[st.Uid], idsOf(t, filepath.Join(root, "etc/group"))[st.Gid]
}

func exists(root, path string) bool {
	_, err := os.Lstat(filepath.Join(root, path))
	return err == nil
}

// TestInstallUpgradeRemovePurge takes the package through its life in a
// scratch root with dpkg itself: install (user, config group, units enabled),
// upgrade (a node's edited config kept, ownership kept, new binary), remove
// (conffiles stay, units masked) and purge (nothing of the package left but
// its system user, as Debian does). The host's package database, accounts
// and units are checked unchanged.
func TestInstallUpgradeRemovePurge(t *testing.T) {
	root := scratchRoot(t)
	v1, _ := buildPackage(t, "v1.2.3")
	v2, bin2 := buildPackage(t, "v1.2.4")
	before := hostState(t)
	defer func() {
		if hostState(t) != before {
			t.Error("the host's dpkg database, accounts or units changed")
		}
	}()

	dpkgIn(t, root, "-i", v1)
	t.Run("install", func(t *testing.T) {
		passwd := string(mustRead(t, filepath.Join(root, "etc/passwd")))
		var fields []string
		for _, line := range strings.Split(passwd, "\n") {
			if strings.HasPrefix(line, "proxypair:") {
				fields = strings.Split(line, ":")
			}
		}
		if len(fields) != 7 {
			t.Fatalf("no proxypair user in the root's passwd:\n%s", passwd)
		}
		if uid, _ := strconv.Atoi(fields[2]); uid <= 0 || uid >= 1000 || !strings.HasSuffix(fields[6], "nologin") {
			t.Errorf("proxypair user %q: want a system uid (1-999) and no login shell", fields)
		}
		for _, w := range []struct {
			path        string
			mode        fs.FileMode
			user, group string
		}{
			{"etc/proxypair", 0o750, "root", "proxypair"},
			{"etc/proxypair/proxypair.yaml", 0o640, "root", "proxypair"},
			{"etc/default/proxypair", 0o600, "root", "root"},
			{"usr/bin/proxypair", 0o755, "root", "root"},
		} {
			if mode, u, g := owner(t, root, w.path); mode != w.mode || u != w.user || g != w.group {
				t.Errorf("/%s: %04o %s:%s, want %04o %s:%s", w.path, mode, u, g, w.mode, w.user, w.group)
			}
		}
		for _, unit := range []string{"proxypair.service", "proxypair-eth1.service"} {
			link := filepath.Join(root, "etc/systemd/system/multi-user.target.wants", unit)
			if target, err := os.Readlink(link); err != nil || target != "/lib/systemd/system/"+unit {
				t.Errorf("%s not enabled: %s -> %q (%v)", unit, link, target, err)
			}
		}
		status := run(t, "dpkg-query", "--admindir="+filepath.Join(root, "var/lib/dpkg"), "-W", "-f=${Status} ${Version}", "proxypair")
		if status != "install ok installed 1.2.3-1" {
			t.Errorf("dpkg-query: %q, want installed 1.2.3-1", status)
		}
	})

	// A node's settings, then the upgrade.
	cfg := filepath.Join(root, "etc/proxypair/proxypair.yaml")
	node := filepath.Join(root, "etc/default/proxypair")
	edited := append(mustRead(t, cfg), []byte("# this node's edit\n")...)
	if err := os.WriteFile(cfg, edited, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(node, []byte("NODE_ADDRESS=198.18.0.6/24\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dpkgIn(t, root, "-i", v2)
	t.Run("upgrade", func(t *testing.T) {
		if got := mustRead(t, cfg); string(got) != string(edited) {
			t.Error("the upgrade replaced the node's edited /etc/proxypair/proxypair.yaml")
		}
		if got := mustRead(t, node); string(got) != "NODE_ADDRESS=198.18.0.6/24\n" {
			t.Errorf("the upgrade changed /etc/default/proxypair: %q", got)
		}
		if mode, u, g := owner(t, root, "etc/proxypair/proxypair.yaml"); mode != 0o640 || u != "root" || g != "proxypair" {
			t.Errorf("after the upgrade the config is %04o %s:%s, want 0640 root:proxypair", mode, u, g)
		}
		if string(mustRead(t, filepath.Join(root, "usr/bin/proxypair"))) != string(mustRead(t, bin2)) {
			t.Error("the upgrade did not install the new binary")
		}
	})

	dpkgIn(t, root, "-r", "proxypair")
	t.Run("remove", func(t *testing.T) {
		for _, p := range []string{"usr/bin/proxypair", "lib/systemd/system/proxypair.service", "usr/libexec/proxypair"} {
			if exists(root, p) {
				t.Errorf("/%s is still there after remove", p)
			}
		}
		if string(mustRead(t, cfg)) != string(edited) || !exists(root, "etc/default/proxypair") {
			t.Error("remove (not purge) deleted the conffiles")
		}
		for _, unit := range []string{"proxypair.service", "proxypair-eth1.service"} {
			if target, _ := os.Readlink(filepath.Join(root, "etc/systemd/system", unit)); target != "/dev/null" {
				t.Errorf("%s not masked after remove: -> %q", unit, target)
			}
		}
	})

	dpkgIn(t, root, "-P", "proxypair")
	t.Run("purge", func(t *testing.T) {
		var left []string
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel := strings.TrimPrefix(p, root)
			if strings.Contains(rel, "proxypair") {
				left = append(left, rel)
			}
			return nil
		})
		if len(left) > 0 {
			t.Errorf("left after purge: %q", left)
		}
		if b, err := os.ReadFile(filepath.Join(root, "var/lib/dpkg/statoverride")); err == nil && strings.Contains(string(b), "proxypair") {
			t.Errorf("statoverrides left after purge:\n%s", b)
		}
		// The system user stays (Debian leaves system users on purge).
		if passwd := "\n" + string(mustRead(t, filepath.Join(root, "etc/passwd"))); !strings.Contains(passwd, "\nproxypair:") {
			t.Error("purge removed the proxypair user")
		}
	})
}
