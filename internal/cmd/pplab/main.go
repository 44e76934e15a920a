// Command pplab is the lab tool for tests, benchmarks and the demo (not
// shipped):
//
//	pplab demo      the lab's main job: a proxypair pair in network namespaces (make demo)
//	pplab demo-down remove the lab `pplab demo --keep` (make demo KEEP=1) left running
//	pplab bench     failover outages, proxypair vs keepalived (make bench)
//	pplab soak      random faults against a pair, checked after each (make soak)
//	pplab advert    send hand-made VRRP adverts (tests)
//	pplab wait-advert  wait for one advert from an address (the bench's phase lock)
//	pplab probe     measure outages of a target, run inside a client namespace:
//
//	ip netns exec <client> pplab probe icmp --target 198.18.0.100 --every 10ms --duration 20s --json out.json
//	ip netns exec <client> pplab probe http --target 198.18.0.100 --every 10ms --timeout 500ms --json out.json
//
// A probe stops after --duration, or on SIGTERM/SIGINT, and then still
// writes its result and prints a one-line summary.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/proxypair/proxypair/internal/cmd/pplab/probe"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process exit, so tests can drive it.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(stderr, "pplab:", err)
		return 1
	}
	return 0
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "pplab",
		Short:         "proxypair lab tool: probes for benchmarks and the demo",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newProbeCmd(stdout, stderr), newAdvertCmd(), newBenchCmd(stdout, stderr), newWaitAdvertCmd(),
		newDemoCmd(stdout, stderr), newDemoDownCmd(stdout))
	root.AddCommand(newServeCmd(stderr), newSoakCmd(stdout))
	return root
}

// probeFlags are shared by every probe kind.
type probeFlags struct {
	target   string
	every    time.Duration
	timeout  time.Duration
	duration time.Duration
	jsonPath string
	samples  bool
}

func newProbeCmd(stdout, stderr io.Writer) *cobra.Command {
	var f probeFlags
	cmd := &cobra.Command{
		Use:   "probe",
		Short: "Measure outages of a target by probing it at a fixed rate",
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.target, "target", "", "address to probe (http: also host:port or an http:// URL)")
	pf.DurationVar(&f.every, "every", 10*time.Millisecond, "interval between probes")
	pf.DurationVar(&f.timeout, "timeout", 500*time.Millisecond, "how long a probe waits for its answer")
	pf.DurationVar(&f.duration, "duration", 0, "how long to probe; 0 = until SIGTERM/SIGINT")
	pf.StringVar(&f.jsonPath, "json", "", `write the result as JSON to this file ("-" = stdout)`)
	pf.BoolVar(&f.samples, "samples", false, "include every probe in the JSON")

	cmd.AddCommand(&cobra.Command{
		Use:   "icmp",
		Short: "ICMP echo requests over a raw socket (needs CAP_NET_RAW)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			addr, err := netip.ParseAddr(f.target)
			if err != nil {
				return fmt.Errorf("--target %q: want an IPv4 address: %w", f.target, err)
			}
			if err := f.check(); err != nil {
				return err
			}
			p, err := probe.NewICMP(addr)
			if err != nil {
				return err
			}
			defer p.Close()
			return runProbe(c.Context(), "icmp", f, p, stdout, stderr)
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "http",
		Short: "HTTP GETs, a new connection each (no keep-alive)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := f.check(); err != nil {
				return err
			}
			p, err := probe.NewHTTP(f.target)
			if err != nil {
				return err
			}
			return runProbe(c.Context(), "http", f, p, stdout, stderr)
		},
	})
	return cmd
}

func (f probeFlags) check() error {
	var errs []error
	if f.every <= 0 {
		errs = append(errs, fmt.Errorf("--every %v: want > 0", f.every))
	}
	if f.timeout <= 0 {
		errs = append(errs, fmt.Errorf("--timeout %v: want > 0", f.timeout))
	}
	if f.duration < 0 {
		errs = append(errs, fmt.Errorf("--duration %v: want >= 0", f.duration))
	}
	return errors.Join(errs...)
}

func runProbe(ctx context.Context, kind string, f probeFlags, p probe.Prober, stdout, stderr io.Writer) error {
	cfg := probe.Config{Every: f.every, Timeout: f.timeout, Duration: f.duration}
	fmt.Fprintf(stderr, "pplab: probing %s %s every %v (timeout %v)\n", kind, f.target, f.every, f.timeout)
	samples := probe.Run(ctx, p, cfg)
	res := probe.Summarize(kind, f.target, cfg, samples, time.Now())
	if f.samples {
		res.Samples = samples
	}

	summaryTo := stdout
	switch f.jsonPath {
	case "":
	case "-":
		summaryTo = stderr // keep stdout pure JSON
		if err := writeJSON(stdout, res); err != nil {
			return err
		}
	default:
		if err := writeJSONFile(f.jsonPath, res); err != nil {
			return err
		}
	}
	fmt.Fprintln(summaryTo, res.Summary())
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeJSONFile replaces path atomically: a reader sees the old file or the
// whole new one.
func writeJSONFile(path string, v any) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".pplab-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := writeJSON(tmp, v); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
