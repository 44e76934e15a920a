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

// TestQuietKeeperReaddsSilently: a VIP removed behind the keeper's back
// while it keeps the VIPs quiet (a master handing them over: Stopping,
// HandingOver, a yield) is put back, but not announced: one ARP from the
// node giving the VIPs up, after the new master's, takes its clients back.
func TestQuietKeeperReaddsSilently(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		addrs := newFakeAddrs(testLabel)
		arp := &fakeARP{}
		k := newKeeper(addrs, testLabel, arp.open, config.GARP{Repeat: 5, Interval: 100 * time.Millisecond, Delay: 5 * time.Second},
			slog.New(slog.DiscardHandler), func(vipState) {})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { k.run(ctx); close(done) }()
		k.want([]netip.Prefix{vip100}, []netip.Addr{vip100.Addr()}, false)
		time.Sleep(time.Second)
		synctest.Wait()
		k.want([]netip.Prefix{vip100}, nil, true) // the hand-over begins
		synctest.Wait()
		arps := arp.count()
		addrs.remove(vip100) // ip addr del, networkd, a DHCP renewal
		k.hint()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if addrs.String() != "eth1 198.18.0.100/24" {
			t.Errorf("the VIP removed behind its back was not put back: %q", addrs)
		}
		if n := arp.count() - arps; n != 0 {
			t.Errorf("%d gratuitous ARPs while quiet", n)
		}
		cancel()
		<-done
	})
}
