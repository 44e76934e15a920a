package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
)

// Check is one check's latest result.
type Check struct {
	Name   string // CheckSocket, CheckProcess, CheckSystemd, "backend <name>" or "frontend <name>"
	OK     bool
	Detail string // a full sentence naming its subject, e.g. "backend be_app: 2/2 servers UP"
	At     time.Time
	// Duration is how long the look behind the result took: the runtime
	// API call for the socket, process, frontend and backend checks (one
	// call answers them all; the process check after a failed call looks
	// at /proc), the D-Bus call for the systemd unit.
	Duration time.Duration
}

// Event is a verdict about HAProxy.
type Event struct {
	Healthy bool
	// Reason says why HAProxy is unhealthy, e.g. "haproxy socket
	// /run/haproxy/admin.sock: connection refused" or "backend be_app: 0/2
	// servers UP (need 1)"; several failures are joined with "; ", and
	// those beyond MaxReasonLen bytes are counted, not listed. Empty when
	// healthy.
	Reason string
	Checks []Check // the results of the check that produced this verdict
	At     time.Time
}

// reasonNoVerdict is Snapshot's reason before the first verdict.
const reasonNoVerdict = "no verdict yet"

// Option changes how a Tracker works.
type Option func(*Tracker)

// WithConfigFiles names HAProxy's configuration files (or directories of
// *.cfg files) to read default_backend/use_backend from when
// HAProxyConfig.Backends is empty, instead of the files on the running
// HAProxy's command line (for an HAProxy in another mount or PID namespace).
func WithConfigFiles(paths ...string) Option {
	paths = slices.Clone(paths)
	return func(t *Tracker) {
		t.usage = func(int) (backendUsage, error) { return usageFromFiles(paths) }
	}
}

// Tracker watches HAProxy and turns what it sees into healthy/unhealthy
// events. See the package documentation for the checks and the fast path.
type Tracker struct {
	cfg Config
	log *slog.Logger

	// Seams, replaced by tests.
	openRuntime func() (runtimeAPI, error)
	usage       func(pid int) (backendUsage, error)
	watchConn   func(ctx context.Context, fire func(reason string))
	watchPID    func(ctx context.Context, pid int, fire func(reason string)) error
	pidfdOpen   pidfdOpenFunc // pidfd_open(2) for watchPID; a test plays a kernel without it
	alive       func(pid int) bool
	sdDial      func(ctx context.Context) (*sddbus.Conn, error)

	running atomic.Bool

	mu   sync.Mutex
	snap Event
}

// New returns a Tracker for cfg after filling in defaults and validating it;
// the error names every bad field by its config key (health.*).
func New(cfg Config, log *slog.Logger, opts ...Option) (*Tracker, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg.HAProxy.Backends = slices.Clone(cfg.HAProxy.Backends)
	t := &Tracker{
		cfg:  cfg,
		log:  log.With("socket", cfg.HAProxy.Socket),
		snap: Event{Reason: reasonNoVerdict},
	}
	t.openRuntime = func() (runtimeAPI, error) { return newSocketRuntime(cfg.HAProxy.Socket, cfg.Timeout), nil }
	t.usage = func(pid int) (backendUsage, error) { return usageFromProcess("/proc", pid) }
	t.watchConn = func(ctx context.Context, fire func(string)) {
		watchConn(ctx, cfg.HAProxy.Socket, cfg.Timeout, fire)
	}
	t.pidfdOpen = sysPidfdOpen
	t.watchPID = func(ctx context.Context, pid int, fire func(string)) error {
		return watchHAProxyPID(ctx, t.pidfdOpen, pid, fire)
	}
	t.alive = processAlive
	for _, o := range opts {
		o(t)
	}
	return t, nil
}

// Snapshot returns the latest verdict and check results. Before the first
// verdict Healthy is false and Reason is "no verdict yet".
func (t *Tracker) Snapshot() Event {
	t.mu.Lock()
	defer t.mu.Unlock()
	ev := t.snap
	ev.Checks = slices.Clone(ev.Checks)
	return ev
}

// wake is a fast-path notification from the watchers of one arming.
type wake struct {
	gen    int
	reason string
}

// fastPath is the state of the event-driven watchers.
type fastPath struct {
	gen     int
	pid     int
	cancel  context.CancelFunc
	armedAt time.Time
	fired   bool
	pidErr  string // why the PID is not watched, for logs
}

// Run checks HAProxy until ctx ends. It sends an Event on events when the
// first verdict is reached and on every healthy<->unhealthy transition. It
// never blocks on a slow reader: an event that the reader has not taken yet
// is replaced by the next one (events are levels; the latest wins). Run
// returns nil when ctx ends, or an error if it cannot start.
func (t *Tracker) Run(ctx context.Context, events chan<- Event) error {
	if !t.running.CompareAndSwap(false, true) {
		return errors.New("healthcheck: Run is already running")
	}
	defer t.running.Store(false)

	rt, err := t.openRuntime()
	if err != nil {
		return err
	}
	defer rt.close()
	var unit *unitWatcher
	if t.cfg.HAProxy.SystemdUnit != "" {
		unit = newUnitWatcher(t.cfg.HAProxy.SystemdUnit, t.sdDial)
		defer unit.close()
	}

	var wg sync.WaitGroup
	defer wg.Wait()
	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()

	send := make(chan Event)
	wg.Go(func() { deliver(runCtx, send, events) })

	wakes := make(chan wake, 8)
	var fp fastPath
	defer func() {
		if fp.cancel != nil {
			fp.cancel()
		}
	}()

	l := loop{t: t, rt: rt, unit: unit, hyst: NewHysteresis(t.cfg.Fall, t.cfg.Rise)}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		trigger := "interval"
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case w := <-wakes:
			if w.gen != fp.gen {
				continue // a watcher of an earlier arming (e.g. the old worker after a reload)
			}
			fp.fired = true
			trigger = w.reason
		}
		ev, changed, pid := l.step(runCtx, trigger)
		if changed {
			if ev.Healthy {
				t.log.Info("haproxy healthy", "trigger", trigger)
			} else {
				t.log.Warn("haproxy unhealthy", "reason", ev.Reason, "trigger", trigger)
			}
			select {
			case send <- ev:
			case <-ctx.Done():
				return nil
			}
		}
		t.arm(runCtx, &wg, &fp, pid, wakes)
		timer.Reset(t.cfg.Interval)
	}
}

// deliver forwards events to out, keeping only the latest one while the
// reader is slow.
func deliver(ctx context.Context, in <-chan Event, out chan<- Event) {
	var pending Event
	have := false
	for {
		var o chan<- Event
		if have {
			o = out
		}
		select {
		case <-ctx.Done():
			return
		case pending = <-in:
			have = true
		case o <- pending:
			have = false
		}
	}
}

// arm (re)starts the fast-path watchers for pid after a check: when the PID
// changed (reload, restart), or a watcher fired and at least one interval has
// passed since the last arming (so a connection that keeps closing cannot
// spin). pid 0 (the check failed) disarms: there is nothing to watch.
func (t *Tracker) arm(ctx context.Context, wg *sync.WaitGroup, fp *fastPath, pid int, wakes chan<- wake) {
	now := time.Now()
	switch {
	case pid == 0:
		if fp.cancel != nil {
			fp.cancel()
			fp.cancel, fp.pid = nil, 0
		}
		return
	case fp.cancel != nil && fp.pid == pid && !fp.fired:
		return
	case fp.cancel != nil && fp.pid == pid && now.Sub(fp.armedAt) < t.cfg.Interval:
		return
	}
	if fp.cancel != nil {
		fp.cancel()
	}
	if fp.pid != 0 && fp.pid != pid {
		t.log.Info("haproxy process changed", "from", fp.pid, "to", pid)
	}
	fp.gen++
	gen := fp.gen
	wctx, cancel := context.WithCancel(ctx)
	*fp = fastPath{gen: gen, pid: pid, cancel: cancel, armedAt: now, pidErr: fp.pidErr}
	fire := func(reason string) {
		select {
		case wakes <- wake{gen: gen, reason: reason}:
		default: // the loop is behind; the next interval check catches up
		}
	}
	wg.Go(func() { t.watchConn(wctx, fire) })
	var pidErr string
	if err := t.watchPID(wctx, pid, fire); err != nil {
		pidErr = err.Error()
	}
	if pidErr != fp.pidErr {
		if pidErr != "" {
			t.log.Info("not watching haproxy's pid; the runtime API connection is the fast path", "pid", pid, "reason", pidErr)
		}
		fp.pidErr = pidErr
	}
}

// watchHAProxyPID watches pid unless the process with that PID here is not
// HAProxy (HAProxy in another PID namespace reports its own PIDs).
func watchHAProxyPID(ctx context.Context, pidfdOpen pidfdOpenFunc, pid int, fire func(reason string)) error {
	if name := processName(pid); name != "" && !strings.HasPrefix(name, "haproxy") {
		return fmt.Errorf("pid %d is %q here, not haproxy (another PID namespace?)", pid, name)
	}
	return watchPID(ctx, pidfdOpen, pid, fire)
}

// loop is the per-Run state of the check loop.
type loop struct {
	t    *Tracker
	rt   runtimeAPI
	unit *unitWatcher
	hyst *Hysteresis

	lastPID  int // the PID that answered last, for the process check when the socket fails
	usagePID int
	usage    *backendUsage // nil: configuration unknown
	lastFail string
}

// step runs one check, feeds it to the hysteresis and updates the snapshot.
// It returns the resulting event, whether the verdict changed, and the PID
// that answered (0 if the runtime API failed).
func (l *loop) step(ctx context.Context, trigger string) (Event, bool, int) {
	t := l.t
	checks, pid := l.check(ctx)
	ok := allOK(checks)
	healthy, changed := l.hyst.Observe(ok)
	at := checks[0].At
	ev := Event{Healthy: healthy, Checks: checks, At: at}
	if !ok {
		l.lastFail = reasonOf(checks)
		t.log.Debug("check failed", "reason", l.lastFail, "trigger", trigger)
	}
	switch {
	case !l.hyst.Known():
		ev.Reason = reasonNoVerdict
		if !ok {
			ev.Reason += ": " + l.lastFail
		}
	case !healthy && !ok:
		ev.Reason = l.lastFail
	case !healthy:
		ev.Reason = reasonRecoveringPrefix + l.lastFail + ")"
	}
	t.mu.Lock()
	t.snap = ev
	t.mu.Unlock()
	return ev, changed, pid
}

// check looks at HAProxy once and returns every check result.
func (l *loop) check(ctx context.Context) ([]Check, int) {
	t := l.t
	start := time.Now()
	st, err := l.rt.state(ctx)
	now := time.Now()
	took := now.Sub(start)
	var checks []Check
	if err != nil {
		checks = append(checks, Check{Name: CheckSocket, Detail: err.Error(), At: now, Duration: took})
		if pid := l.lastPID; pid != 0 {
			c := Check{Name: CheckProcess, At: now}
			if t.alive(pid) {
				c.OK = true
				c.Detail = fmt.Sprintf("haproxy process %d is running", pid)
			} else {
				c.Detail = fmt.Sprintf("haproxy process %d exited", pid)
			}
			c.Duration = time.Since(now)
			checks = append(checks, c)
		}
	} else {
		checks = append(checks,
			Check{Name: CheckSocket, OK: true, Detail: fmt.Sprintf("haproxy socket %s: answers (HAProxy %s)", t.cfg.HAProxy.Socket, st.Version), At: now, Duration: took},
			Check{Name: CheckProcess, OK: true, Detail: fmt.Sprintf("haproxy process %d is running", st.PID), At: now, Duration: took},
		)
	}
	if l.unit != nil {
		uctx, cancel := context.WithTimeout(ctx, t.cfg.Timeout)
		c := l.unit.check(ctx, uctx)
		cancel()
		c.At = time.Now()
		c.Duration = c.At.Sub(now)
		checks = append(checks, c)
	}
	if err != nil {
		return checks, 0
	}
	l.lastPID = st.PID

	usage := l.usageFor(st.PID)
	var disabled []string
	if usage != nil {
		disabled = usage.Disabled
	}
	idx := indexStat(st.Rows)
	fromStat := len(checks)
	checks = append(checks, frontendChecks(idx, disabled, now)...)
	sel := selectBackends(t.cfg.HAProxy.Backends, usage, idx)
	for _, b := range sel.Backends {
		checks = append(checks, backendCheck(b, idx, t.cfg.HAProxy.MinServersUp, now))
	}
	for i := range checks[fromStat:] {
		checks[fromStat+i].Duration = took
	}
	return checks, st.PID
}

// usageFor returns the backend usage of the configuration of process pid,
// reading it once per PID (a reload brings a new PID and maybe a new
// configuration). nil means unknown; the reason is logged once. It is read
// even when the backends are configured, for the disabled frontends.
func (l *loop) usageFor(pid int) *backendUsage {
	if pid == l.usagePID {
		return l.usage
	}
	l.usagePID = pid
	u, err := l.t.usage(pid)
	if err != nil {
		l.usage = nil
		msg := "cannot read haproxy's configuration; checking every backend with servers"
		if len(l.t.cfg.HAProxy.Backends) > 0 {
			msg = "cannot read haproxy's configuration; frontends disabled there will count as failures"
		}
		l.t.log.Warn(msg, "pid", pid, "err", err)
		return nil
	}
	l.usage = &u
	// Bounded like Event.Reason: a configuration may use thousands of backends.
	l.t.log.Info("backends to check", "pid", pid, "count", len(u.Used), "used", joinBounded(u.Used, ", ", MaxReasonLen), "files", u.Files)
	if len(u.Dynamic) > 0 {
		l.t.log.Warn("use_backend rules with computed names are not checked", "rules", u.Dynamic)
	}
	return l.usage
}
