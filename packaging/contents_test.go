package packaging

import (
	"bufio"
	"compress/gzip"
	"crypto/md5"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// item is one entry the package must hold.
type item struct {
	path   string
	kind   byte // 'd' directory, 'f' file
	mode   fs.FileMode
	sameAs string // repository file with the same bytes; "bin" = the binary
}

func dir(path string) item { return item{path: path, kind: 'd', mode: 0o755} }

func file(path string, mode fs.FileMode, sameAs string) item {
	return item{path: path, kind: 'f', mode: mode, sameAs: sameAs}
}

// examples are the configs shipped for reading.
var examples = []string{"master.yaml", "backup.yaml", "vpc-master.yaml", "vpc-backup.yaml",
	"master.env", "backup.env", "proxypair.env.example", "haproxy.cfg", "grafana-proxypair.json"}

// want is the package's complete file list, every entry owned root:root
// (the proxypair group is given to /etc/proxypair by the postinst, once the
// group exists).
func want() []item {
	w := []item{
		dir("/etc"),
		dir("/etc/default"),
		file("/etc/default/proxypair", 0o600, "configs/proxypair.env.example"),
		{path: "/etc/proxypair", kind: 'd', mode: 0o750},
		file("/etc/proxypair/proxypair.yaml", 0o640, "configs/vpc-master.yaml"),
		dir("/lib"),
		dir("/lib/systemd"),
		dir("/lib/systemd/system"),
		file("/lib/systemd/system/proxypair.service", 0o644, "systemd/proxypair.service"),
		file("/lib/systemd/system/proxypair-eth1.service", 0o644, "systemd/proxypair-eth1.service"),
		dir("/usr"),
		dir("/usr/bin"),
		file("/usr/bin/proxypair", 0o755, "bin"),
		dir("/usr/lib"),
		dir("/usr/lib/sysctl.d"),
		file("/usr/lib/sysctl.d/60-proxypair.conf", 0o644, "packaging/sysctl.d/60-proxypair.conf"),
		dir("/usr/lib/sysusers.d"),
		file("/usr/lib/sysusers.d/proxypair.conf", 0o644, "systemd/sysusers.d/proxypair.conf"),
		dir("/usr/libexec"),
		dir("/usr/libexec/proxypair"),
		file("/usr/libexec/proxypair/proxypair-eth1", 0o755, "systemd/proxypair-eth1"),
		dir("/usr/share"),
		dir("/usr/share/doc"),
		dir("/usr/share/doc/proxypair"),
		file("/usr/share/doc/proxypair/README.md", 0o644, "README.md"),
		file("/usr/share/doc/proxypair/changelog.Debian.gz", 0o644, ""),
		file("/usr/share/doc/proxypair/copyright", 0o644, ""),
		dir("/usr/share/doc/proxypair/examples"),
		dir("/usr/share/lintian"),
		dir("/usr/share/lintian/overrides"),
		file("/usr/share/lintian/overrides/proxypair", 0o644, "packaging/deb/lintian-overrides"),
		dir("/usr/share/man"),
		dir("/usr/share/man/man1"),
		file("/usr/share/man/man1/proxypair.1.gz", 0o644, ""),
	}
	for _, ex := range examples {
		w = append(w, file("/usr/share/doc/proxypair/examples/"+ex, 0o644, "configs/"+ex))
	}
	return w
}

// TestPackageFiles compares the package's files with the table: the same
// set of paths, and for each its type, mode, owner root:root and bytes.
func TestPackageFiles(t *testing.T) {
	deb, binary := buildPackage(t, "v1.2.3")
	root, _ := extract(t, deb)

	// The list as dpkg-deb -c prints it: owners by name, from the archive.
	var listed []string
	for _, line := range strings.Split(strings.TrimSpace(run(t, "dpkg-deb", "-c", deb)), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 {
			t.Fatalf("dpkg-deb -c line %q", line)
		}
		if f[1] != "root/root" {
			t.Errorf("%s owned by %s in the archive, want root/root", f[5], f[1])
		}
		p := strings.TrimSuffix(strings.TrimPrefix(f[5], "."), "/")
		if p != "" {
			listed = append(listed, p)
		}
	}
	var wantPaths []string
	for _, w := range want() {
		wantPaths = append(wantPaths, w.path)
	}
	slices.Sort(listed)
	slices.Sort(wantPaths)
	if !slices.Equal(listed, wantPaths) {
		for _, p := range listed {
			if !slices.Contains(wantPaths, p) {
				t.Errorf("unexpected %s in the package (add it to the table in contents_test.go if intended)", p)
			}
		}
		for _, p := range wantPaths {
			if !slices.Contains(listed, p) {
				t.Errorf("%s missing from the package", p)
			}
		}
	}

	for _, w := range want() {
		full := filepath.Join(root, w.path)
		fi, err := os.Lstat(full)
		if err != nil {
			t.Errorf("%s: %v", w.path, err)
			continue
		}
		switch {
		case w.kind == 'd' && !fi.IsDir(), w.kind == 'f' && !fi.Mode().IsRegular():
			t.Errorf("%s: %v, want kind %c", w.path, fi.Mode().Type(), w.kind)
			continue
		}
		if got := fi.Mode().Perm(); got != w.mode {
			t.Errorf("%s: mode %04o, want %04o", w.path, got, w.mode)
		}
		if st := fi.Sys().(*syscall.Stat_t); os.Geteuid() == 0 && (st.Uid != 0 || st.Gid != 0) {
			t.Errorf("%s: owner %d:%d, want root:root", w.path, st.Uid, st.Gid)
		}
		if w.sameAs != "" {
			src := filepath.Join("..", w.sameAs)
			if w.sameAs == "bin" {
				src = binary
			}
			if string(mustRead(t, full)) != string(mustRead(t, src)) {
				t.Errorf("%s differs from %s", w.path, w.sameAs)
			}
		}
	}

	// The generated files: the changelog names this version, the manual page
	// is ours, both compressed as gzip -9n.
	if log := gunzip(t, filepath.Join(root, "usr/share/doc/proxypair/changelog.Debian.gz")); !strings.HasPrefix(log, "proxypair (1.2.3-1) unstable; urgency=medium\n") {
		t.Errorf("changelog starts %q, want the entry of 1.2.3-1", log)
	}
	if man := gunzip(t, filepath.Join(root, "usr/share/man/man1/proxypair.1.gz")); man != string(mustRead(t, "proxypair.1")) {
		t.Error("the manual page in the package is not packaging/proxypair.1")
	}
}

func gunzip(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if r.Header.Name != "" || !r.Header.ModTime.IsZero() {
		t.Errorf("%s: gzip header has name %q, time %v; want neither (reproducible)", path, r.Header.Name, r.Header.ModTime)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestPackageControl checks the control data: fields, conffiles and that
// md5sums covers exactly the regular files, with the right sums.
func TestPackageControl(t *testing.T) {
	deb, _ := buildPackage(t, "v1.2.3")
	root, control := extract(t, deb)

	fields := map[string]string{}
	for _, name := range []string{"Package", "Version", "Architecture", "Section", "Priority", "Depends", "Recommends", "Maintainer", "Homepage"} {
		fields[name] = strings.TrimSpace(run(t, "dpkg-deb", "-f", deb, name))
	}
	wantFields := map[string]string{
		"Package":      "proxypair",
		"Version":      "1.2.3-1",
		"Architecture": "amd64",
		"Section":      "net",
		"Priority":     "optional",
		"Depends":      "systemd (>= 237), init-system-helpers (>= 1.51)",
		"Recommends":   "haproxy, iproute2",
		"Homepage":     "https://github.com/proxypair/proxypair",
	}
	for k, v := range wantFields {
		if fields[k] != v {
			t.Errorf("control %s = %q, want %q", k, fields[k], v)
		}
	}
	if !regexp.MustCompile(`^[^<>]+ <[^@<>\s]+@[^@<>\s]+>$`).MatchString(fields["Maintainer"]) {
		t.Errorf("Maintainer = %q, want \"Name <address>\"", fields["Maintainer"])
	}

	if got := strings.TrimSpace(string(mustRead(t, filepath.Join(control, "conffiles")))); got != "/etc/default/proxypair\n/etc/proxypair/proxypair.yaml" &&
		got != "/etc/proxypair/proxypair.yaml\n/etc/default/proxypair" {
		t.Errorf("conffiles = %q, want /etc/proxypair/proxypair.yaml and /etc/default/proxypair", got)
	}

	sums := map[string]string{}
	s := bufio.NewScanner(strings.NewReader(string(mustRead(t, filepath.Join(control, "md5sums")))))
	for s.Scan() {
		sum, path, ok := strings.Cut(s.Text(), "  ")
		if !ok {
			t.Fatalf("md5sums line %q", s.Text())
		}
		sums["/"+path] = sum
	}
	var regular []string
	for _, w := range want() {
		if w.kind == 'f' {
			regular = append(regular, w.path)
		}
	}
	for _, p := range regular {
		got, ok := sums[p]
		if !ok {
			t.Errorf("md5sums lacks %s", p)
			continue
		}
		if want := fmt.Sprintf("%x", md5.Sum(mustRead(t, filepath.Join(root, p)))); got != want {
			t.Errorf("md5sums: %s %s, the file's is %s", p, got, want)
		}
	}
	if len(sums) != len(regular) {
		t.Errorf("md5sums has %d entries, the package %d regular files", len(sums), len(regular))
	}
}

// TestUnitsRunPackagedPrograms: every program a unit runs is in the package
// (or is /bin/kill), executable, at the path the unit names.
func TestUnitsRunPackagedPrograms(t *testing.T) {
	deb, _ := buildPackage(t, "v1.2.3")
	root, _ := extract(t, deb)
	exec := regexp.MustCompile(`(?m)^Exec[A-Za-z]+=[-+!@:]*(\S+)`)
	seen := map[string]bool{}
	for _, unit := range []string{"proxypair.service", "proxypair-eth1.service"} {
		for _, m := range exec.FindAllStringSubmatch(string(mustRead(t, filepath.Join(root, "lib/systemd/system", unit))), -1) {
			prog := m[1]
			seen[prog] = true
			if prog == "/bin/kill" {
				continue
			}
			fi, err := os.Stat(filepath.Join(root, prog))
			if err != nil || fi.Mode().Perm()&0o111 == 0 {
				t.Errorf("%s runs %s, which the package does not install as an executable (%v)", unit, prog, err)
			}
		}
	}
	for _, p := range []string{"/usr/bin/proxypair", "/usr/libexec/proxypair/proxypair-eth1"} {
		if !seen[p] {
			t.Errorf("no unit runs %s: the paths of the units and the package disagree", p)
		}
	}
}

// TestManualPage: every command and flag `proxypair --help` lists is
// documented in packaging/proxypair.1.
func TestManualPage(t *testing.T) {
	_, binary := buildPackage(t, "v1.2.3")
	man := string(mustRead(t, "proxypair.1"))
	// roff escapes "-" as "\-".
	man = strings.ReplaceAll(man, `\-`, "-")
	help := run(t, binary, "--help")
	commands := regexp.MustCompile(`(?m)^  ([a-z]+) {2,}`).FindAllStringSubmatch(help, -1)
	if len(commands) < 5 {
		t.Fatalf("found %d commands in proxypair --help:\n%s", len(commands), help)
	}
	flag := regexp.MustCompile(`(?m)^\s+(?:-[a-z], )?(--[a-z-]+)`)
	for _, f := range flag.FindAllStringSubmatch(help, -1) {
		if f[1] != "--help" && !strings.Contains(man, f[1]) {
			t.Errorf("proxypair.1 does not document %s", f[1])
		}
	}
	for _, c := range commands {
		name := c[1]
		if name == "help" || name == "completion" {
			continue
		}
		if !strings.Contains(man, ".B "+name+"\n") {
			t.Errorf("proxypair.1 has no entry for the command %q", name)
		}
		sub := run(t, binary, name, "--help")
		local, _, _ := strings.Cut(sub, "Global Flags:")
		for _, f := range flag.FindAllStringSubmatch(local, -1) {
			if f[1] != "--help" && !strings.Contains(man, f[1]) {
				t.Errorf("proxypair.1 does not document %s of %s", f[1], name)
			}
		}
	}
	if out, err := exec.Command("man", "--warnings", "-l", "-E", "UTF-8", "proxypair.1").CombinedOutput(); err == nil {
		if warn := strings.TrimSpace(strings.Join(slices.DeleteFunc(strings.Split(string(out), "\n"), func(l string) bool {
			return !strings.Contains(l, "warning")
		}), "\n")); warn != "" {
			t.Errorf("man --warnings proxypair.1:\n%s", warn)
		}
	}
}
