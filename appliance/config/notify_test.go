package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestNotifyHooks: the three ways to write the hooks — YAML lists of argv
// lists, and the same as JSON from the environment and --set — give the
// same typed lists, in order.
func TestNotifyHooks(t *testing.T) {
	clearEnv(t)
	want := Notify{
		Master:  [][]string{{"/bin/echo", "up", "two words"}, {"/usr/bin/logger", "-t", "pp"}},
		Backup:  [][]string{{"/bin/true"}},
		Timeout: 5 * time.Second,
	}
	file := writeYAML(t, seed+`
notify:
  master:
    - [/bin/echo, up, "two words"]
    - ["/usr/bin/logger", "-t", "pp"]
  backup:
    - [/bin/true]
  timeout: 5s
`)
	c, problems := load(t, Source{File: file})
	if len(problems) != 0 {
		t.Fatalf("problems: %v", problems)
	}
	if diff := cmp.Diff(want, c.Notify); diff != "" {
		t.Errorf("from YAML (-want +got):\n%s", diff)
	}

	t.Setenv("PROXYPAIR_NOTIFY_MASTER", `[["/bin/echo","up","two words"],["/usr/bin/logger","-t","pp"]]`)
	t.Setenv("PROXYPAIR_NOTIFY_BACKUP", `[["/bin/true"]]`)
	t.Setenv("PROXYPAIR_NOTIFY_TIMEOUT", "5s")
	c, problems = load(t, Source{File: writeYAML(t, seed)})
	if len(problems) != 0 {
		t.Fatalf("problems: %v", problems)
	}
	if diff := cmp.Diff(want, c.Notify); diff != "" {
		t.Errorf("from the environment (-want +got):\n%s", diff)
	}

	// --set beats the environment; an empty value clears the list.
	c, problems = load(t, Source{File: writeYAML(t, seed), Set: map[string]string{"notify.master": `[["/bin/false"]]`, "notify.backup": ""}})
	if len(problems) != 0 {
		t.Fatalf("problems: %v", problems)
	}
	if diff := cmp.Diff([][]string{{"/bin/false"}}, c.Notify.Master); diff != "" || c.Notify.Backup != nil {
		t.Errorf("from --set: master %v, backup %v", c.Notify.Master, c.Notify.Backup)
	}
}

func TestBadNotifyHooks(t *testing.T) {
	clearEnv(t)
	notExec := filepath.Join(t.TempDir(), "not-executable.sh")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		yaml    string
		env     string // PROXYPAIR_NOTIFY_MASTER
		key     string
		want    string
		warning bool
	}{
		{"a string, not a list of argv lists", "notify: {master: /usr/local/bin/up.sh}\n", "", "notify.master", "is not a list of argv lists: in YAML write a line - [", false},
		{"a list of strings", "notify: {master: [/usr/local/bin/up.sh]}\n", "", "notify.master", `hook 1: "/usr/local/bin/up.sh" is a string, but each hook is an argv list`, false},
		{"a number", "notify: {master: [[/bin/sleep, 5]]}\n", "", "notify.master", "hook 1: argument 2: expected a string, got int 5; quote it", false},
		{"empty argv", "notify: {backup: [[/bin/true], []]}\n", "", "notify.backup", "hook 2 has no program", false},
		{"relative program", "notify: {fault: [[vip-down.sh]]}\n", "", "notify.fault", `hook 1: "vip-down.sh" is not an absolute path`, false},
		{"relative path", "notify: {stop: [[./stop.sh]]}\n", "", "notify.stop", `"./stop.sh" is not an absolute path`, false},
		{"NUL", "notify: {master: [[/bin/echo, \"a\\0b\"]]}\n", "", "notify.master", "word 2 holds a NUL byte", false},
		{"timeout too short", "notify: {timeout: 10ms, stop: [[/bin/true]]}\n", "", "notify.timeout", "outside 100ms-10m", false},
		{"timeout too long", "notify: {timeout: 1h, master: [[/bin/true]]}\n", "", "notify.timeout", "outside 100ms-10m", false},
		{"section as value", "notify: /bin/true\n", "", "notify", "mapping", false},
		{"env not JSON", "", "/usr/local/bin/up.sh eth1", "notify.master", "in the environment or --set, the same as JSON", false},
		{"env one argv", "", `["/usr/local/bin/up.sh"]`, "notify.master", "cannot unmarshal string", false},
		{"missing program", "notify: {master: [[/nonexistent/up.sh]]}\n", "", "notify.master", "/nonexistent/up.sh does not exist on this machine", true},
		{"not executable", "notify: {master: [[" + notExec + "]]}\n", "", "notify.master", "is not an executable file", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("PROXYPAIR_NOTIFY_MASTER", tc.env)
			}
			_, problems := load(t, Source{File: writeYAML(t, seed+tc.yaml)})
			for _, p := range problems {
				if p.Key == tc.key && strings.Contains(p.Message, tc.want) {
					if p.Warning != tc.warning {
						t.Errorf("%v: warning = %v, want %v", p, p.Warning, tc.warning)
					}
					return
				}
			}
			t.Errorf("no problem for %s containing %q; got %v", tc.key, tc.want, problems)
		})
	}
}

// TestRelativeProgramHint: a bare name is refused with its full path on
// this machine, which the user can paste.
func TestRelativeProgramHint(t *testing.T) {
	clearEnv(t)
	_, problems := load(t, Source{File: writeYAML(t, seed+"notify: {master: [[sh, -c, 'echo up']]}\n")})
	if len(problems) != 1 || !strings.Contains(problems[0].Message, "(here: /") || problems[0].Warning {
		t.Fatalf("problems = %v, want one error naming sh's full path", problems)
	}
}

// TestTimeoutWithoutHooks: with no hook, notify.timeout is not checked: it
// means nothing, and a Config built by hand need not set it.
func TestTimeoutWithoutHooks(t *testing.T) {
	clearEnv(t)
	if _, problems := load(t, Source{File: writeYAML(t, seed+"notify: {timeout: 0s}\n")}); len(problems) != 0 {
		t.Errorf("problems: %v", problems)
	}
}
