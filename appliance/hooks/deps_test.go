package hooks

import (
	"os/exec"
	"strings"
	"testing"
)

// TestStandardLibraryOnly: the runner stands alone (docs/ARCHITECTURE.md);
// the daemon hands it plain values.
func TestStandardLibraryOnly(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.Contains(strings.SplitN(pkg, "/", 2)[0], ".") && pkg != "github.com/proxypair/proxypair/appliance/hooks" {
			t.Errorf("appliance/hooks imports %s", pkg)
		}
	}
}
