package appliance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/proxypair/proxypair/appliance/cloud/ncp"
	"github.com/proxypair/proxypair/appliance/config"
	"github.com/proxypair/proxypair/appliance/control"
	"github.com/proxypair/proxypair/appliance/garp"
	"github.com/proxypair/proxypair/appliance/hooks"
	"github.com/proxypair/proxypair/appliance/ifwatch"
	"github.com/proxypair/proxypair/appliance/metrics"
	"github.com/proxypair/proxypair/appliance/netio"
	"github.com/proxypair/proxypair/appliance/vip"
)

// Options configures Run.
type Options struct {
	Config   *config.Config
	Log      *slog.Logger
	Level    *slog.LevelVar // the logger's level; a reload changes it (may be nil)
	Version  string
	Commit   string   // for proxypair_build_info
	Notifier Notifier // nil = not under systemd

	// Reload receives a value for every SIGHUP; Load re-reads the config
	// the way the command line first did.
	Reload <-chan struct{}
	Load   func() (*config.Config, []config.Problem, error)
}

// Run is `proxypair run`: it runs the VRRP instance until ctx ends, then
// stops gracefully (make before break as master; no VIP of ours left). A
// reload that changes the instance's identity (interface, VRID, version,
// source) stops the instance the same way and starts a new one, inside the
// process.
func Run(ctx context.Context, o Options) error {
	if o.Notifier == nil {
		o.Notifier = nopNotifier{}
	}
	cfg := o.Config
	n := &node{o: o, started: time.Now(), version: o.Version, file: cfg.File, cfg: cfg}
	defer n.stopTracker()
	if err := n.setTracker(ctx, cfg); err != nil {
		return err
	}
	claimer, err := newClaimer(cfg.Cloud, cfg.VRRP.Interface, o.Log)
	if err != nil {
		return err
	}
	n.claimer = claimer
	if claimer != nil {
		go prepareNCP(ctx, claimer, o.Log)
	}
	// The notify hooks run on their own goroutine; the instance only
	// queues. The runner is drained once the last instance has stopped, so
	// the stop hooks run after the VIPs are gone and before we exit.
	n.hooks = hooks.New(hookCommands(cfg.Notify), hooks.Options{Log: o.Log.With("component", "hooks")})
	defer stopHooks(n.hooks)
	in, release, err := n.newInstance(cfg)
	if err != nil {
		return err
	}
	srv, err := control.Listen(cfg.Control.Socket, n, o.Log)
	if err != nil {
		release()
		return err
	}
	defer srv.Close()
	n.metrics = serveMetrics(cfg.Control.MetricsListen, n, o)
	defer func() { n.metrics.Close() }()

	go n.reloads(ctx)
	for {
		instCtx, stop := context.WithCancel(ctx)
		n.setCurrent(in, stop)
		o.Log.Info("starting", "version", o.Version, "iface", in.cfg.Interface, "vrid", in.cfg.VRID,
			"priority", in.cfg.Priority, "source", in.src, "vips", in.cfg.VirtualIPs, "unicast_peers", in.cfg.UnicastPeers,
			"label", in.label)
		err := in.run(instCtx, func() {
			o.Notifier.Ready()
			o.Notifier.Status(in.statusLine())
		})
		stop()
		release()
		next := n.takeRestart()
		if err != nil || ctx.Err() != nil || next == nil {
			n.mu.Lock()
			n.replacing = false
			n.mu.Unlock()
			stopHooks(n.hooks)
			o.Log.Info("stopped")
			return err
		}
		o.Log.Info("restarting the instance with its new identity", "iface", next.VRRP.Interface, "vrid", next.VRRP.VRID,
			"version", next.VRRP.Version)
		if in, release, err = n.newInstance(next); err != nil {
			return fmt.Errorf("reload: starting the instance with its new identity: %w", err)
		}
	}
}

// newInstance takes the instance lock (before any address is touched: a
// second daemon for the same interface and VRID must change nothing),
// prepares the interface and builds the instance; release gives the lock
// back.
func (n *node) newInstance(cfg *config.Config) (*instance, func(), error) {
	lock, err := acquireLock(lockDir, cfg.VRRP.Interface, cfg.VRRP.VRID)
	if err != nil {
		return nil, nil, err
	}
	e, err := openHost(cfg.VRRP, n.o.Log)
	if err != nil {
		lock.release()
		return nil, nil, err
	}
	e.notifier = n.o.Notifier
	e.hooks = n.hooks
	if n.claimer != nil {
		e.claimer, e.provider = n.claimer, cfg.Cloud.Provider
	}
	if n.tracker != nil {
		e.health = n.tracker
	}
	in, err := newInstance(cfg.VRRP, cfg.Health.Weight, e, n.o.Log)
	if err != nil {
		lock.release()
		return nil, nil, err
	}
	n.maintFile = maintenanceFile(cfg.Control.StateDir, cfg.VRRP.Interface, cfg.VRRP.VRID)
	if in.maintenance, err = loadMaintenance(n.maintFile, time.Now()); err != nil {
		// A state we cannot read must not make us take the VIP back by
		// surprise: stay in maintenance until someone resumes.
		n.o.Log.Error("reading the maintenance state; staying in maintenance until `proxypair resume`", "err", err)
		in.maintenance = &control.Maintenance{Since: time.Now()}
	}
	return in, lock.release, nil
}

// setTracker starts the health tracker of cfg (none when tracking is off),
// replacing a running one.
func (n *node) setTracker(ctx context.Context, cfg *config.Config) error {
	if !cfg.Health.Enabled {
		n.stopTracker()
		return nil
	}
	if w := HealthSocketWarning(cfg); w != "" {
		n.o.Log.Warn("health.haproxy.socket: " + w)
	}
	tctx, cancel := context.WithCancel(ctx)
	t, err := startHealth(tctx, cfg.Health, n.o.Log)
	if err != nil {
		cancel()
		return err
	}
	n.stopTracker()
	n.tracker, n.trackerStop = t, cancel
	return nil
}

func (n *node) stopTracker() {
	if n.trackerStop != nil {
		n.trackerStop()
		n.tracker, n.trackerStop = nil, nil
	}
}

// serveMetrics starts the metrics endpoint when control.metrics_listen is
// set. One that cannot listen (the port taken, the address not on this
// host) is logged, not fatal: the pair's VIP matters more than its
// metrics, and Prometheus reports the target down.
func serveMetrics(addr string, n *node, o Options) *metrics.Server {
	if addr == "" {
		return nil
	}
	log := o.Log.With("component", "metrics")
	h, err := metrics.Handler(n, metrics.BuildInfo{Version: o.Version, Commit: o.Commit}, log)
	if err == nil {
		var s *metrics.Server
		if s, err = metrics.Listen(addr, h, log); err == nil {
			o.Log.Info("serving metrics", "addr", s.Addr().String(), "path", metrics.Path)
			return s
		}
	}
	o.Log.Error("control.metrics_listen: cannot serve metrics; running without them", "addr", addr, "err", err)
	return nil
}

// openHost checks the interface and prepares the adapters: it removes the
// VIPs a crashed run left (they carry our label; we start as Backup, which
// holds none), refuses a VIP that is an address someone else put on the
// interface, and picks the advert source address.
func openHost(v config.VRRP, log *slog.Logger) (env, error) {
	if _, err := net.InterfaceByName(v.Interface); err != nil {
		return env{}, fmt.Errorf("vrrp.interface %q: %w", v.Interface, err)
	}
	label := vip.Label(v.Interface, v.VRID)
	m := vip.New(v.Interface, label)
	removed, err := m.RemoveOwned()
	if err != nil {
		return env{}, fmt.Errorf("removing VIPs an earlier run left on %s: %w", v.Interface, err)
	}
	if len(removed) > 0 {
		log.Warn("removed VIPs an earlier run left on the interface", "iface", v.Interface, "vips", removed, "label", label)
	}
	addrs, err := m.List()
	if err != nil {
		return env{}, err
	}
	for _, p := range v.VirtualIPs {
		for _, a := range addrs {
			if a.Prefix.Addr() == p.Addr() {
				return env{}, fmt.Errorf("vrrp.virtual_ips: %v is already on %s as %v (label %q), and proxypair did not put it there: "+
					"a VIP must be an address no host owns; remove it from the interface or from the config", p.Addr(), v.Interface, a.Prefix, a.Label)
			}
		}
	}
	src := v.SourceIP
	if !src.IsValid() {
		for _, a := range addrs {
			if a.Label != label && !slices.ContainsFunc(v.VirtualIPs, func(p netip.Prefix) bool { return p.Addr() == a.Prefix.Addr() }) {
				src = a.Prefix.Addr()
				break
			}
		}
		if !src.IsValid() {
			return env{}, fmt.Errorf("vrrp.source_ip: %s has no IPv4 address of its own (other than the VIPs); set vrrp.source_ip or address the interface", v.Interface)
		}
	}
	if slices.Contains(v.UnicastPeers, src) {
		return env{}, fmt.Errorf("vrrp.unicast_peers: %v is this node's own advert source (%s): list the peer's address, not ours", src, sourceOrigin(v))
	}
	openARP := func() (ARP, error) { return garp.Open(v.Interface) }
	// Fail the start, not the first takeover, when a capability is missing.
	arp, err := openARP()
	if err != nil {
		return env{}, err
	}
	arp.Close()
	return env{
		src:   src,
		addrs: m,
		label: label,
		openConn: func(multicast bool) (Conn, error) {
			return netio.Listen(netio.Options{Interface: v.Interface, Source: src, Multicast: multicast})
		},
		openARP:  openARP,
		watchARP: func() (ARPWatch, error) { return garp.Watch(v.Interface) },
		watch: func(ctx context.Context, onLink func(ifwatch.Link), onAddrs func()) (ifwatch.Link, error) {
			return ifwatch.Watch(ctx, ifwatch.Options{Interface: v.Interface, Log: log, OnLink: onLink, OnAddrs: onAddrs})
		},
		newTimer: newFDTimer,
	}, nil
}

func sourceOrigin(v config.VRRP) string {
	if v.SourceIP.IsValid() {
		return "vrrp.source_ip"
	}
	return "the first address of " + v.Interface
}

// Cleanup is `proxypair cleanup`: it removes the VIPs this node put on the
// interface (they carry its label, whatever config they came from), for
// systemd's ExecStopPost= after a crash. It refuses while a live daemon
// runs for the interface and VRID, unless force is set.
func Cleanup(cfg *config.Config, log *slog.Logger, force bool) error {
	iface, vrid := cfg.VRRP.Interface, cfg.VRRP.VRID
	if force {
		log.Warn("cleanup --force: not checking for a running daemon", "iface", iface, "vrid", vrid)
	} else {
		lock, err := acquireLock(lockDir, iface, vrid)
		if errors.Is(err, ErrLocked) {
			return fmt.Errorf("cleanup refused: %w; stop it first (systemctl stop proxypair), or use --force to remove its VIPs anyway", err)
		}
		if err != nil && !errors.Is(err, os.ErrPermission) {
			return err
		}
		if lock != nil {
			defer lock.release()
		}
	}
	label := vip.Label(iface, vrid)
	removed, err := vip.New(iface, label).RemoveOwned()
	if err != nil {
		return err
	}
	if len(removed) > 0 {
		log.Info("removed VIPs", "iface", iface, "vips", removed, "label", label)
	} else {
		log.Info("nothing to clean up", "iface", iface, "label", label)
	}
	return nil
}

// node is the daemon around the instance: status, reloads, and what the
// instance shares with its successor after a restart in-process (the health
// tracker, the cloud claimer, the control socket, the metrics endpoint).
type node struct {
	o       Options
	started time.Time
	version string
	file    string
	cfg     *config.Config // owned by the reloads goroutine

	tracker     *trackerHealth // nil: health tracking off
	trackerStop context.CancelFunc
	claimer     *ncp.Claimer // nil: no cloud provider
	metrics     *metrics.Server
	hooks       *hooks.Runner // nil only in tests that build a node by hand

	mu        sync.Mutex // guards the current instance and a pending restart
	inst      *instance
	stopInst  context.CancelFunc
	restartTo *config.Config
	replacing bool // from a restart's request until its successor runs
	maintFile string
}

func (n *node) current() *instance {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.inst
}

func (n *node) setCurrent(in *instance, stop context.CancelFunc) {
	n.mu.Lock()
	n.inst, n.stopInst, n.replacing = in, stop, false
	n.mu.Unlock()
}

// call runs f on the current instance's loop. While an instance is being
// replaced (a new identity), it waits for the successor rather than fail.
func (n *node) call(ctx context.Context, f func(in *instance, now time.Time)) error {
	for {
		in := n.current()
		err := in.call(ctx, func(now time.Time) { f(in, now) })
		n.mu.Lock()
		replacing := n.replacing
		n.mu.Unlock()
		if !errors.Is(err, errStopped) || !replacing {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// restartInstance stops the current instance (gracefully: make before
// break as master) for Run to start one with cfg.
func (n *node) restartInstance(ctx context.Context, cfg *config.Config) error {
	in := n.current()
	if err := in.call(ctx, func(time.Time) { in.restarting = true }); err != nil {
		return err
	}
	n.mu.Lock()
	n.restartTo, n.replacing = cfg, true
	stop := n.stopInst
	n.mu.Unlock()
	stop()
	return nil
}

func (n *node) takeRestart() *config.Config {
	n.mu.Lock()
	defer n.mu.Unlock()
	next := n.restartTo
	n.restartTo = nil
	return next
}

// SetMaintenance implements control.Maintainer: `proxypair handover` and
// `proxypair resume`. The state is written before the state machine acts,
// so a crash in between errs on the side of staying out.
func (n *node) SetMaintenance(ctx context.Context, on bool, d time.Duration) error {
	var m *control.Maintenance
	if on {
		now := time.Now()
		m = &control.Maintenance{Since: now}
		if d > 0 {
			m.Until = now.Add(d)
		}
	}
	n.mu.Lock()
	file := n.maintFile
	n.mu.Unlock()
	if err := saveMaintenance(file, m); err != nil {
		return err
	}
	return n.call(ctx, func(in *instance, now time.Time) { in.setMaintenance(now, m) })
}

// Status implements control.Provider. The instance builds its part on its
// loop, from what it already knows: no system call.
func (n *node) Status(ctx context.Context) (control.Status, error) {
	st := control.Status{Produced: time.Now(), Version: n.version, PID: os.Getpid(), Started: n.started, Config: n.file}
	var in control.Instance
	var health Health
	if err := n.call(ctx, func(inst *instance, now time.Time) { in, health = inst.snapshot(now), inst.health }); err != nil {
		return st, err
	}
	if health != nil && in.Health != nil {
		// The tracker's own snapshot, read here: not on the VRRP loop.
		in.Health.Checks = health.Checks()
	}
	st.Instances = []control.Instance{in}
	return st, nil
}

// reloads applies SIGHUPs. A new config with errors is logged and the
// running one kept; keys that cannot change without a restart are named and
// keep their old values.
func (n *node) reloads(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.o.Reload:
		}
		n.o.Notifier.Reloading()
		n.reload(ctx)
		n.o.Notifier.Ready()
	}
}

// reload applies a new config: every key live that can be (the health
// tracker and the cloud claimer are rebuilt in place, the metrics endpoint
// moved), the instance reconfigured — or, for a new identity, restarted
// inside the process — and the keys that need a process restart named.
func (n *node) reload(ctx context.Context) {
	o := n.o
	if o.Load == nil {
		return
	}
	next, problems, err := o.Load()
	if err != nil {
		o.Log.Error("reload failed; keeping the running config", "err", err)
		return
	}
	if !config.Valid(problems) {
		for _, p := range problems {
			o.Log.Error("reload: invalid config; keeping the running config", "problem", p.String())
		}
		return
	}
	plan := config.PlanReload(n.cfg, next)
	applied := plan.Apply
	if len(plan.RestartKeys) > 0 {
		o.Log.Warn("reload: these keys only change when the process restarts; keeping their running values", "keys", plan.RestartKeys)
	}
	if problems := config.Validate(applied); !config.Valid(problems) {
		for _, p := range problems {
			o.Log.Error("reload: the new values do not fit the running ones of the restart-only keys; keeping the running config",
				"problem", p.String(), "restart_keys", plan.RestartKeys)
		}
		return
	}
	changed := config.Changed(n.cfg, applied)
	if len(changed) == 0 {
		o.Log.Info("reloaded: nothing changed", "file", next.File)
		return
	}
	in := n.current()
	if n.hooks != nil {
		// Before the instance: a transition the reload itself causes
		// runs the new hooks. Queued ones keep theirs.
		n.hooks.Set(hookCommands(applied.Notify))
	}
	// The instance first: a refused VRRP change changes nothing else.
	if len(plan.IdentityKeys) == 0 {
		var rerr error
		err = in.call(ctx, func(now time.Time) { rerr = in.reconfigure(now, applied.VRRP, applied.Health.Weight) })
		if err == nil {
			err = rerr
		}
		if err != nil {
			o.Log.Error("reload: keeping the running config", "err", err)
			if n.hooks != nil {
				n.hooks.Set(hookCommands(n.cfg.Notify))
			}
			return
		}
	}
	if !config.SameSection(n.cfg, applied, "health.") {
		if err := n.setTracker(ctx, applied); err != nil {
			o.Log.Error("reload: the new health tracker did not start; tracking stays as it was", "err", err)
		} else {
			t := n.tracker
			var h Health
			if t != nil {
				h = t
			}
			in.call(ctx, func(now time.Time) { in.setHealth(now, h) })
		}
	}
	if !config.SameSection(n.cfg, applied, "cloud.") {
		c, err := newClaimer(applied.Cloud, applied.VRRP.Interface, o.Log)
		if err != nil {
			o.Log.Error("reload: the new cloud settings are not usable; the claim stays as it was", "err", err)
		} else {
			n.claimer = c
			var cl Claimer
			if c != nil {
				cl = c
				go prepareNCP(ctx, c, o.Log)
			}
			in.call(ctx, func(time.Time) { in.setClaimer(cl, applied.Cloud.Provider) })
		}
	}
	if applied.Control.MetricsListen != n.cfg.Control.MetricsListen {
		n.metrics.Close()
		n.metrics = serveMetrics(applied.Control.MetricsListen, n, o)
	}
	if o.Level != nil {
		var l slog.Level
		if err := l.UnmarshalText([]byte(applied.Log.Level)); err == nil {
			o.Level.Set(l)
		}
	}
	if len(plan.IdentityKeys) > 0 {
		o.Log.Warn("reload: the instance's identity changed; restarting it (make before break as master)", "keys", plan.IdentityKeys)
		if err := n.restartInstance(ctx, applied); err != nil {
			o.Log.Error("reload: restarting the instance", "err", err)
			return
		}
	}
	n.cfg = applied
	o.Log.Info("reloaded", "file", next.File, "changed", changed)
}
