//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/proxypair/proxypair/internal/lab"
)

// demoFlags are `pplab demo`'s flags.
type demoFlags struct {
	bin      string
	short    bool
	steps    int
	every    time.Duration
	keep     bool
	stateDir string
	hold     bool // internal: this process is the kept lab's keeper
}

// newDemoCmd is the lab's main job (`make demo`): a proxypair pair in
// network namespaces, shown electing, failing over, handing over, in split
// brain and pairing with keepalived, with a live view of each step and the
// client's outage of each in a summary.
func newDemoCmd(stdout, stderr io.Writer) *cobra.Command {
	var f demoFlags
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a proxypair pair in network namespaces through failures, a planned hand-over, split brain and keepalived interop (needs root)",
		Long: `Run a proxypair pair in network namespaces through failures, a planned
hand-over, split brain and keepalived interop, with a live view of each step
and a summary of the client's outages.

With --keep the lab stays up afterwards for you to explore (the commands to
do so are printed): a pplab process in the background keeps it, and
` + "`pplab demo-down`" + ` (make demo-down) removes it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := f.options(stdout)
			if err != nil {
				return err
			}
			switch {
			case f.hold:
				return holdDemo(cmd.Context(), f, o)
			case f.keep:
				return keepInBackground(cmd.Context(), f, stdout, stderr)
			}
			l, err := lab.New(lab.Options{})
			if err != nil {
				return err
			}
			defer func() {
				l.Close()
				fmt.Fprintln(stdout, "\nCleaned up: every namespace and process of the lab is gone.")
			}()
			_, err = runDemo(cmd.Context(), o, l)
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.bin, "proxypair", "", "proxypair binary (default: next to pplab)")
	fl.BoolVar(&f.short, "short", false, "short timers (VRRP v3, 100ms adverts): the walkthrough in about half a minute, as CI runs it")
	fl.IntVar(&f.steps, "steps", 0, "run only the first N steps (0: all)")
	fl.DurationVar(&f.every, "every", 10*time.Millisecond, "the client's request interval")
	fl.BoolVar(&f.keep, "keep", false, "leave the lab running afterwards; pplab demo-down removes it")
	fl.StringVar(&f.stateDir, "state-dir", defaultDemoStateDir, "where a kept lab is recorded")
	fl.BoolVar(&f.hold, "hold", false, "internal: run the demo and keep the lab (what --keep starts in the background)")
	_ = fl.MarkHidden("hold")
	return cmd
}

// options checks the flags and resolves the binaries.
func (f *demoFlags) options(stdout io.Writer) (demoOptions, error) {
	var errs []error
	self, err := os.Executable()
	if err != nil {
		errs = append(errs, fmt.Errorf("finding pplab's own binary (the backend servers run it): %w", err))
	}
	if f.bin == "" {
		f.bin = filepath.Join(filepath.Dir(self), "proxypair")
	}
	// The daemons run with their host's directory as working directory.
	if abs, err := filepath.Abs(f.bin); err != nil {
		errs = append(errs, fmt.Errorf("--proxypair %q: %w", f.bin, err))
	} else if _, err := os.Stat(abs); err != nil {
		errs = append(errs, fmt.Errorf("--proxypair: %w (build it with `make build`)", err))
	} else {
		f.bin = abs
	}
	if f.steps < 0 || f.steps > demoSteps {
		errs = append(errs, fmt.Errorf("--steps %d: the walkthrough has %d steps", f.steps, demoSteps))
	}
	if f.every < time.Millisecond {
		errs = append(errs, fmt.Errorf("--every %v: want at least 1ms", f.every))
	}
	if !filepath.IsAbs(f.stateDir) {
		errs = append(errs, fmt.Errorf("--state-dir %q: want an absolute path", f.stateDir))
	}
	if os.Geteuid() != 0 {
		errs = append(errs, errors.New("the demo needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) to build network namespaces"))
	}
	t := classicTimers
	if f.short {
		t = shortTimers
	}
	return demoOptions{proxypair: f.bin, pplab: []string{self}, timers: t, steps: f.steps, every: f.every, out: stdout},
		errors.Join(errs...)
}

// demoSteps is the number of steps in the walkthrough.
var demoSteps = len((&demo{a: &member{}, b: &member{}}).steps())

// runDemo runs the walkthrough in l: what both the plain and the kept demo
// do.
func runDemo(ctx context.Context, o demoOptions, l *lab.Lab) (*demo, error) {
	d := &demo{o: o, lab: l}
	_, err := d.run(ctx)
	return d, err
}
