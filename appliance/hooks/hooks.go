// Package hooks runs the notify hooks: the commands a user configures for
// the states a VRRP instance enters (notify.master, notify.backup,
// notify.fault, notify.stop).
//
// The guarantees, which keepalived's notify scripts lack (they are forked
// per transition and race each other):
//
//   - One at a time, in order. The hooks of a transition run after those
//     of every earlier transition have finished, and a state's hooks run
//     in the order listed. Never two at once.
//   - The caller never waits. Notify only queues; a runner goroutine
//     starts the processes. The VRRP loop can call it on every transition.
//   - Bounded. Each hook has a timeout; past it, its process group gets
//     SIGTERM, then SIGKILL after a grace. At most QueueLen transitions
//     wait; past that the oldest waiting one is dropped (logged, and seen
//     by the hooks as a gap in PROXYPAIR_SEQ), so the newest — the state
//     the node is in now — always gets its hooks.
//   - Logged. Every start, exit status, timeout and kill, and the hook's
//     output line by line (bounded), go to the log.
//
// A hook's environment is the daemon's, without its PROXYPAIR_*
// configuration (secrets such as vrrp.auth_pass stay in the daemon) and
// systemd's notify and watchdog variables, plus the transition; see the
// Env* constants. The command is run as configured: no shell, no extra
// positional arguments, standard input from /dev/null, in "/".
package hooks

import (
	"context"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// Kind is a set of hooks: the state a transition enters.
type Kind uint8

// The kinds, one per config key.
const (
	Master Kind = iota + 1 // notify.master
	Backup                 // notify.backup
	Fault                  // notify.fault
	Stop                   // notify.stop: the daemon stops
)

// String returns the kind's config key name: "master", "backup", "fault",
// "stop".
func (k Kind) String() string {
	switch k {
	case Master:
		return "master"
	case Backup:
		return "backup"
	case Fault:
		return "fault"
	case Stop:
		return "stop"
	}
	return "unknown"
}

// state is PROXYPAIR_STATE: keepalived's word for it, as its generic
// notify script receives it.
func (k Kind) state() string {
	switch k {
	case Master:
		return "MASTER"
	case Backup:
		return "BACKUP"
	case Fault:
		return "FAULT"
	case Stop:
		return "STOP"
	}
	return "UNKNOWN"
}

// Commands are the configured hooks (config.Notify): argv lists per kind,
// and the timeout of each hook.
type Commands struct {
	Master, Backup, Fault, Stop [][]string
	Timeout                     time.Duration
}

func (c *Commands) of(k Kind) [][]string {
	switch k {
	case Master:
		return c.Master
	case Backup:
		return c.Backup
	case Fault:
		return c.Fault
	case Stop:
		return c.Stop
	}
	return nil
}

// Transition is one state change, as its hooks are told it.
type Transition struct {
	Kind      Kind
	From      string // the state left: MASTER, BACKUP, FAULT or INIT
	Reason    string // why, e.g. master_down, preempted, link_down
	Priority  int    // the effective priority after the change
	VIPs      []netip.Prefix
	Interface string
	VRID      int
	Instance  string
	At        time.Time
}

// Defaults of Options, and of Commands.Timeout.
const (
	DefaultTimeout   = 30 * time.Second
	DefaultQueueLen  = 32
	DefaultKillGrace = 2 * time.Second
	// DefaultOutputWait is how long, after a hook exits, its output is
	// still read: a background process it started may hold the pipe open
	// for ever, and must not hold up the next hook.
	DefaultOutputWait = 200 * time.Millisecond
)

// Options tune a Runner; zero values take the defaults.
type Options struct {
	Log        *slog.Logger
	QueueLen   int           // transitions that may wait; DefaultQueueLen
	KillGrace  time.Duration // from SIGTERM to SIGKILL; DefaultKillGrace
	OutputWait time.Duration // DefaultOutputWait
}

// job is one queued transition with its hooks, taken from the commands
// configured when it happened.
type job struct {
	t       Transition
	seq     uint64
	argvs   [][]string
	timeout time.Duration
}

// Runner runs the hooks of the transitions it is given, one at a time, in
// order, on its own goroutine.
type Runner struct {
	log  *slog.Logger
	opts Options

	mu      sync.Mutex
	cmds    Commands
	queue   []job
	seq     uint64
	running bool // a job is running
	closing bool

	wake      chan struct{} // a job was queued, or Close was called
	abort     chan struct{} // closed when Close gives up: kill, drop the rest
	abortOnce sync.Once
	done      chan struct{} // closed when the runner goroutine ends
}

// New starts a Runner for cmds.
func New(cmds Commands, o Options) *Runner {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.QueueLen <= 0 {
		o.QueueLen = DefaultQueueLen
	}
	if o.KillGrace <= 0 {
		o.KillGrace = DefaultKillGrace
	}
	if o.OutputWait <= 0 {
		o.OutputWait = DefaultOutputWait
	}
	r := &Runner{
		log:   o.Log,
		opts:  o,
		cmds:  clone(cmds),
		wake:  make(chan struct{}, 1),
		abort: make(chan struct{}),
		done:  make(chan struct{}),
	}
	go r.run()
	return r
}

// Set replaces the commands (a reload). Transitions already queued keep
// the hooks they were queued with.
func (r *Runner) Set(cmds Commands) {
	r.mu.Lock()
	r.cmds = clone(cmds)
	r.mu.Unlock()
}

// Notify queues the hooks of t's kind and returns at once; it never waits
// for a hook. With no hook for the kind it does nothing. When QueueLen
// transitions already wait, the oldest waiting one is dropped (logged).
func (r *Runner) Notify(t Transition) {
	r.mu.Lock()
	if r.closing {
		r.mu.Unlock()
		r.log.Warn("notify hooks: a transition after the runner stopped; its hooks do not run", "hook", t.Kind.String())
		return
	}
	argvs := r.cmds.of(t.Kind)
	if len(argvs) == 0 {
		r.mu.Unlock()
		return
	}
	r.seq++
	j := job{t: t, seq: r.seq, argvs: argvs, timeout: r.cmds.Timeout}
	if j.timeout <= 0 {
		j.timeout = DefaultTimeout
	}
	j.t.VIPs = slices.Clone(t.VIPs)
	var dropped *job
	if len(r.queue) >= r.opts.QueueLen {
		d := r.queue[0]
		dropped = &d
		r.queue = slices.Delete(r.queue, 0, 1)
	}
	r.queue = append(r.queue, j)
	waiting := len(r.queue)
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
	if dropped != nil {
		r.log.Warn("notify hooks: queue full; dropped the oldest waiting transition's hooks (the next hooks see a gap in PROXYPAIR_SEQ)",
			"hook", dropped.t.Kind.String(), "seq", dropped.seq, "from", dropped.t.From, "reason", dropped.t.Reason,
			"at", dropped.t.At, "waiting", waiting)
	}
}

// Timeout is the configured timeout of each hook.
func (r *Runner) Timeout() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmds.Timeout <= 0 {
		return DefaultTimeout
	}
	return r.cmds.Timeout
}

// Close stops taking transitions and waits for the queued hooks to run, in
// order, until ctx ends; then the running hook is killed (SIGTERM, then
// SIGKILL after the grace) and those still waiting are dropped, each
// logged. Calling it again waits the same way.
func (r *Runner) Close(ctx context.Context) {
	r.mu.Lock()
	r.closing = true
	pending := len(r.queue)
	if r.running {
		pending++
	}
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
	if pending > 0 {
		deadline, _ := ctx.Deadline()
		r.log.Info("notify hooks: waiting for the queued transitions' hooks before exiting", "transitions", pending, "until", deadline)
	}
	select {
	case <-r.done:
		return
	case <-ctx.Done():
	}
	r.abortOnce.Do(func() { close(r.abort) })
	<-r.done
}

// run is the runner goroutine: one job at a time, in queue order.
func (r *Runner) run() {
	defer close(r.done)
	for {
		j, ok, closing := r.next()
		if !ok {
			if closing {
				return
			}
			select {
			case <-r.wake:
			case <-r.abort:
				return
			}
			continue
		}
		select {
		case <-r.abort:
			r.dropQueued(j)
			return
		default:
		}
		r.runJob(j)
	}
}

// next takes the oldest queued job; running stays true until the queue
// is found empty.
func (r *Runner) next() (j job, ok, closing bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.queue) == 0 {
		r.running = false
		return job{}, false, r.closing
	}
	j = r.queue[0]
	r.queue = slices.Delete(r.queue, 0, 1)
	r.running = true
	return j, true, r.closing
}

// dropQueued logs j and every job still queued as not run: the daemon is
// out of time to stop.
func (r *Runner) dropQueued(j job) {
	r.mu.Lock()
	rest := append([]job{j}, r.queue...)
	r.queue = nil
	r.mu.Unlock()
	for _, j := range rest {
		r.log.Error("notify hooks: stopping; out of time for this transition's hooks, not run",
			"hook", j.t.Kind.String(), "seq", j.seq, "from", j.t.From, "reason", j.t.Reason)
	}
}

// runJob runs a transition's hooks in order. A failing hook does not stop
// the next: each was configured for the transition on its own.
func (r *Runner) runJob(j job) {
	for i, argv := range j.argvs {
		select {
		case <-r.abort:
			for _, a := range j.argvs[i:] {
				r.log.Error("notify hooks: stopping; out of time for this hook, not run",
					"hook", j.t.Kind.String(), "seq", j.seq, "program", a[0])
			}
			return
		default:
		}
		r.runOne(j, i, argv)
	}
}

func clone(c Commands) Commands {
	cp := func(in [][]string) [][]string {
		var out [][]string
		for _, argv := range in {
			out = append(out, slices.Clone(argv))
		}
		return out
	}
	return Commands{Master: cp(c.Master), Backup: cp(c.Backup), Fault: cp(c.Fault), Stop: cp(c.Stop), Timeout: c.Timeout}
}
