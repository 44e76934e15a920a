//go:build linux

package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/proxypair/proxypair/internal/cmd/pplab/probe"
	"github.com/proxypair/proxypair/internal/lab"
)

// Config is one bench run.
type Config struct {
	Trials    int            // per row and daemon
	Only      *regexp.Regexp // rows whose ID matches; nil = all
	Proxypair string         // the proxypair binary
	Pplab     string         // the pplab binary: probes and wait-advert run in the client's namespace
	Progress  io.Writer      // one line per trial, and what went wrong
}

const (
	// probeTimeout bounds how late an echo reply may come and still count
	// as an answer; round trips in the lab take well under a millisecond.
	probeTimeout = 200 * time.Millisecond
	// beforeFailure is how long the probe runs before the phase lock
	// starts, so the trial has a clean baseline.
	beforeFailure = 300 * time.Millisecond
	// afterRecovery is how long the probe goes on after the client reached
	// the VIP again, so the end of the outage is on record.
	afterRecovery = 200 * time.Millisecond
	// advertTimeout is how long wait-advert waits for the master's advert.
	advertTimeout = 5 * time.Second
)

// phaseLockNote and the others describe the method in the table and JSON.
const (
	phaseLockNote  = "Phase lock, both daemons alike: before each failure `pplab wait-advert` in the client's namespace waits for one advert from the master (198.18.0.1); the failure (eth1 down, or SIGTERM) is set off as soon as its report of the advert comes through the pipe."
	resourcesNote  = "Resources: both pairs run at once (separate labs) and are measured over the same window; the master's utime+stime from /proc/PID/stat over it, as % of one core, and VmRSS at its end; keepalived is its parent plus its VRRP child (--vrrp), summed; proxypair is one process, logging at info, HAProxy tracking off. The backups' numbers are in the JSON."
	phaseSweepNote = "HAProxy rows, phase: the failure is not set off right after the advert: proxypair's resign does not depend on the advert phase, but keepalived's vrrp_script path depends on where the failure falls in its 1 s script cycle, so one fixed phase would pick its best or worst case. Trial n of N sets off the failure (n−½)/N × 1 s after an advert from a reaches the client (`pplab wait-advert`), so the failures spread evenly over the script cycle and both daemons get the same phases; the JSON has each trial's phase_target_ms."
	httpOutageNote = "HTTP outage: the longest run of failed GETs to http://198.18.0.100/ (one every %[1]v from the client, each on a new connection; refused, reset, no answer within %[2]v, or not 2xx, e.g. HAProxy's 503 with its server DOWN). A GET every %[1]v resolves an outage only to whole GETs: 0 ms is no GET failed; 10 ms is one failed GET, a real gap anywhere from a few µs to 20 ms; k failed GETs in a row are a gap between k−1 and k+1 intervals. Outage targets are judged in whole intervals (the median rounded to %[1]v). Finer: failure→VIP on b, from the kill to the VIP on b's eth1, polled every 5 ms, and proxypair's legs below, stamped by the daemons themselves."
	trackingNote   = "HAProxy rows, tracking: HAProxy 2.6 on a and b, its backend be_app's only server s1 a separate process (`pplab serve` on 127.0.0.1:8081), checked with inter %v fall %d rise 1, so HAProxy's own check time (DOWN after the server dies) is at most fall × inter = %v. keepalived: vrrp_script `kill -0 $(cat haproxy.pid)` interval %v fall %d rise %d weight %d. proxypair: health.interval %v fall %d rise %d weight %d, health.haproxy.socket = HAProxy's runtime API (backends: those the frontends use). Restore: HAProxy (or the server) started again, then the bench waits until a is master again (restore_to_master_ms in the JSON). \"never moved (within N s)\": the VIP stayed on a for N s = script interval × fall + Master_Down + 2 s, longer than keepalived would take had its script noticed."
	pairModeNote   = "\"with vrrp.pair\": both proxypair nodes run with vrrp.pair: true, so the only backup takes over as soon as the master's priority-0 advert arrives; without it the backup waits Skew_Time, (256 − 100)/256 of the interval (609 ms at v2 1s, 30 ms at v3 50ms, 6 ms at v3 10ms), as RFC 3768/5798 say. Each line is its own pair, measured in the same run against the same keepalived trials."
	handoverNote   = "Planned hand-over: keepalived's master is stopped with SIGTERM (what `systemctl stop` does: one priority-0 advert and the VIP dropped at once, so clients wait for the backup's Skew_Time) and started again after the trial; proxypair's master runs `proxypair handover` (it keeps the VIP until the peer holds it) and, after the trial, `proxypair resume`. Failure→VIP on b counts from starting the command, its exec and config load included."
	legsNote       = "Legs: after each proxypair trial of the HAProxy rows the bench reads both nodes' `proxypair status --json`: a's last_resign (detected: its tracker saw HAProxy fail; handled: its VRRP loop took the verdict; prio0_sent: its priority-0 adverts were sent) and b's last_takeover (trigger: the advert, or the Skew_Time timer, that made it master; advert_sent; vip_added; first_arp). The daemons stamp the host's wall clock, which the bench read just before kill(2), so failure→a detected includes the kill and the tracker's wake-up. Each column is the median over the trials of the hop from the trial's previous stamp (the failure if it has none before), and failure→b first GARP the whole. prio0_sent and advert_sent are when the first copy of the advert left (b takes over on the first of a's three priority-0 adverts). A planned hand-over has no resign: a handled is a's MASTER → HANDOVER transition, and failure→a handled includes starting `proxypair handover`. A lost backend is noticed by HAProxy's own check first. The JSON has every trial's stamps (legs)."
	healthCostNote = "Health checking cost: two proxypair pairs at the same settings, each with HAProxy (and its server) on both nodes, one with health tracking at the settings above and one with health.enabled false, measured over the same window like the resources row; the cost is the master's CPU with tracking minus without. The master's HAProxy CPU shows what the runtime API queries cost HAProxy."
)

// Run measures every selected row for keepalived, then proxypair, and the
// resource row if selected. It returns what it has measured so far even
// when ctx is cancelled (the error then wraps ctx's); every lab it built
// is gone when it returns.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Trials < 1 {
		return nil, fmt.Errorf("bench: %d trials: want at least 1", cfg.Trials)
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	for _, bin := range []string{cfg.Proxypair, cfg.Pplab} {
		if err := checkExecutable(bin); err != nil {
			return nil, err
		}
	}
	r := &runner{cfg: cfg, daemons: []daemon{
		keepalivedDaemon{}, proxypairDaemon{bin: cfg.Proxypair}, proxypairDaemon{bin: cfg.Proxypair, pair: true},
	}}
	rep := &Report{
		Started:   time.Now(),
		TrialsPer: cfg.Trials,
		Method: Method{
			ProbeEvery:   probe.Duration(ProbeEvery),
			ProbeTimeout: probe.Duration(probeTimeout),
			PhaseLock:    phaseLockNote,
			Outage: fmt.Sprintf("Outage: the longest run of unanswered pings to the VIP in the trial (one every %v from the client, %v timeout). "+
				"Outages come in whole probe intervals, so where both daemons sit at the same protocol floor a median can move by %v on the probes' phase alone; "+
				"ratios are judged as printed. The JSON's failure_to_vip_on_backup_ms (polled every 5 ms) is finer.",
				ProbeEvery, probeTimeout, ProbeEvery),
			Resources:  resourcesNote,
			PhaseSweep: phaseSweepNote,
			HTTPOutage: fmt.Sprintf(httpOutageNote, ProbeEvery, probeTimeout),
			PairMode:   pairModeNote,
			Handover:   handoverNote,
			Legs:       legsNote,
			Tracking: fmt.Sprintf(trackingNote, BackendCheck.Inter, BackendCheck.Fall, BackendCheck.DownTime(),
				ScriptInterval, ScriptFall, ScriptRise, ScriptWeight, HealthInterval, HealthFall, HealthRise, HealthWeight),
			HealthCost: healthCostNote,
		},
		Host:     hostInfo(),
		Versions: map[string]string{},
	}
	if cfg.Only != nil {
		rep.Only = cfg.Only.String()
	}
	r.rep = rep
	defer func() { rep.Finished = time.Now() }()

	rows := Select(Scenarios(), cfg.Only)
	for _, sc := range rows {
		row := Row{ID: sc.ID(), Label: sc.Label(), Scenario: sc}
		if sc.Pair != nil {
			row.Pair = &Series{}
		}
		rep.Rows = append(rep.Rows, row)
	}
	// One pair per setup and daemon serves all that setup's rows (none
	// when no row measures that daemon).
	for _, st := range setupsOf(rows) {
		for _, d := range r.daemons {
			if err := r.series(ctx, d, st); err != nil {
				rep.Interrupted = true
				return rep, err
			}
		}
	}
	if rs := Resources(); cfg.Only == nil || cfg.Only.MatchString(rs.ID()) {
		rep.Resources = &ResourceRow{ID: rs.ID(), Label: rs.Label(), Scenario: rs}
		var specs []pairSpec
		for _, d := range r.daemons {
			specs = append(specs, pairSpec{name: d.Name(), d: d, st: setup{s: rs.Settings}})
		}
		us := r.usage(ctx, rs.ID(), rs.Window, specs)
		if ctx.Err() != nil {
			rep.Resources = nil
			rep.Interrupted = true
			return rep, fmt.Errorf("bench: %w", context.Cause(ctx))
		}
		for i, d := range r.daemons {
			if d.Name() == Keepalived {
				rep.Resources.Keepalived = us[i]
			} else {
				rep.Resources.Proxypair = us[i]
			}
		}
	}
	if hc := HealthCost(); cfg.Only == nil || cfg.Only.MatchString(hc.ID()) {
		rep.HealthCost = &HealthCostRow{ID: hc.ID(), Label: hc.Label(), Scenario: hc}
		pp := proxypairDaemon{bin: cfg.Proxypair}
		us := r.usage(ctx, hc.ID(), hc.Window, []pairSpec{
			{name: "proxypair, tracking off", d: pp, st: setup{s: hc.Settings, haproxy: true}},
			{name: "proxypair, tracking on", d: pp, st: setup{s: hc.Settings, haproxy: true, track: true}},
		})
		if ctx.Err() != nil {
			rep.HealthCost = nil
			rep.Interrupted = true
			return rep, fmt.Errorf("bench: %w", context.Cause(ctx))
		}
		rep.HealthCost.Off, rep.HealthCost.On = us[0], us[1]
	}
	return rep, nil
}

type runner struct {
	cfg     Config
	daemons []daemon
	rep     *Report
}

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.cfg.Progress, format+"\n", args...)
}

// newPair builds a pair and, the first time, records the daemon's version.
func (r *runner) newPair(ctx context.Context, d daemon, st setup) (*pair, error) {
	p, err := newPair(d, st, r.cfg.Pplab, func(format string, args ...any) { r.logf("  "+format, args...) })
	if err != nil {
		return nil, err
	}
	if _, ok := r.rep.Versions[d.Software()]; !ok {
		r.rep.Versions[d.Software()] = d.Version(ctx, p.c)
	}
	return p, nil
}

// series runs every trial of the rows with setup st for daemon d. A trial
// that fails is recorded and the pair rebuilt from scratch; only
// cancellation stops the series.
func (r *runner) series(ctx context.Context, d daemon, st setup) error {
	var p *pair
	defer func() {
		if p != nil {
			if err := p.close(); err != nil {
				r.logf("  lab: %v", err)
			}
		}
	}()
	for i := range r.rep.Rows {
		row := &r.rep.Rows[i]
		series := row.Series(d.Name())
		if series == nil || setupOf(row.Scenario) != st {
			continue
		}
		for n := 1; n <= r.cfg.Trials; n++ {
			var (
				t   = Trial{N: n}
				err error
			)
			if p == nil {
				p, err = r.newPair(ctx, d, st)
			}
			if err == nil {
				t, err = r.trial(ctx, p, row.Scenario, n)
			}
			if ctx.Err() != nil {
				return fmt.Errorf("bench: %w", context.Cause(ctx))
			}
			if err != nil {
				t.Error = err.Error()
				r.logf("%s %s %d/%d: FAILED: %v", row.ID, d.Name(), n, r.cfg.Trials, err)
				if p != nil {
					r.logf("%s", p.logs())
					if cerr := p.close(); cerr != nil {
						r.logf("  lab: %v", cerr)
					}
					p = nil
				}
			} else if t.NotMovedWithin > 0 {
				r.logf("%s %s %d/%d: the VIP never moved within %v (outage %v when the probe stopped, %d/%d answered), advert→failure %v (+%v)",
					row.ID, d.Name(), n, r.cfg.Trials, t.NotMovedWithin, t.Outage, t.Answered, t.Sent, t.PhaseDelay, t.FailureCall)
			} else {
				r.logf("%s %s %d/%d: outage %v (%d outage(s), %d/%d answered), VIP on b %v after the failure, advert→failure %v (+%v)",
					row.ID, d.Name(), n, r.cfg.Trials, t.Outage, len(t.Outages), t.Answered, t.Sent, t.Takeover, t.PhaseDelay, t.FailureCall)
				if len(t.Outages) > 1 {
					// Not the failover's own outage: say what else went on.
					for _, o := range t.Outages {
						r.logf("  outage at %s for %v (%d lost): %s", o.Start.Format("15:04:05.000000"), o.Duration, o.Lost, o.Error)
					}
					r.logf("%s", p.logs())
				}
			}
			series.Trials = append(series.Trials, t)
			row.Finish()
		}
	}
	return nil
}

// trial is one failover of p's master, measured from the client.
func (r *runner) trial(ctx context.Context, p *pair, sc Scenario, n int) (Trial, error) {
	t := Trial{N: n}
	if err := p.settle(ctx); err != nil {
		return t, fmt.Errorf("settling: %w", err)
	}

	out := filepath.Join(p.c.Dir, fmt.Sprintf("probe-%s-%s-%d.json", strings.ReplaceAll(sc.ID(), "/", "-"), p.d.Name(), n))
	pr, err := p.c.Start(r.cfg.Pplab, "probe", string(sc.Probe), "--target", vipAddr,
		"--every", ProbeEvery.String(), "--timeout", probeTimeout.String(), "--json", out)
	if err != nil {
		return t, err
	}
	defer pr.Kill() // a no-op once stopped; the probe must not outlive a failed trial
	if err := waitOutput(ctx, pr, "pplab: probing", 5*time.Second); err != nil {
		return t, fmt.Errorf("starting the probe: %w", err)
	}
	if err := sleep(ctx, beforeFailure); err != nil {
		return t, err
	}

	advertAt, waitAdvert, err := r.waitAdvert(ctx, p)
	if err != nil {
		return t, err
	}
	defer waitAdvert() // reaps it on every path; the error is checked below
	if sc.Phase == PhaseSwept {
		t.PhaseTarget = probe.Duration(SweepDelay(n, r.cfg.Trials, SweepPeriod(p.s)))
		if err := sleep(ctx, time.Until(advertAt.Add(time.Duration(t.PhaseTarget)))); err != nil {
			return t, err
		}
	}
	failAt := time.Now()
	if err := p.fail(sc.Failure); err != nil {
		return t, err
	}
	// The link is down once the netlink call returns; the signal is
	// delivered once kill(2) returns.
	t.FailedAt = failAt
	t.FailureCall = probe.Duration(time.Since(failAt))
	t.PhaseDelay = probe.Duration(failAt.Sub(advertAt))
	if err := waitAdvert(); err != nil {
		return t, err
	}

	within := sc.MoveWithin()
	wctx, cancel := context.WithTimeout(ctx, within)
	err = lab.Eventually(wctx, 5*time.Millisecond, func() (bool, string) {
		return p.b.HasAddr(VIP.Addr()), "VIP not on b"
	})
	cancel()
	switch {
	case ctx.Err() != nil:
		return t, context.Cause(ctx)
	case err != nil && sc.Failure == BackendLost:
		// The daemon did not notice: a result, not a failed trial, as
		// long as a still holds the VIP.
		if !p.a.HasAddr(VIP.Addr()) {
			return t, fmt.Errorf("the VIP is on neither a nor b %v after the failure", within)
		}
		t.NotMovedWithin = probe.Duration(within)
	case err != nil:
		return t, fmt.Errorf("b taking over within %v: %w", within, err)
	default:
		t.Takeover = probe.Duration(time.Since(failAt))
		if err := p.clientReaches(ctx, 5*time.Second, "b"); err != nil {
			return t, err
		}
		if sc.HTTP() {
			legs, err := p.legs(ctx, failAt)
			if err != nil {
				t.Note = addNote(t.Note, fmt.Sprintf("no legs: %v", err))
			}
			t.Legs = legs
		}
		if err := sleep(ctx, afterRecovery); err != nil {
			return t, err
		}
	}
	if err := pr.Stop(5 * time.Second); err != nil {
		return t, fmt.Errorf("stopping the probe: %w\n%s", err, pr.Output())
	}
	res, err := readProbe(out)
	if err != nil {
		return t, err
	}
	t.Outage, t.Outages, t.Sent, t.Answered = res.Longest, res.Outages, res.Sent, res.Answered
	if k := len(res.Outages); k > 0 && res.Outages[k-1].Ongoing && t.NotMovedWithin == 0 {
		return t, fmt.Errorf("the probe still had no answers when stopped, although the client had reached the VIP on b")
	}
	// No outage at all is the best case (make-before-break), not worth a
	// note; more than one means the longest was picked out of several.
	if len(res.Outages) > 1 {
		t.Note = addNote(t.Note, fmt.Sprintf("the probe saw %d outages, not 1; the longest counts", len(res.Outages)))
	}

	if err := r.restore(ctx, p, sc, &t); err != nil {
		return t, fmt.Errorf("restoring the master: %w", err)
	}
	return t, nil
}

// waitAdvert is the phase lock: it starts `pplab wait-advert` in the
// client and returns as soon as its line about a's advert comes through
// the pipe (sooner than its exit would be noticed), with the time the
// advert was read. wait is to be called after the failure: it reaps the
// process. The lab's Close kills the process if the bench dies first.
func (r *runner) waitAdvert(ctx context.Context, p *pair) (at time.Time, wait func() error, err error) {
	cmd := p.c.Command(ctx, r.cfg.Pplab, "wait-advert", "--iface", lab.HostInterface,
		"--from", p.a.Addr.Addr().String(), "--timeout", advertTimeout.String())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return time.Time{}, nil, err
	}
	if err := cmd.Start(); err != nil {
		return time.Time{}, nil, fmt.Errorf("starting wait-advert: %w", err)
	}
	wait = sync.OnceValue(func() error {
		if err := cmd.Wait(); err != nil {
			return fmt.Errorf("wait-advert: %w: %s", err, strings.TrimSpace(stderr.String()))
		}
		return nil
	})
	// wait-advert's own timeout, or ctx, ends the read at the latest.
	line, readErr := bufio.NewReader(out).ReadString('\n')
	if at, err = ParseAdvertLine(line); err != nil {
		werr := wait()
		return time.Time{}, nil, fmt.Errorf("waiting for a's advert: %w", errors.Join(werr, readErr, err))
	}
	return at, wait, nil
}

// fail sets off f on the master.
func (p *pair) fail(f Failure) error {
	switch f {
	case HardFailure:
		return p.a.SetLink(false)
	case GracefulStop:
		return p.na.Process().Signal(syscall.SIGTERM)
	case PlannedHandover:
		if n, ok := p.na.(handoverNode); ok {
			return n.startHandover()
		}
		// keepalived has no hand-over: its operators stop it.
		return p.na.Process().Signal(syscall.SIGTERM)
	case HAProxyKilled, BackendLost:
		if p.pa == nil {
			return fmt.Errorf("bench: failure %q needs HAProxy on the nodes", f)
		}
		// Signal, not Kill: Kill would also wait for the process to be
		// reaped before the bench goes on timing.
		if f == HAProxyKilled {
			return p.pa.hp.Signal(syscall.SIGKILL)
		}
		return p.pa.server.Signal(syscall.SIGKILL)
	}
	return fmt.Errorf("bench: failure %q is not implemented", f)
}

// restore brings the master back: link up, the daemon restarted once the
// stopped one has exited, HAProxy or its server started again, or the
// hand-over ended. The next trial's settle waits for the roles.
func (r *runner) restore(ctx context.Context, p *pair, sc Scenario, t *Trial) error {
	switch sc.Failure {
	case HardFailure:
		return p.a.SetLink(true)
	case GracefulStop:
		return p.restart(ctx, t)
	case PlannedHandover:
		n, ok := p.na.(handoverNode)
		if !ok {
			return p.restart(ctx, t)
		}
		if err := n.resume(ctx); err != nil {
			return err
		}
		resumedAt := time.Now()
		if err := p.waitRoles(ctx, 2*p.s.MasterDown()+10*time.Second); err != nil {
			return err
		}
		t.Restored = probe.Duration(time.Since(resumedAt))
		return nil
	case HAProxyKilled, BackendLost:
		old := p.pa.server
		if sc.Failure == HAProxyKilled {
			old = p.pa.hp.Process
		}
		// SIGKILLed, so the status says so; only the exit matters.
		if _, err := old.Wait(5 * time.Second); errors.Is(err, lab.ErrRunning) {
			return fmt.Errorf("the killed process: %w", err)
		}
		start := p.pa.startServer
		if sc.Failure == HAProxyKilled {
			start = p.pa.startHAProxy
		}
		if err := start(); err != nil {
			return err
		}
		restoredAt := time.Now()
		if err := p.waitRoles(ctx, 2*p.s.MasterDown()+10*time.Second); err != nil {
			return err
		}
		t.Restored = probe.Duration(time.Since(restoredAt))
		return nil
	}
	return fmt.Errorf("bench: failure %q has no restore", sc.Failure)
}

// restart starts the master's daemon again once the stopped one has
// exited (after SIGTERM). The next trial's settle waits for the roles.
func (p *pair) restart(ctx context.Context, t *Trial) error {
	old := p.na.Process()
	if code, err := old.Wait(10 * time.Second); err != nil {
		return fmt.Errorf("the stopped daemon: %w", err)
	} else if code != 0 {
		t.Note = addNote(t.Note, fmt.Sprintf("%s exited with status %d after SIGTERM", p.d.Name(), code))
	}
	n, err := p.startDaemon(p.a, MasterPriority)
	if err != nil {
		return err
	}
	p.na = n
	return ctx.Err()
}

// addNote appends note to a trial's notes.
func addNote(notes, note string) string {
	if notes == "" {
		return note
	}
	return notes + "; " + note
}

// pairSpec is one pair of a resource measurement.
type pairSpec struct {
	name string // for progress lines
	d    daemon
	st   setup
}

// usage measures the pairs of specs in steady state over window, all over
// the same window (each in its own lab), so load from elsewhere on the
// machine weighs on all alike. id names the row in progress lines.
func (r *runner) usage(ctx context.Context, id string, window time.Duration, specs []pairSpec) []DaemonUsage {
	out := make([]DaemonUsage, len(specs))
	fail := func(i int, err error) {
		r.logf("%s %s: FAILED: %v", id, specs[i].name, err)
		out[i] = DaemonUsage{Error: err.Error()}
	}
	type sampled struct {
		p      *pair
		pids   [3][]int // master, backup, master's HAProxy
		start  [3]uint64
		failed bool
	}
	ms := make([]sampled, len(specs))
	defer func() {
		for _, m := range ms {
			if m.p != nil {
				if err := m.p.close(); err != nil {
					r.logf("  lab: %v", err)
				}
			}
		}
	}()
	for i, sp := range specs {
		p, err := r.newPair(ctx, sp.d, sp.st)
		if err != nil {
			fail(i, err)
			ms[i].failed = true
			continue
		}
		ms[i].p = p
	}
	for i := range ms {
		m := &ms[i]
		if m.failed {
			continue
		}
		if err := m.p.settle(ctx); err != nil {
			fail(i, fmt.Errorf("settling: %w", err))
			m.failed = true
		}
	}
	for i := range ms {
		m := &ms[i]
		if m.failed {
			continue
		}
		var err error
		if m.pids[0], err = m.p.na.PIDs(); err == nil {
			m.pids[1], err = m.p.nb.PIDs()
		}
		if err == nil && m.p.pa != nil {
			m.pids[2] = []int{m.p.pa.hp.PID()}
		}
		for j := range m.pids {
			if err == nil && m.pids[j] != nil {
				m.start[j], err = sumTicks(m.pids[j])
			}
		}
		if err != nil {
			fail(i, err)
			m.failed = true
		}
	}
	r.logf("%s: measuring %d pairs for %v", id, len(specs), window)
	start := time.Now()
	if err := sleep(ctx, window); err != nil {
		return out
	}
	wall := time.Since(start)
	for i := range ms {
		m := &ms[i]
		if m.failed {
			continue
		}
		var got [3]*Usage
		for j := range got {
			if m.pids[j] == nil {
				continue
			}
			u, err := usageOf(m.pids[j], m.start[j], wall)
			if err != nil {
				fail(i, err)
				m.failed = true
				break
			}
			got[j] = u
		}
		if m.failed {
			continue
		}
		if ok, detail := m.p.roles(ctx); !ok {
			fail(i, fmt.Errorf("the roles changed during the window: %s", detail))
			continue
		}
		r.logf("%s %s: master CPU %.2f%% RSS %s; backup CPU %.2f%% RSS %s", id, specs[i].name,
			got[0].CPUPercent, FormatMB(got[0].RSSBytes), got[1].CPUPercent, FormatMB(got[1].RSSBytes))
		out[i] = DaemonUsage{Master: got[0], Backup: got[1], HAProxy: got[2]}
	}
	return out
}

// usageOf is the CPU of pids since startTicks, over wall, and their RSS now.
func usageOf(pids []int, startTicks uint64, wall time.Duration) (*Usage, error) {
	end, err := sumTicks(pids)
	if err != nil {
		return nil, err
	}
	var rss int64
	for _, pid := range pids {
		b, err := readRSS(pid)
		if err != nil {
			return nil, err
		}
		rss += b
	}
	ticks := end - startTicks
	return &Usage{PIDs: pids, Window: probe.Duration(wall), CPUTicks: ticks, CPUPercent: CPUPercent(ticks, wall), RSSBytes: rss}, nil
}

func sumTicks(pids []int) (uint64, error) {
	var sum uint64
	for _, pid := range pids {
		t, err := readCPUTicks(pid)
		if err != nil {
			return 0, err
		}
		sum += t
	}
	return sum, nil
}

// waitOutput waits until p's log holds marker.
func waitOutput(ctx context.Context, p *lab.Process, marker string, within time.Duration) error {
	wctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	return lab.Eventually(wctx, 5*time.Millisecond, func() (bool, string) {
		if p.Exited() {
			return true, ""
		}
		return strings.Contains(p.Output(), marker), "no " + strconv.Quote(marker) + " yet"
	})
}

// sleep waits d unless ctx ends first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func readProbe(path string) (probe.Result, error) {
	var res probe.Result
	b, err := os.ReadFile(path)
	if err != nil {
		return res, fmt.Errorf("bench: probe result: %w", err)
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return res, fmt.Errorf("bench: probe result %s: %w", path, err)
	}
	return res, nil
}

func checkExecutable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("bench: %s is not an executable file", path)
	}
	if !filepath.IsAbs(path) {
		return fmt.Errorf("bench: %s: want an absolute path (processes run in the lab's directories)", path)
	}
	return nil
}

func hostInfo() HostInfo {
	h := HostInfo{CPUs: runtime.NumCPU()}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		h.Kernel = strings.TrimSpace(string(b))
	}
	return h
}
