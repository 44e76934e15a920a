package appliance

import (
	"os/exec"
	"strings"
	"testing"
)

// TestAdaptersStandAlone: the OS adapters never import each other or the
// daemon; only this package wires them (docs/ARCHITECTURE.md).
func TestAdaptersStandAlone(t *testing.T) {
	const mod = "github.com/proxypair/proxypair/"
	adapters := []string{"appliance/netio", "appliance/vip", "appliance/garp", "appliance/ifwatch",
		"appliance/control", "appliance/sdnotify", "appliance/cloud/ncp", "appliance/metrics"}
	for _, a := range adapters {
		out, err := exec.Command("go", "list", "-deps", "-test", "./"+strings.TrimPrefix(a, "appliance/")).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", a, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			dep = strings.TrimSuffix(strings.Fields(dep)[0], ".test")
			dep = strings.TrimSuffix(dep, "_test") // the package's external tests
			if dep == mod+a || !strings.HasPrefix(dep, mod+"appliance") {
				continue
			}
			if dep == mod+"appliance/vrrp" {
				continue // the wire format is shared data, not an adapter
			}
			if a == "appliance/metrics" && dep == mod+"appliance/control" {
				continue // the status document is what the metrics are made of
			}
			t.Errorf("%s imports %s", a, dep)
		}
	}
}
