package main

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/spf13/cobra"

	"github.com/proxypair/proxypair/appliance/netio"
	"github.com/proxypair/proxypair/appliance/vrrp"
)

// newAdvertCmd sends hand-made VRRP adverts, good or bad, from inside a lab
// namespace: the tests use it to check that packets failing a receive check
// change nothing.
func newAdvertCmd() *cobra.Command {
	var (
		iface    string
		dst      string
		count    int
		version  int
		vrid     int
		prio     int
		interval time.Duration
		pass     string
		vips     []string
	)
	cmd := &cobra.Command{
		Use:   "advert",
		Short: "Send VRRP adverts with the given fields (for tests)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			adv := vrrp.Advertisement{
				Version:  vrrp.Version(version),
				Type:     vrrp.TypeAdvertisement,
				VRID:     uint8(vrid),
				Priority: uint8(prio),
				Interval: interval,
			}
			if version == 2 && pass != "" {
				pw, err := vrrp.Password(pass)
				if err != nil {
					return err
				}
				adv.AuthType, adv.AuthData = vrrp.AuthSimple, pw
			}
			for _, s := range vips {
				a, err := netip.ParseAddr(s)
				if err != nil {
					return fmt.Errorf("--vip %q: %w", s, err)
				}
				adv.Addresses = append(adv.Addresses, a)
			}
			to := vrrp.MulticastGroup
			if dst != "" {
				var err error
				if to, err = netip.ParseAddr(dst); err != nil {
					return fmt.Errorf("--dst: %w", err)
				}
			}
			src, err := netio.FirstIPv4(iface, nil)
			if err != nil {
				return err
			}
			conn, err := netio.Listen(netio.Options{Interface: iface, Source: src})
			if err != nil {
				return err
			}
			defer conn.Close()
			b, err := adv.Marshal(src, to, vrrp.PseudoHeader)
			if err != nil {
				return err
			}
			for range count {
				if err := conn.Send(b, to); err != nil {
					return err
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "sent %d × %s to %v\n", count, adv, to)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&iface, "iface", "eth1", "interface to send on")
	f.StringVar(&dst, "dst", "", "destination (default the VRRP multicast group)")
	f.IntVar(&count, "count", 1, "how many copies")
	f.IntVar(&version, "version", 2, "VRRP version")
	f.IntVar(&vrid, "vrid", 51, "virtual router ID")
	f.IntVar(&prio, "priority", 254, "priority")
	f.DurationVar(&interval, "interval", time.Second, "advert interval")
	f.StringVar(&pass, "pass", "", "v2 PASS password")
	f.StringSliceVar(&vips, "vip", nil, "virtual IP (repeatable)")
	return cmd
}
