package hooks

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"
)

// The environment variables a hook is given.
const (
	EnvState     = "PROXYPAIR_STATE"      // MASTER, BACKUP, FAULT or STOP: the hook's kind
	EnvFrom      = "PROXYPAIR_FROM"       // the state left: MASTER, BACKUP, FAULT or INIT
	EnvReason    = "PROXYPAIR_REASON"     // why, e.g. master_down, preempted, unhealthy, link_down
	EnvPriority  = "PROXYPAIR_PRIORITY"   // the effective priority after the change
	EnvVIPs      = "PROXYPAIR_VIPS"       // the virtual IPs, space-separated, e.g. "198.18.0.100/24"
	EnvIface     = "PROXYPAIR_IFACE"      // the VRRP interface, e.g. eth1
	EnvVRID      = "PROXYPAIR_VRID"       // the virtual router ID
	EnvInstance  = "PROXYPAIR_INSTANCE"   // the instance's name
	EnvSeq       = "PROXYPAIR_SEQ"        // 1, 2, 3… per queued transition since the start; a gap: one was dropped
	EnvTime      = "PROXYPAIR_TIME"       // when the transition happened (RFC 3339, UTC, nanoseconds)
	EnvHookIndex = "PROXYPAIR_HOOK_INDEX" // 1 for the state's first hook, 2 for the next…
)

// EnvNames lists every variable a hook is given, for the config loader,
// which must not take them for misspelt settings when a hook runs
// `proxypair` itself.
var EnvNames = []string{EnvState, EnvFrom, EnvReason, EnvPriority, EnvVIPs, EnvIface, EnvVRID, EnvInstance, EnvSeq, EnvTime, EnvHookIndex}

// Output bounds, per hook run: a chatty or binary-spewing hook must not
// flood the journal.
const (
	maxLineBytes = 1024
	maxLines     = 100
)

// env is a hook's environment: the daemon's, less its configuration and
// systemd's notify and watchdog variables, plus the transition.
func env(j job, index int) []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "PROXYPAIR_"), k == "NOTIFY_SOCKET", strings.HasPrefix(k, "WATCHDOG_"):
			continue
		}
		out = append(out, kv)
	}
	vips := make([]string, len(j.t.VIPs))
	for i, p := range j.t.VIPs {
		vips[i] = p.String()
	}
	return append(out,
		EnvState+"="+j.t.Kind.state(),
		EnvFrom+"="+j.t.From,
		EnvReason+"="+j.t.Reason,
		EnvPriority+"="+strconv.Itoa(j.t.Priority),
		EnvVIPs+"="+strings.Join(vips, " "),
		EnvIface+"="+j.t.Interface,
		EnvVRID+"="+strconv.Itoa(j.t.VRID),
		EnvInstance+"="+j.t.Instance,
		EnvSeq+"="+strconv.FormatUint(j.seq, 10),
		EnvTime+"="+j.t.At.UTC().Format(time.RFC3339Nano),
		EnvHookIndex+"="+strconv.Itoa(index+1),
	)
}

// runOne runs hook index of j and waits for it, its timeout, or the
// runner's abort.
func (r *Runner) runOne(j job, index int, argv []string) {
	log := r.log.With("hook", j.t.Kind.String(), "seq", j.seq, "n", index+1, "program", argv[0])
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env(j, index)
	cmd.Dir = "/"
	cmd.SysProcAttr = sysProcAttr()
	// The pipes' write ends go to the process itself (an *os.File is not
	// copied by a goroutine of exec's), so Wait returns when the process
	// exits, even if something it started still holds them.
	outR, outW, err := os.Pipe()
	if err != nil {
		log.Error("notify hook could not start", "err", err)
		return
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		log.Error("notify hook could not start", "err", err)
		return
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	start := time.Now()
	err = cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		log.Error("notify hook could not start", "err", err)
		return
	}
	log = log.With("pid", cmd.Process.Pid)
	log.Info("notify hook started", "from", j.t.From, "reason", j.t.Reason)

	out := &output{log: log}
	var readers sync.WaitGroup
	for _, s := range []struct {
		f    *os.File
		name string
	}{{outR, "stdout"}, {errR, "stderr"}} {
		readers.Go(func() { out.read(s.f, s.name) })
	}

	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	timer := time.NewTimer(j.timeout)
	defer timer.Stop()
	var killed string
	select {
	case err = <-exited:
	case <-timer.C:
		killed = "timeout"
		err = r.kill(cmd, exited, log)
	case <-r.abort:
		killed = "daemon_stopping"
		err = r.kill(cmd, exited, log)
	}
	took := time.Since(start)

	// What the hook wrote before it exited is in the pipes: read it, but
	// not for ever.
	deadline := time.Now().Add(r.opts.OutputWait)
	outR.SetReadDeadline(deadline)
	errR.SetReadDeadline(deadline)
	readers.Wait()
	outR.Close()
	errR.Close()
	out.finish()

	code := -1
	if cmd.ProcessState != nil {
		code = cmd.ProcessState.ExitCode()
	}
	switch {
	case killed == "timeout":
		log.Error("notify hook timed out: killed", "timeout", j.timeout, "duration", took, "reason", killed)
	case killed != "":
		log.Error("notify hook killed: the daemon is stopping and out of time", "duration", took, "reason", killed)
	case err == nil:
		log.Info("notify hook finished", "exit", 0, "duration", took)
	case code >= 0:
		log.Warn("notify hook failed", "exit", code, "duration", took)
	default:
		// Killed by a signal someone else sent.
		log.Warn("notify hook failed", "err", err, "duration", took)
	}
}

// kill ends a hook's process group: SIGTERM, then SIGKILL after the grace
// if its leader is still there, and SIGKILL anyway once it is gone, for
// what ignored the SIGTERM. It returns the leader's Wait error.
func (r *Runner) kill(cmd *exec.Cmd, exited <-chan error, log *slog.Logger) error {
	if err := killGroup(cmd.Process, syscall.SIGTERM); err != nil {
		log.Debug("notify hook: SIGTERM", "err", err)
	}
	grace := time.NewTimer(r.opts.KillGrace)
	defer grace.Stop()
	var err error
	select {
	case err = <-exited:
		// The group's pid cannot be reused while a member lives; those
		// that ignored SIGTERM go now.
		_ = killGroup(cmd.Process, syscall.SIGKILL)
	case <-grace.C:
		log.Warn("notify hook ignored SIGTERM: SIGKILL", "grace", r.opts.KillGrace)
		_ = killGroup(cmd.Process, syscall.SIGKILL)
		err = <-exited
	}
	return err
}

// output logs a hook's lines, bounded in length and number.
type output struct {
	log     *slog.Logger
	mu      sync.Mutex
	lines   int
	dropped int
}

func (o *output) read(f *os.File, stream string) {
	br := bufio.NewReaderSize(f, maxLineBytes)
	for {
		line, err := br.ReadSlice('\n')
		cut := errors.Is(err, bufio.ErrBufferFull)
		if len(line) > 0 {
			o.line(stream, line, cut)
		}
		if cut {
			// Skip the rest of an over-long line.
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			if !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(err, os.ErrClosed) {
				o.log.Debug("notify hook: reading its output", "stream", stream, "err", err)
			}
			return
		}
	}
}

func (o *output) line(stream string, b []byte, cut bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.lines >= maxLines {
		o.dropped++
		return
	}
	o.lines++
	if cut {
		// Do not split a character at the cut.
		for k := 0; k < utf8.UTFMax && len(b) > 0 && !utf8.Valid(b); k++ {
			b = b[:len(b)-1]
		}
	}
	s := string(bytes.TrimRight(b, "\r\n"))
	if cut {
		s += "…"
	}
	o.log.Info("notify hook output", "stream", stream, "line", s)
}

func (o *output) finish() {
	if o.dropped > 0 {
		o.log.Warn("notify hook output: more lines than are logged; the rest were dropped", "logged", o.lines, "dropped", o.dropped)
	}
}
