//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/proxypair/proxypair/internal/lab"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) to create network namespaces")
	}
}

// buildProxypair builds the daemon under test into the test's directory.
func buildProxypair(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "proxypair")
	cmd := exec.Command("go", "build", "-o", bin, "../../../cmd/proxypair")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building proxypair: %v\n%s", err, out)
	}
	return bin
}

// lockedBuffer is a bytes.Buffer safe for the demo's writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// viewLine is one line of the live view.
var viewLine = regexp.MustCompile(`(?m)^ +\d+\.\ds  VIP (a|b|a\+b|nobody) +a .* b .* client +\d+/\d+ +ok`)

func TestDemoFlagErrors(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"demo", "--proxypair", "/nonexistent/proxypair", "--steps", "99", "--every", "0s", "--state-dir", "relative"}, &stdout, &stderr)
	for _, want := range []string{
		"--proxypair: stat /nonexistent/proxypair",
		"--steps 99: the walkthrough has 17 steps",
		"--every 0s: want at least 1ms",
		`--state-dir "relative": want an absolute path`,
	} {
		if code != 1 || !strings.Contains(stderr.String(), want) {
			t.Errorf("pplab demo with bad flags: exit %d, stderr %q; want 1 and %q", code, stderr.String(), want)
		}
	}
}

// TestDemo is the short demo CI runs: every step of the walkthrough with
// VRRP v3 at 100 ms, each step's outcome checked: who holds the VIP, that
// the client is served by its holder by the step's end, that planned moves
// leave no gap and failures show one, and that the live view and summary
// are there.
func TestDemo(t *testing.T) {
	needRoot(t)
	bin := buildProxypair(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	l := lab.NewT(t)
	var out lockedBuffer
	o := demoOptions{proxypair: bin, pplab: []string{"env", "PPLAB_AS_MAIN=1", self},
		timers: shortTimers, every: 10 * time.Millisecond, out: &out}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	d, err := runDemo(ctx, o, l)
	t.Logf("the demo's output:\n%s", out.String())
	if err != nil {
		t.Error(err) // the checks below say more, if every step ran
	}

	steps := d.steps()
	if len(d.results) != len(steps) {
		t.Fatalf("%d steps ran, want %d", len(d.results), len(steps))
	}
	for i, res := range d.results {
		s := steps[i]
		var want []string
		for _, m := range s.want {
			want = append(want, m.name)
		}
		if res.Holders != holderNames(want) || res.Failed != "" {
			t.Errorf("step %d (%s): VIP on %s, %q; want it on %s and no failed expectation", res.N, res.Title, res.Holders, res.Failed, holderNames(want))
		}
		if s.planned && res.Run > plannedRun {
			t.Errorf("step %d (%s), a planned move: %d requests in a row failed", res.N, res.Title, res.Run)
		}
	}
	// Failures the client must see: the demo measures outages, it does not
	// just claim none.
	for _, title := range []string{"HAProxy killed on a", "a's last backend dies", "a's eth1 down"} {
		for _, res := range d.results {
			if res.Title == title && (res.Lost == 0 || res.Outage == 0) {
				t.Errorf("step %d (%s): the client lost nothing (%+v); a failure must show", res.N, title, res.clientAccount)
			}
		}
	}

	text := out.String()
	summary := strings.Index(text, "\nSummary (")
	if summary < 0 {
		t.Fatal("no summary table")
	}
	// The live view: a line before each step's act and one at its end.
	sections := regexp.MustCompile(`(?m)^\d+\. `).Split(text[:summary], -1)[1:]
	if len(sections) != len(steps) {
		t.Fatalf("%d step sections in the output, want %d", len(sections), len(steps))
	}
	for i, sec := range sections {
		if n := len(viewLine.FindAllString(sec, -1)); n < 2 {
			t.Errorf("step %d shows %d live view lines, want at least 2:\n%s", i+1, n, sec)
		}
	}
	for _, res := range d.results {
		if !regexp.MustCompile(`(?m)^ +\d+  ` + regexp.QuoteMeta(res.Title) + `  +` + regexp.QuoteMeta(res.Holders) + ` `).MatchString(text[summary:]) {
			t.Errorf("the summary has no row for step %d (%s) on %s:\n%s", res.N, res.Title, res.Holders, text[summary:])
		}
	}
}

// TestDemoKeep runs `pplab demo --keep` as make demo KEEP=1 does and
// checks the lab stays up, survives another run's sweep, answers the
// commands the demo prints, refuses a second kept lab, and that demo-down
// removes all of it; then that demo-down also cleans up after a keeper
// that crashed.
func TestDemoKeep(t *testing.T) {
	needRoot(t)
	bin := buildProxypair(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	pplab := func(args ...string) *exec.Cmd {
		c := exec.Command(self, args...)
		c.Env = append(os.Environ(), "PPLAB_AS_MAIN=1")
		return c
	}
	t.Cleanup(func() {
		// Whatever failed, the kept lab goes.
		if k, err := readKept(state); err == nil {
			k.Lab.Creator.Signal(unix.SIGKILL)
			k.Lab.Creator.WaitGone(5 * time.Second)
			k.Lab.Remove(t.Logf)
		}
	})
	keep := func() (*keptLab, string) {
		t.Helper()
		// CombinedOutput returns once every holder of the output has let
		// go of it: the keeper too must hand the terminal back.
		out, err := pplab("demo", "--keep", "--short", "--steps", "1", "--state-dir", state, "--proxypair", bin).CombinedOutput()
		if err != nil {
			t.Fatalf("demo --keep: %v\n%s", err, out)
		}
		k, err := readKept(state)
		if err != nil {
			t.Fatalf("the kept lab's record: %v\n%s", err, out)
		}
		return k, string(out)
	}
	running := func(k *keptLab) error {
		var errs []error
		if !k.Lab.Creator.Alive() {
			errs = append(errs, errors.New("the keeper is gone"))
		}
		for _, p := range k.Lab.Processes {
			if !p.Alive() {
				errs = append(errs, errors.New(p.String()+" is gone"))
			}
		}
		for _, ns := range k.Lab.Namespaces {
			if _, err := os.Stat(filepath.Join("/run/netns", ns)); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	gone := func(k *keptLab) {
		t.Helper()
		if k.Lab.Creator.Alive() {
			t.Error("the keeper still runs")
		}
		for _, p := range k.Lab.Processes {
			if p.Alive() {
				t.Errorf("%v still runs", p)
			}
		}
		for _, path := range append([]string{k.Lab.Dir, filepath.Join(state, keptFile)}, nsPaths(k.Lab.Namespaces)...) {
			if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s is still there (stat: %v)", path, err)
			}
		}
	}

	k, out := keep()
	if err := running(k); err != nil {
		t.Fatalf("the kept lab: %v\n%s", err, out)
	}
	if len(k.Lab.Processes) < 6 || len(k.Lab.Namespaces) != 4 {
		t.Errorf("the record has %d processes and namespaces %v; want HAProxy, a backend server and proxypair on a and b, and sw, a, b, c",
			len(k.Lab.Processes), k.Lab.Namespaces)
	}
	// The next test run's lab.New sweeps labs of dead creators: the
	// keeper is alive, so its lab stays.
	if err := lab.Sweep(t.Logf); err != nil {
		t.Errorf("Sweep: %v", err)
	}
	if err := running(k); err != nil {
		t.Fatalf("the kept lab after another run's sweep: %v", err)
	}
	// The commands the demo prints work as printed.
	for _, tc := range []struct{ has, want string }{
		{" status --config ", "MASTER"},
		{" curl -s ", "a"},
	} {
		var line string
		for l := range strings.Lines(out) {
			if strings.Contains(l, tc.has) {
				line, _, _ = strings.Cut(strings.TrimSpace(l), "#")
				break
			}
		}
		if line == "" {
			t.Errorf("the demo printed no command with %q:\n%s", tc.has, out)
			continue
		}
		got, err := exec.Command("sh", "-c", line).CombinedOutput()
		if err != nil || !strings.Contains(string(got), tc.want) {
			t.Errorf("%s: %v, %q; want %q", line, err, got, tc.want)
		}
	}
	if out, err := pplab("demo", "--keep", "--short", "--state-dir", state, "--proxypair", bin).CombinedOutput(); err == nil ||
		!strings.Contains(string(out), "a kept lab is running") {
		t.Errorf("a second demo --keep: %v\n%s; want it refused", err, out)
	}

	down, err := pplab("demo-down", "--state-dir", state).CombinedOutput()
	if err != nil {
		t.Fatalf("demo-down: %v\n%s", err, down)
	}
	t.Logf("demo-down:\n%s", down)
	// The keeper closes the lab itself on SIGTERM, as any run does; then
	// there is nothing left for demo-down to kill or delete.
	if strings.Contains(string(down), "killing it") || strings.Contains(string(down), "lab: ") {
		t.Errorf("demo-down had to finish the keeper's work:\n%s", down)
	}
	gone(k)
	if down, err := pplab("demo-down", "--state-dir", state).CombinedOutput(); err != nil || !strings.Contains(string(down), "No kept lab") {
		t.Errorf("demo-down with nothing kept: %v\n%s", err, down)
	}

	// A keeper that dies takes every process of the lab with it; its
	// namespaces wait for demo-down (or the next sweep).
	k, _ = keep()
	if _, err := k.Lab.Creator.Signal(unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := lab.Eventually(ctx, 20*time.Millisecond, func() (bool, string) {
		for _, p := range k.Lab.Processes {
			if p.Alive() {
				return false, p.String() + " still runs"
			}
		}
		return true, ""
	}); err != nil {
		t.Errorf("after the keeper's SIGKILL: %v", err)
	}
	down, err = pplab("demo-down", "--state-dir", state).CombinedOutput()
	if err != nil || !strings.Contains(string(down), "is gone") {
		t.Errorf("demo-down after the keeper died: %v\n%s", err, down)
	}
	t.Logf("demo-down after a crash:\n%s", down)
	gone(k)
}

func nsPaths(names []string) []string {
	var out []string
	for _, n := range names {
		out = append(out, filepath.Join("/run/netns", n))
	}
	return out
}
