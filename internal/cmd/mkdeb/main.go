// Command mkdeb builds proxypair's Debian package, proxypair_<version>_amd64.deb,
// from the static binary (scripts/build.sh) and the repository's units,
// configs and maintainer scripts, with nfpm as a library. `make deb` runs it
// through scripts/deb.sh; packaging/package_test.go checks what it builds.
//
//	mkdeb [-binary bin/proxypair] [-src .] [-out bin]
//
// SOURCE_DATE_EPOCH (the commit time; scripts/deb.sh sets it) dates the
// changelog entry and every file, so the same commit builds the same bytes,
// and orders untagged builds (see debianVersion).
package main

import (
	"bytes"
	"compress/gzip"
	"debug/buildinfo"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/files"
)

func main() {
	var o options
	flag.StringVar(&o.binary, "binary", "bin/proxypair", "the static linux/amd64 proxypair binary")
	flag.StringVar(&o.src, "src", ".", "the repository root (systemd/, configs/, packaging/)")
	flag.StringVar(&o.out, "out", "bin", "directory to write the .deb to")
	flag.StringVar(&o.maintainer, "maintainer", "proxypair maintainers <maintainers@proxypair.invalid>", "the package's Maintainer field")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "mkdeb: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	path, err := build(o, os.Getenv("SOURCE_DATE_EPOCH"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(path)
}

type options struct {
	binary, src, out, maintainer string
}

// description is the package's Description: a synopsis line and a long
// description.
const description = `VRRP for a pair of HAProxy servers (keepalived replacement)
proxypair holds a virtual IP on the interface of the master of a server
pair, speaking VRRP (v2 with keepalived's PASS authentication, or v3) with a
proxypair or keepalived peer, and hands the address to the peer the moment
HAProxy on the master fails, watching HAProxy through its runtime API.
On Naver Cloud Platform VPC it moves the address with the NCP API.
.
The service is enabled on installation but not started: configure
/etc/proxypair/proxypair.yaml and /etc/default/proxypair first, then run
systemctl start proxypair.`

// build writes the package into o.out and returns its path.
func build(o options, sourceDateEpoch string) (string, error) {
	epoch, err := strconv.ParseInt(sourceDateEpoch, 10, 64)
	if err != nil {
		return "", fmt.Errorf("mkdeb: SOURCE_DATE_EPOCH=%q must be the commit time in seconds since 1970 (scripts/deb.sh sets it from git)", sourceDateEpoch)
	}
	mtime := time.Unix(epoch, 0).UTC()
	if err := checkBinary(o.binary); err != nil {
		return "", err
	}
	describe, err := binaryVersion(o.binary)
	if err != nil {
		return "", err
	}
	version, err := debianVersion(describe, mtime)
	if err != nil {
		return "", err
	}
	modCache, goroot, err := goEnv()
	if err != nil {
		return "", err
	}
	mods, err := linkedModules(o.binary, modCache, goroot)
	if err != nil {
		return "", err
	}

	work, err := os.MkdirTemp("", "mkdeb-")
	if err != nil {
		return "", fmt.Errorf("mkdeb: %w", err)
	}
	defer os.RemoveAll(work)
	manual, err := os.ReadFile(filepath.Join(o.src, "packaging", "proxypair.1"))
	if err != nil {
		return "", fmt.Errorf("mkdeb: the manual page: %w", err)
	}
	generated := map[string][]byte{
		"proxypair.1.gz":      gzipped(manual),
		"copyright":           []byte(copyrightFile(mods)),
		"changelog.Debian.gz": gzipped(changelog(version, describe, o.maintainer, mtime)),
	}
	for name, b := range generated {
		if err := os.WriteFile(filepath.Join(work, name), b, 0o644); err != nil {
			return "", fmt.Errorf("mkdeb: %w", err)
		}
	}

	contents, err := packageContents(o.src, o.binary, work)
	if err != nil {
		return "", err
	}
	scripts := filepath.Join(o.src, "packaging", "deb")
	info := &nfpm.Info{
		Name:          "proxypair",
		Arch:          "amd64",
		Platform:      "linux",
		Version:       version,
		VersionSchema: "none", // already a Debian version
		Section:       "net",
		Priority:      "optional",
		Maintainer:    o.maintainer,
		Description:   description,
		Homepage:      "https://github.com/proxypair/proxypair",
		MTime:         mtime,
		Overridables: nfpm.Overridables{
			// systemd: the units and systemd-sysusers (237 is Ubuntu
			// 18.04's); init-system-helpers: deb-systemd-helper and
			// deb-systemd-invoke, which the maintainer scripts use as
			// debhelper's snippets do (1.51 is 18.04's).
			Depends:    []string{"systemd (>= 237)", "init-system-helpers (>= 1.51)"},
			Recommends: []string{"haproxy", "iproute2"},
			Contents:   contents,
			Scripts: nfpm.Scripts{
				PostInstall: filepath.Join(scripts, "postinst"),
				PreRemove:   filepath.Join(scripts, "prerm"),
				PostRemove:  filepath.Join(scripts, "postrm"),
			},
			Deb: nfpm.Deb{
				// xz: what dpkg-deb uses; Ubuntu 18.04's dpkg cannot read zstd.
				Compression: "xz",
			},
		},
	}
	if err := info.Validate(); err != nil {
		return "", fmt.Errorf("mkdeb: %w", err)
	}
	var pkg bytes.Buffer
	if err := deb.Default.Package(info, &pkg); err != nil {
		return "", fmt.Errorf("mkdeb: %w", err)
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return "", fmt.Errorf("mkdeb: %w", err)
	}
	path := filepath.Join(o.out, fmt.Sprintf("proxypair_%s_amd64.deb", version))
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, pkg.Bytes(), 0o644); err != nil {
		return "", fmt.Errorf("mkdeb: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("mkdeb: %w", err)
	}
	return path, nil
}

// entry is one file of the package.
type entry struct {
	src, dst string
	mode     fs.FileMode
	kind     string // nfpm content type; "" = a plain file
}

// packageContents lists what the package installs. The paths follow Debian
// policy: the program in /usr/bin, units in /lib/systemd/system (where
// Ubuntu 18.04-22.04's systemd and debhelper put them; /lib is /usr/lib on
// merged systems), a helper only the unit runs in /usr/libexec/proxypair,
// the manual page in /usr/share/man, documentation in /usr/share/doc/proxypair.
//
// /etc/proxypair/proxypair.yaml and /etc/default/proxypair are conffiles:
// dpkg keeps a node's edits on upgrade (and asks, or follows
// --force-confold, when the shipped version changed too). They are shipped
// root:root 0640 and 0600; the postinst gives the config and its directory
// to group proxypair with dpkg-statoverride, which the user must exist for.
func packageContents(src, binary, generated string) (files.Contents, error) {
	repo := func(p string) string { return filepath.Join(src, p) }
	list := []entry{
		{binary, "/usr/bin/proxypair", 0o755, ""},
		{repo("systemd/proxypair.service"), "/lib/systemd/system/proxypair.service", 0o644, ""},
		{repo("systemd/proxypair-eth1.service"), "/lib/systemd/system/proxypair-eth1.service", 0o644, ""},
		{repo("systemd/proxypair-eth1"), "/usr/libexec/proxypair/proxypair-eth1", 0o755, ""},
		{repo("systemd/sysusers.d/proxypair.conf"), "/usr/lib/sysusers.d/proxypair.conf", 0o644, ""},
		{repo("packaging/sysctl.d/60-proxypair.conf"), "/usr/lib/sysctl.d/60-proxypair.conf", 0o644, ""},
		{"", "/etc/proxypair", 0o750, files.TypeDir},
		// NCP VPC, the platform NCP sells today; the Classic image replaces
		// it with configs/master.yaml (packer/scripts/provision.sh).
		{repo("configs/vpc-master.yaml"), "/etc/proxypair/proxypair.yaml", 0o640, files.TypeConfig},
		{repo("configs/proxypair.env.example"), "/etc/default/proxypair", 0o600, files.TypeConfig},
		{repo("packaging/deb/lintian-overrides"), "/usr/share/lintian/overrides/proxypair", 0o644, ""},
		{filepath.Join(generated, "copyright"), "/usr/share/doc/proxypair/copyright", 0o644, ""},
		{filepath.Join(generated, "changelog.Debian.gz"), "/usr/share/doc/proxypair/changelog.Debian.gz", 0o644, ""},
		{filepath.Join(generated, "proxypair.1.gz"), "/usr/share/man/man1/proxypair.1.gz", 0o644, ""},
		{repo("README.md"), "/usr/share/doc/proxypair/README.md", 0o644, ""},
	}
	for _, ex := range []string{"master.yaml", "backup.yaml", "vpc-master.yaml", "vpc-backup.yaml",
		"master.env", "backup.env", "proxypair.env.example", "haproxy.cfg", "grafana-proxypair.json"} {
		list = append(list, entry{repo("configs/" + ex), "/usr/share/doc/proxypair/examples/" + ex, 0o644, ""})
	}
	var out files.Contents
	var missing []error
	for _, e := range list {
		if e.src != "" {
			if _, err := os.Stat(e.src); err != nil {
				missing = append(missing, fmt.Errorf("mkdeb: %s (for %s): %w", e.src, e.dst, err))
			}
		}
		out = append(out, &files.Content{
			Source:      e.src,
			Destination: e.dst,
			Type:        e.kind,
			FileInfo:    &files.ContentFileInfo{Owner: "root", Group: "root", Mode: e.mode},
		})
	}
	return out, errors.Join(missing...)
}

// checkBinary refuses a binary the amd64 package cannot carry: another
// architecture, or one linked against libc (the package depends on none).
func checkBinary(path string) error {
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return fmt.Errorf("mkdeb: %s is not a Go binary: %w", path, err)
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	if settings["GOOS"] != "linux" || settings["GOARCH"] != "amd64" || settings["CGO_ENABLED"] != "0" {
		return fmt.Errorf("mkdeb: %s is GOOS=%s GOARCH=%s CGO_ENABLED=%s; the package needs a static linux/amd64 build (scripts/build.sh)",
			path, settings["GOOS"], settings["GOARCH"], settings["CGO_ENABLED"])
	}
	return nil
}

var versionLine = regexp.MustCompile(`^proxypair (\S+) \(commit `)

// binaryVersion asks the binary for the version scripts/build.sh stamped
// into it, so the package's version is the program's.
func binaryVersion(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("mkdeb: %w", err)
	}
	out, err := exec.Command(abs, "version").Output()
	if err != nil {
		return "", fmt.Errorf("mkdeb: %s version: %w", path, err)
	}
	m := versionLine.FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("mkdeb: %s version printed %q, want \"proxypair <version> (commit ...\"", path, out)
	}
	return string(m[1]), nil
}

// goEnv returns the module cache (for the licenses of the linked modules)
// and GOROOT (for Go's).
func goEnv() (modCache, goroot string, err error) {
	out, err := exec.Command("go", "env", "GOMODCACHE", "GOROOT").Output()
	if err != nil {
		return "", "", fmt.Errorf("mkdeb: go env: %w", err)
	}
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	if len(lines) != 2 {
		return "", "", fmt.Errorf("mkdeb: go env printed %q", out)
	}
	return string(lines[0]), string(lines[1]), nil
}

// changelog is the package's one-entry Debian changelog: the history itself
// is the git log.
func changelog(version, describe, maintainer string, at time.Time) []byte {
	return fmt.Appendf(nil, `proxypair (%s) unstable; urgency=medium

  * Build of proxypair %s; the changes are in the git history.

 -- %s  %s
`, version, describe, maintainer, at.Format(time.RFC1123Z))
}

// gzipped compresses like gzip -9n: best compression (lintian checks the
// header's flag), no name or time stamp (reproducible).
func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // the level is valid
	w.Write(b)
	w.Close()
	return buf.Bytes()
}
