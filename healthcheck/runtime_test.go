package healthcheck

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
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

func TestSocketRuntime(t *testing.T) {
	fixture, err := os.ReadFile("testdata/info-stat-healthy.txt")
	if err != nil {
		t.Fatal(err)
	}
	answer := func(c net.Conn) {
		defer c.Close()
		line, _ := bufio.NewReader(c).ReadString('\n')
		if line != "show info;show stat\n" {
			c.Write([]byte("Unknown command\n\n"))
			return
		}
		c.Write(fixture)
	}
	closeAtOnce := func(c net.Conn) { c.Close() }
	// Cut mid-CSV: in the middle of be_app's first server line, and just
	// before it (whole lines: without the end mark this would read as an
	// HAProxy without be_app).
	midLine := strings.Index(string(fixture), "be_app,s1,") + len("be_app,s1,0,0")
	atLine := strings.Index(string(fixture), "be_app,s1,")
	truncated := func(cut int) func(net.Conn) {
		return func(c net.Conn) {
			defer c.Close()
			bufio.NewReader(c).ReadString('\n')
			c.Write(fixture[:cut])
		}
	}
	tooBig := func(c net.Conn) {
		defer c.Close()
		bufio.NewReader(c).ReadString('\n')
		row := []byte(strings.Repeat(strings.Repeat("x", 1023)+"\n", 64))
		for range MaxAnswerBytes/len(row) + 1 {
			if _, err := c.Write(row); err != nil {
				return // the client stopped reading at the bound
			}
		}
	}

	refused := filepath.Join(t.TempDir(), "refused.sock")
	ln, err := net.Listen("unix", refused)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false) // leave the file, like a killed HAProxy
	ln.Close()

	okPath, _ := fakeSocket(t, answer)
	emptyPath, emptyConns := fakeSocket(t, closeAtOnce)
	bigPath, _ := fakeSocket(t, tooBig)

	t.Run("answers", func(t *testing.T) {
		st, err := newSocketRuntime(okPath, time.Second).state(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if st.PID == 0 || len(st.Rows) != 12 {
			t.Errorf("state = pid %d, %d rows", st.PID, len(st.Rows))
		}
	})
	t.Run("refused", func(t *testing.T) {
		_, err := newSocketRuntime(refused, time.Second).state(t.Context())
		if want := "haproxy socket " + refused + ": connection refused"; err == nil || err.Error() != want {
			t.Errorf("error %v, want %q", err, want)
		}
	})
	t.Run("no socket file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "missing.sock")
		_, err := newSocketRuntime(path, time.Second).state(t.Context())
		if want := "haproxy socket " + path + ": no such file or directory"; err == nil || err.Error() != want {
			t.Errorf("error %v, want %q", err, want)
		}
	})
	t.Run("empty answer is a failure", func(t *testing.T) {
		_, err := newSocketRuntime(emptyPath, time.Second).state(t.Context())
		// Depending on whether the close beats our write, the error is
		// the empty answer or a broken pipe.
		if err == nil || !strings.HasPrefix(err.Error(), "haproxy socket "+emptyPath+": ") {
			t.Errorf("error %v, want a socket error", err)
		}
		if got := emptyConns.Load(); got != 2 {
			t.Errorf("%d connections, want 2 (one retry)", got)
		}
	})
	for name, cut := range map[string]int{"mid-line": midLine, "after a line": atLine} {
		t.Run("truncated "+name+" is a failure", func(t *testing.T) {
			path, conns := fakeSocket(t, truncated(cut))
			_, err := newSocketRuntime(path, time.Second).state(t.Context())
			want := fmt.Sprintf("haproxy socket %s: answer truncated after %d bytes: show stat does not end with its empty line", path, cut-1) // less the leading newline
			if err == nil || err.Error() != want {
				t.Errorf("error %v, want %q", err, want)
			}
			if got := conns.Load(); got != 2 {
				t.Errorf("%d connections, want 2 (one retry)", got)
			}
		})
	}
	t.Run("too big", func(t *testing.T) {
		_, err := newSocketRuntime(bigPath, 10*time.Second).state(t.Context())
		want := "haproxy socket " + bigPath + ": answer longer than 32 MiB (MaxAnswerBytes); too many servers for one show stat"
		if err == nil || err.Error() != want {
			t.Errorf("error %v, want %q", err, want)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		hungPath, _ := fakeSocket(t, hangUp)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := newSocketRuntime(hungPath, time.Hour).state(ctx)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want context.Canceled", err)
		}
	})
}

// hangUp is a hung HAProxy: it accepts, reads, and never answers; it lets
// go when the client closes.
func hangUp(c net.Conn) {
	defer c.Close()
	io.Copy(io.Discard, c)
}

// TestSocketRuntimeRecoversAfterHang: queries to a hung HAProxy time out,
// each on its own connection, and the first query after HAProxy answers
// again succeeds: nothing waits out an earlier query.
func TestSocketRuntimeRecoversAfterHang(t *testing.T) {
	fixture, err := os.ReadFile("testdata/info-stat-healthy.txt")
	if err != nil {
		t.Fatal(err)
	}
	var answering atomic.Bool
	path, conns := fakeSocket(t, func(c net.Conn) {
		if !answering.Load() {
			hangUp(c)
			return
		}
		defer c.Close()
		bufio.NewReader(c).ReadString('\n')
		c.Write(fixture)
	})
	rt := newSocketRuntime(path, 50*time.Millisecond)
	for range 3 {
		_, err := rt.state(t.Context())
		if want := "haproxy socket " + path + ": no answer within 50ms"; err == nil || err.Error() != want {
			t.Fatalf("error %v, want %q", err, want)
		}
	}
	if n := conns.Load(); n != 3 {
		t.Errorf("%d connections for 3 timed-out queries, want 3 (no retry after a timeout)", n)
	}
	answering.Store(true)
	if _, err := rt.state(t.Context()); err != nil {
		t.Errorf("first query after HAProxy answers again: %v", err)
	}
}

// TestTrackerRecoversAfterHang runs the tracker on a runtime API that hangs,
// then answers: the tracker goes unhealthy and comes back (rise 1) without
// waiting out anything (client-native's 30 s query timeout made it fail for
// 30 s). The poll's 10 s deadline is only a bound for a broken tracker.
func TestTrackerRecoversAfterHang(t *testing.T) {
	fixture, err := os.ReadFile("testdata/info-stat-healthy.txt")
	if err != nil {
		t.Fatal(err)
	}
	var answering atomic.Bool
	answering.Store(true)
	path, _ := fakeSocket(t, func(c net.Conn) {
		if !answering.Load() {
			hangUp(c)
			return
		}
		defer c.Close()
		bufio.NewReader(c).ReadString('\n')
		c.Write(fixture)
	})
	tr, err := New(Config{Interval: 20 * time.Millisecond, Timeout: 100 * time.Millisecond, Rise: 1,
		HAProxy: HAProxyConfig{Socket: path, Backends: []string{"be_app"}}}, testLogger(t), func(tr *Tracker) {
		tr.watchConn = func(ctx context.Context, _ func(string)) { <-ctx.Done() }
		tr.watchPID = func(context.Context, int, func(string)) error { return errTestDisabled }
		tr.alive = func(int) bool { return true } // the hung "HAProxy" is alive
	})
	if err != nil {
		t.Fatal(err)
	}
	events := runTracker(t, tr)
	if ev := nextEvent(t, events, 10*time.Second, "healthy"); !ev.Healthy {
		t.Fatalf("first verdict unhealthy: %s", ev.Reason)
	}
	answering.Store(false)
	ev := nextEvent(t, events, 10*time.Second, "unhealthy while hung")
	if want := "haproxy socket " + path + ": no answer within 100ms"; ev.Healthy || !strings.HasPrefix(ev.Reason, want) {
		t.Fatalf("event while hung: healthy %v reason %q, want it to start with %q", ev.Healthy, ev.Reason, want)
	}
	answering.Store(true)
	if ev := nextEvent(t, events, 10*time.Second, "healthy after the hang"); !ev.Healthy {
		t.Fatalf("event after the hang: unhealthy: %s", ev.Reason)
	}
}
