package ncp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"
)

// Environment variables holding explicit API keys, as NCP's own SDKs and CLI
// read them.
const (
	EnvAccessKey = "NCLOUD_ACCESS_KEY"
	EnvSecretKey = "NCLOUD_SECRET_KEY"
)

// DefaultRefreshEarly is how long before their expiry Server Role keys are
// fetched again.
const DefaultRefreshEarly = 5 * time.Minute

// Credentials is an API key pair. Expires is zero for keys that do not expire.
//
// Formatting a Credentials (fmt's %v, %+v, %#v, %s, or slog) shows at most the
// start of the access key and never the secret.
type Credentials struct {
	AccessKey string
	SecretKey string
	Expires   time.Time
}

// String redacts the keys.
func (c Credentials) String() string {
	s := "ncp.Credentials{AccessKey:" + redact(c.AccessKey) + " SecretKey:" + redactSecret(c.SecretKey)
	if !c.Expires.IsZero() {
		s += " Expires:" + c.Expires.UTC().Format(time.RFC3339)
	}
	return s + "}"
}

// GoString redacts the keys, for %#v.
func (c Credentials) GoString() string { return c.String() }

// Format redacts the keys for every verb, including %+v, which would otherwise
// print the fields.
func (c Credentials) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(c.String())) }

// LogValue redacts the keys in structured logs.
func (c Credentials) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("access_key", redact(c.AccessKey))}
	if !c.Expires.IsZero() {
		attrs = append(attrs, slog.Time("expires", c.Expires))
	}
	return slog.GroupValue(attrs...)
}

// redact keeps the first 4 characters of an access key, enough to tell two
// keys apart in a log.
func redact(s string) string {
	if s == "" {
		return `""`
	}
	if len(s) <= 8 {
		return "****"
	}
	return s[:4] + "****"
}

func redactSecret(s string) string {
	if s == "" {
		return `""`
	}
	return "****"
}

// CredentialsProvider supplies the keys for each API call. Implementations
// must be safe for concurrent use.
type CredentialsProvider interface {
	// Credentials returns keys that are valid now.
	Credentials(ctx context.Context) (Credentials, error)
	// Source names where the keys come from ("config", "env", "server-role"),
	// for logs.
	Source() string
}

// invalidator is a CredentialsProvider whose keys can be replaced: Invalidate
// drops them, and the next Credentials call fetches fresh ones. Server Role
// keys can; fixed keys (config, environment) cannot.
type invalidator interface{ Invalidate() }

// ErrNoCredentials means no API keys were configured and the Server Role
// gave none.
var ErrNoCredentials = errors.New("ncp: no API credentials")

// staticProvider returns fixed keys.
type staticProvider struct {
	creds  Credentials
	source string
}

func (p staticProvider) Credentials(context.Context) (Credentials, error) { return p.creds, nil }
func (p staticProvider) Source() string                                   { return p.source }

// StaticCredentials returns a provider of fixed keys; source names them for
// logs (e.g. "config").
func StaticCredentials(accessKey, secretKey, source string) (CredentialsProvider, error) {
	switch {
	case accessKey == "" && secretKey == "":
		return nil, fmt.Errorf("%w from %s", ErrNoCredentials, source)
	case accessKey == "":
		return nil, fmt.Errorf("ncp: %s: secret key is set but the access key is empty", source)
	case secretKey == "":
		return nil, fmt.Errorf("ncp: %s: access key is set but the secret key is empty", source)
	}
	return staticProvider{creds: Credentials{AccessKey: accessKey, SecretKey: secretKey}, source: source}, nil
}

// EnvCredentials returns the keys in NCLOUD_ACCESS_KEY and NCLOUD_SECRET_KEY,
// read through getenv (os.Getenv when nil). It wraps ErrNoCredentials when
// neither is set, and names the missing one when only one is.
func EnvCredentials(getenv func(string) string) (CredentialsProvider, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	ak, sk := getenv(EnvAccessKey), getenv(EnvSecretKey)
	switch {
	case ak == "" && sk == "":
		return nil, fmt.Errorf("%w in %s/%s", ErrNoCredentials, EnvAccessKey, EnvSecretKey)
	case ak == "":
		return nil, fmt.Errorf("ncp: %s is set but %s is empty", EnvSecretKey, EnvAccessKey)
	case sk == "":
		return nil, fmt.Errorf("ncp: %s is set but %s is empty", EnvAccessKey, EnvSecretKey)
	}
	return staticProvider{creds: Credentials{AccessKey: ak, SecretKey: sk}, source: "env"}, nil
}

// ServerRoleProvider supplies the temporary keys of the Server Role attached
// to this VPC server, from the metadata service. It caches them and fetches
// new ones RefreshEarly before they expire. It is safe for concurrent use:
// concurrent callers share one fetch.
type ServerRoleProvider struct {
	md           *Metadata
	now          func() time.Time
	refreshEarly time.Duration

	// sem is a one-slot lock that a waiting caller can give up on when its
	// context ends, which sync.Mutex cannot do.
	sem   chan struct{}
	role  string
	creds Credentials
}

// NewServerRoleProvider returns a provider reading md. now is the clock (nil =
// time.Now); refreshEarly <= 0 means DefaultRefreshEarly.
func NewServerRoleProvider(md *Metadata, now func() time.Time, refreshEarly time.Duration) *ServerRoleProvider {
	if now == nil {
		now = time.Now
	}
	if refreshEarly <= 0 {
		refreshEarly = DefaultRefreshEarly
	}
	return &ServerRoleProvider{md: md, now: now, refreshEarly: refreshEarly, sem: make(chan struct{}, 1)}
}

// Source is "server-role".
func (p *ServerRoleProvider) Source() string { return "server-role" }

// noExpiryCache is how long keys that came without an Expiration are kept:
// short, since NCP's role keys are documented as temporary.
const noExpiryCache = time.Minute

// Credentials returns the cached keys while they are fresh, and otherwise
// fetches the role's keys again. When a refresh fails but the cached keys have
// not expired yet, it returns them: the next call tries again.
func (p *ServerRoleProvider) Credentials(ctx context.Context) (Credentials, error) {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return Credentials{}, ctx.Err()
	}
	defer func() { <-p.sem }()

	now := p.now()
	if p.creds.AccessKey != "" && now.Before(p.creds.Expires.Add(-p.refreshEarly)) {
		return p.creds, nil
	}
	creds, err := p.fetch(ctx)
	if err != nil {
		if p.creds.AccessKey != "" && now.Before(p.creds.Expires) {
			return p.creds, nil
		}
		return Credentials{}, err
	}
	if creds.Expires.IsZero() {
		creds.Expires = now.Add(noExpiryCache + p.refreshEarly)
	}
	p.creds = creds
	return creds, nil
}

// Invalidate drops the cached keys, so the next call fetches new ones (after
// the gateway rejected them, say).
func (p *ServerRoleProvider) Invalidate() {
	p.sem <- struct{}{}
	p.creds = Credentials{}
	p.role = ""
	<-p.sem
}

func (p *ServerRoleProvider) fetch(ctx context.Context) (Credentials, error) {
	if p.role == "" {
		role, err := p.md.Role(ctx)
		if err != nil {
			return Credentials{}, err
		}
		p.role = role
	}
	creds, err := p.md.RoleCredentials(ctx, p.role)
	if err != nil {
		var me *MetadataError
		if errors.As(err, &me) && me.StatusCode == 404 {
			p.role = "" // the role was detached or replaced: list it again next time
		}
		return Credentials{}, err
	}
	return creds, nil
}
