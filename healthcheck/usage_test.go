package healthcheck

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestParseBackendUsage(t *testing.T) {
	tests := []struct {
		name     string
		cfg      string
		used     []string
		dynamic  []string
		disabled []string
	}{
		{
			name: "default_backend and use_backend",
			cfg: `frontend fe
    bind :80
    use_backend be_api if { path_beg /api }
    use_backend be_static unless { path_beg /dyn }
    default_backend be_app
backend be_app
    server s1 10.0.0.1:80
backend be_api
backend be_static
backend be_unused
`,
			used: []string{"be_api", "be_app", "be_static"},
		},
		{
			name: "defaults default_backend applies to later frontends only",
			cfg: `frontend early
    bind :81
defaults
    default_backend be_def
frontend fe1
    bind :80
frontend fe2
    default_backend be_own
`,
			used: []string{"be_def", "be_own"},
		},
		{
			name: "named defaults with from",
			cfg: `defaults web
    default_backend be_web
defaults tcp
    default_backend be_tcp
frontend fe1 from web
    bind :80
frontend fe2
    bind :81
`,
			used: []string{"be_tcp", "be_web"},
		},
		{
			name: "listen with servers uses itself",
			cfg: `listen li
    bind :80
    server s1 10.0.0.1:80
listen stats
    bind :8404
    stats enable
listen li2
    bind :81
    server-template s 3 app.local:80
`,
			used: []string{"li", "li2"},
		},
		{
			name: "dynamic use_backend is reported, not used",
			cfg: `frontend fe
    use_backend be_%[req.hdr(host),lower]
    default_backend be_app
`,
			used:    []string{"be_app"},
			dynamic: []string{"fe: use_backend be_%[req.hdr(host),lower]"},
		},
		{
			name: "disabled frontend uses nothing, even with disabled last",
			cfg: `frontend fe_off
    use_backend be_a if TRUE
    default_backend be_b
    disabled
frontend fe_on
    default_backend be_c
`,
			used:     []string{"be_c"},
			disabled: []string{"fe_off"},
		},
		{
			name: "comments, quotes and tabs",
			cfg: "# frontend commented\n" +
				"frontend \"fe one\"\n" +
				"\tdefault_backend be_app # trailing comment\n" +
				"\tuse_backend 'be two' if TRUE\n" +
				"\tuse_backend be\\ three if TRUE\n",
			used: []string{"be three", "be two", "be_app"},
		},
		{
			name: "use_backend outside a frontend is ignored",
			cfg: `global
    default_backend nonsense
backend be
    use_backend be_x
`,
			used: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := parseBackendUsage([]namedReader{{name: "test.cfg", r: strings.NewReader(tt.cfg)}})
			if err != nil {
				t.Fatal(err)
			}
			opt := cmpopts.EquateEmpty()
			if diff := cmp.Diff(tt.used, u.Used, opt); diff != "" {
				t.Errorf("Used (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.dynamic, u.Dynamic, opt); diff != "" {
				t.Errorf("Dynamic (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.disabled, u.Disabled, opt); diff != "" {
				t.Errorf("Disabled (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseBackendUsageErrors(t *testing.T) {
	for cfg, want := range map[string]string{
		"frontend fe\n    default_backend\n":       "test.cfg:2: default_backend needs a backend name",
		"frontend fe\n    use_backend\n":           "test.cfg:2: use_backend needs a backend name",
		"frontend fe from nowhere\n    bind :80\n": `test.cfg:1: frontend fe: no defaults section "nowhere" before it`,
	} {
		_, err := parseBackendUsage([]namedReader{{name: "test.cfg", r: strings.NewReader(cfg)}})
		if err == nil || err.Error() != want {
			t.Errorf("config %q: error %v, want %q", cfg, err, want)
		}
	}
}

// Sections carry over from one file to the next as HAProxy reads them: a
// defaults section in the first file applies to frontends in the second.
func TestParseBackendUsageSeveralFiles(t *testing.T) {
	u, err := parseBackendUsage([]namedReader{
		{name: "a.cfg", r: strings.NewReader("defaults\n    default_backend be_def\n")},
		{name: "b.cfg", r: strings.NewReader("frontend fe\n    bind :80\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"be_def"}, u.Used); diff != "" {
		t.Errorf("Used (-want +got):\n%s", diff)
	}
}

func TestConfigArgs(t *testing.T) {
	tests := []struct {
		args  string
		paths []string
		chdir string
	}{
		{"-Ws -f /etc/haproxy/haproxy.cfg -p /run/haproxy.pid -S /run/haproxy-master.sock", []string{"/etc/haproxy/haproxy.cfg"}, ""},
		{"-db -W -f a.cfg -f conf.d -sf 123 456 -x /run/s.sock", []string{"a.cfg", "conf.d"}, ""},
		{"-C /etc/haproxy -f haproxy.cfg", []string{"haproxy.cfg"}, "/etc/haproxy"},
		{"-D -- one.cfg two.cfg", []string{"one.cfg", "two.cfg"}, ""},
		{"-f", nil, ""},
		{"-vv", nil, ""},
	}
	for _, tt := range tests {
		paths, chdir := configArgs(strings.Fields(tt.args))
		if diff := cmp.Diff(tt.paths, paths, cmpopts.EquateEmpty()); diff != "" || chdir != tt.chdir {
			t.Errorf("configArgs(%q) = %q, %q; want %q, %q", tt.args, paths, chdir, tt.paths, tt.chdir)
		}
	}
}

// fakeProc makes procRoot/<pid>/cmdline and cwd for usageFromProcess.
func fakeProc(t *testing.T, pid string, cwd string, args ...string) string {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, pid)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cmdline"), []byte(strings.Join(args, "\x00")+"\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	if cwd != "" {
		if err := os.Symlink(cwd, filepath.Join(dir, "cwd")); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestUsageFromProcess(t *testing.T) {
	etc := t.TempDir()
	writeFile(t, filepath.Join(etc, "haproxy.cfg"), "defaults\n    mode http\nfrontend fe\n    default_backend be_main\n")
	// A directory: *.cfg files in lexical order, others ignored.
	writeFile(t, filepath.Join(etc, "conf.d", "20-b.cfg"), "frontend fe_b\n    default_backend be_b\n")
	writeFile(t, filepath.Join(etc, "conf.d", "10-a.cfg"), "frontend fe_a\n    default_backend be_a\n")
	writeFile(t, filepath.Join(etc, "conf.d", "README"), "frontend fe_x\n    default_backend be_x\n")
	writeFile(t, filepath.Join(etc, "conf.d", ".hidden.cfg"), "frontend fe_y\n    default_backend be_y\n")

	t.Run("absolute paths and a directory", func(t *testing.T) {
		proc := fakeProc(t, "42", "/", "haproxy", "-Ws", "-f", filepath.Join(etc, "haproxy.cfg"), "-f", filepath.Join(etc, "conf.d"))
		u, err := usageFromProcess(proc, 42)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"be_a", "be_b", "be_main"}, u.Used); diff != "" {
			t.Errorf("Used (-want +got):\n%s", diff)
		}
		wantFiles := []string{filepath.Join(etc, "haproxy.cfg"), filepath.Join(etc, "conf.d", "10-a.cfg"), filepath.Join(etc, "conf.d", "20-b.cfg")}
		if diff := cmp.Diff(wantFiles, u.Files); diff != "" {
			t.Errorf("Files (-want +got):\n%s", diff)
		}
	})
	t.Run("relative to the working directory", func(t *testing.T) {
		proc := fakeProc(t, "43", etc, "haproxy", "-db", "-f", "haproxy.cfg")
		u, err := usageFromProcess(proc, 43)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"be_main"}, u.Used); diff != "" {
			t.Errorf("Used (-want +got):\n%s", diff)
		}
	})
	t.Run("relative to -C", func(t *testing.T) {
		proc := fakeProc(t, "44", "/nonexistent", "haproxy", "-C", etc, "-f", "conf.d")
		u, err := usageFromProcess(proc, 44)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"be_a", "be_b"}, u.Used); diff != "" {
			t.Errorf("Used (-want +got):\n%s", diff)
		}
	})
	t.Run("errors", func(t *testing.T) {
		for _, tc := range []struct {
			proc string
			pid  int
			want string
		}{
			{fakeProc(t, "45", "/", "haproxy", "-db"), 45, "pid 45: no -f on the command line"},
			{fakeProc(t, "46", "/", "haproxy", "-f", filepath.Join(etc, "missing.cfg")), 46, "missing.cfg: no such file or directory"},
			{t.TempDir(), 47, "command line of pid 47"},
		} {
			_, err := usageFromProcess(tc.proc, tc.pid)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("pid %d: error %v, want one containing %q", tc.pid, err, tc.want)
			}
		}
	})
}

func TestWithConfigFiles(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "h.cfg"), "frontend fe\n    default_backend be_x\n")
	tr, err := New(Config{HAProxy: HAProxyConfig{Socket: "/run/haproxy/admin.sock"}}, nil, WithConfigFiles(filepath.Join(dir, "h.cfg")))
	if err != nil {
		t.Fatal(err)
	}
	u, err := tr.usage(999999)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"be_x"}, u.Used); diff != "" {
		t.Errorf("Used (-want +got):\n%s", diff)
	}
}

// The fixture configuration (the one behind the show stat fixtures) uses
// be_app, be_api and the listen section li_tcp.
func TestUsageOfFixtureConfig(t *testing.T) {
	u, err := usageFromFiles([]string{"testdata/fixtures.cfg"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"be_api", "be_app", "li_tcp"}, u.Used); diff != "" {
		t.Errorf("Used (-want +got):\n%s", diff)
	}
}
