//go:build linux

package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/proxypair/proxypair/internal/lab"
)

// statStatus is the status column of one row of HAProxy's "show stat".
func statStatus(hp *lab.HAProxy, px, sv string) (string, error) {
	out, err := hp.API("show stat")
	if err != nil {
		return "", err
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "# ") {
		return "", fmt.Errorf("show stat: no header in %q", out)
	}
	col := -1
	for i, name := range strings.Split(strings.TrimPrefix(lines[0], "# "), ",") {
		if name == "status" {
			col = i
		}
	}
	for _, l := range lines[1:] {
		f := strings.Split(l, ",")
		if len(f) > col && col >= 0 && f[0] == px && f[1] == sv {
			return f[col], nil
		}
	}
	return "", fmt.Errorf("show stat: no row %s/%s (status column %d) in:\n%s", px, sv, col, out)
}

// TestHAProxyExternalServer checks what the backend-lost rows rely on: the
// lab HAProxy with its server outside (haproxyConfig) has no server
// frontends, checks at BackendCheck's timing, serves through the external
// server, and marks it DOWN when it dies while its frontend stays OPEN.
func TestHAProxyExternalServer(t *testing.T) {
	l := lab.NewT(t)
	h, err := l.AddHost("a", AddrA)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := h.Listen("tcp", serverListen)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "a\n")
	})}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("server: %v", err)
		}
	})

	hp, err := h.StartHAProxy(haproxyConfig())
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(hp.ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	check := fmt.Sprintf(`(?m)^\s*default-server check inter %dms .*fall %d `, BackendCheck.Inter.Milliseconds(), BackendCheck.Fall)
	if !regexp.MustCompile(check).Match(cfg) {
		t.Errorf("config does not check servers with %+v (want a line matching %q):\n%s", BackendCheck, check, cfg)
	}
	if strings.Contains(string(cfg), "frontend "+lab.HAProxyServerFrontend(1)) {
		t.Errorf("config renders the server frontend although the server is external:\n%s", cfg)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	status := func(want string) func() (bool, string) {
		return func() (bool, string) {
			st, err := statStatus(hp, lab.HAProxyBackend, lab.HAProxyServer(1))
			if err != nil {
				return false, err.Error()
			}
			return strings.HasPrefix(st, want), "s1 " + st
		}
	}
	if err := lab.Eventually(ctx, 20*time.Millisecond, status("UP")); err != nil {
		t.Fatalf("s1 UP: %v", err)
	}
	hc := h.HTTPClient(2 * time.Second)
	url := "http://" + AddrA.Addr().String() + "/"
	if body, err := lab.Get(ctx, hc, url); err != nil || body != "a" {
		t.Fatalf("GET %s through HAProxy: %q, %v; want the server's \"a\"", url, body, err)
	}

	srv.Close()
	if err := lab.Eventually(ctx, 20*time.Millisecond, status("DOWN")); err != nil {
		t.Fatalf("s1 DOWN after its server died: %v", err)
	}
	if st, err := statStatus(hp, lab.HAProxyFrontend, "FRONTEND"); err != nil || st != "OPEN" {
		t.Errorf("frontend %s: %q, %v; want OPEN (only the backend lost its server)", lab.HAProxyFrontend, st, err)
	}
	if _, err := lab.Get(ctx, hc, url); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("GET with s1 DOWN: %v; want status 503", err)
	}
}
