//go:build linux

package lab

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// The peers our users run on Ubuntu 18.04, built from their upstream tags
// (testdata/peers/BUILD.txt says how). Debian's own keepalived and haproxy
// are on PATH; these are the older versions the product must work with.
const (
	Keepalived139 = "keepalived-1.3.9"
	HAProxy188    = "haproxy-1.8.8"
)

// PeerBinary returns the path of one of the committed peer binaries
// (Keepalived139, HAProxy188). It fails, rather than letting a test skip,
// when the binary is missing: CI must run against these versions.
func PeerBinary(name string) (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("lab: cannot locate the source tree for %s", name)
	}
	path := filepath.Join(filepath.Dir(file), "..", "..", "testdata", "peers", name)
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("lab: peer binary %s: %w (see testdata/peers/BUILD.txt)", name, err)
	}
	return filepath.Clean(path), nil
}
