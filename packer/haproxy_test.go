package packer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/proxypair/proxypair/healthcheck"
	"github.com/proxypair/proxypair/internal/debtest"
	"github.com/proxypair/proxypair/internal/lab"
)

// The two runtime API sockets of configs/haproxy.cfg.
const (
	proxypairSocketLine = "stats socket /run/haproxy/proxypair.sock mode 660 user root group proxypair level user"
	adminSocketLine     = "stats socket /run/haproxy/admin.sock mode 660 user root group haproxy level admin expose-fd listeners"
)

// testGID stands in for the proxypair group, which this machine does not
// have (the package creates it on the server): HAProxy refuses an unknown
// group name, and a numeric gid needs no account, so the tests change
// "group proxypair" to "gid 64123" and connect with that gid.
const testGID = 64123

// nobodyUID is the uid the socket clients run as: neither root nor in any
// group of the sockets, so only the gid the test gives them can let them in.
const nobodyUID = 65534

// haproxyVersions are the HAProxy builds the image's config must work with:
// Debian's 2.6 (on PATH) and Ubuntu 18.04's 1.8.8 (testdata/peers).
func haproxyVersions(t *testing.T) map[string]string {
	t.Helper()
	bins := map[string]string{}
	if bin, err := exec.LookPath("haproxy"); err == nil {
		bins["2.6"] = bin
	} else {
		t.Log("haproxy not on PATH (apt-get install haproxy): 2.6 not tested")
	}
	bin, err := lab.PeerBinary(lab.HAProxy188)
	if err != nil {
		t.Fatal(err)
	}
	bins["1.8.8"] = bin
	return bins
}

func TestHAProxyConfigSockets(t *testing.T) {
	cfg := string(mustRead(t, "../configs/haproxy.cfg"))
	for _, line := range []string{proxypairSocketLine, adminSocketLine} {
		if !strings.Contains(cfg, "\n    "+line+"\n") {
			t.Errorf("configs/haproxy.cfg lacks %q", line)
		}
	}
	if n := strings.Count(cfg, "stats socket "); n != 2 {
		t.Errorf("configs/haproxy.cfg has %d stats sockets, want exactly proxypair's and the operators'", n)
	}
}

func TestHAProxyConfigParses(t *testing.T) {
	for version, bin := range haproxyVersions(t) {
		t.Run(version, func(t *testing.T) {
			// -c parses and checks the config; it binds nothing.
			path := filepath.Join(t.TempDir(), "haproxy.cfg")
			cfg := adapt(t, string(mustRead(t, "../configs/haproxy.cfg")), replacement{"group proxypair", fmt.Sprintf("gid %d", testGID)})
			if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(bin, "-c", "-f", path).CombinedOutput()
			if err != nil {
				t.Errorf("haproxy %s -c -f configs/haproxy.cfg: %v\n%s", version, err, out)
			}
		})
	}
}

type replacement struct{ old, new string }

// adapt applies replacements to cfg, each of which must match.
func adapt(t *testing.T, cfg string, rs ...replacement) string {
	t.Helper()
	for _, r := range rs {
		if !strings.Contains(cfg, r.old) {
			t.Fatalf("configs/haproxy.cfg no longer contains %q; update this test", r.old)
		}
		cfg = strings.ReplaceAll(cfg, r.old, r.new)
	}
	return cfg
}

// TestHAProxyRuntimeSockets starts HAProxy 2.6 and 1.8.8 with the image's
// config, each in a network namespace of its own, and checks what the image
// relies on:
//   - proxypair's socket is 0660 root:proxypair, and a process whose only
//     way in is that group (uid nobody, gid proxypair) can run every command
//     the health tracker sends — client-native's "set severity-output
//     number;show info;show stat" and the watcher's "prompt" — but no admin
//     command;
//   - that process cannot open the operators' admin socket (0660
//     root:haproxy, level admin), which still works for root;
//   - with net.ipv4.ip_nonlocal_bind=1 HAProxy binds the VIP although no
//     interface has it (the backup's case), and without it it cannot.
//
// The config is adapted only where it must be: sockets in a temp dir, no
// chroot, daemon mode or syslog, the proxypair group as a numeric gid
// (testGID), and addresses moved into 198.18.0.0/24 (the namespace has no
// route anywhere, so nothing is sent).
func TestHAProxyRuntimeSockets(t *testing.T) {
	bins := haproxyVersions(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN) to run HAProxy in a network namespace")
	}
	hg, err := user.LookupGroup("haproxy")
	if err != nil {
		t.Skip("no haproxy group on this machine (the haproxy package creates it)")
	}
	haproxyGID, _ := strconv.Atoi(hg.Gid)

	for version, bin := range bins {
		t.Run(version, func(t *testing.T) {
			ns := fmt.Sprintf("ppf-hap-%d-%s", os.Getpid(), strings.ReplaceAll(version, ".", ""))
			runOK(t, "ip", "netns", "add", ns)
			t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
			runOK(t, "ip", "-n", ns, "link", "set", "lo", "up")

			dir := openDir(t)
			ppSock, adminSock := filepath.Join(dir, "proxypair.sock"), filepath.Join(dir, "admin.sock")
			cfg := adapt(t, string(mustRead(t, "../configs/haproxy.cfg")),
				replacement{"/run/haproxy/proxypair.sock", ppSock},
				replacement{"/run/haproxy/admin.sock", adminSock},
				replacement{"group proxypair", fmt.Sprintf("gid %d", testGID)},
				replacement{"    chroot /var/lib/haproxy\n", ""},
				replacement{"    daemon\n", ""},
				replacement{"    log /dev/log local0\n", ""},
				replacement{"    log /dev/log local1 notice\n", ""},
				replacement{"    log     global\n", ""},
				replacement{"192.168.200.102:80", "198.18.0.102:8080"},
				replacement{"192.168.200.21:8080", "198.18.0.21:8080"},
				replacement{"192.168.200.22:8080", "198.18.0.22:8080"},
			)
			cfgPath := filepath.Join(dir, "haproxy.cfg")
			if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
				t.Fatal(err)
			}
			start := func(t *testing.T) chan struct{} {
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
				return done
			}

			t.Run("without nonlocal bind the VIP cannot be bound", func(t *testing.T) {
				runOK(t, "ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv4.ip_nonlocal_bind=0")
				select {
				case <-start(t):
				case <-time.After(10 * time.Second):
					t.Fatal("haproxy kept running without ip_nonlocal_bind: the test would not show the sysctl matters")
				}
			})

			t.Run("with nonlocal bind", func(t *testing.T) {
				runOK(t, "ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv4.ip_nonlocal_bind=1")
				done := start(t)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				err := lab.Eventually(ctx, 20*time.Millisecond, func() (bool, string) {
					select {
					case <-done:
						t.Fatal("haproxy exited: it could not bind the VIP with ip_nonlocal_bind=1")
					default:
					}
					out := runOK(t, "ip", "netns", "exec", ns, "ss", "-Hltn")
					_, errPP := os.Stat(ppSock)
					_, errAdmin := os.Stat(adminSock)
					return strings.Contains(out, "198.18.0.102:8080") && errPP == nil && errAdmin == nil,
						fmt.Sprintf("listeners %q, sockets: %v, %v", out, errPP, errAdmin)
				})
				if err != nil {
					t.Fatal(err)
				}
				checkSocketFile(t, ppSock, 0o660, 0, testGID)
				checkSocketFile(t, adminSock, 0o660, 0, haproxyGID)

				// The health tracker's commands, as the daemon would send them,
				// from a process that has only the proxypair group.
				got := socketClient(t, nobodyUID, testGID, ppSock, clientNativeQuery)
				for _, want := range []string{"\nPid: ", "\n# pxname,svname,", "\nbe_app,app1,"} {
					if !strings.Contains(got, want) {
						t.Errorf("%q on proxypair's socket: answer lacks %q:\n%s", clientNativeQuery, want, got)
					}
				}
				if got := socketClient(t, nobodyUID, testGID, ppSock, promptQuery); !strings.Contains(got, "\nPid: ") {
					t.Errorf("prompt mode on proxypair's socket: %q", got)
				}
				// Nothing can be changed through it.
				if got := socketClient(t, nobodyUID, testGID, ppSock, adminCommand); !strings.Contains(got, "Permission denied") {
					t.Errorf("%q on proxypair's (level user) socket answered %q, want Permission denied", adminCommand, got)
				}
				// The admin socket is closed to it...
				if got := socketClient(t, nobodyUID, testGID, adminSock, clientNativeQuery); !strings.Contains(got, "permission denied") {
					t.Errorf("a proxypair-group process on the admin socket: %q, want the dial refused (permission denied)", got)
				}
				// The health tracker itself over that socket (as root here: this
				// shows the level suffices; the client above showed the group
				// does): the socket check passes and the backend is judged from
				// the stat rows.
				checkTracker(t, ppSock)
				// ...and still serves operators at level admin.
				if got := socketClient(t, 0, 0, adminSock, adminCommand); strings.Contains(got, "Permission denied") || strings.Contains(got, "dial:") {
					t.Errorf("%q on the admin socket as root answered %q, want it accepted", adminCommand, got)
				}
			})
		})
	}
}

func checkTracker(t *testing.T, socket string) {
	t.Helper()
	tr, err := healthcheck.New(healthcheck.Config{HAProxy: healthcheck.HAProxyConfig{Socket: socket, Backends: []string{"be_app"}}},
		slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	events := make(chan healthcheck.Event, 1)
	done := make(chan error, 1)
	go func() { done <- tr.Run(ctx, events) }()
	defer func() { cancel(); <-done }()
	select {
	case ev := <-events:
		var socketOK, backend bool
		for _, c := range ev.Checks {
			switch c.Name {
			case healthcheck.CheckSocket:
				socketOK = c.OK
			case "backend be_app":
				backend = strings.Contains(c.Detail, "servers UP")
			}
		}
		if !socketOK || !backend {
			t.Errorf("health tracker on the level-user socket: reason %q checks %+v, want the socket check passed and be_app judged", ev.Reason, ev.Checks)
		}
	case <-ctx.Done():
		t.Fatal("health tracker gave no verdict within 10s")
	}
}

func checkSocketFile(t *testing.T, path string, mode uint32, uid, gid int) {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFSOCK {
		t.Fatalf("%s is not a socket (mode %o)", path, st.Mode)
	}
	if perm := st.Mode & 0o777; perm != mode {
		t.Errorf("%s: mode %04o, want %04o", path, perm, mode)
	}
	if int(st.Uid) != uid || int(st.Gid) != gid {
		t.Errorf("%s: owner %d:%d, want %d:%d", path, st.Uid, st.Gid, uid, gid)
	}
}

// What the health tracker sends: client-native's SingleRuntime.ExecuteRaw
// prefixes "set severity-output number;" to healthcheck's query, and the
// watcher switches a connection to interactive mode. adminCommand is one a
// level-user socket must refuse.
const (
	clientNativeQuery = "set severity-output number;show info;show stat\n"
	promptQuery       = "prompt\nshow info\n"
	adminCommand      = "disable server be_app/app1\n"
)

// socketClientEnv makes the test binary act as a runtime API client (see
// TestMain): the parent runs it with another uid and gid, which a goroutine
// of the test process itself cannot take.
const socketClientEnv = "PROXYPAIR_TEST_SOCKET_CLIENT"

// socketClient sends query to the runtime API socket at path from a child
// process running as uid:gid with no supplementary groups, and returns what
// it read, or "dial: <error>".
func socketClient(t *testing.T, uid, gid int, path, query string) string {
	t.Helper()
	cmd := exec.Command(clientBinary(t), "-test.run=^$")
	cmd.Env = append(os.Environ(), socketClientEnv+"="+path, "PROXYPAIR_TEST_SOCKET_QUERY="+query)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("socket client as %d:%d: %v\n%s", uid, gid, err, out)
	}
	return string(out)
}

// openDir is a temp dir that processes of any user can traverse (t.TempDir's
// parents are 0700), for the sockets and the client binary.
func openDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ppf-hap-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// clientBinary is a copy of the test binary that uid nobody can run (go
// test's build directory is private to root).
func clientBinary(t *testing.T) string {
	t.Helper()
	clientOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ppf-client-")
		if err != nil {
			clientErr = err
			return
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			clientErr = err
			return
		}
		clientPath = filepath.Join(dir, "client.test")
		b, err := os.ReadFile(os.Args[0])
		if err == nil {
			err = os.WriteFile(clientPath, b, 0o755)
		}
		clientErr = err
	})
	if clientErr != nil {
		t.Fatalf("copying the test binary for the socket client: %v", clientErr)
	}
	return clientPath
}

var (
	clientOnce sync.Once
	clientPath string
	clientErr  error
)

// runSocketClient is the child side of socketClient. An interactive query
// (prompt mode) is sent line by line, each answer read up to the "> "
// prompt; otherwise HAProxy answers and closes the connection.
func runSocketClient(path, query string) error {
	conn, err := net.Dial("unix", path)
	if err != nil {
		var errno syscall.Errno
		if errors.As(err, &errno) {
			fmt.Printf("dial: %v\n", errno)
			return nil
		}
		return err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return err
	}
	if !strings.HasPrefix(query, "prompt\n") {
		if _, err := io.WriteString(conn, query); err != nil {
			return err
		}
		_, err := io.Copy(os.Stdout, conn)
		return err
	}
	r := bufio.NewReader(conn)
	for _, line := range strings.SplitAfter(strings.TrimSuffix(query, "\n"), "\n") {
		if _, err := io.WriteString(conn, strings.TrimSuffix(line, "\n")+"\n"); err != nil {
			return err
		}
		answer, err := readToPrompt(r)
		fmt.Print(answer)
		if err != nil {
			return fmt.Errorf("after %q: %w", line, err)
		}
	}
	return nil
}

// readToPrompt reads an interactive answer up to and including the "> "
// prompt HAProxy prints when it is ready for the next command.
func readToPrompt(r *bufio.Reader) (string, error) {
	var b strings.Builder
	for !strings.HasSuffix(b.String(), "\n> ") && b.String() != "> " {
		c, err := r.ReadByte()
		if err != nil {
			return b.String(), err
		}
		b.WriteByte(c)
	}
	return b.String(), nil
}

func TestMain(m *testing.M) {
	if path := os.Getenv(socketClientEnv); path != "" {
		if err := runSocketClient(path, os.Getenv("PROXYPAIR_TEST_SOCKET_QUERY")); err != nil {
			fmt.Println("client error:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	if clientPath != "" {
		os.RemoveAll(filepath.Dir(clientPath))
	}
	debtest.Cleanup()
	os.Exit(code)
}

func runOK(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
