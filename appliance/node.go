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
	"time"

	"github.com/proxypair/proxypair/appliance/config"
	"github.com/proxypair/proxypair/appliance/control"
	"github.com/proxypair/proxypair/appliance/garp"
	"github.com/proxypair/proxypair/appliance/hooks"
	"github.com/proxypair/proxypair/appliance/ifwatch"
	"github.com/proxypair/proxypair/appliance/netio"
	"github.com/proxypair/proxypair/appliance/vip"
)

// Options configures Run.
type Options struct {
	Config   *config.Config
	Log      *slog.Logger
	Level    *slog.LevelVar // the logger's level; a reload changes it (may be nil)
	Version  string
	Notifier Notifier // nil = not under systemd

	// Reload receives a value for every SIGHUP; Load re-reads the config
	// the way the command line first did.
	Reload <-chan struct{}
	Load   func() (*config.Config, []config.Problem, error)
}

// Run is `proxypair run`: it takes the instance lock, prepares the
// interface, runs the VRRP instance until ctx ends, then stops gracefully
// (make before break as master; no VIP of ours left).
func Run(ctx context.Context, o Options) error {
	if o.Notifier == nil {
		o.Notifier = nopNotifier{}
	}
	cfg := o.Config
	// Before any address is touched: a second daemon for the same
	// interface and VRID must change nothing.
	lock, err := acquireLock(lockDir, cfg.VRRP.Interface, cfg.VRRP.VRID)
	if err != nil {
		return err
	}
	defer lock.release()
	e, err := openHost(cfg.VRRP, o.Log)
	if err != nil {
		return err
	}
	e.notifier = o.Notifier
	claimer, err := newClaimer(cfg.Cloud, cfg.VRRP.Interface, o.Log)
	if err != nil {
		return err
	}
	if claimer != nil {
		e.claimer, e.provider = claimer, cfg.Cloud.Provider
		go prepareNCP(ctx, claimer, o.Log)
	}
	if cfg.Health.Enabled {
		if e.health, err = startHealth(ctx, cfg.Health, o.Log); err != nil {
			return err
		}
	}
	// The notify hooks run on their own goroutine; the instance only
	// queues. The runner is drained once the instance has stopped, so the
	// stop hooks run after the VIPs are gone and before we exit.
	runner := hooks.New(hookCommands(cfg.Notify), hooks.Options{Log: o.Log.With("component", "hooks")})
	defer stopHooks(runner)
	e.hooks = runner
	in, err := newInstance(cfg.VRRP, cfg.Health.Weight, e, o.Log)
	if err != nil {
		return err
	}
	n := &node{inst: in, started: time.Now(), version: o.Version, file: cfg.File, cfg: cfg, hooks: runner}
	srv, err := control.Listen(cfg.Control.Socket, n, o.Log)
	if err != nil {
		return err
	}
	defer srv.Close()

	go n.reloads(ctx, o)
	o.Log.Info("starting", "version", o.Version, "iface", cfg.VRRP.Interface, "vrid", cfg.VRRP.VRID,
		"priority", cfg.VRRP.Priority, "source", e.src, "vips", cfg.VRRP.VirtualIPs, "unicast_peers", cfg.VRRP.UnicastPeers,
		"label", e.label)
	err = in.run(ctx, func() {
		o.Notifier.Ready()
		o.Notifier.Status(in.statusLine())
	})
	stopHooks(runner)
	o.Log.Info("stopped")
	return err
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

// node is the daemon around the instance: status and reloads.
type node struct {
	inst    *instance
	started time.Time
	version string
	file    string
	cfg     *config.Config // owned by the reloads goroutine
	hooks   *hooks.Runner
}

// Status implements control.Provider. The instance builds its part on its
// loop, from what it already knows: no system call.
func (n *node) Status(ctx context.Context) (control.Status, error) {
	st := control.Status{Version: n.version, PID: os.Getpid(), Started: n.started, Config: n.file}
	var in control.Instance
	if err := n.inst.call(ctx, func(now time.Time) { in = n.inst.snapshot(now) }); err != nil {
		return st, err
	}
	if n.inst.health != nil {
		// The tracker's own snapshot, read here: not on the VRRP loop.
		in.Health.Checks = n.inst.health.Checks()
	}
	st.Instances = []control.Instance{in}
	return st, nil
}

// reloads applies SIGHUPs. A new config with errors is logged and the
// running one kept; keys that cannot change without a restart are named and
// keep their old values.
func (n *node) reloads(ctx context.Context, o Options) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-o.Reload:
		}
		o.Notifier.Reloading()
		n.reload(ctx, o)
		o.Notifier.Ready()
	}
}

func (n *node) reload(ctx context.Context, o Options) {
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
	applied, restart := config.PlanReload(n.cfg, next)
	if len(restart) > 0 {
		o.Log.Warn("reload: these keys only change on restart; keeping their running values", "keys", restart)
	}
	if problems := config.Validate(applied); !config.Valid(problems) {
		for _, p := range problems {
			o.Log.Error("reload: the new values do not fit the running ones of the restart-only keys; keeping the running config",
				"problem", p.String(), "restart_keys", restart)
		}
		return
	}
	changed := config.Changed(n.cfg, applied)
	if len(changed) == 0 {
		o.Log.Info("reloaded: nothing changed", "file", next.File)
		return
	}
	if o.Level != nil {
		var l slog.Level
		if err := l.UnmarshalText([]byte(applied.Log.Level)); err == nil {
			o.Level.Set(l)
		}
	}
	var rerr error
	if n.hooks != nil {
		// Before the instance: a transition the reload itself causes
		// runs the new hooks. Queued ones keep theirs.
		n.hooks.Set(hookCommands(applied.Notify))
	}
	err = n.inst.call(ctx, func(now time.Time) { rerr = n.inst.reconfigure(now, applied.VRRP, applied.Health.Weight) })
	if err == nil && rerr != nil {
		o.Log.Error("reload: keeping the running VRRP settings", "err", rerr)
	}
	if err != nil || rerr != nil {
		if n.hooks != nil {
			n.hooks.Set(hookCommands(n.cfg.Notify))
		}
		return
	}
	n.cfg = applied
	o.Log.Info("reloaded", "file", next.File, "changed", changed)
}
