//go:build linux

package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// FRRDir is where Debian's frr package installs its daemons.
const FRRDir = "/usr/lib/frr"

// FRRConfig is one FRR vrrpd virtual router (IPv4 only) on the host's eth1.
//
// FRR's vrrpd (8.4, Debian 12) differs from keepalived in how it holds a
// VIP: the VIP lives, always, on a macvlan device in bridge mode with the
// virtual MAC 00:00:5e:00:01:<VRID>, which StartFRR creates; vrrpd only
// switches that device's protodown (no carrier) off as Master and on as
// Backup, through zebra. It is multicast only, has no authentication, and
// defaults to VRRP v3.
type FRRConfig struct {
	VRID     int            // 1-255
	Priority int            // 1-254 (255 is the address owner's)
	Version  int            // 2 or 3; 0 means 3 (FRR's default)
	Interval time.Duration  // 0 means 1s. v3: 10ms-40.95s in 10ms steps; v2: whole seconds
	VIPs     []netip.Prefix // on the macvlan, in 198.18.0.0/24
	// NoPreempt turns preempt mode off (FRR's default is on).
	NoPreempt bool
}

// FRR is a running FRR pair of daemons on a host: zebra (which vrrpd asks
// to set protodown) and vrrpd.
type FRR struct {
	Zebra *Process
	VRRPd *Process
	// Version is vrrpd's release, from its --version: "8.4.4".
	Version string
	// Macvlan is the device holding the VIPs, MAC its virtual MAC.
	Macvlan string
	MAC     net.HardwareAddr
	Dir     string // configs, pid files and vty sockets

	host *Host
	cfg  FRRConfig
}

// withDefaults fills the zero fields that have a default.
func (c FRRConfig) withDefaults() FRRConfig {
	if c.Version == 0 {
		c.Version = 3
	}
	if c.Interval == 0 {
		c.Interval = time.Second
	}
	return c
}

// validate returns every problem at once, each naming its field.
func (c FRRConfig) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.VRID < 1 || c.VRID > 255 {
		bad("VRID %d: want 1-255", c.VRID)
	}
	if c.Priority < 1 || c.Priority > 254 {
		bad("Priority %d: want 1-254", c.Priority)
	}
	// FRR's advertisement-interval is milliseconds, 10-40950, multiples of
	// 10; v2 sends it as whole seconds (at least 1), so the lab asks for
	// whole seconds there rather than let FRR round.
	if c.Interval%(10*time.Millisecond) != 0 || c.Interval < 10*time.Millisecond || c.Interval > 40950*time.Millisecond {
		bad("Interval %v: FRR wants 10ms-40.95s in 10ms steps", c.Interval)
	}
	switch c.Version {
	case 2:
		if c.Interval%time.Second != 0 {
			bad("Interval %v: VRRP v2 wants whole seconds", c.Interval)
		}
	case 3:
	default:
		bad("Version %d: want 2 or 3", c.Version)
	}
	if len(c.VIPs) == 0 {
		bad("VIPs: want at least one")
	}
	for _, v := range c.VIPs {
		if err := checkAddr(v); err != nil {
			bad("VIPs: %v", err)
		}
	}
	return errors.Join(errs...)
}

// render writes vrrpd.conf.
func (c FRRConfig) render(hostname string) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("! written by internal/lab")
	w("hostname %s", hostname)
	// Every received advert is logged, and with packets every reason FRR
	// rejects one for ("Datagram invalid: ..."), which it counts nowhere.
	w("debug vrrp protocol")
	w("debug vrrp packets")
	w("debug vrrp zebra")
	w("interface %s", HostInterface)
	w(" vrrp %d version %d", c.VRID, c.Version)
	w(" vrrp %d priority %d", c.VRID, c.Priority)
	w(" vrrp %d advertisement-interval %d", c.VRID, c.Interval.Milliseconds())
	if c.NoPreempt {
		w(" no vrrp %d preempt", c.VRID)
	}
	// The first address starts the virtual router, so it comes last.
	for _, v := range c.VIPs {
		w(" vrrp %d ip %s", c.VRID, v.Addr())
	}
	return b.String()
}

// frrSysctls are the settings of FRR's doc/user/Useful_Sysctl_Settings.md
// that matter to a VRRP node. Without arp_ignore=1 Linux answers ARP for
// the VIP on eth1 with eth1's own MAC — in Backup too, since the VIP stays
// on the macvlan in protodown — and clients send the VIP's traffic to a
// backup that accepts it.
var frrSysctls = map[string]string{
	"net.ipv4.conf.all.arp_ignore":       "1",
	"net.ipv4.conf.default.arp_ignore":   "1",
	"net.ipv4.conf.all.arp_announce":     "2",
	"net.ipv4.conf.default.arp_announce": "2",
}

var frrVersionRE = regexp.MustCompile(`version (\d+\.\d+(?:\.\d+)?)`)

// StartFRR sets the host up for FRR's vrrpd (its sysctls and the macvlan
// holding cfg's VIPs) and runs zebra and vrrpd in the foreground, as root,
// with their configs, pid files and vty sockets in h.Dir (never /etc/frr
// or /run/frr) and no TCP vty. It returns once vrrpd's virtual router is
// running (Backup or Master). The lab stops both on Close.
func (h *Host) StartFRR(cfg FRRConfig) (*FRR, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("lab: FRR on %s: %w", h.Name, err)
	}
	zebra, vrrpd := filepath.Join(FRRDir, "zebra"), filepath.Join(FRRDir, "vrrpd")
	for _, p := range []string{zebra, vrrpd} {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("lab: FRR on %s: %w (scripts/deps.sh installs Debian's frr)", h.Name, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, vrrpd, "--version").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("lab: FRR on %s: %s --version: %w: %s", h.Name, vrrpd, err, out)
	}
	m := frrVersionRE.FindSubmatch(out)
	if m == nil {
		return nil, fmt.Errorf("lab: FRR on %s: no version in %q", h.Name, out)
	}

	f := &FRR{
		Version: string(m[1]),
		Macvlan: fmt.Sprintf("vrrp4-%d", cfg.VRID),
		MAC:     net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x01, byte(cfg.VRID)},
		Dir:     filepath.Join(h.Dir, "frr"),
		host:    h,
		cfg:     cfg,
	}
	if err := os.MkdirAll(f.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("lab: FRR on %s: %w", h.Name, err)
	}
	if err := h.sysctl(frrSysctls); err != nil {
		return nil, err
	}
	// FRR's doc/user/vrrp.rst: a macvlan in bridge mode (so eth1 still
	// hears the master's adverts while it is in protodown) with the
	// virtual MAC and the VIPs. The lab has IPv6 off, so the link-local
	// address the doc warns about (addrgenmode random) does not arise.
	cmds := []string{
		fmt.Sprintf("link add %s link %s type macvlan mode bridge", f.Macvlan, HostInterface),
		fmt.Sprintf("link set dev %s address %s", f.Macvlan, f.MAC),
	}
	for _, v := range cfg.VIPs {
		cmds = append(cmds, fmt.Sprintf("addr add %s dev %s", v, f.Macvlan))
	}
	cmds = append(cmds, fmt.Sprintf("link set dev %s up", f.Macvlan))
	if err := ipBatch(h.NS, cmds...); err != nil {
		return nil, fmt.Errorf("lab: FRR on %s: macvlan: %w", h.Name, err)
	}

	zconf, vconf := filepath.Join(f.Dir, "zebra.conf"), filepath.Join(f.Dir, "vrrpd.conf")
	if err := os.WriteFile(zconf, []byte("! written by internal/lab\nhostname "+h.NS+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("lab: FRR on %s: %w", h.Name, err)
	}
	if err := os.WriteFile(vconf, []byte(cfg.render(h.NS)), 0o644); err != nil {
		return nil, fmt.Errorf("lab: FRR on %s: %w", h.Name, err)
	}
	zserv := filepath.Join(f.Dir, "zserv.api")
	// -u root: the daemons keep root rather than switch to the frr user,
	// which could not write h.Dir. -g frrvty: FRR insists that the user be
	// in its vty group (privs_init), and counts the -g group as one.
	// -P 0: no vty on TCP, only the unix sockets in --vty_socket.
	common := func(name, conf string) []string {
		return []string{"-u", "root", "-g", "frrvty", "-f", conf,
			"-i", filepath.Join(f.Dir, name+".pid"), "-z", zserv,
			"--vty_socket", f.Dir, "-P", "0", "--log", "stdout"}
	}
	if f.Zebra, err = h.Start(zebra, common("zebra", zconf)...); err != nil {
		return nil, err
	}
	h.lab.onClose(func() { removeFRRTmp("zebra", f.Zebra) })
	if err := waitStarted(ctx, f.Zebra, func() bool { return fileExists(zserv) }); err != nil {
		return nil, fmt.Errorf("lab: FRR %s on %s: zebra: %w", f.Version, h.Name, err)
	}
	if f.VRRPd, err = h.Start(vrrpd, common("vrrpd", vconf)...); err != nil {
		return nil, err
	}
	h.lab.onClose(func() { removeFRRTmp("vrrpd", f.VRRPd) })
	ready := func() bool {
		if !fileExists(filepath.Join(f.Dir, "vrrpd.vty")) {
			return false
		}
		st, err := f.Status(ctx)
		return err == nil && (st.State == "Backup" || st.State == "Master")
	}
	if err := waitStarted(ctx, f.VRRPd, ready); err != nil {
		return nil, fmt.Errorf("lab: FRR %s on %s: vrrpd: %w", f.Version, h.Name, err)
	}
	return f, nil
}

// removeFRRTmp removes the directory an FRR daemon keeps its crash log in
// (/var/tmp/frr/<daemon>.<pid>): it removes it itself on a clean exit, not
// when killed.
func removeFRRTmp(daemon string, p *Process) {
	if p != nil && p.Exited() {
		os.RemoveAll(filepath.Join("/var/tmp/frr", fmt.Sprintf("%s.%d", daemon, p.PID())))
	}
}

// FRRStatus is vrrpd's view of the IPv4 virtual router (`show vrrp json`).
type FRRStatus struct {
	State               string `json:"status"` // Initialize, Backup, Master
	Priority            int    `json:"effectivePriority"`
	MasterAdverInterval int    `json:"masterAdverInterval"` // milliseconds
	SkewTime            int    `json:"skewTime"`            // milliseconds
	MasterDownInterval  int    `json:"masterDownInterval"`  // milliseconds
	Stats               struct {
		AdvertsTx   uint64 `json:"adverTx"`
		AdvertsRx   uint64 `json:"adverRx"` // passed its checks (vrrp_recv_advertisement)
		GARPsTx     uint64 `json:"garpTx"`
		Transitions uint64 `json:"transitions"`
	} `json:"stats"`
}

// Status asks vrrpd, through vtysh on its vty socket, for the virtual
// router's IPv4 status.
func (f *FRR) Status(ctx context.Context) (FRRStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	// vtysh only talks to the unix socket: it need not run in the host.
	cmd := exec.CommandContext(ctx, "vtysh", "--vty_socket", f.Dir, "-d", "vrrpd",
		"-c", fmt.Sprintf("show vrrp interface %s %d json", HostInterface, f.cfg.VRID))
	out, err := cmd.Output()
	if err != nil {
		return FRRStatus{}, &CommandError{Args: cmd.Args, Output: string(out), Err: err}
	}
	var vrs []struct {
		V4 FRRStatus `json:"v4"`
	}
	if err := json.Unmarshal(out, &vrs); err != nil {
		return FRRStatus{}, fmt.Errorf("lab: FRR on %s: show vrrp json: %w: %s", f.host.Name, err, out)
	}
	if len(vrs) != 1 {
		return FRRStatus{}, fmt.Errorf("lab: FRR on %s: show vrrp json: %d virtual routers, want 1: %s", f.host.Name, len(vrs), out)
	}
	return vrs[0].V4, nil
}

// Holds reports whether FRR holds vip as the kernel sees it: the macvlan
// is up with carrier (not in protodown, eth1 up) and carries vip.
func (f *FRR) Holds(vip netip.Addr) bool {
	nl, err := f.host.ns.handle()
	if err != nil {
		return false
	}
	link, err := nl.LinkByName(f.Macvlan)
	if err != nil {
		return false
	}
	a := link.Attrs()
	if a.Flags&net.FlagUp == 0 || a.RawFlags&unix.IFF_LOWER_UP == 0 {
		return false
	}
	addrs, err := nl.AddrList(link, unix.AF_INET)
	if err != nil {
		return false
	}
	return slices.ContainsFunc(addrs, func(ad netlink.Addr) bool {
		ip, ok := netip.AddrFromSlice(ad.IP.To4())
		return ok && ip == vip
	})
}

// StopVRRP stops vrrpd gracefully (SIGTERM: it shuts its virtual routers
// down as `no vrrp` would) and leaves zebra running, as stopping only the
// VRRP service of a router would.
func (f *FRR) StopVRRP(timeout time.Duration) error {
	return f.VRRPd.Stop(timeout)
}
