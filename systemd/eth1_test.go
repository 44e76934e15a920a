package systemd

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// netns creates a network namespace for the test (prefix ppf-) with a veth
// interface named eth1, and deletes it on cleanup, even on failure.
func netns(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) to create a network namespace for proxypair-eth1")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("ip (iproute2) not installed")
	}
	ns := fmt.Sprintf("ppf-eth1-%d", os.Getpid())
	run(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	// veth, not dummy: the dummy module may be missing from the kernel.
	run(t, "ip", "-n", ns, "link", "add", "eth1", "type", "veth", "peer", "name", "eth1peer")
	return ns
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// runScript runs proxypair-eth1 inside the namespace with only env set, as
// systemd would after reading /etc/default/proxypair.
func runScript(t *testing.T, ns string, env ...string) (string, error) {
	t.Helper()
	script, err := filepath.Abs("proxypair-eth1")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", ns, script)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestEth1Script(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) to create a network namespace for proxypair-eth1")
	}
	tests := []struct {
		name      string
		env       []string
		wantErr   string // substring of the error output; "" = success
		wantAddrs []string
	}{
		{
			name:      "address",
			env:       []string{"NODE_ADDRESS=198.18.0.11/24"},
			wantAddrs: []string{"198.18.0.11/24"},
		},
		{
			name:      "interface from the VRRP setting",
			env:       []string{"PROXYPAIR_VRRP_INTERFACE=eth1", "NODE_ADDRESS=198.18.0.12/24"},
			wantAddrs: []string{"198.18.0.12/24"},
		},
		{
			name: "no address: link up only",
			env:  nil,
		},
		{
			name:    "address without prefix",
			env:     []string{"NODE_ADDRESS=198.18.0.11"},
			wantErr: "NODE_ADDRESS='198.18.0.11' must be an IPv4 address with its prefix length",
		},
		{
			name:    "address the kernel rejects",
			env:     []string{"NODE_ADDRESS=198.18.0.311/24"},
			wantErr: "cannot add NODE_ADDRESS='198.18.0.311/24' to eth1",
		},
		{
			name:    "missing interface",
			env:     []string{"NODE_INTERFACE=eth9", "NODE_WAIT_SECONDS=0", "NODE_ADDRESS=198.18.0.11/24"},
			wantErr: "interface eth9 did not appear within 0s",
		},
		{
			name:    "bad interface name",
			env:     []string{"NODE_INTERFACE=eth1; reboot"},
			wantErr: "is not an interface name",
		},
		{
			name:    "bad wait",
			env:     []string{"NODE_WAIT_SECONDS=soon"},
			wantErr: "NODE_WAIT_SECONDS='soon' is not a whole number",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := netns(t)
			// Twice: the unit may be restarted; the second run must be a no-op.
			for range 2 {
				out, err := runScript(t, ns, tt.env...)
				if tt.wantErr != "" {
					if err == nil || !strings.Contains(out, tt.wantErr) {
						t.Fatalf("err=%v output %q, want failure mentioning %q", err, out, tt.wantErr)
					}
					continue
				}
				if err != nil {
					t.Fatalf("proxypair-eth1: %v\n%s", err, out)
				}
			}
			if tt.wantErr != "" {
				return
			}
			link := run(t, "ip", "-n", ns, "-o", "link", "show", "dev", "eth1")
			if !strings.Contains(link, ",UP") && !strings.Contains(link, "<UP") {
				t.Errorf("eth1 not up: %s", link)
			}
			var addrs []string
			for _, f := range strings.Fields(run(t, "ip", "-n", ns, "-o", "-4", "addr", "show", "dev", "eth1")) {
				if strings.Count(f, ".") == 3 && strings.Contains(f, "/") {
					addrs = append(addrs, f)
				}
			}
			if strings.Join(addrs, " ") != strings.Join(tt.wantAddrs, " ") {
				t.Errorf("eth1 addresses = %q, want %q", addrs, tt.wantAddrs)
			}
		})
	}
}
