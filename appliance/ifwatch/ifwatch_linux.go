//go:build linux

package ifwatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Options configures Watch.
type Options struct {
	Interface string
	Log       *slog.Logger
	// OnLink is called, from the watcher's goroutine, with every new state
	// of the link. It must not block for long.
	OnLink func(Link)
	// OnAddrs is called, from the watcher's goroutine, when the
	// interface's addresses may have changed: a hint to look, not a
	// description of the change. It must not block.
	OnAddrs func()
	// Poll is how often the link is read back without an event (default
	// DefaultPoll).
	Poll time.Duration
}

// kernel is what the watcher needs from netlink; tests replace it.
type kernel interface {
	lookup(name string) (Link, error)
	subscribeLinks(ch chan<- netlink.LinkUpdate, done <-chan struct{}, onErr func(error)) error
	subscribeAddrs(ch chan<- netlink.AddrUpdate, done <-chan struct{}, onErr func(error)) error
}

// Watch reads the link's state now and then watches it until ctx ends. A
// missing interface is not an error: it is reported as a Link that does
// not exist, and picked up when it appears.
func Watch(ctx context.Context, o Options) (Link, error) {
	return watch(ctx, o, netlinkKernel{})
}

func watch(ctx context.Context, o Options, k kernel) (Link, error) {
	if o.Poll <= 0 {
		o.Poll = DefaultPoll
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.OnLink == nil {
		o.OnLink = func(Link) {}
	}
	if o.OnAddrs == nil {
		o.OnAddrs = func() {}
	}
	w := &watcher{o: o, k: k, log: o.Log.With("iface", o.Interface)}
	cur, err := k.lookup(o.Interface)
	if err != nil {
		return Link{}, fmt.Errorf("ifwatch: interface %s: %w", o.Interface, err)
	}
	w.last = cur
	go w.follow(ctx, "link", w.links)
	go w.follow(ctx, "address", w.addrs)
	go w.poll(ctx)
	return cur, nil
}

type watcher struct {
	o   Options
	k   kernel
	log *slog.Logger

	checking sync.Mutex // one check at a time, so states are reported in order
	mu       sync.Mutex // guards last
	last     Link
}

// check reads the link and reports it if it changed.
func (w *watcher) check() {
	w.checking.Lock()
	defer w.checking.Unlock()
	cur, err := w.k.lookup(w.o.Interface)
	if err != nil {
		w.log.Warn("reading the link state failed", "err", err)
		return
	}
	w.mu.Lock()
	changed := !cur.Equal(w.last)
	w.last = cur
	w.mu.Unlock()
	if changed {
		w.o.OnLink(cur)
	}
}

func (w *watcher) index() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last.Index
}

func (w *watcher) poll(ctx context.Context) {
	t := time.NewTicker(w.o.Poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.check()
		}
	}
}

// follow keeps one subscription alive until ctx ends.
func (w *watcher) follow(ctx context.Context, what string, run func(ctx context.Context, onErr func(error)) error) {
	wait := 100 * time.Millisecond
	var lastErrLog time.Time
	onErr := func(err error) {
		if errors.Is(err, netlink.ErrDumpInterrupted) {
			return // a listing during a change: the next event or poll covers it
		}
		if ctx.Err() != nil {
			// We are stopping: closing the subscription fails its
			// pending receive, which is no news.
			return
		}
		if time.Since(lastErrLog) > 10*time.Second {
			lastErrLog = time.Now()
			w.log.Warn("netlink "+what+" subscription error", "err", err)
		}
	}
	for {
		err := run(ctx, onErr)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			w.log.Error("netlink "+what+" subscription failed; retrying", "err", err, "retry_in", wait)
		} else {
			w.log.Warn("netlink "+what+" subscription ended (the kernel dropped events?); subscribing again", "retry_in", wait)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, resubscribeMax)
	}
}

// links runs one link subscription until it ends. Events it may have
// missed are covered by reading the link right after subscribing.
func (w *watcher) links(ctx context.Context, onErr func(error)) error {
	ch := make(chan netlink.LinkUpdate, 64)
	done := make(chan struct{})
	defer close(done)
	if err := w.k.subscribeLinks(ch, done, onErr); err != nil {
		return err
	}
	w.check()
	for {
		select {
		case <-ctx.Done():
			return nil
		case u, ok := <-ch:
			if !ok {
				return nil
			}
			// Our name, or the index we knew (a rename away, a delete):
			// read the link itself, which is the truth either way.
			if u.Attrs().Name == w.o.Interface || int(u.Index) == w.index() {
				w.check()
			}
		}
	}
}

// addrs runs one address subscription until it ends.
func (w *watcher) addrs(ctx context.Context, onErr func(error)) error {
	ch := make(chan netlink.AddrUpdate, 64)
	done := make(chan struct{})
	defer close(done)
	if err := w.k.subscribeAddrs(ch, done, onErr); err != nil {
		return err
	}
	w.o.OnAddrs()
	for {
		select {
		case <-ctx.Done():
			return nil
		case u, ok := <-ch:
			if !ok {
				return nil
			}
			if u.LinkIndex == w.index() {
				w.o.OnAddrs()
			}
		}
	}
}

// netlinkKernel is the kernel through vishvananda/netlink.
type netlinkKernel struct{}

func (netlinkKernel) lookup(name string) (Link, error) {
	l, err := netlink.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return Link{}, nil
		}
		return Link{}, err
	}
	a := l.Attrs()
	return Link{
		Exists: true,
		Index:  a.Index,
		Up:     a.RawFlags&unix.IFF_UP != 0 && a.RawFlags&unix.IFF_RUNNING != 0,
		MAC:    a.HardwareAddr,
	}, nil
}

func (netlinkKernel) subscribeLinks(ch chan<- netlink.LinkUpdate, done <-chan struct{}, onErr func(error)) error {
	return netlink.LinkSubscribeWithOptions(ch, done, netlink.LinkSubscribeOptions{ErrorCallback: onErr})
}

func (netlinkKernel) subscribeAddrs(ch chan<- netlink.AddrUpdate, done <-chan struct{}, onErr func(error)) error {
	return netlink.AddrSubscribeWithOptions(ch, done, netlink.AddrSubscribeOptions{ErrorCallback: onErr})
}
