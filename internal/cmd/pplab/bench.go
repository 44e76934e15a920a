//go:build linux

package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"

	"github.com/spf13/cobra"

	"github.com/proxypair/proxypair/internal/bench"
)

// newBenchCmd is `pplab bench`: the failover outages of a keepalived pair
// and proxypair pairs (without and with vrrp.pair), side by side (see
// internal/bench). Progress goes to
// stderr, the table to stdout.
func newBenchCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		trials   int
		jsonPath string
		only     string
		bin      string
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Failover outages (VRRP and HAProxy failures) and daemon cost, proxypair vs keepalived, in network namespaces (needs root)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := benchConfig(trials, only, bin)
			if err != nil {
				return err
			}
			cfg.Progress = stderr
			rep, runErr := bench.Run(c.Context(), cfg)
			if rep == nil {
				return runErr
			}
			var errs []error
			if runErr != nil {
				errs = append(errs, runErr)
			}
			if jsonPath != "" {
				if err := writeJSONFile(jsonPath, rep); err != nil {
					errs = append(errs, err)
				}
			}
			fmt.Fprintln(stdout)
			if err := bench.WriteTable(stdout, rep); err != nil {
				errs = append(errs, err)
			}
			if n := failedTrials(rep); n > 0 {
				errs = append(errs, fmt.Errorf("bench: %d trials failed (see the notes under the table)", n))
			}
			return errors.Join(errs...)
		},
	}
	f := cmd.Flags()
	f.IntVar(&trials, "trials", 5, "trials per row and daemon")
	f.StringVar(&jsonPath, "json", "", "also write every trial's numbers to this file as JSON")
	f.StringVar(&only, "only", "", `run only the rows whose ID matches this regexp (IDs: "v2-1s/hard", "v3-10ms/graceful", "v2-1s/haproxy-kill", "v3-10ms/haproxy-kill", "v3-50ms/backend-lost", "v2-1s/handover", "resources/v3-10ms", "health-cost/v2-1s")`)
	f.StringVar(&bin, "proxypair", "bin/proxypair", "the proxypair binary to measure")
	return cmd
}

func benchConfig(trials int, only, bin string) (bench.Config, error) {
	var (
		cfg  = bench.Config{Trials: trials}
		errs []error
	)
	if trials < 1 {
		errs = append(errs, fmt.Errorf("--trials %d: want at least 1", trials))
	}
	if only != "" {
		re, err := regexp.Compile(only)
		if err != nil {
			errs = append(errs, fmt.Errorf("--only: %w", err))
		}
		cfg.Only = re
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		errs = append(errs, fmt.Errorf("--proxypair %q: %w", bin, err))
	}
	cfg.Proxypair = abs
	if cfg.Pplab, err = os.Executable(); err != nil {
		errs = append(errs, fmt.Errorf("finding pplab's own binary (the probes run it in the client's namespace): %w", err))
	}
	if os.Geteuid() != 0 {
		errs = append(errs, errors.New("bench needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) to build network namespaces"))
	}
	return cfg, errors.Join(errs...)
}

func failedTrials(rep *bench.Report) int {
	n := 0
	for _, row := range rep.Rows {
		for _, s := range []*bench.Series{&row.Keepalived, &row.Proxypair, row.Pair} {
			if s == nil {
				continue
			}
			for _, t := range s.Trials {
				if t.Error != "" {
					n++
				}
			}
		}
	}
	var usages []bench.DaemonUsage
	if r := rep.Resources; r != nil {
		usages = append(usages, r.Keepalived, r.Proxypair)
	}
	if h := rep.HealthCost; h != nil {
		usages = append(usages, h.Off, h.On)
	}
	for _, u := range usages {
		if u.Error != "" {
			n++
		}
	}
	return n
}
