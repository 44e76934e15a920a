package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/net/netutil"
)

// Provider answers status requests. The daemon implements it by asking each
// instance goroutine for a snapshot, so no protocol state is shared.
type Provider interface {
	Status(ctx context.Context) (Status, error)
}

// Maintainer puts the node in maintenance (a planned hand-over: a master
// hands the VIPs to its peer and the node stays out, on until resumed, or
// for a duration) or takes it out. A Provider that is one serves
// POST /v1/maintenance.
type Maintainer interface {
	SetMaintenance(ctx context.Context, on bool, d time.Duration) error
}

// MaintenanceRequest is the body of POST /v1/maintenance.
type MaintenanceRequest struct {
	On  bool     `json:"on"`
	For Duration `json:"for,omitempty"` // 0: until resumed
}

// Limits of the control server: a local admin socket, but a stuck or
// flooding client must not pile up goroutines in the daemon.
const (
	maxConns     = 16
	readTimeout  = 10 * time.Second
	writeTimeout = 10 * time.Second
	idleTimeout  = 5 * time.Second
)

// Server serves the control API on a unix socket.
type Server struct {
	path string
	ln   net.Listener
	srv  *http.Server
}

// Listen creates the socket at path with mode 0600. A leftover socket file
// from a crashed daemon is replaced; a live daemon on it is an error, so two
// daemons never run on one config.
func Listen(path string, p Provider, log *slog.Logger) (*Server, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("control: %w", err)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("control: %s is in use: another proxypair is running", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("control: removing stale socket: %w", err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control: %w", err)
	}
	mux := http.NewServeMux()
	if m, ok := p.(Maintainer); ok {
		mux.HandleFunc("POST /v1/maintenance", func(w http.ResponseWriter, r *http.Request) {
			var req MaintenanceRequest
			if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil {
				http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
				return
			}
			if req.For < 0 {
				http.Error(w, "bad request: a negative duration", http.StatusBadRequest)
				return
			}
			if err := m.SetMaintenance(r.Context(), req.On, time.Duration(req.For)); err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		})
	}
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		st, err := p.Status(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(st)
	})
	s := &Server{
		path: path,
		ln:   netutil.LimitListener(ln, maxConns),
		srv: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       readTimeout,
			WriteTimeout:      writeTimeout,
			IdleTimeout:       idleTimeout,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
	}
	go s.srv.Serve(s.ln)
	return s, nil
}

// Close stops serving and removes the socket file.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	os.Remove(s.path)
	return err
}

// ErrNotRunning means no daemon answers on the control socket.
var ErrNotRunning = errors.New("proxypair is not running")

// do sends one request to the daemon listening on path.
func do(ctx context.Context, path, method, route string, body io.Reader) (*http.Response, error) {
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
		// One request per client: an idle connection kept open would hold
		// one of the server's few slots until its idle timeout.
		DisableKeepAlives: true,
	}}
	req, err := http.NewRequestWithContext(ctx, method, "http://proxypair"+route, body)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("control: %w (nothing answers at %s): %w", ErrNotRunning, path, err)
	}
	return resp, nil
}

// SetMaintenance asks the daemon listening on path to go into maintenance
// (for d; 0: until resumed) or out of it.
func SetMaintenance(ctx context.Context, path string, on bool, d time.Duration) error {
	b, _ := json.Marshal(MaintenanceRequest{On: on, For: Duration(d)})
	resp, err := do(ctx, path, http.MethodPost, "/v1/maintenance", bytes.NewReader(b))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("control: %s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// Get asks the daemon listening on path for its status.
func Get(ctx context.Context, path string) (*Status, error) {
	resp, err := do(ctx, path, http.MethodGet, "/v1/status", nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("control: %s: %s", resp.Status, b)
	}
	var st Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return nil, fmt.Errorf("control: decoding status: %w", err)
	}
	return &st, nil
}
