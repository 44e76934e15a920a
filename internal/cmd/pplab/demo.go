//go:build linux

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/proxypair/proxypair/internal/cmd/pplab/probe"
	"github.com/proxypair/proxypair/internal/lab"
	"github.com/proxypair/proxypair/internal/lab/ppnode"
)

// newDemoCmd is the lab's main job: a proxypair pair in network namespaces,
// shown electing, failing over, handing over and pairing with keepalived,
// with the client-side outage of each step.
func newDemoCmd(stdout io.Writer) *cobra.Command {
	var bin string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a proxypair pair in network namespaces and show failover, hand-over and keepalived interop",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			self, err := os.Executable()
			if err != nil {
				return err
			}
			if bin == "" {
				bin = filepath.Join(filepath.Dir(self), "proxypair")
			}
			if _, err := os.Stat(bin); err != nil {
				return fmt.Errorf("--proxypair: %w (build it with `make build`)", err)
			}
			// The daemons run with their host's directory as working
			// directory.
			if bin, err = filepath.Abs(bin); err != nil {
				return err
			}
			l, err := lab.New(lab.Options{})
			if err != nil {
				return err
			}
			defer func() {
				l.Close()
				fmt.Fprintln(stdout, "\nCleaned up: every namespace and process of the lab is gone.")
			}()
			d := &demo{out: stdout, lab: l, bin: bin, self: self, probe: "icmp"}
			return d.run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&bin, "proxypair", "", "proxypair binary (default: next to pplab)")
	return cmd
}

var (
	demoVIP = netip.MustParsePrefix("198.18.0.100/24")
	// The classic keepalived pair's settings, as in configs/master.yaml.
	demoVRRP = "vrrp:\n  interface: eth1\n  virtual_router_id: 51\n  priority: %d\n  version: 2\n" +
		"  advert_interval: 1s\n  auth_pass: pass1234\n  virtual_ips: [198.18.0.100/24]\n" +
		"health:\n  haproxy:\n    socket: %s\n"
)

type demo struct {
	out     io.Writer
	lab     *lab.Lab
	bin     string
	self    string
	a, b, c *lab.Host
	start   time.Time
	step    int
	probe   string // icmp or http
}

func (d *demo) say(format string, args ...any) {
	fmt.Fprintf(d.out, format, args...)
}

func (d *demo) run(ctx context.Context) error {
	d.start = time.Now()
	var err error
	if d.a, err = d.lab.AddHost("a", netip.MustParsePrefix("198.18.0.1/24")); err != nil {
		return err
	}
	if d.b, err = d.lab.AddHost("b", netip.MustParsePrefix("198.18.0.2/24")); err != nil {
		return err
	}
	if d.c, err = d.lab.AddHost("c", netip.MustParsePrefix("198.18.0.3/24")); err != nil {
		return err
	}
	d.say("proxypair lab: network namespaces on this machine, one bridge, 198.18.0.0/24\n")
	d.say("  a  198.18.0.1  HAProxy + proxypair, priority 200\n")
	d.say("  b  198.18.0.2  HAProxy + proxypair, priority 100 (later: %s)\n", keepalivedVersion(ctx, d.b))
	d.say("  c  198.18.0.3  client: pings (or HTTP GETs) the VIP %v every 10 ms\n", demoVIP.Addr())
	d.say("  VRRP v2, auth PASS, VRID 51, 1 s adverts: the classic keepalived pair\n\n")

	hpa, err := d.a.StartHAProxy(lab.HAProxyConfig{})
	if err != nil {
		return err
	}
	hpb, err := d.b.StartHAProxy(lab.HAProxyConfig{})
	if err != nil {
		return err
	}
	a, err := ppnode.Start(d.a, d.bin, fmt.Sprintf(demoVRRP, 200, hpa.Socket))
	if err != nil {
		return err
	}
	b, err := ppnode.Start(d.b, d.bin, fmt.Sprintf(demoVRRP, 100, hpb.Socket))
	if err != nil {
		return err
	}

	if err := d.expect(ctx, "both start as BACKUP; with no master heard, a takes over after Master_Down (3 × 1 s + skew)",
		nil, d.a, 10*time.Second); err != nil {
		return err
	}
	d.probe = "http"
	if err := d.expect(ctx, "HAProxy on a is killed: a resigns at once (priority-0 adverts), b serves after Skew (0.6 s)",
		hpa.Kill, d.b, 10*time.Second); err != nil {
		return err
	}
	if err := d.expect(ctx, "HAProxy on a starts again: a is healthy, its priority returns, it preempts",
		func() error { var err error; hpa, err = d.a.StartHAProxy(lab.HAProxyConfig{}); return err }, d.a, 15*time.Second); err != nil {
		return err
	}
	d.probe = "icmp"
	if err := d.expect(ctx, "a's eth1 goes down (hard failure): b takes over after its Master_Down",
		func() error { return d.a.SetLink(false) }, d.b, 10*time.Second); err != nil {
		return err
	}
	if err := d.expect(ctx, "a's eth1 comes back: a has the higher priority and preempts",
		func() error { return d.a.SetLink(true) }, d.a, 15*time.Second); err != nil {
		return err
	}
	if err := d.expect(ctx, "a stops gracefully (SIGTERM): a priority-0 advert, b takes over after Skew (0.6 s), and a keeps serving the VIP until then",
		func() error { return a.Stop(10 * time.Second) }, d.b, 10*time.Second); err != nil {
		return err
	}
	if err := d.expect(ctx, "a starts again and preempts",
		a.Restart, d.a, 15*time.Second); err != nil {
		return err
	}
	if err := b.Stop(10 * time.Second); err != nil {
		return err
	}
	if err := d.expect(ctx, "b now runs keepalived with the same settings (and the usual kill -0 vrrp_script): a stays master",
		func() error {
			_, err := d.b.StartKeepalived(lab.KeepalivedConfig{VRID: 51, Priority: 100, Version: 2, Interval: time.Second,
				AuthPass: "pass1234", VIPs: []netip.Prefix{demoVIP},
				Script: &lab.KeepalivedScript{PIDFile: hpb.PIDFile, Weight: -150}})
			return err
		}, d.a, 10*time.Second); err != nil {
		return err
	}
	if err := d.expect(ctx, "a stops gracefully: keepalived takes over from proxypair, with no gap",
		func() error { return a.Stop(10 * time.Second) }, d.b, 10*time.Second); err != nil {
		return err
	}
	if err := d.expect(ctx, "a starts again and preempts keepalived",
		a.Restart, d.a, 15*time.Second); err != nil {
		return err
	}
	st, err := a.Status(ctx)
	if err != nil {
		return err
	}
	d.say("\n`proxypair status` on a:\n")
	st.WriteText(d.out, time.Now())
	d.say("\nDone in %s.\n", time.Since(d.start).Round(time.Second))
	return nil
}

// expect runs one step: start the client probe, do act, wait until want
// alone holds the VIP, and report how long the client saw no answers.
func (d *demo) expect(ctx context.Context, what string, act func() error, want *lab.Host, within time.Duration) error {
	d.step++
	d.say("%d. %s\n", d.step, what)
	out := filepath.Join(d.lab.Dir(), fmt.Sprintf("probe-%d.json", d.step))
	pr, err := d.c.Start(d.self, "probe", d.probe, "--target", demoVIP.Addr().String(), "--every", "10ms", "--json", out)
	if err != nil {
		return err
	}
	began := time.Now()
	if act != nil {
		if err := act(); err != nil {
			return err
		}
	}
	wctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	err = lab.Eventually(wctx, 10*time.Millisecond, func() (bool, string) {
		h := lab.Holders(demoVIP.Addr(), d.a, d.b)
		return len(h) == 1 && h[0] == want, fmt.Sprintf("%d holders", len(h))
	})
	if err != nil {
		return fmt.Errorf("step %d: VIP never settled on %s: %w", d.step, want.Name, err)
	}
	took := time.Since(began)
	// Let the client see answers again before stopping its probe.
	time.Sleep(300 * time.Millisecond)
	pr.Signal(syscall.SIGTERM)
	pr.Wait(5 * time.Second)
	res, err := readProbe(out)
	if err != nil {
		return err
	}
	outage := "none"
	if res.Longest > 0 {
		outage = time.Duration(res.Longest).Round(10 * time.Millisecond).String()
	}
	if d.step == 1 {
		// Before the first election there is no VIP to miss.
		d.say("   → VIP on %s after %s\n", want.Name, took.Round(10*time.Millisecond))
		return nil
	}
	unit := "pings"
	if d.probe == "http" {
		unit = "HTTP requests"
	}
	d.say("   → VIP on %s after %s; client outage %s (%d/%d %s answered)\n",
		want.Name, took.Round(10*time.Millisecond), outage, res.Answered, res.Sent, unit)
	return nil
}

func readProbe(path string) (*probe.Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("probe result: %w", err)
	}
	var r probe.Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("probe result %s: %w", path, err)
	}
	return &r, nil
}

func keepalivedVersion(ctx context.Context, h *lab.Host) string {
	out, err := h.Run(ctx, "keepalived", "--version")
	var ce *lab.CommandError
	if err != nil && !errors.As(err, &ce) {
		return "(not installed)"
	}
	for i := 0; i < len(out); i++ {
		if out[i] == '\n' {
			return out[:i]
		}
	}
	return out
}
