package appliance

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/proxypair/proxypair/appliance/cloud/ncp"
	"github.com/proxypair/proxypair/appliance/control"
)

// racingClaimer's claim succeeds, and as it returns the node stops being
// master (leave is called): the claim loop sees the empty want and the
// result together, in either order.
type racingClaimer struct {
	mu    sync.Mutex
	calls int
	leave func()
}

func (c *racingClaimer) Claim(context.Context, []netip.Addr) (ncp.ClaimResult, error) {
	c.mu.Lock()
	c.calls++
	first := c.calls == 1
	c.mu.Unlock()
	if first {
		c.leave()
	}
	return ncp.ClaimResult{Attempts: 1}, nil
}

func (c *racingClaimer) Verify(_ context.Context, vips []netip.Addr) (ncp.VerifyResult, error) {
	return ncp.VerifyResult{Held: vips}, nil
}

// TestClaimDoneAsMasterEnds: a claim that completes just as the node stops
// being master is not remembered as standing: the next mastership claims
// again at once (the peer has claimed the VIP in between), and the status
// does not say "claimed" while the node is not master. (A guard: the claim
// loop gets this right because every pass with an empty want resets it.)
func TestClaimDoneAsMasterEnds(t *testing.T) {
	a := vip100.Addr()
	for i := range 20 { // the two orders of the select
		synctest.Test(t, func(t *testing.T) {
			cl := &racingClaimer{}
			var (
				mu   sync.Mutex
				last control.Cloud
			)
			c := newClaims(cl, "fake", slog.New(slog.DiscardHandler), func(s control.Cloud) {
				mu.Lock()
				last = s
				mu.Unlock()
			})
			cl.leave = func() { c.set(nil) }
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan struct{})
			go func() { c.run(ctx); close(done) }()
			c.set([]netip.Addr{a})
			synctest.Wait()
			mu.Lock()
			st := last.State
			mu.Unlock()
			if st == control.ClaimClaimed {
				t.Errorf("run %d: cloud state %q after leaving master", i, st)
			}
			c.set([]netip.Addr{a}) // master again
			synctest.Wait()
			cl.mu.Lock()
			calls := cl.calls
			cl.mu.Unlock()
			if calls != 2 {
				t.Errorf("run %d: %d claims, want a second one for the second mastership", i, calls)
			}
			cancel()
			<-done
		})
	}
}

// TestClaimWantFlaps: the want flaps between empty and the VIP while a
// claim hangs (the API is down): each empty want cancels the running
// call, at most one call runs at a time, and the last want is claimed.
func TestClaimWantFlaps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cl := &fakeClaimer{block: true}
		var (
			mu    sync.Mutex
			last  control.Cloud
			calls []int // running calls after each step
		)
		c := newClaims(cl, "fake", slog.New(slog.DiscardHandler), func(s control.Cloud) {
			mu.Lock()
			last = s
			mu.Unlock()
		})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { c.run(ctx); close(done) }()
		a := []netip.Addr{vip100.Addr()}
		for _, w := range [][]netip.Addr{a, nil, a, nil, nil, a, a} {
			c.set(w)
			synctest.Wait()
			n, cancelled := cl.counts()
			calls = append(calls, n-cancelled)
		}
		for i, running := range calls {
			if running > 1 {
				t.Errorf("step %d: %d calls running at once", i, running)
			}
		}
		mu.Lock()
		st := last.State
		mu.Unlock()
		if n, cancelled := cl.counts(); n != 3 || cancelled != 2 || st != control.ClaimClaiming {
			t.Errorf("after the flaps: %d claims, %d cancelled, state %q; want 3, 2, claiming", n, cancelled, st)
		}
		cancel()
		<-done
	})
}
