package appliance

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"time"

	"github.com/proxypair/proxypair/appliance/config"
	"github.com/proxypair/proxypair/appliance/control"
	"github.com/proxypair/proxypair/appliance/garp"
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

// Run is `proxypair run`: it sets up the interface, runs the VRRP instance
// until ctx ends, then stops gracefully (priority-0 advert, VIPs removed).
func Run(ctx context.Context, o Options) error {
	if o.Notifier == nil {
		o.Notifier = nopNotifier{}
	}
	cfg := o.Config
	e, closeHost, err := openHost(cfg.VRRP, o.Log)
	if err != nil {
		return err
	}
	defer closeHost()
	e.notifier = o.Notifier
	if e.claimer, err = newClaimer(cfg.Cloud, cfg.VRRP.Interface, o.Log); err != nil {
		return err
	}
	e.provider = cfg.Cloud.Provider
	if p, ok := e.claimer.(ncpClaimer); ok {
		go p.prepare(ctx, o.Log)
	}
	if cfg.Health.Enabled {
		if e.health, err = startHealth(ctx, cfg.Health, o.Log); err != nil {
			return err
		}
	}
	in, err := newInstance(cfg.VRRP, cfg.Health.Weight, e, o.Log)
	if err != nil {
		return err
	}
	n := &node{inst: in, started: time.Now(), version: o.Version, file: cfg.File, cfg: cfg}
	srv, err := control.Listen(cfg.Control.Socket, n, o.Log)
	if err != nil {
		return err
	}
	defer srv.Close()

	go n.reloads(ctx, o)
	o.Log.Info("starting", "version", o.Version, "iface", cfg.VRRP.Interface, "vrid", cfg.VRRP.VRID,
		"priority", cfg.VRRP.Priority, "source", e.src, "vips", cfg.VRRP.VirtualIPs, "unicast_peers", cfg.VRRP.UnicastPeers)
	err = in.run(ctx, func() {
		o.Notifier.Ready()
		o.Notifier.Status(in.statusLine())
	})
	o.Log.Info("stopped")
	return err
}

// openHost prepares the interface and opens the sockets: it removes VIPs a
// crashed run may have left (we start as Backup, which holds none) and picks
// the advert source address.
func openHost(v config.VRRP, log *slog.Logger) (env, func(), error) {
	if _, err := net.InterfaceByName(v.Interface); err != nil {
		return env{}, nil, fmt.Errorf("vrrp.interface %q: %w", v.Interface, err)
	}
	vips := vip.New(v.Interface)
	if stale, err := vips.Held(v.VirtualIPs); err == nil && len(stale) > 0 {
		log.Warn("removing VIPs left on the interface by an earlier run", "iface", v.Interface, "vips", stale)
	}
	if err := vips.Delete(v.VirtualIPs); err != nil {
		return env{}, nil, err
	}
	src := v.SourceIP
	if !src.IsValid() {
		var err error
		if src, err = netio.FirstIPv4(v.Interface, v.VirtualIPs); err != nil {
			return env{}, nil, err
		}
	}
	conn, err := netio.Listen(netio.Options{Interface: v.Interface, Source: src, Multicast: len(v.UnicastPeers) == 0})
	if err != nil {
		return env{}, nil, err
	}
	arp, err := garp.Open(v.Interface)
	if err != nil {
		conn.Close()
		return env{}, nil, err
	}
	e := env{conn: conn, src: src, vips: vips, arp: arp, links: netlinkLinks{ifname: v.Interface}, newTimer: newFDTimer}
	return e, func() { arp.Close() }, nil
}

// Cleanup is `proxypair cleanup`: it removes this config's VIPs from the
// interface, for systemd's ExecStopPost= after a crash.
func Cleanup(cfg *config.Config, log *slog.Logger) error {
	vips := vip.New(cfg.VRRP.Interface)
	held, err := vips.Held(cfg.VRRP.VirtualIPs)
	if err != nil {
		// No interface means no VIPs on it.
		log.Info("nothing to clean up", "iface", cfg.VRRP.Interface, "err", err)
		return nil
	}
	if err := vips.Delete(cfg.VRRP.VirtualIPs); err != nil {
		return err
	}
	if len(held) > 0 {
		log.Info("removed VIPs", "iface", cfg.VRRP.Interface, "vips", held)
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
}

// Status implements control.Provider.
func (n *node) Status(ctx context.Context) (control.Status, error) {
	st := control.Status{Version: n.version, PID: os.Getpid(), Started: n.started, Config: n.file}
	var in control.Instance
	if err := n.inst.call(ctx, func() { in = n.inst.snapshot() }); err != nil {
		return st, err
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
	applied, restart := plan(n.cfg, next)
	if len(restart) > 0 {
		o.Log.Warn("reload: these keys only change on restart; keeping their running values", "keys", restart)
	}
	if o.Level != nil {
		var l slog.Level
		if err := l.UnmarshalText([]byte(applied.Log.Level)); err == nil {
			o.Level.Set(l)
		}
	}
	err = n.inst.call(ctx, func() { n.inst.reconfigure(time.Now(), applied.VRRP) })
	if err != nil {
		return
	}
	n.cfg = applied
	o.Log.Info("reloaded", "file", next.File)
}

// plan splits a reload into what applies live and the keys that need a
// restart; the returned config has the running values for the latter.
func plan(cur, next *config.Config) (*config.Config, []string) {
	out := *next
	var restart []string
	keep := func(key string, changed bool, restore func()) {
		if changed {
			restart = append(restart, key)
			restore()
		}
	}
	v, nv := &cur.VRRP, &out.VRRP
	keep("vrrp.interface", v.Interface != nv.Interface, func() { nv.Interface = v.Interface })
	keep("vrrp.virtual_router_id", v.VRID != nv.VRID, func() { nv.VRID = v.VRID })
	keep("vrrp.version", v.Version != nv.Version, func() {
		nv.Version, nv.AdvertInterval, nv.AuthPass = v.Version, v.AdvertInterval, v.AuthPass
	})
	keep("vrrp.source_ip", v.SourceIP != nv.SourceIP, func() { nv.SourceIP = v.SourceIP })
	keep("vrrp.unicast_peers (multicast <-> unicast)", (len(v.UnicastPeers) == 0) != (len(nv.UnicastPeers) == 0),
		func() { nv.UnicastPeers = v.UnicastPeers })
	keep("control.socket", cur.Control.Socket != out.Control.Socket, func() { out.Control = cur.Control })
	keep("log.format", cur.Log.Format != out.Log.Format, func() { out.Log.Format = cur.Log.Format })
	keep("health", !equalHealth(cur.Health, out.Health), func() { out.Health = cur.Health })
	keep("cloud", cur.Cloud != out.Cloud, func() { out.Cloud = cur.Cloud })
	return &out, restart
}

func equalHealth(a, b config.Health) bool {
	return a.Enabled == b.Enabled && a.Interval == b.Interval && a.Fall == b.Fall && a.Rise == b.Rise &&
		a.Weight == b.Weight && a.HAProxy.Socket == b.HAProxy.Socket && a.HAProxy.MinServersUp == b.HAProxy.MinServersUp &&
		a.HAProxy.SystemdUnit == b.HAProxy.SystemdUnit && slices.Equal(a.HAProxy.Backends, b.HAProxy.Backends)
}
