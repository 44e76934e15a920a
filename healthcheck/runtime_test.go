package healthcheck

import (
	"bufio"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeSocket serves a unix socket with handle for each connection and
// returns its path and the number of connections so far.
func fakeSocket(t *testing.T, handle func(c net.Conn)) (string, *atomic.Int32) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "admin.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			go handle(c)
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return path, &n
}

func TestNativeRuntime(t *testing.T) {
	fixture, err := os.ReadFile("testdata/info-stat-healthy.txt")
	if err != nil {
		t.Fatal(err)
	}
	answer := func(c net.Conn) {
		defer c.Close()
		line, _ := bufio.NewReader(c).ReadString('\n')
		if line != "set severity-output number;show info;show stat\n" {
			c.Write([]byte("Unknown command\n"))
			return
		}
		c.Write(fixture)
	}
	hang := func(c net.Conn) {
		defer c.Close()
		time.Sleep(3 * time.Second) // a hung HAProxy: holds the connection, says nothing
	}
	closeAtOnce := func(c net.Conn) { c.Close() }

	refused := filepath.Join(t.TempDir(), "refused.sock")
	ln, err := net.Listen("unix", refused)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false) // leave the file, like a killed HAProxy
	ln.Close()

	okPath, _ := fakeSocket(t, answer)
	hungPath, _ := fakeSocket(t, hang)
	emptyPath, emptyConns := fakeSocket(t, closeAtOnce)

	t.Run("answers", func(t *testing.T) {
		n := mustRuntime(t, okPath, time.Second)
		st, err := n.state(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if st.PID == 0 || len(st.Rows) != 12 {
			t.Errorf("state = pid %d, %d rows", st.PID, len(st.Rows))
		}
	})
	t.Run("refused", func(t *testing.T) {
		n := mustRuntime(t, refused, time.Second)
		_, err := n.state(context.Background())
		if want := "haproxy socket " + refused + ": connection refused"; err == nil || err.Error() != want {
			t.Errorf("error %v, want %q", err, want)
		}
	})
	t.Run("no socket file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "missing.sock")
		n := mustRuntime(t, path, time.Second)
		_, err := n.state(context.Background())
		if want := "haproxy socket " + path + ": no such file or directory"; err == nil || err.Error() != want {
			t.Errorf("error %v, want %q", err, want)
		}
	})
	t.Run("empty answer is a failure", func(t *testing.T) {
		n := mustRuntime(t, emptyPath, time.Second)
		_, err := n.state(context.Background())
		// Depending on whether the close beats our write, the error is
		// the empty answer or a broken pipe (which client-native retries).
		if err == nil || !strings.HasPrefix(err.Error(), "haproxy socket "+emptyPath+": ") {
			t.Errorf("error %v, want a socket error", err)
		}
		if got := emptyConns.Load(); got < 2 {
			t.Errorf("%d connections, want at least 2 (a retry)", got)
		}
	})
	t.Run("hung", func(t *testing.T) {
		n := mustRuntime(t, hungPath, 50*time.Millisecond)
		start := time.Now()
		_, err := n.state(context.Background())
		if want := "haproxy socket " + hungPath + ": no answer within 50ms"; err == nil || err.Error() != want {
			t.Errorf("error %v, want %q", err, want)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("took %v with a 50ms timeout", d)
		}
		// The query is still out: the next check fails at once rather
		// than queueing behind it.
		_, err = n.state(context.Background())
		if err == nil || !strings.Contains(err.Error(), "previous query still unanswered") {
			t.Errorf("second query: %v", err)
		}
	})
}

func mustRuntime(t *testing.T, path string, timeout time.Duration) *nativeRuntime {
	t.Helper()
	n, err := newNativeRuntime(path, timeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.close)
	return n
}
