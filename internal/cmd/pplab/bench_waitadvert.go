package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/spf13/cobra"

	"github.com/proxypair/proxypair/appliance/netio"
	"github.com/proxypair/proxypair/appliance/vrrp"
	"github.com/proxypair/proxypair/internal/bench"
)

// newWaitAdvertCmd is the bench's phase lock: run in the client's
// namespace, it exits as soon as one advert from the master arrives, so the
// bench can fail the master at the same point of its advert cycle whatever
// the daemon.
func newWaitAdvertCmd() *cobra.Command {
	var (
		iface   string
		from    string
		vrid    int
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "wait-advert",
		Short: "Wait for one VRRP advert from an address, print when it came, and exit",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var errs []error
			src, err := netip.ParseAddr(from)
			if err != nil || !src.Is4() {
				errs = append(errs, fmt.Errorf("--from %q: want an IPv4 address", from))
			}
			if vrid < 0 || vrid > 255 {
				errs = append(errs, fmt.Errorf("--vrid %d: want 1-255, or 0 for any", vrid))
			}
			if timeout <= 0 {
				errs = append(errs, fmt.Errorf("--timeout %v: want > 0", timeout))
			}
			if err := errors.Join(errs...); err != nil {
				return err
			}
			return waitAdvert(cmd.Context(), cmd.OutOrStdout(), iface, advertFilter{from: src, vrid: uint8(vrid)}, timeout)
		},
	}
	f := cmd.Flags()
	f.StringVar(&iface, "iface", "eth1", "interface to listen on (joins 224.0.0.18 there)")
	f.StringVar(&from, "from", "", "source address of the advert to wait for (required)")
	f.IntVar(&vrid, "vrid", 0, "virtual router ID to wait for; 0 = any")
	f.DurationVar(&timeout, "timeout", 5*time.Second, "give up after this long")
	return cmd
}

// advertFilter says which packet ends the wait.
type advertFilter struct {
	from netip.Addr
	vrid uint8 // 0 = any
}

// match accepts a structurally valid advert from f.from with a non-zero
// priority: a master's regular advert, not its goodbye.
func (f advertFilter) match(p vrrp.Packet) (*vrrp.Advertisement, bool) {
	if p.Src != f.from {
		return nil, false
	}
	a, err := vrrp.Parse(p.Payload)
	if err != nil || a.Type != vrrp.TypeAdvertisement || a.Priority == 0 {
		return nil, false
	}
	if f.vrid != 0 && a.VRID != f.vrid {
		return nil, false
	}
	return a, true
}

func waitAdvert(ctx context.Context, w io.Writer, iface string, f advertFilter, timeout time.Duration) error {
	self, err := netio.FirstIPv4(iface, nil)
	if err != nil {
		return err
	}
	conn, err := netio.Listen(netio.Options{Interface: iface, Source: self, Multicast: true})
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// Closing the socket is what unblocks Read.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	buf := make([]byte, 1500)
	for {
		p, err := conn.Read(buf)
		if err != nil {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("no advert from %v on %s within %v", f.from, iface, timeout)
			}
			if ctx.Err() != nil {
				return fmt.Errorf("waiting for an advert from %v: %w", f.from, context.Cause(ctx))
			}
			return err
		}
		if a, ok := f.match(p.Packet); ok {
			_, err := fmt.Fprintln(w, bench.FormatAdvertLine(p.Src, a.VRID, a.Priority, p.At))
			return err
		}
	}
}
