package lab

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestEventually(t *testing.T) {
	for _, tc := range []struct {
		name      string
		okAt      int // cond succeeds on this call; 0 = never
		wantErr   bool
		wantCalls int
	}{
		{"at once", 1, false, 1},
		{"third poll", 3, false, 3},
		{"never", 0, true, 11}, // t=0, 10ms, …, 100ms
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 105*time.Millisecond)
				defer cancel()
				calls := 0
				start := time.Now()
				err := Eventually(ctx, 10*time.Millisecond, func() (bool, string) {
					calls++
					return calls == tc.okAt, fmt.Sprintf("call %d", calls)
				})
				if (err != nil) != tc.wantErr {
					t.Fatalf("Eventually = %v, want error %t", err, tc.wantErr)
				}
				if calls != tc.wantCalls {
					t.Errorf("cond called %d times, want %d", calls, tc.wantCalls)
				}
				if tc.wantErr {
					if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "last: call 11") {
						t.Errorf("error %q: want DeadlineExceeded and the last detail", err)
					}
					if took := time.Since(start); took != 105*time.Millisecond {
						t.Errorf("gave up after %v, want the deadline 105ms", took)
					}
				}
			})
		})
	}
}
