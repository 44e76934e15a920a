package probe

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// HTTP sends a GET over a new connection each time, so every probe
// exercises connection set-up to whichever host holds the address now.
type HTTP struct {
	url    string
	client *http.Client
}

// NewHTTP probes target: an address, host:port, or an http:// URL.
func NewHTTP(target string) (*HTTP, error) {
	u, err := HTTPURL(target)
	if err != nil {
		return nil, err
	}
	return &HTTP{
		url: u,
		client: &http.Client{
			Transport: &http.Transport{
				Proxy:             nil, // never an environment proxy: the target is in the lab
				DialContext:       (&net.Dialer{}).DialContext,
				DisableKeepAlives: true,
			},
			// Redirects would hide what the target answered.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}, nil
}

// HTTPURL turns a probe target into the URL to GET.
func HTTPURL(target string) (string, error) {
	if target == "" {
		return "", fmt.Errorf("probe: empty http target")
	}
	if !strings.Contains(target, "://") {
		target = "http://" + target + "/"
	}
	u, err := url.Parse(target)
	if err != nil {
		return "", fmt.Errorf("probe: http target: %w", err)
	}
	if u.Scheme != "http" || u.Host == "" {
		return "", fmt.Errorf("probe: http target %q: want an address, host:port or http:// URL", target)
	}
	return u.String(), nil
}

// Probe GETs the URL; any 2xx status is an answer, and the detail is the
// first line of the body (the lab's HAProxy answers with its host name).
func (p *HTTP) Probe(ctx context.Context, seq int) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url, nil)
	if err != nil {
		return "", err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	line, _, _ := bufio.NewReader(io.LimitReader(resp.Body, 256)).ReadLine()
	detail := strings.TrimSpace(string(line))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "", fmt.Errorf("status %s", resp.Status)
	}
	return detail, nil
}
