//go:build linux

package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/proxypair/proxypair/internal/bench"
	"github.com/proxypair/proxypair/internal/lab"
)

func TestServeHandler(t *testing.T) {
	for _, path := range []string{"/", "/anything?x=1"} {
		rec := httptest.NewRecorder()
		serveHandler("a").ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusOK || rec.Body.String() != "a\n" || rec.Header().Get("Content-Type") != "text/plain" {
			t.Errorf("GET %s: %d %q (%s); want 200 \"a\\n\" text/plain", path, rec.Code, rec.Body.String(), rec.Header().Get("Content-Type"))
		}
	}
}

// TestServe runs serve on a unix socket (no network needed): it answers,
// announces itself with the marker the bench waits for, and returns nil
// once its context ends.
func TestServe(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "serve.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln, "b", &stderr) }()

	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}}
	resp, err := hc.Get("http://serve/")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || string(body) != "b\n" {
		t.Errorf("GET: %d %q, %v; want 200 \"b\\n\"", resp.StatusCode, body, err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve after its context ended: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not return after its context ended")
	}
	if !strings.HasPrefix(stderr.String(), bench.ServeMarker+" http on "+sock) {
		t.Errorf("stderr %q, want the marker %q and the address", stderr.String(), bench.ServeMarker)
	}
}

func TestServeFlagErrors(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"serve", "--listen", "nope"}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), `--listen "nope": want host:port`) {
		t.Errorf("serve --listen nope: exit %d, stderr %q", code, stderr.String())
	}
}

// TestServeInLab runs `pplab serve` the way the bench does, inside a lab
// host on its loopback: it answers GETs there and stops cleanly on
// SIGTERM.
func TestServeInLab(t *testing.T) {
	l := lab.NewT(t)
	h, err := l.AddHost("a", netip.MustParsePrefix("198.18.0.1/24"))
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p, err := h.Start("env", "PPLAB_AS_MAIN=1", self, "serve", "--listen", "127.0.0.1:8081", "--body", "a")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	hc := h.HTTPClient(time.Second)
	err = lab.Eventually(ctx, 20*time.Millisecond, func() (bool, string) {
		if p.Exited() {
			return true, ""
		}
		resp, err := hc.Get("http://127.0.0.1:8081/")
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode == http.StatusOK && string(b) == "a\n", resp.Status + " " + string(b)
	})
	if err != nil || p.Exited() {
		t.Fatalf("serve answering in the lab host: %v (exited %t)\n%s", err, p.Exited(), p.Output())
	}
	if !strings.Contains(p.Output(), bench.ServeMarker+" http on 127.0.0.1:8081") {
		t.Errorf("output %q lacks the marker", p.Output())
	}
	if err := p.Stop(5 * time.Second); err != nil {
		t.Errorf("stopping serve: %v\n%s", err, p.Output())
	}
}
