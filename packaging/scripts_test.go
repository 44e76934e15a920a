package packaging

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var maintainerScripts = []string{"postinst", "prerm", "postrm"}

// TestMaintainerScripts: the package carries exactly packaging/deb's
// scripts, POSIX sh with set -e, and shellcheck finds nothing in them.
func TestMaintainerScripts(t *testing.T) {
	deb, _ := buildPackage(t, "v1.2.3")
	_, control := extract(t, deb)
	entries, err := os.ReadDir(control)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if got := strings.Join(names, " "); got != "conffiles control md5sums postinst postrm prerm" {
		t.Errorf("control files %q, want conffiles control md5sums postinst postrm prerm (no preinst)", got)
	}
	var paths []string
	for _, s := range maintainerScripts {
		path := filepath.Join(control, s)
		paths = append(paths, path)
		b := mustRead(t, path)
		if string(b) != string(mustRead(t, filepath.Join("deb", s))) {
			t.Errorf("%s in the package differs from packaging/deb/%s", s, s)
		}
		if !strings.HasPrefix(string(b), "#!/bin/sh\n") || !regexp.MustCompile(`(?m)^set -e$`).Match(b) {
			t.Errorf("%s: want #!/bin/sh and set -e (Debian policy 6.1)", s)
		}
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o755 {
			t.Errorf("%s: mode %v, want 0755", s, fi.Mode())
		}
	}
	bin := needTool(t, "shellcheck", "shellcheck")
	out, err := exec.Command(bin, append([]string{"--shell=sh", "--severity=style"}, paths...)...).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("shellcheck: %v\n%s", err, out)
	}
}

// scriptTools are the commands the maintainer scripts run: the sandbox
// below stubs exactly these, and a script calling anything else fails
// there. Each is on every Ubuntu release NCP offers, with what the scripts
// use of it; 18.04's versions are the oldest (20.04 and 22.04 ship newer).
var scriptTools = []struct {
	command, pkg, uses string
}{
	{"systemd-sysusers", "systemd 237", "a config named by basename, searched in sysusers.d (since 215); --root (215)"},
	{"systemctl", "systemd 237", "daemon-reload"},
	{"/lib/systemd/systemd-sysctl", "systemd 237", "a config named by basename, searched in sysctl.d, /etc first"},
	{"deb-systemd-helper", "init-system-helpers 1.51", "unmask, was-enabled, enable, update-state (1.8), mask, purge"},
	{"deb-systemd-invoke", "init-system-helpers 1.51", "stop, try-restart (passed to systemctl)"},
	{"dpkg-statoverride", "dpkg 1.19.0.5", "--list, --update --add with a #gid, --remove"},
	{"proxypair", "this package", "cleanup"},
}

// sandbox runs a maintainer script as dpkg would on a running system, but in
// a private mount and network namespace: /run is a fresh tmpfs with
// /run/systemd/system (so the script sees a live systemd), /etc/default is
// a temp dir, /etc/group a temp file, and PATH holds only stubs that record their calls. The one
// real command, /lib/systemd/systemd-sysctl, changes only the namespace's
// own network sysctls. It returns the recorded calls, the script's
// output, and ip_nonlocal_bind in the namespace afterwards.
type sandbox struct {
	t          *testing.T
	stubs, log string
	etcDefault string
	etcGroup   string   // what the scripts see as /etc/group
	env        []string // extra environment for the stubs
}

func newSandbox(t *testing.T) *sandbox {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_SYS_ADMIN) for a private mount and network namespace")
	}
	needTool(t, "unshare", "util-linux")
	s := &sandbox{t: t, stubs: t.TempDir(), etcDefault: t.TempDir(), etcGroup: filepath.Join(t.TempDir(), "group")}
	s.setGroups("root:x:0:\nproxypair:x:998:\n")
	s.log = filepath.Join(t.TempDir(), "calls")
	stub := func(name, body string) {
		script := fmt.Sprintf("#!/bin/sh\necho \"%s $*\" >>%s\n%s\n", name, s.log, body)
		if err := os.WriteFile(filepath.Join(s.stubs, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"systemd-sysusers", "systemctl", "deb-systemd-invoke"} {
		stub(name, "exit 0")
	}
	defer func() {
		// The stubs are the table's commands, no more, no fewer.
		var stubs, table []string
		entries, _ := os.ReadDir(s.stubs)
		for _, e := range entries {
			stubs = append(stubs, e.Name())
		}
		for _, tool := range scriptTools {
			if !strings.HasPrefix(tool.command, "/") {
				table = append(table, tool.command)
			}
		}
		slices.Sort(stubs)
		slices.Sort(table)
		if !slices.Equal(stubs, table) {
			t.Errorf("stubbed commands %q, scriptTools %q: keep the table in step", stubs, table)
		}
	}()
	// Overrides are listed when STUB_OVERRIDES=listed; a unit was enabled
	// before (was-enabled) unless STUB_DISABLED=1.
	stub("dpkg-statoverride", `[ "$1" = --list ] && [ "$STUB_OVERRIDES" != listed ] && exit 1; exit 0`)
	stub("deb-systemd-helper", `[ "$2" = was-enabled ] && [ "$STUB_DISABLED" = 1 ] && exit 1; exit 0`)
	// cleanup records the environment it got from /etc/default/proxypair.
	stub("proxypair", `echo "proxypair env PROXYPAIR_VRRP_VIRTUAL_IPS=$PROXYPAIR_VRRP_VIRTUAL_IPS PROXYPAIR_VRRP_INTERFACE=$PROXYPAIR_VRRP_INTERFACE NODE_ADDRESS=$NODE_ADDRESS FOO=$FOO" >>`+s.log+`
exit ${STUB_CLEANUP_EXIT:-0}`)
	return s
}

// setGroups sets the sandbox's /etc/group.
func (s *sandbox) setGroups(content string) {
	s.t.Helper()
	if err := os.WriteFile(s.etcGroup, []byte(content), 0o644); err != nil {
		s.t.Fatal(err)
	}
}

// run runs packaging/deb/<script> with args in the sandbox.
func (s *sandbox) run(script string, args ...string) (calls []string, output, nonlocalBind string, err error) {
	s.t.Helper()
	os.Remove(s.log)
	path, err := filepath.Abs(filepath.Join("deb", script))
	if err != nil {
		s.t.Fatal(err)
	}
	sysctl, err := filepath.Abs("sysctl.d/60-proxypair.conf")
	if err != nil {
		s.t.Fatal(err)
	}
	setup := `set -e
mount -t tmpfs tmpfs /run
mkdir -p /run/systemd/system /run/sysctl.d
cp "$SYSCTL_FILE" /run/sysctl.d/
mount --bind "$ETC_DEFAULT" /etc/default
mount --bind "$ETC_GROUP" /etc/group
rc=0
env -i PATH="$STUBS" $STUB_ENV /bin/sh "$@" || rc=$?
echo "nonlocal_bind=$(cat /proc/sys/net/ipv4/ip_nonlocal_bind)"
exit $rc`
	cmd := exec.Command("unshare", append([]string{"--mount", "--net", "--propagation", "private", "/bin/sh", "-c", setup, "sandbox", path}, args...)...)
	cmd.Env = append(os.Environ(), "SYSCTL_FILE="+sysctl, "ETC_DEFAULT="+s.etcDefault, "ETC_GROUP="+s.etcGroup, "STUBS="+s.stubs, "STUB_ENV="+strings.Join(s.env, " "))
	out, err := cmd.CombinedOutput()
	output = string(out)
	if i := strings.LastIndex(output, "nonlocal_bind="); i >= 0 {
		nonlocalBind = strings.TrimSpace(output[i+len("nonlocal_bind="):])
		output = output[:i]
	}
	if b, rerr := os.ReadFile(s.log); rerr == nil {
		calls = strings.Split(strings.TrimSpace(string(b)), "\n")
	}
	return calls, output, nonlocalBind, err
}

func TestMaintainerScriptsOnALiveSystem(t *testing.T) {
	s := newSandbox(t)
	enable := func(unit string) []string {
		return []string{"deb-systemd-helper unmask " + unit, "deb-systemd-helper --quiet was-enabled " + unit, "deb-systemd-helper enable " + unit}
	}
	concat := func(parts ...[]string) []string {
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	envFile := `# per-node settings
PROXYPAIR_VRRP_VIRTUAL_IPS=10.0.1.100/24
PROXYPAIR_VRRP_INTERFACE="eth2"
NODE_ADDRESS='10.0.1.6/24'
export FOO=bar
$(touch /tmp/proxypair-prerm-ran-shell)=x
not an assignment
`
	if err := os.WriteFile(filepath.Join(s.etcDefault, "proxypair"), []byte(envFile), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name         string
		script       string
		args         []string
		env          []string
		want         []string
		wantNonlocal string // "" = not checked
		wantOutput   string
	}{
		{
			name: "install: user, config group, units enabled, not started", script: "postinst", args: []string{"configure", ""},
			want: concat([]string{
				"systemd-sysusers proxypair.conf",
				"dpkg-statoverride --list /etc/proxypair",
				"dpkg-statoverride --update --add root #998 0750 /etc/proxypair",
				"dpkg-statoverride --list /etc/proxypair/proxypair.yaml",
				"dpkg-statoverride --update --add root #998 0640 /etc/proxypair/proxypair.yaml",
			}, enable("proxypair-eth1.service"), enable("proxypair.service"), []string{"systemctl --system daemon-reload"}),
			wantNonlocal: "1",
		},
		{
			name: "upgrade: overrides kept, running daemon restarted", script: "postinst", args: []string{"configure", "1.2.3-1"},
			env: []string{"STUB_OVERRIDES=listed"},
			want: concat([]string{
				"systemd-sysusers proxypair.conf",
				"dpkg-statoverride --list /etc/proxypair",
				"dpkg-statoverride --list /etc/proxypair/proxypair.yaml",
			}, enable("proxypair-eth1.service"), enable("proxypair.service"), []string{
				"systemctl --system daemon-reload",
				"deb-systemd-invoke try-restart proxypair.service",
			}),
		},
		{
			name: "upgrade of a disabled unit keeps it disabled", script: "postinst", args: []string{"configure", "1.2.3-1"},
			env: []string{"STUB_OVERRIDES=listed", "STUB_DISABLED=1"},
			want: []string{
				"systemd-sysusers proxypair.conf",
				"dpkg-statoverride --list /etc/proxypair",
				"dpkg-statoverride --list /etc/proxypair/proxypair.yaml",
				"deb-systemd-helper unmask proxypair-eth1.service",
				"deb-systemd-helper --quiet was-enabled proxypair-eth1.service",
				"deb-systemd-helper update-state proxypair-eth1.service",
				"deb-systemd-helper unmask proxypair.service",
				"deb-systemd-helper --quiet was-enabled proxypair.service",
				"deb-systemd-helper update-state proxypair.service",
				"systemctl --system daemon-reload",
				"deb-systemd-invoke try-restart proxypair.service",
			},
		},
		{
			name: "remove: stop first, then cleanup with the node's settings", script: "prerm", args: []string{"remove"},
			want: []string{
				"deb-systemd-invoke stop proxypair.service",
				"proxypair cleanup",
				"proxypair env PROXYPAIR_VRRP_VIRTUAL_IPS=10.0.1.100/24 PROXYPAIR_VRRP_INTERFACE=eth2 NODE_ADDRESS=10.0.1.6/24 FOO=",
			},
		},
		{
			name: "remove goes on when cleanup fails", script: "prerm", args: []string{"remove"},
			env: []string{"STUB_CLEANUP_EXIT=1"},
			want: []string{
				"deb-systemd-invoke stop proxypair.service",
				"proxypair cleanup",
				"proxypair env PROXYPAIR_VRRP_VIRTUAL_IPS=10.0.1.100/24 PROXYPAIR_VRRP_INTERFACE=eth2 NODE_ADDRESS=10.0.1.6/24 FOO=",
			},
			wantOutput: "'proxypair cleanup' failed",
		},
		{name: "upgrade does not stop the daemon", script: "prerm", args: []string{"upgrade", "1.2.4-1"}},
		{
			name: "remove masks the units", script: "postrm", args: []string{"remove"},
			want: []string{
				"deb-systemd-helper mask proxypair-eth1.service",
				"deb-systemd-helper mask proxypair.service",
				"systemctl --system daemon-reload",
			},
		},
		{
			name: "purge forgets units and overrides", script: "postrm", args: []string{"purge"},
			env: []string{"STUB_OVERRIDES=listed"},
			want: []string{
				"deb-systemd-helper purge proxypair-eth1.service",
				"deb-systemd-helper unmask proxypair-eth1.service",
				"deb-systemd-helper purge proxypair.service",
				"deb-systemd-helper unmask proxypair.service",
				"dpkg-statoverride --list /etc/proxypair/proxypair.yaml",
				"dpkg-statoverride --remove /etc/proxypair/proxypair.yaml",
				"dpkg-statoverride --list /etc/proxypair",
				"dpkg-statoverride --remove /etc/proxypair",
				"systemctl --system daemon-reload",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.env = tt.env
			calls, output, nonlocal, err := s.run(tt.script, tt.args...)
			if err != nil {
				t.Fatalf("%s %s: %v\n%s", tt.script, strings.Join(tt.args, " "), err, output)
			}
			if strings.Join(calls, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("calls:\n%s\nwant:\n%s\noutput: %s", strings.Join(calls, "\n"), strings.Join(tt.want, "\n"), output)
			}
			if tt.wantNonlocal != "" && nonlocal != tt.wantNonlocal {
				t.Errorf("net.ipv4.ip_nonlocal_bind = %q after %s, want %s (output %q)", nonlocal, tt.script, tt.wantNonlocal, output)
			}
			if !strings.Contains(output, tt.wantOutput) {
				t.Errorf("output %q lacks %q", output, tt.wantOutput)
			}
		})
	}
	if _, err := os.Stat("/tmp/proxypair-prerm-ran-shell"); err == nil {
		os.Remove("/tmp/proxypair-prerm-ran-shell")
		t.Error("prerm ran a line of /etc/default/proxypair as shell code")
	}

	t.Run("no group after systemd-sysusers", func(t *testing.T) {
		s.env = nil
		s.setGroups("root:x:0:\nproxypairs:x:997:\n")
		defer s.setGroups("root:x:0:\nproxypair:x:998:\n")
		_, output, _, err := s.run("postinst", "configure", "")
		if err == nil || !strings.Contains(output, "systemd-sysusers created no group proxypair in /etc/group") {
			t.Errorf("postinst without the group: err=%v output %q, want a failure saying so", err, output)
		}
	})

	t.Run("unknown action", func(t *testing.T) {
		for _, script := range maintainerScripts {
			s.env = nil
			_, output, _, err := s.run(script, "frobnicate")
			if err == nil || !strings.Contains(output, "unknown argument 'frobnicate'") {
				t.Errorf("%s frobnicate: err=%v output %q, want failure naming the argument", script, err, output)
			}
		}
	})
}

// TestLintian runs lintian on the package: every tag must be overridden in
// packaging/deb/lintian-overrides, with the reason next to it. About 15 s.
func TestLintian(t *testing.T) {
	bin := needTool(t, "lintian", "lintian")
	deb, _ := buildPackage(t, "v1.2.3")
	// -I -E --pedantic: info, experimental and pedantic tags too.
	cmd := exec.Command(bin, "-I", "-E", "--pedantic", "--tag-display-limit", "0", deb)
	out, err := cmd.CombinedOutput()
	var tags []string
	for _, line := range strings.Split(string(out), "\n") {
		if regexp.MustCompile(`^[EWIPXC]: `).MatchString(line) {
			tags = append(tags, line)
		}
	}
	if err != nil || len(tags) > 0 {
		t.Errorf("lintian %s: %v\n%s", filepath.Base(deb), err, strings.Join(tags, "\n"))
	}
	// Every override carries its reason.
	prev := ""
	for _, line := range strings.Split(string(mustRead(t, "deb/lintian-overrides")), "\n") {
		if strings.HasPrefix(line, "proxypair: ") && !strings.HasPrefix(prev, "#") && !strings.HasPrefix(prev, "proxypair: ") {
			t.Errorf("lintian override %q has no comment above it saying why", line)
		}
		prev = line
	}
}
