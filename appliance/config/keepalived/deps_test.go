package keepalived

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoDaemon fences the package: the importer runs without the daemon,
// so neither it nor anything it imports may pull in appliance (the daemon)
// or its adapters. appliance/config is the one proxypair package it uses.
func TestNoDaemon(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	const module = "github.com/proxypair/proxypair/"
	allowed := map[string]bool{
		module + "appliance/config":            true,
		module + "appliance/config/keepalived": true,
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, module) && !allowed[pkg] {
			t.Errorf("the importer depends on %s; it may use only appliance/config", pkg)
		}
	}
}
