//go:build !linux

package main

import (
	"errors"
	"io"

	"github.com/spf13/cobra"
)

// newSoakCmd is a stub: the soak builds network namespaces, which only
// Linux has.
func newSoakCmd(io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "soak",
		Short: "Random faults against a proxypair pair (Linux only)",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("soak needs Linux network namespaces")
		},
	}
}
