package main

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestDebianVersion(t *testing.T) {
	commit := time.Date(2026, 11, 28, 0, 15, 41, 0, time.FixedZone("KST", 9*3600))
	tests := []struct {
		describe string
		want     string
		wantErr  string
	}{
		{describe: "v1.2.3", want: "1.2.3-1"},
		{describe: "v0.9.0-rc1", want: "0.9.0~rc1-1"},
		{describe: "v0.9.0-rc1-2-gabc1234", want: "0.9.0~rc1+git2.abc1234-1"},
		{describe: "v1.2.3-4-gabc1234", want: "1.2.3+git4.abc1234-1"},
		{describe: "v1.2.3-4-gabc1234-dirty", want: "1.2.3+git4.abc1234.dirty-1"},
		{describe: "v1.2.3-dirty", want: "1.2.3+dirty-1"},
		{describe: "a3afd0d", want: "0~git20261127151541.a3afd0d-1"},
		{describe: "1234567", want: "0~git20261127151541.1234567-1"},
		{describe: "a3afd0d-dirty", want: "0~git20261127151541.a3afd0d.dirty-1"},
		{describe: "dev", wantErr: `version "dev" is neither a release tag`},
		{describe: "", wantErr: `version "" is neither`},
		{describe: "1.2.3", wantErr: `version "1.2.3" is neither`},
		{describe: "v1.2.3; rm -rf /", wantErr: "is neither"},
	}
	for _, tt := range tests {
		got, err := debianVersion(tt.describe, commit)
		switch {
		case tt.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("debianVersion(%q) = %q, %v; want error %q", tt.describe, got, err, tt.wantErr)
			}
		case err != nil || got != tt.want:
			t.Errorf("debianVersion(%q) = %q, %v; want %q", tt.describe, got, err, tt.want)
		}
	}
	if _, err := debianVersion("a3afd0d", time.Time{}); err == nil || !strings.Contains(err.Error(), "SOURCE_DATE_EPOCH") {
		t.Errorf("untagged build without a commit time: %v, want an error naming SOURCE_DATE_EPOCH", err)
	}
}

// TestDebianVersionsSort asks dpkg itself that the versions sort in build
// order: untagged builds by time, before any release; a release before the
// commits after it; those before the next release.
func TestDebianVersionsSort(t *testing.T) {
	dpkg, err := exec.LookPath("dpkg")
	if err != nil {
		t.Skip("dpkg not installed")
	}
	t0 := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	builds := []struct {
		describe string
		at       time.Time
	}{
		{"fffffff", t0},
		{"0000000", t0.Add(time.Hour)},
		{"v0.1.0-rc1", t0},
		{"v0.1.0-rc1-3-gfffffff", t0},
		{"v0.1.0", t0},
		{"v0.1.0-1-gfffffff", t0},
		{"v0.1.0-2-g0000000", t0},
		{"v0.1.1", t0},
		{"v1.0.0", t0},
	}
	var prev string
	for _, b := range builds {
		v, err := debianVersion(b.describe, b.at)
		if err != nil {
			t.Fatal(err)
		}
		if prev != "" {
			if out, err := exec.Command(dpkg, "--compare-versions", prev, "lt", v).CombinedOutput(); err != nil {
				t.Errorf("dpkg says %s is not older than %s (%v %s)", prev, v, err, out)
			}
		}
		prev = v
	}
}
