package packer

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func needHAProxy(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skip("haproxy not installed (apt-get install haproxy)")
	}
	return bin
}

func TestHAProxyConfigParses(t *testing.T) {
	bin := needHAProxy(t)
	// -c parses and checks the config; it binds nothing.
	out, err := exec.Command(bin, "-c", "-f", "../configs/haproxy.cfg").CombinedOutput()
	if err != nil {
		t.Errorf("haproxy -c -f configs/haproxy.cfg: %v\n%s", err, out)
	}
	cfg := string(mustRead(t, "../configs/haproxy.cfg"))
	if !strings.Contains(cfg, "stats socket /run/haproxy/admin.sock mode 660 user root group haproxy level admin") {
		t.Error("configs/haproxy.cfg lacks the admin socket proxypair reads (/run/haproxy/admin.sock, 660 root:haproxy, level admin)")
	}
}

// TestHAProxyAdminSocketAndNonlocalBind starts HAProxy with the image's
// config in a network namespace of our own and checks the two things the
// image relies on: the admin socket is 0660 root:haproxy (proxypair gets in
// through SupplementaryGroups=haproxy), and with net.ipv4.ip_nonlocal_bind=1
// HAProxy binds the VIP although no interface has it (the backup's case).
//
// The config is adapted for the test only where it must be: socket in a temp
// dir, no chroot or daemon mode, and addresses moved into 198.18.0.0/24 (the
// namespace has no route anywhere, so nothing is sent).
func TestHAProxyAdminSocketAndNonlocalBind(t *testing.T) {
	bin := needHAProxy(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN) to run HAProxy in a network namespace")
	}
	hg, err := user.LookupGroup("haproxy")
	if err != nil {
		t.Skip("no haproxy group on this machine (the haproxy package creates it)")
	}
	haproxyGID, _ := strconv.Atoi(hg.Gid)

	ns := fmt.Sprintf("ppf-hap-%d", os.Getpid())
	runOK(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	runOK(t, "ip", "-n", ns, "link", "set", "lo", "up")

	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil { // haproxy drops to its user
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "admin.sock")
	cfg := string(mustRead(t, "../configs/haproxy.cfg"))
	for _, r := range []struct{ old, new string }{
		{"/run/haproxy/admin.sock", sock},
		{"    chroot /var/lib/haproxy\n", ""},
		{"    daemon\n", ""},
		{"log /dev/log local0\n", "log stderr local0\n"},
		{"    log /dev/log local1 notice\n", ""},
		{"192.168.200.102:80", "198.18.0.102:8080"},
		{"192.168.200.21:8080", "198.18.0.21:8080"},
		{"192.168.200.22:8080", "198.18.0.22:8080"},
	} {
		if !strings.Contains(cfg, r.old) {
			t.Fatalf("configs/haproxy.cfg no longer contains %q; update this test", r.old)
		}
		cfg = strings.ReplaceAll(cfg, r.old, r.new)
	}
	cfgPath := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}

	start := func(t *testing.T) (*exec.Cmd, chan struct{}) {
		cmd := exec.Command("ip", "netns", "exec", ns, bin, "-db", "-f", cfgPath)
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		t.Cleanup(func() {
			cmd.Process.Kill() // ip netns exec execs haproxy: same PID
			<-done
			if t.Failed() {
				t.Logf("haproxy output:\n%s", out.String())
			}
		})
		return cmd, done
	}

	t.Run("without nonlocal bind the VIP cannot be bound", func(t *testing.T) {
		runOK(t, "ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv4.ip_nonlocal_bind=0")
		_, done := start(t)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("haproxy kept running without ip_nonlocal_bind: the test would not show the sysctl matters")
		}
	})

	t.Run("with nonlocal bind", func(t *testing.T) {
		runOK(t, "ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv4.ip_nonlocal_bind=1")
		_, done := start(t)
		var st syscall.Stat_t
		deadline := time.Now().Add(10 * time.Second)
		for {
			err := syscall.Stat(sock, &st)
			if err == nil {
				break
			}
			select {
			case <-done:
				t.Fatal("haproxy exited: it could not bind the VIP with ip_nonlocal_bind=1")
			default:
			}
			if !errors.Is(err, syscall.ENOENT) || time.Now().After(deadline) {
				t.Fatalf("admin socket %s: %v", sock, err)
			}
			time.Sleep(20 * time.Millisecond) // polling for the file, with a deadline
		}
		if st.Mode&syscall.S_IFMT != syscall.S_IFSOCK {
			t.Fatalf("%s is not a socket (mode %o)", sock, st.Mode)
		}
		if perm := st.Mode & 0o777; perm != 0o660 {
			t.Errorf("admin socket mode %04o, want 0660", perm)
		}
		if st.Uid != 0 || int(st.Gid) != haproxyGID {
			t.Errorf("admin socket owner %d:%d, want 0:%d (root:haproxy)", st.Uid, st.Gid, haproxyGID)
		}
		// And the listener is on the VIP (the socket may appear first).
		for {
			out := runOK(t, "ip", "netns", "exec", ns, "ss", "-Hltn")
			if strings.Contains(out, "198.18.0.102:8080") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no listener on the VIP 198.18.0.102:8080: ss says %q", out)
			}
			time.Sleep(20 * time.Millisecond) // polling, with a deadline
		}
	})
}

func runOK(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
