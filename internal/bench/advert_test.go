package bench

import (
	"errors"
	"net/netip"
	"testing"
	"time"
)

func TestAdvertLine(t *testing.T) {
	at := time.Unix(1712345678, 123456789)
	line := FormatAdvertLine(netip.MustParseAddr("198.18.0.1"), 51, 200, at)
	if want := "advert from 198.18.0.1 vrid 51 priority 200 at_unix_ns 1712345678123456789"; line != want {
		t.Fatalf("FormatAdvertLine = %q, want %q", line, want)
	}
	for _, tc := range []struct {
		name    string
		out     string
		want    time.Time
		wantErr error
	}{
		{"the line", line + "\n", at, nil},
		{"after other output", "pplab: listening\n" + line + "\n", at, nil},
		{"nothing", "", time.Time{}, ErrNoAdvertLine},
		{"an error instead", "pplab: no advert from 198.18.0.1 on eth1 within 5s\n", time.Time{}, ErrNoAdvertLine},
		{"truncated", "advert from 198.18.0.1 vrid 51 priority 200 at_unix_ns \n", time.Time{}, ErrNoAdvertLine},
	} {
		got, err := ParseAdvertLine(tc.out)
		if !got.Equal(tc.want) || !errors.Is(err, tc.wantErr) {
			t.Errorf("%s: ParseAdvertLine = %v, %v; want %v, %v", tc.name, got, err, tc.want, tc.wantErr)
		}
	}
}
