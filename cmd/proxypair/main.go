// Command proxypair keeps one virtual IP on a pair of HAProxy servers with
// VRRP, and hands it to the peer the moment HAProxy fails.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/proxypair/proxypair/appliance"
	"github.com/proxypair/proxypair/appliance/config"
	"github.com/proxypair/proxypair/appliance/config/keepalived"
	"github.com/proxypair/proxypair/appliance/control"
	"github.com/proxypair/proxypair/appliance/sdnotify"
)

// Set by the linker (see the Makefile).
var (
	version = "dev"
	commit  = "unknown"
)

// exitError carries an exit code without printing anything more.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func main() {
	err := newRoot(os.Stdout, os.Stderr).Execute()
	var code exitError
	switch {
	case err == nil:
	case errors.As(err, &code):
		os.Exit(int(code))
	default:
		fmt.Fprintln(os.Stderr, "proxypair:", err)
		os.Exit(1)
	}
}

// flags shared by every command that reads the config.
type flags struct {
	config string
	set    []string
}

func (f *flags) source() (config.Source, error) {
	src := config.Source{File: f.config, Set: map[string]string{}}
	for _, kv := range f.set {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return src, fmt.Errorf("--set %q: want key=value, e.g. --set vrrp.priority=150", kv)
		}
		src.Set[k] = v
	}
	return src, nil
}

func (f *flags) load() (*config.Config, []config.Problem, error) {
	src, err := f.source()
	if err != nil {
		return nil, nil, err
	}
	return config.Load(src)
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	var f flags
	root := &cobra.Command{
		Use:           "proxypair",
		Short:         "VRRP for an HAProxy pair: one virtual IP, handed over the moment HAProxy fails",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVarP(&f.config, "config", "c", "",
		"config file (default $"+config.EnvConfigFile+", then "+config.DefaultFile+")")
	root.PersistentFlags().StringArrayVar(&f.set, "set", nil,
		"override a config key, e.g. --set vrrp.priority=150 (repeatable; beats the environment and the file)")
	root.AddCommand(runCmd(&f), validateCmd(&f), statusCmd(&f), cleanupCmd(&f), handoverCmd(&f), resumeCmd(&f), importCmd(), versionCmd())
	return root
}

func runCmd(f *flags) *cobra.Command {
	return &cobra.Command{
		Use:   "run",
		Short: "Run the daemon in the foreground (SIGTERM/SIGINT: graceful stop; SIGHUP: reload)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, problems, err := f.load()
			if err != nil {
				return err
			}
			if !config.Valid(problems) {
				printProblems(cmd.ErrOrStderr(), problems)
				return exitError(1)
			}
			// The daemon is idle between adverts. With one P the runtime
			// does not wake spare threads to spin after every packet and
			// timer (about a fifth of its CPU at 10 ms adverts, measured
			// with two pairs side by side); GOMAXPROCS in the environment
			// still wins.
			if os.Getenv("GOMAXPROCS") == "" {
				runtime.GOMAXPROCS(1)
			}
			level := new(slog.LevelVar)
			log := newLogger(cmd.ErrOrStderr(), cfg.Log, level)
			for _, p := range problems {
				log.Warn("config", "problem", p.String())
			}

			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			reload := make(chan struct{})
			go func() {
				for {
					select {
					case <-hup:
						select {
						case reload <- struct{}{}:
						case <-ctx.Done():
							return
						}
					case <-ctx.Done():
						return
					}
				}
			}()

			err = appliance.Run(ctx, appliance.Options{
				Config:   cfg,
				Log:      log,
				Level:    level,
				Version:  version,
				Commit:   commit,
				Notifier: sdnotify.New(log),
				Reload:   reload,
				Load:     f.load,
			})
			if err != nil {
				log.Error("exiting", "err", err)
				return exitError(1)
			}
			return nil
		},
	}
}

func validateCmd(f *flags) *cobra.Command {
	return &cobra.Command{
		Use:   "validate",
		Short: "Check the config: every problem, one per line, naming the key; exit 1 if invalid",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, problems, err := f.load()
			if err != nil {
				return err
			}
			printProblems(cmd.OutOrStdout(), problems)
			if !config.Valid(problems) {
				return exitError(1)
			}
			if w := appliance.HealthSocketWarning(cfg); w != "" {
				fmt.Fprintln(cmd.OutOrStdout(), "warning: health.haproxy.socket: "+w)
			}
			where := cfg.File
			if where == "" {
				where = "environment and defaults (no config file)"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "config ok: %s\n", where)
			return nil
		},
	}
}

func statusCmd(f *flags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Ask the running daemon for its state over the control socket",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, _, err := f.load()
			if err != nil {
				return err
			}
			// Only control.socket matters here; other problems are for
			// `validate` and must not hide the daemon's answer.
			ctx, cancel := context.WithTimeout(cmd.Context(), 5*time.Second)
			defer cancel()
			st, err := control.Get(ctx, cfg.Control.Socket)
			if errors.Is(err, control.ErrNotRunning) {
				// Never a last known state: a daemon that does not
				// answer is not running, and says nothing of the VIP.
				if asJSON {
					enc := json.NewEncoder(cmd.OutOrStdout())
					enc.SetIndent("", "  ")
					enc.Encode(map[string]any{"running": false, "socket": cfg.Control.Socket, "error": err.Error()})
				} else {
					fmt.Fprintf(cmd.OutOrStdout(), "proxypair is not running: nothing answers at %s\n", cfg.Control.Socket)
				}
				return exitError(3)
			}
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			return st.WriteText(cmd.OutOrStdout(), time.Now())
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the status document as JSON")
	return cmd
}

func cleanupCmd(f *flags) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "cleanup",
		Short: "Remove the VIPs this node put on the interface (for ExecStopPost= after a crash); refuses while the daemon runs",
		Long: `Remove the VIPs this node put on the interface: every address carrying its
label (e.g. eth1:pp51), whichever config they came from, and nothing else.
It refuses while a daemon runs for the same interface and VRID: removing a
live master's VIP would leave the pair without one. --force removes them
anyway.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, problems, err := f.load()
			if err != nil {
				return err
			}
			log := newLogger(cmd.ErrOrStderr(), cfg.Log, new(slog.LevelVar))
			// Clean up even with an otherwise invalid config: a VIP left
			// behind is worse than a warning.
			for _, p := range problems {
				log.Warn("config", "problem", p.String())
			}
			if cfg.VRRP.Interface == "" {
				return errors.New("cleanup: the config names no interface")
			}
			return appliance.Cleanup(cfg, log, force)
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "remove the VIPs even while a daemon runs for this interface and VRID")
	return cmd
}

func importCmd() *cobra.Command {
	imp := &cobra.Command{
		Use:   "import",
		Short: "Translate another VRRP daemon's config into a proxypair config",
		Args:  cobra.NoArgs,
	}
	var opt keepalived.Options
	ka := &cobra.Command{
		Use:   "keepalived FILE",
		Short: "Print a proxypair config (YAML) for one vrrp_instance of a keepalived.conf; warnings go to stderr",
		Long: `Reads a keepalived.conf (keepalived 1.3 to 2.x, with its includes) and prints an
equivalent proxypair config on standard output, each value commented with the
keepalived line it came from. Everything that does not translate is a warning
on standard error naming the keyword and file:line. Exit status 0 (warnings
allowed), 1 when the file cannot be read or translated into a valid config.

  proxypair import keepalived /etc/keepalived/keepalived.conf > /etc/proxypair/proxypair.yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("config-id") {
				opt.ConfigID = hostConfigID()
			}
			res, err := keepalived.Import(args[0], opt)
			if err != nil {
				return err
			}
			stderr := cmd.ErrOrStderr()
			for _, w := range res.Warnings {
				fmt.Fprintln(stderr, w)
			}
			if _, err := cmd.OutOrStdout().Write(res.YAML()); err != nil {
				return err
			}
			problems := config.Validate(res.Config)
			for _, p := range problems {
				fmt.Fprintln(stderr, "config:", p)
			}
			if !config.Valid(problems) {
				fmt.Fprintln(stderr, "proxypair: the translated config is not valid: fix the keys named above")
				return exitError(1)
			}
			return nil
		},
	}
	ka.Flags().StringVar(&opt.Instance, "instance", "", "the vrrp_instance to translate (default: the first)")
	ka.Flags().IntVar(&opt.PeerPriority, "peer-priority", 0, "the other node's keepalived priority: checks that track_script weights move the VIP, and sets vrrp.peer_priority")
	ka.Flags().StringVar(&opt.ConfigID, "config-id", "", "keepalived's --config-id for lines starting @ID (default: this host's name, as keepalived)")
	imp.AddCommand(ka)
	return imp
}

// hostConfigID is keepalived's default config-id: the host name up to the
// first dot.
func hostConfigID() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	id, _, _ := strings.Cut(h, ".")
	return id
}

func handoverCmd(f *flags) *cobra.Command {
	var d time.Duration
	cmd := &cobra.Command{
		Use:   "handover",
		Short: "Put the node in maintenance: a master hands the VIP to its peer with no gap, and the node stays out",
		Long: `Put the node in maintenance (a planned hand-over, e.g. before patching it).
A master hands the VIP to its peer make-before-break: it keeps serving until
the peer holds the VIP, so clients lose nothing. The node then holds a low
priority and never takes the VIP back until ` + "`proxypair resume`" + ` or the
end of --for. Maintenance survives a restart of the daemon and a reboot.
The command returns once the node no longer holds the VIP.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if d < 0 {
				return fmt.Errorf("--for %v: a duration must not be negative", d)
			}
			return setMaintenance(cmd, f, true, d)
		},
	}
	cmd.Flags().DurationVar(&d, "for", 0, "end maintenance by itself after this long (default: until proxypair resume)")
	return cmd
}

func resumeCmd(f *flags) *cobra.Command {
	return &cobra.Command{
		Use:   "resume",
		Short: "End maintenance: the node's priority returns, and it takes the VIP back if it is the preferred node",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return setMaintenance(cmd, f, false, 0)
		},
	}
}

// setMaintenance asks the daemon, then reports where the node stands; for
// a hand-over it waits (bounded) until the node no longer holds the VIP.
func setMaintenance(cmd *cobra.Command, f *flags, on bool, d time.Duration) error {
	cfg, _, err := f.load()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
	defer cancel()
	if err := control.SetMaintenance(ctx, cfg.Control.Socket, on, d); err != nil {
		return err
	}
	for {
		st, err := control.Get(ctx, cfg.Control.Socket)
		if err != nil {
			return err
		}
		in := st.Instances[0]
		if !on || (in.State != "MASTER" && in.State != "HANDOVER") {
			fmt.Fprintf(cmd.OutOrStdout(), "%s vrid %d: %s, priority %d", in.Interface, in.VRID, in.State, in.EffectivePriority)
			switch m := in.Maintenance; {
			case m == nil:
				fmt.Fprintln(cmd.OutOrStdout(), ", not in maintenance")
			case m.Until.IsZero():
				fmt.Fprintln(cmd.OutOrStdout(), ", in maintenance until `proxypair resume`")
			default:
				fmt.Fprintf(cmd.OutOrStdout(), ", in maintenance until %s\n", m.Until.UTC().Format(time.RFC3339))
			}
			if on && in.Master != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "the VIP is with %s\n", in.Master)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("handover: still %s after %v: see proxypair status", in.State, 30*time.Second)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and Go version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "proxypair %s (commit %s, %s, %s/%s)\n",
				version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		},
	}
}

func printProblems(w io.Writer, problems []config.Problem) {
	for _, p := range problems {
		fmt.Fprintln(w, p.String())
	}
}

func newLogger(w io.Writer, c config.Log, level *slog.LevelVar) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.Level)); err == nil {
		level.Set(l)
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
