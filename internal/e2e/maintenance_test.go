//go:build linux

package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/proxypair/proxypair/internal/lab"
)

// client GETs the VIP from a host every 10 ms until stopped, and counts the
// requests that got no answer.
type client struct {
	sent, failed atomic.Int64
	stop         context.CancelFunc
	done         sync.WaitGroup
	mu           sync.Mutex
	errs         []string
}

func startClient(t *testing.T, h *lab.Host) *client {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := &client{stop: cancel}
	hc := h.HTTPClient(500 * time.Millisecond)
	url := "http://" + vip.Addr().String() + "/"
	c.done.Add(1)
	go func() {
		defer c.done.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			c.sent.Add(1)
			if _, err := lab.Get(context.Background(), hc, url); err != nil { // one in flight at stop runs out
				c.failed.Add(1)
				c.mu.Lock()
				c.errs = append(c.errs, time.Now().Format("15:04:05.000")+" "+err.Error())
				c.mu.Unlock()
			}
		}
	}()
	t.Cleanup(c.close)
	return c
}

func (c *client) close() { c.stop(); c.done.Wait() }

// checkMoves fails t unless every lost request was one in flight at one of
// moves moves of the VIP — reset by the new holder, which has no record of
// a connection made with the old one (inherent to moving an address by
// ARP) — and at most one per move. A timeout or a refused connection is a
// gap: a failure.
func (c *client) checkMoves(t *testing.T, moves int, what string) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	resets := 0
	for _, e := range c.errs {
		if !strings.Contains(e, "connection reset by peer") {
			t.Errorf("a request lost %s not to a reset in flight: %s\nall lost:\n%s", what, e, strings.Join(c.errs, "\n"))
			return
		}
		resets++
	}
	if resets > moves {
		t.Errorf("%d requests reset %s, in %d moves of the VIP:\n%s", resets, what, moves, strings.Join(c.errs, "\n"))
	}
	if resets > 0 {
		t.Logf("%d of %d requests %s were in flight at a move and reset: %s", resets, c.sent.Load(), what, strings.Join(c.errs, "; "))
	}
}

// servingPair starts HAProxy and proxypair (settings s) on a (200) and b
// (100), waits for a to serve the VIP and b to be healthy, and starts a
// client on a third host c that GETs the VIP every 10 ms.
func servingPair(t *testing.T, s settings) (a, b *lab.Host, na, nb *haNode, cl *client) {
	t.Helper()
	l, a, b := newPair(t)
	c, err := l.AddHost("c", addrC)
	if err != nil {
		t.Fatal(err)
	}
	builds, err := lab.HAProxyBuilds()
	if err != nil {
		t.Fatal(err)
	}
	na = startHANode(t, a, builds[0], s, 200, addrB, "")
	nb = startHANode(t, b, builds[0], s, 100, addrA, "")
	waitHolder(t, a, 2*s.masterDown(), a, b)
	nb.waitHealthy(t, true, 5*time.Second)
	cl = startClient(t, c)
	eventually(t, "the client's first answers", 5*time.Second, func() (bool, string) {
		return cl.sent.Load() > 20 && cl.failed.Load() == 0, fmt.Sprint(cl.failed.Load(), " failed")
	})
	return a, b, na, nb, cl
}

// TestPlannedHandover: `proxypair handover` on the master moves the VIP to
// its peer with no gap for a client GETting it every 10 ms (at most the one
// request in flight at the move is reset); the node stays out across a
// restart of its daemon; `proxypair resume` brings the VIP back, make
// before break too.
func TestPlannedHandover(t *testing.T) {
	t.Parallel()
	s := fast
	a, b, na, _, cl := servingPair(t, s)
	// Who holds the VIP, from the kernel's own address events: a gap of
	// a millisecond (the new master's advert before its VIP) is too short
	// for the client to notice reliably, not for this.
	w, err := lab.WatchAddr(vip.Addr(), a, b)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	from := time.Now()

	out, err := a.Run(context.Background(), bin.proxypair, "handover", "--config", na.ConfigFile)
	if err != nil {
		t.Fatalf("handover: %v\n%s", err, out)
	}
	if !strings.Contains(out, "in maintenance until `proxypair resume`") {
		t.Errorf("handover's output:\n%s", out)
	}
	waitHolder(t, b, time.Second, a, b)
	st := na.status()
	if st.State != "BACKUP" || st.Maintenance == nil || st.EffectivePriority != 1 {
		t.Fatalf("a after handover: %s, maintenance %+v, priority %d", st.State, st.Maintenance, st.EffectivePriority)
	}
	// A restart (a reboot during patching) does not take the VIP back.
	if err := na.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	na.Wait(10 * time.Second)
	na.restart()
	steady(t, b, 3*s.masterDown(), a, b)
	if st := na.status(); st.Maintenance == nil || st.State != "BACKUP" {
		t.Fatalf("a after a restart in maintenance: %s, maintenance %+v", st.State, st.Maintenance)
	}

	if out, err := a.Run(context.Background(), bin.proxypair, "resume", "--config", na.ConfigFile); err != nil {
		t.Fatalf("resume: %v\n%s", err, out)
	}
	waitHolder(t, a, 3*s.masterDown(), a, b)
	steady(t, a, 500*time.Millisecond, a, b)
	cl.close()
	cl.checkMoves(t, 2, "across the planned hand-over and back")
	if c := w.Coverage(from, time.Now()); c.Gaps != 0 || c.Changes != 4 {
		t.Errorf("the VIP across the hand-over and back: %v; want 4 changes (two moves) and no moment without a holder", c)
	} else {
		t.Logf("the VIP across the hand-over and back: %v", c)
	}
	if err := w.Close(); err != nil {
		t.Errorf("watching the VIP: %v", err)
	}
	if st := na.status(); st.Maintenance != nil {
		t.Errorf("a still in maintenance after resume: %+v", st.Maintenance)
	}
}
