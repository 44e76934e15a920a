package ncp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Metadata service protocol (NCP "Using Metadata v2"). v2 is session-oriented
// like AWS IMDSv2: PUT a token request, then send the token with every GET.
const (
	MetadataTokenPath      = "/latest/api/token"
	MetadataTokenTTLHeader = "X-NCP-METADATA-TOKEN-TTL-SECONDS"
	MetadataTokenHeader    = "X-NCP-METADATA-TOKEN"
	metadataDataPrefix     = "/latest/meta-data/"
)

// Metadata paths below /latest/meta-data/, from NCP's "Server Data" and
// "Role Data" pages.
const (
	MetadataServerInstanceNo = "serverInstanceNo"
	MetadataRegionCode       = "regionCode"
	// MetadataRoleCredentials lists the attached role's ID; the role's
	// temporary keys are at this path + the role ID.
	MetadataRoleCredentials = "iam/security-credentials/"
)

const (
	defaultMetadataTimeout = 2 * time.Second
	defaultTokenTTL        = 6 * time.Hour // NCP's example asks for 21600 s
	tokenRenewEarly        = time.Minute
	// v1Hold is how long Metadata stays on v1 after a token request failed,
	// so a server that only speaks v1 does not pay a failed PUT per GET.
	v1Hold = 5 * time.Minute
	// maxBody caps what is read from any answer.
	maxBody = 1 << 20
)

// MetadataConfig configures a Metadata client. Every field is optional.
type MetadataConfig struct {
	BaseURL    string        // default DefaultMetadataURL
	HTTPClient *http.Client  // default: a client that never uses a proxy
	Timeout    time.Duration // per HTTP call; default 2s
	TokenTTL   time.Duration // asked-for v2 token lifetime; default 6h
	Now        func() time.Time
	Logger     *slog.Logger
}

// Metadata reads the NCP VPC metadata service. It uses the token-based v2
// protocol and falls back to plain v1 GETs when the token request fails. It is
// safe for concurrent use.
type Metadata struct {
	base     *url.URL
	hc       *http.Client
	timeout  time.Duration
	tokenTTL time.Duration
	now      func() time.Time
	log      *slog.Logger

	mu           sync.Mutex // guards the fields below and serializes token requests
	token        string
	tokenExpires time.Time
	v1Until      time.Time
}

// NewMetadata returns a metadata client.
func NewMetadata(cfg MetadataConfig) (*Metadata, error) {
	raw := cfg.BaseURL
	if raw == "" {
		raw = DefaultMetadataURL
	}
	base, err := parseBaseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("ncp: metadata URL: %w", err)
	}
	m := &Metadata{
		base:     base,
		hc:       cfg.HTTPClient,
		timeout:  cfg.Timeout,
		tokenTTL: cfg.TokenTTL,
		now:      cfg.Now,
		log:      cfg.Logger,
	}
	if m.hc == nil {
		// Never through HTTP_PROXY: 169.254.169.254 is link-local and a
		// proxy would either fail or, worse, answer for another host.
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.Proxy = nil
		m.hc = &http.Client{Transport: tr}
	}
	if m.timeout <= 0 {
		m.timeout = defaultMetadataTimeout
	}
	if m.tokenTTL < time.Second {
		m.tokenTTL = defaultTokenTTL
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	return m, nil
}

// MetadataError is a metadata GET answered with a status other than 200.
type MetadataError struct {
	Path       string
	StatusCode int
}

func (e *MetadataError) Error() string {
	if e.StatusCode == http.StatusNotFound {
		return fmt.Sprintf("ncp: metadata %s: not found (HTTP 404)", e.Path)
	}
	return fmt.Sprintf("ncp: metadata %s: HTTP %d", e.Path, e.StatusCode)
}

// Retryable reports whether the service may answer later: 5xx and 429.
func (e *MetadataError) Retryable() bool {
	return e.StatusCode >= 500 || e.StatusCode == http.StatusTooManyRequests
}

// Get returns the value at path below /latest/meta-data/ (e.g.
// "serverInstanceNo"), as the service sent it.
func (m *Metadata) Get(ctx context.Context, path string) (string, error) {
	token := m.currentToken(ctx)
	body, status, err := m.get(ctx, path, token)
	if err == nil && token != "" && status == http.StatusUnauthorized {
		// The token expired or the service restarted: get a new one, once.
		m.dropToken(token)
		token = m.currentToken(ctx)
		body, status, err = m.get(ctx, path, token)
	}
	if err != nil {
		return "", err
	}
	if status != http.StatusOK {
		return "", &MetadataError{Path: path, StatusCode: status}
	}
	return string(body), nil
}

// ServerInstanceNo returns this server's instance number.
func (m *Metadata) ServerInstanceNo(ctx context.Context) (string, error) {
	return m.getValue(ctx, MetadataServerInstanceNo)
}

// RegionCode returns this server's region code (e.g. "KR").
func (m *Metadata) RegionCode(ctx context.Context) (string, error) {
	return m.getValue(ctx, MetadataRegionCode)
}

func (m *Metadata) getValue(ctx context.Context, path string) (string, error) {
	v, err := m.Get(ctx, path)
	if err != nil {
		return "", err
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return "", fmt.Errorf("ncp: metadata %s: empty value", path)
	}
	return v, nil
}

// ErrNoServerRole means no Server Role is attached to this server.
var ErrNoServerRole = errors.New("ncp: no Server Role is attached to this server (metadata " + MetadataRoleCredentials + ")")

// Role returns the ID of the Server Role attached to this server (the first
// one listed), or an error wrapping ErrNoServerRole.
func (m *Metadata) Role(ctx context.Context) (string, error) {
	v, err := m.Get(ctx, MetadataRoleCredentials)
	if err != nil {
		var me *MetadataError
		if errors.As(err, &me) && me.StatusCode == http.StatusNotFound {
			return "", fmt.Errorf("%w: %w", ErrNoServerRole, err)
		}
		return "", err
	}
	for line := range strings.Lines(v) {
		if role := strings.TrimSpace(line); role != "" {
			return role, nil
		}
	}
	return "", ErrNoServerRole
}

// roleCredentialsBody is the role-keys document. NCP's page shows the path but
// not the body; the field names are those NCP's Go and Python SDKs read, the
// AWS-compatible shape (AccessKeyId, SecretAccessKey, Expiration, and Code /
// Message on failure). AWS's "Token" field is not read: NCP's SDKs sign with
// the two keys alone and send no security-token header.
type roleCredentialsBody struct {
	Code            string `json:"Code"`
	Message         string `json:"Message"`
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
	Expiration      string `json:"Expiration"`
}

// RoleCredentials fetches the temporary keys of role.
func (m *Metadata) RoleCredentials(ctx context.Context, role string) (Credentials, error) {
	path := MetadataRoleCredentials + url.PathEscape(role)
	v, err := m.Get(ctx, path)
	if err != nil {
		return Credentials{}, err
	}
	var b roleCredentialsBody
	if err := json.Unmarshal([]byte(v), &b); err != nil {
		// Say only where: the body holds the secret key.
		return Credentials{}, fmt.Errorf("ncp: metadata %s: the role's keys are not valid JSON", path)
	}
	if b.Code != "" && !strings.EqualFold(b.Code, "Success") {
		return Credentials{}, fmt.Errorf("ncp: metadata %s: code %q: %s", path, b.Code, b.Message)
	}
	if b.AccessKeyID == "" || b.SecretAccessKey == "" {
		return Credentials{}, fmt.Errorf("ncp: metadata %s: AccessKeyId or SecretAccessKey missing", path)
	}
	creds := Credentials{AccessKey: b.AccessKeyID, SecretKey: b.SecretAccessKey}
	if b.Expiration != "" {
		t, err := parseExpiration(b.Expiration)
		if err != nil {
			return Credentials{}, fmt.Errorf("ncp: metadata %s: Expiration %q is not a time", path, b.Expiration)
		}
		creds.Expires = t
	}
	return creds, nil
}

// parseExpiration reads ISO 8601 times as NCP writes them.
func parseExpiration(s string) (time.Time, error) {
	var err error
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05.000Z0700"} {
		var t time.Time
		if t, err = time.Parse(layout, strings.TrimSpace(s)); err == nil {
			return t, nil
		}
	}
	return time.Time{}, err
}

// currentToken returns a v2 token, or "" when the service is used as v1.
func (m *Metadata) currentToken(ctx context.Context) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if m.token != "" && now.Before(m.tokenExpires) {
		return m.token
	}
	if now.Before(m.v1Until) {
		return ""
	}
	token, err := m.requestToken(ctx)
	if err != nil {
		m.token = ""
		m.v1Until = now.Add(v1Hold)
		m.log.Debug("ncp metadata: v2 token unavailable, using v1", "reason", err.Error())
		return ""
	}
	m.token = token
	m.tokenExpires = now.Add(m.tokenTTL - min(tokenRenewEarly, m.tokenTTL/2))
	return token
}

func (m *Metadata) dropToken(token string) {
	m.mu.Lock()
	if m.token == token {
		m.token = ""
	}
	m.mu.Unlock()
}

func (m *Metadata) requestToken(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, m.base.JoinPath(MetadataTokenPath).String(), nil)
	if err != nil {
		return "", err
	}
	req.Header.Set(MetadataTokenTTLHeader, strconv.Itoa(int(m.tokenTTL/time.Second)))
	resp, err := m.hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("token request: HTTP %d", resp.StatusCode)
	}
	token := strings.TrimSpace(string(body))
	if token == "" {
		return "", errors.New("token request: empty token")
	}
	return token, nil
}

func (m *Metadata) get(ctx context.Context, path, token string) ([]byte, int, error) {
	callCtx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	u := m.base.JoinPath(metadataDataPrefix + path)
	if strings.HasSuffix(path, "/") && !strings.HasSuffix(u.Path, "/") {
		u.Path += "/" // JoinPath drops it; the listing paths keep it
	}
	req, err := http.NewRequestWithContext(callCtx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, 0, fmt.Errorf("ncp: metadata %s: %w", path, err)
	}
	if token != "" {
		req.Header.Set(MetadataTokenHeader, token)
	}
	resp, err := m.hc.Do(req)
	if err != nil {
		return nil, 0, transportError(ctx, "metadata "+path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, 0, transportError(ctx, "metadata "+path, err)
	}
	return body, resp.StatusCode, nil
}
