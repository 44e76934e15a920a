package lab

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// maxGetBody bounds what Get reads of an answer: the lab's servers answer
// with a name.
const maxGetBody = 4096

// Get GETs url with hc (Host.HTTPClient) and returns the first line of
// the answer's body, trimmed. An answer other than 200 OK is an error
// ("status 503 Service Unavailable"), as a failed request is for the
// lab's clients.
func Get(ctx context.Context, hc *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxGetBody))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %s", resp.Status)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSpace(line), nil
}
