package ncp

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func newTestMetadata(t *testing.T) (*fakeMetadata, *Metadata, *fakeClock) {
	t.Helper()
	clock := newFakeClock()
	fm := newFakeMetadata(t, clock.Now, &keyring{})
	md, err := NewMetadata(MetadataConfig{BaseURL: fm.URL(), Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return fm, md, clock
}

func TestMetadataV2(t *testing.T) {
	fm, md, _ := newTestMetadata(t)
	fm.set(func(m *fakeMetadata) { m.requireToken = true })
	ctx := context.Background()

	inst, err := md.ServerInstanceNo(ctx)
	if err != nil || inst != "1111111" {
		t.Fatalf("ServerInstanceNo = %q, %v", inst, err)
	}
	region, err := md.RegionCode(ctx)
	if err != nil || region != "KR" {
		t.Fatalf("RegionCode = %q, %v", region, err)
	}
	role, err := md.Role(ctx)
	if err != nil || role != "role-0001" {
		t.Fatalf("Role = %q, %v", role, err)
	}
	puts, gets, withToken, _ := fm.counts()
	if puts != 1 || gets != 3 || withToken != 3 {
		t.Errorf("PUTs %d, GETs %d (%d with a token), want 1 token request reused by 3 GETs", puts, gets, withToken)
	}
	if got := fm.ttlHeadersSeen()[0]; got != "21600" {
		t.Errorf("%s = %q, want 21600", MetadataTokenTTLHeader, got)
	}
}

func TestMetadataFallsBackToV1(t *testing.T) {
	tests := []struct {
		name        string
		tokenStatus int
		emptyToken  bool
	}{
		{"token path not found", http.StatusNotFound, false},
		{"PUT forbidden", http.StatusForbidden, false},
		{"PUT not allowed", http.StatusMethodNotAllowed, false},
		{"token service error", http.StatusInternalServerError, false},
		{"empty token", http.StatusOK, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fm, md, clock := newTestMetadata(t)
			fm.set(func(m *fakeMetadata) { m.tokenStatus, m.emptyToken = tt.tokenStatus, tt.emptyToken })
			ctx := context.Background()
			for range 2 {
				if inst, err := md.ServerInstanceNo(ctx); err != nil || inst != "1111111" {
					t.Fatalf("ServerInstanceNo = %q, %v", inst, err)
				}
			}
			puts, gets, withToken, _ := fm.counts()
			if puts != 1 || gets != 2 || withToken != 0 {
				t.Errorf("PUTs %d, GETs %d (%d with a token), want 1 failed token request, then 2 plain GETs", puts, gets, withToken)
			}
			// After the hold, v2 is tried again.
			fm.set(func(m *fakeMetadata) { m.tokenStatus, m.emptyToken = http.StatusOK, false })
			clock.Advance(v1Hold + time.Second)
			if _, err := md.RegionCode(ctx); err != nil {
				t.Fatal(err)
			}
			puts, _, withToken, _ = fm.counts()
			if puts != 2 || withToken != 1 {
				t.Errorf("after the v1 hold: PUTs %d, GETs with a token %d, want 2 and 1", puts, withToken)
			}
		})
	}

	t.Run("metadata service down", func(t *testing.T) {
		fm, md, _ := newTestMetadata(t)
		fm.srv.Close()
		_, err := md.ServerInstanceNo(context.Background())
		var te *TransportError
		if !errors.As(err, &te) || !Retryable(err) {
			t.Errorf("error = %v (%T), want a retryable *TransportError", err, err)
		}
	})
}

func TestMetadataTokenRenewal(t *testing.T) {
	t.Run("expired by the clock", func(t *testing.T) {
		fm, md, clock := newTestMetadata(t)
		ctx := context.Background()
		if _, err := md.RegionCode(ctx); err != nil {
			t.Fatal(err)
		}
		clock.Advance(defaultTokenTTL - tokenRenewEarly/2) // inside the renewal margin
		if _, err := md.RegionCode(ctx); err != nil {
			t.Fatal(err)
		}
		if puts, _, withToken, _ := fm.counts(); puts != 2 || withToken != 2 {
			t.Errorf("PUTs %d, GETs with a token %d, want 2 and 2", puts, withToken)
		}
	})
	t.Run("rejected by the service", func(t *testing.T) {
		fm, md, _ := newTestMetadata(t)
		ctx := context.Background()
		if _, err := md.RegionCode(ctx); err != nil {
			t.Fatal(err)
		}
		fm.set(func(m *fakeMetadata) { clear(m.tokens) }) // the service restarted
		if region, err := md.RegionCode(ctx); err != nil || region != "KR" {
			t.Fatalf("RegionCode after the service forgot the token = %q, %v", region, err)
		}
		if puts, gets, withToken, _ := fm.counts(); puts != 2 || gets != 3 || withToken != 2 {
			t.Errorf("PUTs %d, GETs %d (%d accepted with a token), want 2, 3, 2", puts, gets, withToken)
		}
	})
}

func TestMetadataErrors(t *testing.T) {
	t.Run("no Server Role", func(t *testing.T) {
		fm, md, _ := newTestMetadata(t)
		fm.set(func(m *fakeMetadata) { m.role = "" })
		_, err := md.Role(context.Background())
		if !errors.Is(err, ErrNoServerRole) || Retryable(err) {
			t.Errorf("error = %v, want ErrNoServerRole, not retryable", err)
		}
	})
	t.Run("unknown path", func(t *testing.T) {
		_, md, _ := newTestMetadata(t)
		_, err := md.Get(context.Background(), "nonexistent")
		var me *MetadataError
		if !errors.As(err, &me) || me.StatusCode != http.StatusNotFound || Retryable(err) {
			t.Errorf("error = %v, want a non-retryable 404 *MetadataError", err)
		}
	})
	t.Run("role keys unavailable", func(t *testing.T) {
		fm, md, _ := newTestMetadata(t)
		fm.set(func(m *fakeMetadata) { m.credsStatus = []int{http.StatusServiceUnavailable} })
		_, err := md.RoleCredentials(context.Background(), "role-0001")
		if !Retryable(err) {
			t.Errorf("error = %v, want retryable", err)
		}
	})
}

func TestRoleCredentialsDocument(t *testing.T) {
	const secret = "SECRETVALUE-do-not-log"
	tests := []struct {
		name        string
		body        string
		wantExpires time.Time
		wantErr     string
	}{
		{
			name:        "AWS-compatible shape",
			body:        `{"Code":"Success","LastUpdated":"2025-03-04T05:06:07Z","Type":"AWS-HMAC","AccessKeyId":"ncp_iam_AK","SecretAccessKey":"` + secret + `","Expiration":"2025-03-04T06:06:07Z"}`,
			wantExpires: time.Date(2025, 3, 4, 6, 6, 7, 0, time.UTC),
		},
		{
			name:        "offset without colon and milliseconds",
			body:        `{"AccessKeyId":"ncp_iam_AK","SecretAccessKey":"` + secret + `","Expiration":"2025-03-04T15:06:07.000+0900"}`,
			wantExpires: time.Date(2025, 3, 4, 6, 6, 7, 0, time.UTC),
		},
		{
			name: "no expiration",
			body: `{"AccessKeyId":"ncp_iam_AK","SecretAccessKey":"` + secret + `"}`,
		},
		{
			name:    "failure code",
			body:    `{"Code":"Failure","Message":"role is being detached"}`,
			wantErr: `code "Failure": role is being detached`,
		},
		{
			name:    "secret missing",
			body:    `{"AccessKeyId":"ncp_iam_AK"}`,
			wantErr: "AccessKeyId or SecretAccessKey missing",
		},
		{
			name:    "not JSON",
			body:    `{"AccessKeyId":"ncp_iam_AK","SecretAccessKey":"` + secret + `",`,
			wantErr: "not valid JSON",
		},
		{
			name:    "bad expiration",
			body:    `{"AccessKeyId":"ncp_iam_AK","SecretAccessKey":"` + secret + `","Expiration":"tomorrow"}`,
			wantErr: `Expiration "tomorrow" is not a time`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fm, md, _ := newTestMetadata(t)
			fm.set(func(m *fakeMetadata) { m.credsBody = tt.body })
			creds, err := md.RoleCredentials(context.Background(), "role-0001")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q contains the secret", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if creds.AccessKey != "ncp_iam_AK" || creds.SecretKey != secret || !creds.Expires.Equal(tt.wantExpires) {
				t.Errorf("got %v expiring %v, want ncp_iam_AK expiring %v", creds, creds.Expires, tt.wantExpires)
			}
		})
	}
}
