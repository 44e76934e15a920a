package hooks

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/proxypair/proxypair/appliance/config"
	"github.com/proxypair/proxypair/internal/lab"
)

// These tests run real processes: shell scripts in a temporary directory.

// record is one log line a Runner wrote.
type record struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

// logStore keeps every record; a handler made by WithAttrs shares it.
type logStore struct {
	mu   sync.Mutex
	recs []record
}

type recorder struct {
	s     *logStore
	attrs []slog.Attr
}

func newRecorder() (*logStore, *slog.Logger) {
	s := &logStore{}
	return s, slog.New(&recorder{s: s})
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) WithGroup(string) slog.Handler            { return r }
func (r *recorder) WithAttrs(as []slog.Attr) slog.Handler {
	return &recorder{s: r.s, attrs: append(slices.Clone(r.attrs), as...)}
}

func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	m := map[string]string{}
	for _, a := range r.attrs {
		m[a.Key] = a.Value.String()
	}
	rec.Attrs(func(a slog.Attr) bool {
		m[a.Key] = a.Value.String()
		return true
	})
	r.s.mu.Lock()
	r.s.recs = append(r.s.recs, record{rec.Level, rec.Message, m})
	r.s.mu.Unlock()
	return nil
}

// find returns the records whose message starts with msg and that have
// every attribute in attrs (key, value, key, value…).
func (s *logStore) find(msg string, attrs ...string) []record {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []record
	for _, r := range s.recs {
		if !strings.HasPrefix(r.msg, msg) {
			continue
		}
		ok := true
		for i := 0; i+1 < len(attrs); i += 2 {
			ok = ok && r.attrs[attrs[i]] == attrs[i+1]
		}
		if ok {
			out = append(out, r)
		}
	}
	return out
}

func (s *logStore) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	for _, r := range s.recs {
		fmt.Fprintf(&b, "%v %s %v\n", r.level, r.msg, r.attrs)
	}
	return b.String()
}

// script writes an executable /bin/sh script into dir.
func script(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func lines(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.Fields(strings.ReplaceAll(string(b), "\n", " \n"))
}

func fileLines(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := lab.Eventually(ctx, 5*time.Millisecond, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// closeAll closes r, waiting up to a minute: enough for any hook here.
func closeAll(r *Runner) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r.Close(ctx)
}

func tr(k Kind) Transition {
	return Transition{Kind: k, From: "BACKUP", Reason: "master_down", Priority: 200,
		VIPs: []netip.Prefix{netip.MustParsePrefix("198.18.0.100/24")}, Interface: "eth1", VRID: 51, Instance: "VI_51", At: time.Now()}
}

// TestOrderOneAtATime: the hooks of transitions that come while a slow
// hook runs wait behind it: they run in the order of the transitions, a
// state's hooks in the order listed, never two at once.
func TestOrderOneAtATime(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	rec := script(t, dir, "rec.sh", `echo "start $1 $(date +%s%N)" >> "`+log+`"
sleep "$2"
echo "end $1 $(date +%s%N)" >> "`+log+`"
`)
	r := New(Commands{
		Master:  [][]string{{rec, "m1", "0.2"}, {rec, "m2", "0"}},
		Backup:  [][]string{{rec, "b", "0.3"}},
		Fault:   [][]string{{rec, "f", "0"}},
		Timeout: 10 * time.Second,
	}, Options{})
	// All five come while the first hook still runs.
	for _, k := range []Kind{Backup, Master, Fault, Backup, Master} {
		r.Notify(tr(k))
	}
	closeAll(r)

	var got []string
	var prev int64
	for _, l := range fileLines(t, log) {
		f := strings.Fields(l)
		if len(f) != 3 {
			t.Fatalf("bad line %q", l)
		}
		at, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		if at < prev {
			t.Errorf("%q is earlier than the line before it", l)
		}
		prev = at
		got = append(got, f[0]+" "+f[1])
	}
	var want []string
	for _, h := range []string{"b", "m1", "m2", "f", "b", "m1", "m2"} {
		want = append(want, "start "+h, "end "+h)
	}
	if !slices.Equal(got, want) {
		t.Errorf("hooks ran as\n%s\nwant each to end before the next starts, in order:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestFailingHook: a hook that fails or cannot start is logged, and the
// next runs.
func TestFailingHook(t *testing.T) {
	dir := t.TempDir()
	ran := filepath.Join(dir, "ran")
	logs, log := newRecorder()
	r := New(Commands{
		Backup: [][]string{
			{"/bin/sh", "-c", "echo giving up >&2; exit 3"},
			{filepath.Join(dir, "missing.sh")},
			{"/bin/sh", "-c", "echo ok > " + ran},
		},
		Timeout: 10 * time.Second,
	}, Options{Log: log})
	r.Notify(tr(Backup))
	closeAll(r)

	if got := logs.find("notify hook failed", "hook", "backup", "n", "1", "exit", "3"); len(got) != 1 || got[0].level != slog.LevelWarn {
		t.Errorf("no warning with exit 3 for the failing hook:\n%s", logs)
	}
	if got := logs.find("notify hook output", "n", "1", "stream", "stderr", "line", "giving up"); len(got) != 1 {
		t.Errorf("the failing hook's stderr is not in the log:\n%s", logs)
	}
	if got := logs.find("notify hook could not start", "n", "2"); len(got) != 1 || !strings.Contains(got[0].attrs["err"], "no such file") {
		t.Errorf("no error for the missing program:\n%s", logs)
	}
	if _, err := os.Stat(ran); err != nil {
		t.Errorf("the hook after the failing ones did not run: %v\n%s", err, logs)
	}
	if got := logs.find("notify hook finished", "n", "3", "exit", "0"); len(got) != 1 {
		t.Errorf("no line for the hook that succeeded:\n%s", logs)
	}
}

// alive reports whether pid is a live process (not gone, not a zombie).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func readPID(t *testing.T, file string) int {
	t.Helper()
	var pid int
	eventually(t, file, func() (bool, string) {
		b, _ := os.ReadFile(file)
		n, err := strconv.Atoi(strings.TrimSpace(string(b)))
		pid = n
		return err == nil && n > 0, string(b)
	})
	return pid
}

// TestHangingHookKilled: a hook past its timeout is killed with what it
// started (its process group): SIGTERM, and SIGKILL after the grace when
// it ignores SIGTERM. The next hook runs.
func TestHangingHookKilled(t *testing.T) {
	dir := t.TempDir()
	ran := filepath.Join(dir, "ran")
	pids := map[string]string{}
	for _, f := range []string{"term", "term-child", "ignore", "ignore-child"} {
		pids[f] = filepath.Join(dir, f+".pid")
	}
	// Each leaves a child behind it in its process group, and records the
	// PIDs; "ignore" and its child ignore SIGTERM.
	term := script(t, dir, "term.sh", `echo $$ > `+pids["term"]+`
sleep 1000 &
echo $! > `+pids["term-child"]+`
wait
`)
	ignore := script(t, dir, "ignore.sh", `trap '' TERM
echo $$ > `+pids["ignore"]+`
sleep 1000 &
echo $! > `+pids["ignore-child"]+`
while :; do wait; done
`)
	logs, log := newRecorder()
	r := New(Commands{
		Fault:   [][]string{{term}, {ignore}, {"/bin/sh", "-c", "echo ok > " + ran}},
		Timeout: 300 * time.Millisecond,
	}, Options{Log: log, KillGrace: 300 * time.Millisecond})
	t.Cleanup(func() {
		// Whatever the test found, leave nothing running.
		for _, f := range pids {
			if b, err := os.ReadFile(f); err == nil {
				if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
	})
	r.Notify(tr(Fault))
	closeAll(r)

	for _, n := range []string{"1", "2"} {
		if got := logs.find("notify hook timed out: killed", "n", n, "reason", "timeout"); len(got) != 1 || got[0].level != slog.LevelError {
			t.Errorf("hook %s: no error saying it was killed after its timeout:\n%s", n, logs)
		}
	}
	if got := logs.find("notify hook ignored SIGTERM: SIGKILL", "n", "2"); len(got) != 1 {
		t.Errorf("no SIGKILL for the hook that ignores SIGTERM:\n%s", logs)
	}
	if got := logs.find("notify hook ignored SIGTERM"); len(got) != 1 {
		t.Errorf("the hook that dies on SIGTERM got a SIGKILL too:\n%s", logs)
	}
	for name, f := range pids {
		pid := readPID(t, f)
		// The children are reparented on their parent's death; their
		// reaper may take a moment.
		eventually(t, name+" gone", func() (bool, string) { return !alive(pid), fmt.Sprint(pid, " still alive") })
	}
	if _, err := os.Stat(ran); err != nil {
		t.Errorf("the hook after the hanging ones did not run: %v\n%s", err, logs)
	}
}

// TestOutput: a hook's lines reach the log as they are, stream by
// stream; a long line is cut, lines past the bound are counted, not
// logged; a background process that keeps the output open holds up
// nothing.
func TestOutput(t *testing.T) {
	dir := t.TempDir()
	bgPID := filepath.Join(dir, "bg.pid")
	t.Cleanup(func() {
		if b, err := os.ReadFile(bgPID); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	talk := script(t, dir, "talk.sh", `echo "first line"
echo "to stderr" >&2
printf 'no newline at the end'
`)
	long := script(t, dir, "long.sh", `head -c 5000 /dev/zero | tr '\0' x; echo; echo after`)
	many := script(t, dir, "many.sh", `i=0; while [ $i -lt 150 ]; do echo "line $i"; i=$((i+1)); done`)
	bg := script(t, dir, "bg.sh", `sleep 1000 &
echo $! > `+bgPID+`
echo started it
`)
	ran := filepath.Join(dir, "ran")
	logs, log := newRecorder()
	r := New(Commands{
		Master:  [][]string{{talk}, {long}, {many}, {bg}, {"/bin/sh", "-c", "echo ok > " + ran}},
		Timeout: 10 * time.Second,
	}, Options{Log: log})
	r.Notify(tr(Master))
	closeAll(r)

	for _, want := range []struct{ n, stream, line string }{
		{"1", "stdout", "first line"},
		{"1", "stderr", "to stderr"},
		{"1", "stdout", "no newline at the end"},
		{"2", "stdout", strings.Repeat("x", maxLineBytes) + "…"},
		{"2", "stdout", "after"},
		{"3", "stdout", "line 0"},
		{"3", "stdout", "line 99"},
		{"4", "stdout", "started it"},
	} {
		if got := logs.find("notify hook output", "n", want.n, "stream", want.stream, "line", want.line); len(got) != 1 {
			t.Errorf("hook %s: no %s line %.40q in the log:\n%.3000s", want.n, want.stream, want.line, logs)
		}
	}
	if got := logs.find("notify hook output", "n", "3", "stream", "stdout"); len(got) != maxLines {
		t.Errorf("hook 3 logged %d lines, want %d", len(got), maxLines)
	}
	if got := logs.find("notify hook output: more lines", "n", "3", "logged", "100", "dropped", "50"); len(got) != 1 {
		t.Errorf("no count of the lines not logged:\n%.3000s", logs)
	}
	if _, err := os.Stat(ran); err != nil {
		t.Errorf("the hook after the one that left a process holding its output did not run: %v", err)
	}
}

// TestEnvironment: a hook gets the transition in PROXYPAIR_* variables,
// its argv as configured and nothing more, the daemon's environment but
// not its configuration or systemd's notify socket, and "/" as its
// directory.
func TestEnvironment(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "env")
	dump := script(t, dir, "dump.sh", `{ echo "ARGC=$#"; for a in "$@"; do echo "ARG=$a"; done; echo "CWD=$(pwd)"; env; } > `+out+"\n")
	t.Setenv("PROXYPAIR_VRRP_AUTH_PASS", "secret12")
	t.Setenv("NOTIFY_SOCKET", "/run/systemd/notify")
	t.Setenv("WATCHDOG_USEC", "5000000")
	t.Setenv("HOOKS_TEST_KEEP", "kept")
	r := New(Commands{Stop: [][]string{{dump, "one arg", "two"}}, Timeout: 10 * time.Second}, Options{})
	at := time.Date(2026, 11, 28, 1, 2, 3, 456789000, time.FixedZone("KST", 9*3600))
	r.Notify(Transition{Kind: Stop, From: "MASTER", Reason: "peer_took_over", Priority: 150,
		VIPs:      []netip.Prefix{netip.MustParsePrefix("198.18.0.100/24"), netip.MustParsePrefix("198.18.0.101/32")},
		Interface: "eth1", VRID: 51, Instance: "VI_51", At: at})
	closeAll(r)

	env := map[string][]string{}
	for _, l := range fileLines(t, out) {
		k, v, _ := strings.Cut(l, "=")
		env[k] = append(env[k], v)
	}
	for k, want := range map[string]string{
		"ARGC":                     "2",
		"PWD":                      "/",
		EnvState:                   "STOP",
		EnvFrom:                    "MASTER",
		EnvReason:                  "peer_took_over",
		EnvPriority:                "150",
		EnvVIPs:                    "198.18.0.100/24 198.18.0.101/32",
		EnvIface:                   "eth1",
		EnvVRID:                    "51",
		EnvInstance:                "VI_51",
		EnvSeq:                     "1",
		EnvTime:                    "2026-11-27T16:02:03.456789Z",
		EnvHookIndex:               "1",
		"HOOKS_TEST_KEEP":          "kept",
		"PROXYPAIR_VRRP_AUTH_PASS": "",
		"NOTIFY_SOCKET":            "",
		"WATCHDOG_USEC":            "",
	} {
		got := strings.Join(env[k], ",")
		if got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if got := env["ARG"]; !slices.Equal(got, []string{"one arg", "two"}) {
		t.Errorf("arguments %q, want exactly the configured ones", got)
	}
	for _, k := range EnvNames {
		if len(env[k]) != 1 {
			t.Errorf("%s is not set once: %q", k, env[k])
		}
	}
}

// TestEnvNamesAreNotSettings: a hook that runs `proxypair` itself must
// not have its variables reported as misspelt settings, and no setting
// may share a name with them.
func TestEnvNamesAreNotSettings(t *testing.T) {
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, config.EnvPrefix) {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	for _, k := range EnvNames {
		t.Setenv(k, "x")
	}
	file := filepath.Join(t.TempDir(), "proxypair.yaml")
	if err := os.WriteFile(file, []byte("vrrp: {virtual_ips: [198.18.0.100/24]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, problems, err := config.Load(config.Source{File: file})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("with a hook's environment: %v", p)
	}
	for _, key := range config.Keys() {
		if slices.Contains(EnvNames, config.EnvName(key)) {
			t.Errorf("setting %s is also a hook variable, %s", key, config.EnvName(key))
		}
	}
}

// blocker is a hook that records PROXYPAIR_SEQ and the tag it was given,
// and for seq 1 waits until the test writes to the FIFO.
func blocker(t *testing.T, dir string) (argv func(tag string) []string, log string, release func()) {
	t.Helper()
	log = filepath.Join(dir, "seq")
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	s := script(t, dir, "block.sh", `echo "$PROXYPAIR_SEQ$1" >> `+log+`
if [ "$PROXYPAIR_SEQ" = 1 ]; then read x < `+fifo+`; fi
`)
	released := false
	release = func() {
		if released {
			return
		}
		released = true
		// The hook may not have opened the FIFO yet: until it does, a
		// non-blocking open for writing fails with ENXIO.
		var f *os.File
		eventually(t, "the first hook to open the FIFO", func() (bool, string) {
			var err error
			f, err = os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0)
			return err == nil, fmt.Sprint(err)
		})
		f.WriteString("go\n")
		f.Close()
	}
	return func(tag string) []string { return []string{s, tag} }, log, release
}

// TestQueueOverflowDropsOldest: past QueueLen waiting transitions, the
// oldest waiting one is dropped and logged; the order of the rest is kept,
// the newest always runs, and Notify never waits.
func TestQueueOverflowDropsOldest(t *testing.T) {
	dir := t.TempDir()
	argv, seqs, release := blocker(t, dir)
	logs, log := newRecorder()
	r := New(Commands{Master: [][]string{argv("")}, Backup: [][]string{argv("")}, Timeout: time.Minute}, Options{Log: log, QueueLen: 3})
	defer closeAll(r)
	defer release()
	r.Notify(tr(Master))
	eventually(t, "the first hook to start", func() (bool, string) {
		l := lines(t, seqs)
		return slices.Equal(l, []string{"1"}), fmt.Sprint(l)
	})
	for i := range 7 {
		r.Notify(tr([]Kind{Backup, Master}[i%2]))
	}
	release()
	closeAll(r)

	if got := lines(t, seqs); !slices.Equal(got, []string{"1", "6", "7", "8"}) {
		t.Errorf("ran %v, want 1 (running), then the 3 newest: 6 7 8", got)
	}
	var dropped []string
	for _, rec := range logs.find("notify hooks: queue full") {
		dropped = append(dropped, rec.attrs["seq"])
	}
	if !slices.Equal(dropped, []string{"2", "3", "4", "5"}) {
		t.Errorf("logged drops of %v, want 2 3 4 5:\n%s", dropped, logs)
	}
}

// TestSetAppliesToLaterTransitions: a reload's hooks run for the
// transitions after it; those already queued keep theirs.
func TestSetAppliesToLaterTransitions(t *testing.T) {
	dir := t.TempDir()
	argv, seqs, release := blocker(t, dir)
	r := New(Commands{Master: [][]string{argv("old")}, Timeout: time.Minute}, Options{})
	defer closeAll(r)
	defer release()
	r.Notify(tr(Master))
	r.Notify(tr(Master))
	r.Set(Commands{Master: [][]string{argv("new")}, Timeout: time.Minute})
	r.Notify(tr(Master))
	release()
	closeAll(r)
	if got := lines(t, seqs); !slices.Equal(got, []string{"1old", "2old", "3new"}) {
		t.Errorf("ran %v, want 1old 2old 3new", got)
	}
}

// TestCloseDrains: Close lets the queued hooks run, in order, to the end.
func TestCloseDrains(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	rec := script(t, dir, "rec.sh", `sleep 0.2; echo "$PROXYPAIR_STATE" >> `+log+"\n")
	r := New(Commands{Backup: [][]string{{rec}}, Stop: [][]string{{rec}}, Timeout: 10 * time.Second}, Options{})
	r.Notify(tr(Backup))
	r.Notify(tr(Stop))
	closeAll(r)
	if got := lines(t, log); !slices.Equal(got, []string{"BACKUP", "STOP"}) {
		t.Errorf("after Close: %v, want BACKUP STOP", got)
	}
}

// TestCloseBounded: a Close out of time kills the running hook and drops
// the waiting ones, saying so; a transition after Close is refused.
func TestCloseBounded(t *testing.T) {
	dir := t.TempDir()
	argv, seqs, _ := blocker(t, dir)
	logs, log := newRecorder()
	r := New(Commands{Backup: [][]string{argv("")}, Stop: [][]string{argv("")}, Timeout: time.Minute},
		Options{Log: log, KillGrace: 100 * time.Millisecond})
	t.Cleanup(func() {
		// If the test ends early: kill the blocked hook.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		r.Close(ctx)
	})
	r.Notify(tr(Backup))
	r.Notify(tr(Stop))
	eventually(t, "the first hook to start", func() (bool, string) {
		l := lines(t, seqs)
		return len(l) == 1, fmt.Sprint(l)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	r.Close(ctx)
	r.Notify(tr(Master))

	if got := logs.find("notify hook killed: the daemon is stopping", "hook", "backup", "reason", "daemon_stopping"); len(got) != 1 {
		t.Errorf("the running hook was not killed:\n%s", logs)
	}
	if got := logs.find("notify hooks: stopping; out of time", "hook", "stop", "seq", "2"); len(got) != 1 {
		t.Errorf("the waiting hook's drop is not logged:\n%s", logs)
	}
	if got := logs.find("notify hooks: a transition after the runner stopped", "hook", "master"); len(got) != 1 {
		t.Errorf("a transition after Close is not refused:\n%s", logs)
	}
	if got := lines(t, seqs); !slices.Equal(got, []string{"1"}) {
		t.Errorf("ran %v, want only the first", got)
	}
}
