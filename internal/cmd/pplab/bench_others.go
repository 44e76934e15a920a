//go:build !linux

package main

import (
	"errors"
	"io"

	"github.com/spf13/cobra"
)

// newBenchCmd is a stub: the bench builds network namespaces, which only
// Linux has.
func newBenchCmd(_, _ io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "bench",
		Short: "Failover outages, proxypair vs keepalived (Linux only)",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("bench needs Linux network namespaces")
		},
	}
}
