//go:build !linux

package main

import (
	"errors"
	"io"

	"github.com/spf13/cobra"
)

var errDemoLinux = errors.New("the demo needs Linux network namespaces")

// newDemoCmd is a stub: the demo builds network namespaces, which only
// Linux has.
func newDemoCmd(io.Writer, io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Run a proxypair pair in network namespaces (Linux only)",
		RunE:  func(*cobra.Command, []string) error { return errDemoLinux },
	}
}

// newDemoDownCmd is a stub, as newDemoCmd.
func newDemoDownCmd(io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "demo-down",
		Short: "Remove the lab `pplab demo --keep` left running (Linux only)",
		RunE:  func(*cobra.Command, []string) error { return errDemoLinux },
	}
}
