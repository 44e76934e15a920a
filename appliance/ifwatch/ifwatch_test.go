//go:build linux

package ifwatch

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vishvananda/netlink"
)

// fakeKernel is a link whose state the test sets, with subscriptions the
// test can feed and end (as the kernel ends one on a receive overflow).
type fakeKernel struct {
	mu        sync.Mutex
	link      Link
	linkSubs  []chan<- netlink.LinkUpdate
	addrSubs  []chan<- netlink.AddrUpdate
	subscribe error // returned by the next subscriptions, when set
}

func (k *fakeKernel) lookup(string) (Link, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.link, nil
}

func (k *fakeKernel) subscribeLinks(ch chan<- netlink.LinkUpdate, done <-chan struct{}, onErr func(error)) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.subscribe != nil {
		return k.subscribe
	}
	k.linkSubs = append(k.linkSubs, ch)
	go closeFails(done, onErr)
	return nil
}

func (k *fakeKernel) subscribeAddrs(ch chan<- netlink.AddrUpdate, done <-chan struct{}, onErr func(error)) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.subscribe != nil {
		return k.subscribe
	}
	k.addrSubs = append(k.addrSubs, ch)
	go closeFails(done, onErr)
	return nil
}

// closeFails does what the netlink library does when a subscription's
// done channel closes: it closes the socket, and the pending receive
// reports an error.
func closeFails(done <-chan struct{}, onErr func(error)) {
	<-done
	onErr(errors.New("Receive failed: resource temporarily unavailable"))
}

func (k *fakeKernel) set(l Link) {
	k.mu.Lock()
	k.link = l
	k.mu.Unlock()
}

// linkEvent sends a link update to the newest subscription.
func (k *fakeKernel) linkEvent(name string, index int) {
	k.mu.Lock()
	ch := k.linkSubs[len(k.linkSubs)-1]
	k.mu.Unlock()
	u := netlink.LinkUpdate{Link: &netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: name, Index: index}}}
	u.Index = int32(index)
	ch <- u
}

func (k *fakeKernel) addrEvent(index int) {
	k.mu.Lock()
	ch := k.addrSubs[len(k.addrSubs)-1]
	k.mu.Unlock()
	ch <- netlink.AddrUpdate{LinkIndex: index, NewAddr: true}
}

// overflow ends the newest link subscription, as the library does after a
// receive error.
func (k *fakeKernel) overflow() {
	k.mu.Lock()
	ch := k.linkSubs[len(k.linkSubs)-1]
	k.mu.Unlock()
	close(ch)
}

type recorder struct {
	mu    sync.Mutex
	links []Link
	addrs int
}

func (r *recorder) onLink(l Link) { r.mu.Lock(); r.links = append(r.links, l); r.mu.Unlock() }
func (r *recorder) onAddrs()      { r.mu.Lock(); r.addrs++; r.mu.Unlock() }
func (r *recorder) last() (Link, int, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.links) == 0 {
		return Link{}, 0, r.addrs
	}
	return r.links[len(r.links)-1], len(r.links), r.addrs
}

var mac1 = net.HardwareAddr{2, 0, 0, 0, 0, 1}

func start(t *testing.T, k *fakeKernel) (*recorder, Link) {
	t.Helper()
	r := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cur, err := watch(ctx, Options{Interface: "eth1", Log: slog.New(slog.DiscardHandler), OnLink: r.onLink, OnAddrs: r.onAddrs}, k)
	if err != nil {
		t.Fatal(err)
	}
	return r, cur
}

func TestEventsReportTheLink(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := &fakeKernel{link: Link{Exists: true, Index: 5, Up: true, MAC: mac1}}
		r, cur := start(t, k)
		synctest.Wait()
		if !cur.Usable() || cur.Index != 5 {
			t.Fatalf("Watch returned %+v", cur)
		}
		if _, n, _ := r.last(); n != 0 {
			t.Fatalf("%d link reports before any change", n)
		}
		// Carrier lost.
		k.set(Link{Exists: true, Index: 5, MAC: mac1})
		k.linkEvent("eth1", 5)
		synctest.Wait()
		if l, n, _ := r.last(); n != 1 || l.Up {
			t.Fatalf("after carrier loss: %+v (%d reports)", l, n)
		}
		// Deleted: the update names the index we knew.
		k.set(Link{})
		k.linkEvent("", 5)
		synctest.Wait()
		if l, n, _ := r.last(); n != 2 || l.Exists {
			t.Fatalf("after delete: %+v (%d reports)", l, n)
		}
		// Created again under the same name with a new index and MAC.
		mac2 := net.HardwareAddr{2, 0, 0, 0, 0, 2}
		k.set(Link{Exists: true, Index: 9, Up: true, MAC: mac2})
		k.linkEvent("eth1", 9)
		synctest.Wait()
		if l, n, _ := r.last(); n != 3 || l.Index != 9 || !l.Usable() || l.MAC.String() != mac2.String() {
			t.Fatalf("after re-create: %+v (%d reports)", l, n)
		}
		// Another interface's events are not ours.
		k.linkEvent("eth2", 7)
		synctest.Wait()
		if _, n, _ := r.last(); n != 3 {
			t.Fatalf("another link's event was reported: %d reports", n)
		}
		// Address changes on our (new) index are hints; others are not.
		_, _, before := r.last()
		k.addrEvent(9)
		k.addrEvent(7)
		synctest.Wait()
		if _, _, after := r.last(); after != before+1 {
			t.Fatalf("address hints %d → %d, want one more", before, after)
		}
	})
}

// TestSubscriptionEndsIsResubscribed: a subscription the kernel ends (a
// receive buffer overflow) is made again, and what changed meanwhile is
// reported; link-down is never missed for good.
func TestSubscriptionEndsIsResubscribed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := &fakeKernel{link: Link{Exists: true, Index: 5, Up: true, MAC: mac1}}
		r, _ := start(t, k)
		synctest.Wait()
		k.overflow()
		// The link goes down while nobody listens.
		k.set(Link{Exists: true, Index: 5, MAC: mac1})
		time.Sleep(time.Second)
		synctest.Wait()
		if l, n, _ := r.last(); n != 1 || l.Up {
			t.Fatalf("after the subscription ended: %+v (%d reports), want link down reported", l, n)
		}
		k.mu.Lock()
		subs := len(k.linkSubs)
		k.mu.Unlock()
		if subs != 2 {
			t.Fatalf("%d link subscriptions, want 2 (subscribed again)", subs)
		}
		// The new subscription works.
		k.set(Link{Exists: true, Index: 5, Up: true, MAC: mac1})
		k.linkEvent("eth1", 5)
		synctest.Wait()
		if l, n, _ := r.last(); n != 2 || !l.Up {
			t.Fatalf("after resubscribing: %+v (%d reports)", l, n)
		}
	})
}

// warnings counts the log records at Warn and above.
type warnings struct {
	mu sync.Mutex
	n  []string
}

func (w *warnings) Enabled(context.Context, slog.Level) bool { return true }
func (w *warnings) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		w.mu.Lock()
		w.n = append(w.n, r.Message)
		w.mu.Unlock()
	}
	return nil
}
func (w *warnings) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *warnings) WithGroup(string) slog.Handler      { return w }

// TestStopIsQuiet: stopping the watcher ends its subscriptions, which fails
// their pending receives; that is no warning for the operator's log (it
// was one on every daemon stop).
func TestStopIsQuiet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := &fakeKernel{link: Link{Exists: true, Index: 5, Up: true, MAC: mac1}}
		w := &warnings{}
		ctx, cancel := context.WithCancel(context.Background())
		if _, err := watch(ctx, Options{Interface: "eth1", Log: slog.New(w), OnLink: func(Link) {}, OnAddrs: func() {}}, k); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		cancel()
		synctest.Wait()
		w.mu.Lock()
		defer w.mu.Unlock()
		if len(w.n) != 0 {
			t.Errorf("warnings at stop: %q", w.n)
		}
	})
}

// TestPollBacksUpEvents: a change with no event at all is seen by the
// periodic check.
func TestPollBacksUpEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := &fakeKernel{link: Link{Exists: true, Index: 5, Up: true, MAC: mac1}}
		r, _ := start(t, k)
		synctest.Wait()
		k.set(Link{Exists: true, Index: 5, MAC: mac1})
		time.Sleep(DefaultPoll - time.Millisecond)
		synctest.Wait()
		if _, n, _ := r.last(); n != 0 {
			t.Fatalf("reported before the poll: %d", n)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if l, n, _ := r.last(); n != 1 || l.Up {
			t.Fatalf("after the poll: %+v (%d reports)", l, n)
		}
	})
}
