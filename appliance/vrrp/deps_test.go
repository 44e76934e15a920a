package vrrp

import (
	"go/build"
	"strings"
	"testing"
)

// TestStandardLibraryOnly keeps the wire format free of dependencies (and
// so of I/O frameworks): every import, tests included, must be from the
// standard library, whose paths have no dot in their first element. The
// example (package vrrp_test) may import the package itself.
func TestStandardLibraryOnly(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkg.Imports) == 0 {
		t.Fatal("found no imports; is the package directory right?")
	}
	const self = "github.com/proxypair/proxypair/appliance/vrrp"
	for _, list := range [][]string{pkg.Imports, pkg.TestImports, pkg.XTestImports} {
		for _, imp := range list {
			if imp == self {
				continue
			}
			first, _, _ := strings.Cut(imp, "/")
			if strings.Contains(first, ".") {
				t.Errorf("imports %q: appliance/vrrp may import only the standard library", imp)
			}
		}
	}
}
