package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/proxypair/proxypair/internal/bench"
)

// newServeCmd is `pplab serve`: a tiny HTTP server that answers every
// request with 200 and a fixed body. The bench runs it in a lab host as
// the only server of HAProxy's backend, so killing it loses the backend
// while HAProxy stays up. It runs until SIGTERM/SIGINT.
func newServeCmd(stderr io.Writer) *cobra.Command {
	var listen, body string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Answer HTTP requests with 200 and a fixed body (a backend server for the lab's HAProxy)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if body == "" {
				h, err := os.Hostname()
				if err != nil {
					return fmt.Errorf("--body not given and no host name: %w", err)
				}
				body = h
			}
			if _, _, err := net.SplitHostPort(listen); err != nil {
				return fmt.Errorf("--listen %q: want host:port: %w", listen, err)
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return err
			}
			return serve(c.Context(), ln, body, stderr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:8081", "address to listen on (host:port)")
	f.StringVar(&body, "body", "", "the answer's body (a newline is added); default: the host name")
	return cmd
}

// serveHandler answers every request with 200 and body plus a newline.
func serveHandler(body string) http.Handler {
	answer := []byte(body + "\n")
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(answer)
	})
}

// serve answers on ln until ctx ends, then shuts down gracefully.
func serve(ctx context.Context, ln net.Listener, body string, stderr io.Writer) error {
	srv := &http.Server{Handler: serveHandler(body), ReadHeaderTimeout: 5 * time.Second}
	fmt.Fprintf(stderr, "%s http on %s\n", bench.ServeMarker, ln.Addr())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-done; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
