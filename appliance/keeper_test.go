package appliance

import (
	"context"
	"log/slog"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/proxypair/proxypair/appliance/config"
)

// TestKeeperWantChangesMidSync: the want changes while a sync is adding
// (a takeover, then at once a resign): the keeper converges on the new
// want, and the ARPs of the address it no longer wants stop.
func TestKeeperWantChangesMidSync(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		addrs := newFakeAddrs(testLabel)
		arp := &fakeARP{}
		var last vipState
		k := newKeeper(addrs, testLabel, arp.open, config.GARP{Repeat: 5, Interval: 100 * time.Millisecond, Delay: 5 * time.Second},
			slog.New(slog.DiscardHandler), func(s vipState) { last = s })
		addrs.failAdd = func(netip.Prefix) error {
			k.want(nil, nil, true) // the loop resigns while the add runs
			return nil
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { k.run(ctx); close(done) }()
		k.want([]netip.Prefix{vip100}, []netip.Addr{vip100.Addr()}, false)
		synctest.Wait()
		addrs.set(func(f *fakeAddrs) { f.failAdd = nil })
		time.Sleep(time.Second)
		synctest.Wait()
		if addrs.String() != "eth1 " {
			t.Errorf("after the want went empty mid-sync: %q", addrs)
		}
		arps := arp.count()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if n := arp.count() - arps; n != 0 {
			t.Errorf("%d ARPs for an address no longer wanted", n)
		}
		if len(last.Wanted) != 0 || len(last.Held) != 0 || !last.converged() {
			t.Errorf("last report %+v", last)
		}
		cancel()
		<-done
	})
}
