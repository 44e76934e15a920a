package lab

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestGet(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/down" {
			http.Error(w, "no server available", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte(" a \nsecond line\n"))
	}))
	defer srv.Close()
	ctx := context.Background()
	if got, err := Get(ctx, srv.Client(), srv.URL+"/"); err != nil || got != "a" {
		t.Errorf("Get = %q, %v; want the first line, trimmed: a", got, err)
	}
	if got, err := Get(ctx, srv.Client(), srv.URL+"/down"); err == nil || !strings.Contains(err.Error(), "status 503") {
		t.Errorf("Get of a 503 = %q, %v; want an error naming the status", got, err)
	}
}
