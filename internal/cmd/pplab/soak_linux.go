//go:build linux

package main

import (
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/proxypair/proxypair/internal/soak"
)

// newSoakCmd is `pplab soak` (make soak): random faults against a
// proxypair pair with real HAProxy, checked after each.
func newSoakCmd(stdout io.Writer) *cobra.Command {
	var (
		bin      string
		duration time.Duration
		seed     uint64
	)
	cmd := &cobra.Command{
		Use:   "soak",
		Short: "Random faults against a proxypair pair with HAProxy; exit 1 on any violation",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if seed == 0 {
				seed = uint64(time.Now().UnixNano())
			}
			path, err := soak.Binary(bin)
			if err != nil {
				return err
			}
			rep, err := soak.Run(c.Context(), soak.Options{Proxypair: path, Duration: duration, Seed: seed, Out: stdout})
			if err != nil {
				return err
			}
			return rep.Check()
		},
	}
	cmd.Flags().StringVar(&bin, "proxypair", "bin/proxypair", "the proxypair binary under test")
	cmd.Flags().DurationVar(&duration, "duration", 30*time.Minute, "how long to keep starting faults")
	cmd.Flags().Uint64Var(&seed, "seed", 0, "the fault sequence (0 = from the clock; the report prints it)")
	return cmd
}
