//go:build !linux

package main

import (
	"errors"
	"io"

	"github.com/spf13/cobra"
)

// newDemoCmd is a stub: the demo builds network namespaces, which only
// Linux has.
func newDemoCmd(io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Run a proxypair pair in network namespaces (Linux only)",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("the demo needs Linux network namespaces")
		},
	}
}
