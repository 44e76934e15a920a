// Package debtest builds proxypair's Debian package for tests: the binary
// stamped with a version, packaged by internal/cmd/mkdeb, once per version
// per test binary.
package debtest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// SourceDateEpoch is the commit time test packages are built with.
const SourceDateEpoch = "1795820141" // 2026-11-28 00:15:41 UTC

// Package is one built package.
type Package struct {
	Deb    string // proxypair_<version>_amd64.deb
	Binary string // the binary inside it
	Mkdeb  string // the mkdeb that built it
}

var cache struct {
	sync.Mutex
	dir   string
	mkdeb string
	pkgs  map[string]Package
}

// Repo is the repository root.
func Repo() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Build returns the package of proxypair stamped with tag (as
// scripts/build.sh stamps git describe), building it on first use. It skips
// the test when go is not on PATH.
func Build(t testing.TB, tag string) Package {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go not on PATH: cannot build the package")
	}
	cache.Lock()
	defer cache.Unlock()
	if cache.pkgs == nil {
		dir, err := os.MkdirTemp("", "debtest-")
		if err != nil {
			t.Fatal(err)
		}
		cache.dir, cache.pkgs = dir, map[string]Package{}
		cache.mkdeb = filepath.Join(dir, "mkdeb")
		if err := goBuild("-o", cache.mkdeb, "./internal/cmd/mkdeb"); err != nil {
			t.Fatal(err)
		}
	}
	if p, ok := cache.pkgs[tag]; ok {
		return p
	}
	out := filepath.Join(cache.dir, tag)
	binary := filepath.Join(out, "proxypair")
	if err := goBuild("-trimpath", "-ldflags", "-s -w -X main.version="+tag+" -X main.commit=test", "-o", binary, "./cmd/proxypair"); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(cache.mkdeb, "-binary", binary, "-src", Repo(), "-out", out)
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH="+SourceDateEpoch)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("mkdeb: %v\n%s", err, stderr.String())
	}
	p := Package{Deb: strings.TrimSpace(string(b)), Binary: binary, Mkdeb: cache.mkdeb}
	cache.pkgs[tag] = p
	return p
}

// Cleanup removes what Build made; call it from TestMain after m.Run.
func Cleanup() {
	cache.Lock()
	defer cache.Unlock()
	if cache.dir != "" {
		os.RemoveAll(cache.dir)
	}
	cache.dir, cache.pkgs = "", nil
}

func goBuild(args ...string) error {
	cmd := exec.Command("go", append([]string{"build"}, args...)...)
	cmd.Dir = Repo()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}
