//go:build linux

package vip

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// testNS creates a network namespace holding an eth1 (one end of a veth pair) with 198.18.0.1/24
// and returns a netlink handle into it.
func testNS(t *testing.T) *netlink.Handle {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_SYS_ADMIN for network namespaces, CAP_NET_ADMIN for addresses)")
	}
	name := fmt.Sprintf("ppv-%d-%s", os.Getpid(), t.Name())
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v\n%s", args, err, out)
		}
	}
	run("netns", "add", name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	run("-n", name, "link", "add", "eth1", "type", "veth", "peer", "name", "eth1p")
	run("-n", name, "addr", "add", "198.18.0.1/24", "dev", "eth1")
	run("-n", name, "link", "set", "eth1", "up")
	ns, err := netns.GetFromName(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

func addrs(t *testing.T, h *netlink.Handle) []string {
	t.Helper()
	link, err := h.LinkByName("eth1")
	if err != nil {
		t.Fatal(err)
	}
	list, err := h.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range list {
		out = append(out, a.IPNet.String())
	}
	slices.Sort(out)
	return out
}

func TestAddDeleteIdempotent(t *testing.T) {
	h := testNS(t)
	m := NewAt("eth1", h)
	vips := []netip.Prefix{netip.MustParsePrefix("198.18.0.100/24"), netip.MustParsePrefix("198.18.0.101/32")}

	for range 2 { // the second Add finds them there and must still succeed
		if err := m.Add(vips); err != nil {
			t.Fatalf("Add: %v", err)
		}
	}
	if got, want := addrs(t, h), []string{"198.18.0.1/24", "198.18.0.100/24", "198.18.0.101/32"}; !slices.Equal(got, want) {
		t.Fatalf("after Add: %v, want %v", got, want)
	}
	held, err := m.Held(vips)
	if err != nil || len(held) != 2 {
		t.Fatalf("Held = %v, %v", held, err)
	}

	for range 2 {
		if err := m.Delete(vips); err != nil {
			t.Fatalf("Delete: %v", err)
		}
	}
	if got, want := addrs(t, h), []string{"198.18.0.1/24"}; !slices.Equal(got, want) {
		t.Fatalf("after Delete: %v, want %v (the interface's own address must stay)", got, want)
	}
}

// TestDeleteStaleOtherPrefix: a crash with an older config may have left the
// VIP with another prefix length; cleanup removes it by address.
func TestDeleteStaleOtherPrefix(t *testing.T) {
	h := testNS(t)
	m := NewAt("eth1", h)
	if err := m.Add([]netip.Prefix{netip.MustParsePrefix("198.18.0.100/32")}); err != nil {
		t.Fatal(err)
	}
	if err := m.Delete([]netip.Prefix{netip.MustParsePrefix("198.18.0.100/24")}); err != nil {
		t.Fatal(err)
	}
	if got, want := addrs(t, h), []string{"198.18.0.1/24"}; !slices.Equal(got, want) {
		t.Fatalf("stale VIP left: %v", got)
	}
}

func TestMissingInterface(t *testing.T) {
	h := testNS(t)
	m := NewAt("eth9", h)
	if err := m.Delete([]netip.Prefix{netip.MustParsePrefix("198.18.0.100/24")}); err != nil {
		t.Errorf("Delete on a missing interface: %v, want nil (it holds no VIPs)", err)
	}
	if err := m.Add([]netip.Prefix{netip.MustParsePrefix("198.18.0.100/24")}); err == nil {
		t.Error("Add on a missing interface succeeded")
	}
}
