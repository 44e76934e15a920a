package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/proxypair/proxypair/appliance/control"
)

// Path is where the metrics are served.
const Path = "/metrics"

// maxScrapes bounds the scrapes served at once: each one asks the VRRP
// loop for a snapshot, so a scraper gone wild cannot queue more than this
// behind the adverts.
const maxScrapes = 4

// BuildInfo is what proxypair_build_info reports.
type BuildInfo struct {
	Version string
	Commit  string
}

// Handler returns the HTTP handler for Path: the instance metrics from
// src (one snapshot per scrape), proxypair_build_info, and the Go
// runtime's and the process's own metrics (go_*, process_*).
func Handler(src control.Provider, b BuildInfo, log *slog.Logger) (http.Handler, error) {
	reg := prometheus.NewRegistry()
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "proxypair_build_info",
		Help:        "Always 1; the labels say which proxypair runs: version, commit and the Go version it was built with.",
		ConstLabels: prometheus.Labels{"version": b.Version, "commit": b.Commit, "goversion": runtime.Version()},
	})
	build.Set(1)
	for _, c := range []prometheus.Collector{
		NewCollector(src, log),
		build,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+Path, promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:            slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: maxScrapes,
	}))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "proxypair: Prometheus metrics are at %s\n", Path)
	})
	return mux, nil
}

// Server serves the metrics over HTTP.
type Server struct {
	ln  net.Listener
	srv *http.Server
}

// Listen serves h on addr (host:port) until Close.
func Listen(addr string, h http.Handler, log *slog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	s := &Server{
		ln: ln,
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 5 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       2 * time.Minute,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
	}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics: serving stopped", "err", err)
		}
	}()
	return s, nil
}

// Addr is the address the server listens on (the port chosen, for :0).
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close stops serving: scrapes under way get a moment to finish.
func (s *Server) Close() error {
	if s == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		return s.srv.Close()
	}
	return nil
}
