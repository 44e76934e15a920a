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
// (Packer version, credentials, binary) are tested without NCP.
func TestBuildScript(t *testing.T) {
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	here, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	binary := filepath.Join(t.TempDir(), "proxypair")
	if err := os.WriteFile(binary, []byte("#!/bin/sh\n"), 0o755); err != nil {
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
			env:     append([]string{"PROXYPAIR_BINARY=" + binary}, creds...),
			args:    []string{"-var", "support_vpc=false"},
			wantCalls: []string{
				"version",
				"init " + here,
				"build -var source_dir=" + repo + " -var proxypair_binary=" + binary + " -var support_vpc=false " + here,
			},
		},
		{
			name:    "credentials through PKR_VAR_",
			version: "Packer v1.7.0",
			env:     []string{"PROXYPAIR_BINARY=" + binary, "PKR_VAR_ncloud_access_key=ak", "PKR_VAR_ncloud_secret_key=sk"},
			wantCalls: []string{
				"version",
				"init " + here,
				"build -var source_dir=" + repo + " -var proxypair_binary=" + binary + " " + here,
			},
		},
		{
			name:    "packer too old",
			version: "Packer v1.6.6",
			env:     append([]string{"PROXYPAIR_BINARY=" + binary}, creds...),
			wantErr: "Packer 1.6.6 is too old: need >= 1.7.0",
		},
		{
			name:    "no credentials",
			version: "Packer v1.11.2",
			env:     []string{"PROXYPAIR_BINARY=" + binary},
			wantErr: "missing NCP credentials: set NCLOUD_ACCESS_KEY NCLOUD_SECRET_KEY",
		},
		{
			name:    "no secret key",
			version: "Packer v1.11.2",
			env:     []string{"PROXYPAIR_BINARY=" + binary, "NCLOUD_ACCESS_KEY=ak"},
			wantErr: "missing NCP credentials: set NCLOUD_SECRET_KEY",
		},
		{
			name:    "no binary",
			version: "Packer v1.11.2",
			env:     append([]string{"PROXYPAIR_BINARY=" + binary + ".missing"}, creds...),
			wantErr: "no proxypair binary at " + binary + ".missing: run 'make image'",
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
