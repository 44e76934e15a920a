package ncp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCredentialsNeverPrintTheSecret(t *testing.T) {
	c := Credentials{AccessKey: "ncp_iam_BPAMKR1234", SecretKey: "the-secret-key-value", Expires: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("keys", "creds", c, "ptr", &c)
	outputs := map[string]string{
		"%v":   fmt.Sprintf("%v", c),
		"%+v":  fmt.Sprintf("%+v", c),
		"%#v":  fmt.Sprintf("%#v", c),
		"%s":   fmt.Sprintf("%s", c),
		"&%v":  fmt.Sprintf("%v", &c),
		"[]%v": fmt.Sprintf("%v", []Credentials{c}),
		"slog": logged.String(),
	}
	for verb, out := range outputs {
		if strings.Contains(out, c.SecretKey) || strings.Contains(out, c.AccessKey) {
			t.Errorf("%s prints a key: %s", verb, out)
		}
		if !strings.Contains(out, "ncp_****") {
			t.Errorf("%s does not show the redacted access key: %s", verb, out)
		}
	}
}

func TestStaticAndEnvCredentials(t *testing.T) {
	tests := []struct {
		name, ak, sk string
		wantErr      string // "" = ok
		wantNoCreds  bool
	}{
		{"both", "AK", "SK", "", false},
		{"neither", "", "", "no api credentials", true},
		{"access key only", "AK", "", "secret", false},
		{"secret key only", "", "SK", "access", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{EnvAccessKey: tt.ak, EnvSecretKey: tt.sk}
			for source, make := range map[string]func() (CredentialsProvider, error){
				"config": func() (CredentialsProvider, error) { return StaticCredentials(tt.ak, tt.sk, "config") },
				"env":    func() (CredentialsProvider, error) { return EnvCredentials(func(k string) string { return env[k] }) },
			} {
				p, err := make()
				if tt.wantErr == "" {
					if err != nil {
						t.Fatalf("%s: %v", source, err)
					}
					c, _ := p.Credentials(context.Background())
					if c.AccessKey != "AK" || c.SecretKey != "SK" || p.Source() != source {
						t.Errorf("%s: got %v from %q", source, c, p.Source())
					}
					continue
				}
				if err == nil || !strings.Contains(strings.ToLower(err.Error()), tt.wantErr) {
					t.Errorf("%s: error = %v, want one mentioning %q", source, err, tt.wantErr)
				}
				if errors.Is(err, ErrNoCredentials) != tt.wantNoCreds {
					t.Errorf("%s: errors.Is(ErrNoCredentials) = %v, want %v", source, !tt.wantNoCreds, tt.wantNoCreds)
				}
			}
		})
	}
}

func newTestRoleProvider(t *testing.T) (*fakeMetadata, *ServerRoleProvider, *fakeClock) {
	t.Helper()
	fm, md, clock := newTestMetadata(t)
	return fm, NewServerRoleProvider(md, clock.Now, 0), clock
}

func TestServerRoleProviderCachesAndRefreshesEarly(t *testing.T) {
	fm, p, clock := newTestRoleProvider(t)
	ctx := context.Background()
	ak1, sk1 := roleKeys(1)
	ak2, _ := roleKeys(2)

	steps := []struct {
		advance    time.Duration
		wantAccess string
		wantIssued int
	}{
		{0, ak1, 1},                               // first use fetches
		{30 * time.Minute, ak1, 1},                // cached
		{24*time.Minute + 59*time.Second, ak1, 1}, // 5m01s before expiry: still cached
		{2 * time.Second, ak2, 2},                 // 4m59s before expiry: refreshed early
		{54 * time.Minute, ak2, 2},                // cached again
	}
	for i, s := range steps {
		clock.Advance(s.advance)
		c, err := p.Credentials(ctx)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		_, _, _, issued := fm.counts()
		if c.AccessKey != s.wantAccess || issued != s.wantIssued {
			t.Errorf("step %d: got %s after %d issues, want %s after %d", i, c.AccessKey, issued, s.wantAccess, s.wantIssued)
		}
		if i == 0 && (c.SecretKey != sk1 || !c.Expires.Equal(clock.Now().Add(time.Hour))) {
			t.Errorf("step 0: secret or expiry wrong: %v", c)
		}
	}
	if p.Source() != "server-role" {
		t.Errorf("Source = %q", p.Source())
	}
}

func TestServerRoleProviderKeepsValidKeysWhenRefreshFails(t *testing.T) {
	fm, p, clock := newTestRoleProvider(t)
	ctx := context.Background()
	first, err := p.Credentials(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fm.set(func(m *fakeMetadata) {
		m.credsStatus = []int{http.StatusInternalServerError, http.StatusInternalServerError}
	})
	clock.Advance(57 * time.Minute) // in the refresh window, not expired
	got, err := p.Credentials(ctx)
	if err != nil || got.AccessKey != first.AccessKey {
		t.Fatalf("failed refresh before expiry: %v, %v; want the cached keys", got, err)
	}
	clock.Advance(4 * time.Minute) // expired
	if _, err := p.Credentials(ctx); err == nil || !Retryable(err) {
		t.Fatalf("failed refresh after expiry: error = %v, want a retryable error", err)
	}
	// The service is back.
	got, err = p.Credentials(ctx)
	if ak, _ := roleKeys(2); err != nil || got.AccessKey != ak {
		t.Fatalf("after recovery: %v, %v; want %s", got, err, ak)
	}
}

func TestServerRoleProviderConcurrentCallersShareOneFetch(t *testing.T) {
	fm, p, _ := newTestRoleProvider(t)
	var wg sync.WaitGroup
	keys := make([]string, 16)
	for i := range keys {
		wg.Go(func() {
			c, err := p.Credentials(context.Background())
			if err != nil {
				t.Error(err)
				return
			}
			keys[i] = c.AccessKey
		})
	}
	wg.Wait()
	_, _, _, issued := fm.counts()
	if issued != 1 {
		t.Errorf("role keys issued %d times, want 1", issued)
	}
	for i, k := range keys {
		if k != keys[0] {
			t.Errorf("caller %d got %s, caller 0 got %s", i, k, keys[0])
		}
	}
}

func TestServerRoleProviderWaitGivesUpWithContext(t *testing.T) {
	_, p, _ := newTestRoleProvider(t)
	p.sem <- struct{}{} // another caller is fetching
	defer func() { <-p.sem }()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Credentials(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want context.Canceled", err)
	}
}

func TestServerRoleProviderInvalidate(t *testing.T) {
	fm, p, _ := newTestRoleProvider(t)
	ctx := context.Background()
	if _, err := p.Credentials(ctx); err != nil {
		t.Fatal(err)
	}
	p.Invalidate()
	c, err := p.Credentials(ctx)
	if ak, _ := roleKeys(2); err != nil || c.AccessKey != ak {
		t.Errorf("after Invalidate: %v, %v; want new keys %s", c, err, ak)
	}
	if _, gets, _, _ := fm.counts(); gets != 4 {
		t.Errorf("metadata GETs = %d, want 4 (role and keys, twice)", gets)
	}
}
