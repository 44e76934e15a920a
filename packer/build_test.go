package packer

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuildScript runs build.sh against a fake packer that prints a chosen
// version and records its arguments, so the checks `make image` relies on
// (Packer version, credentials, package) are tested without NCP.
func TestBuildScript(t *testing.T) {
	here, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	deb := filepath.Join(t.TempDir(), "proxypair_1.2.3-1_amd64.deb")
	if err := os.WriteFile(deb, []byte("!<arch>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	creds := []string{"NCLOUD_ACCESS_KEY=ak", "NCLOUD_SECRET_KEY=sk"}

	tests := []struct {
		name      string
		version   string // what the fake `packer version` prints
		env       []string
		args      []string
		wantErr   string   // substring of stderr; "" = success
		wantCalls []string // recorded packer invocations on success
	}{
		{
			name:    "builds",
			version: "Packer v1.11.2",
			env:     append([]string{"PROXYPAIR_DEB=" + deb}, creds...),
			args:    []string{"-var", "support_vpc=false"},
			wantCalls: []string{
				"version",
				"init " + here,
				"build -var proxypair_deb=" + deb + " -var support_vpc=false " + here,
			},
		},
		{
			name:    "credentials through PKR_VAR_",
			version: "Packer v1.7.0",
			env:     []string{"PROXYPAIR_DEB=" + deb, "PKR_VAR_ncloud_access_key=ak", "PKR_VAR_ncloud_secret_key=sk"},
			wantCalls: []string{
				"version",
				"init " + here,
				"build -var proxypair_deb=" + deb + " " + here,
			},
		},
		{
			name:    "packer too old",
			version: "Packer v1.6.6",
			env:     append([]string{"PROXYPAIR_DEB=" + deb}, creds...),
			wantErr: "Packer 1.6.6 is too old: need >= 1.7.0",
		},
		{
			name:    "no credentials",
			version: "Packer v1.11.2",
			env:     []string{"PROXYPAIR_DEB=" + deb},
			wantErr: "missing NCP credentials: set NCLOUD_ACCESS_KEY NCLOUD_SECRET_KEY",
		},
		{
			name:    "no secret key",
			version: "Packer v1.11.2",
			env:     []string{"PROXYPAIR_DEB=" + deb, "NCLOUD_ACCESS_KEY=ak"},
			wantErr: "missing NCP credentials: set NCLOUD_SECRET_KEY",
		},
		{
			name:    "no package",
			version: "Packer v1.11.2",
			env:     append([]string{"PROXYPAIR_DEB=" + deb + ".missing"}, creds...),
			wantErr: "PROXYPAIR_DEB=" + deb + ".missing does not exist",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := t.TempDir()
			calls := filepath.Join(fake, "calls")
			script := "#!/bin/sh\necho \"$*\" >> " + calls + "\n" +
				"if [ \"$1\" = version ]; then echo '" + tt.version + "'; fi\n"
			if err := os.WriteFile(filepath.Join(fake, "packer"), []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("./build.sh", tt.args...)
			cmd.Env = append(cleanEnv(), "PATH="+fake+":"+os.Getenv("PATH"))
			cmd.Env = append(cmd.Env, tt.env...)
			out, err := cmd.CombinedOutput()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(string(out), tt.wantErr) {
					t.Fatalf("err=%v output %q, want failure mentioning %q", err, out, tt.wantErr)
				}
				if b, _ := os.ReadFile(calls); strings.Contains(string(b), "build") {
					t.Errorf("packer build ran despite the error:\n%s", b)
				}
				return
			}
			if err != nil {
				t.Fatalf("build.sh: %v\n%s", err, out)
			}
			got := strings.Split(strings.TrimSpace(string(mustRead(t, calls))), "\n")
			if strings.Join(got, "\n") != strings.Join(tt.wantCalls, "\n") {
				t.Errorf("packer calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.wantCalls, "\n"))
			}
		})
	}

	t.Run("no packer", func(t *testing.T) {
		// A PATH with the tools build.sh uses before looking for packer.
		bin := t.TempDir()
		for _, tool := range []string{"bash", "dirname", "sed", "head", "sort"} {
			p, err := exec.LookPath(tool)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(p, filepath.Join(bin, tool)); err != nil {
				t.Fatal(err)
			}
		}
		cmd := exec.Command(filepath.Join(bin, "bash"), "./build.sh")
		cmd.Env = append(cleanEnv(), "PATH="+bin)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "packer not found") {
			t.Errorf("err=%v output %q, want 'packer not found'", err, out)
		}
	})
}
