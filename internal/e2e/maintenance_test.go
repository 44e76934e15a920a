//go:build linux

package e2e

import (
	"context"
	"fmt"
	"io"
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
			resp, err := hc.Get(url)
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					err = fmt.Errorf("status %s", resp.Status)
				}
			}
			if err != nil {
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
// its peer with not one request lost by a client GETting it every 10 ms;
// the node stays out across a restart of its daemon; `proxypair resume`
// brings the VIP back, again without a lost request.
func TestPlannedHandover(t *testing.T) {
	t.Parallel()
	s := fast
	a, b, na, _, cl := servingPair(t, s)

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
	if n := cl.failed.Load(); n != 0 {
		t.Errorf("%d of %d requests lost across the planned hand-over and back:\n%s", n, cl.sent.Load(), strings.Join(cl.errs, "\n"))
	}
	if st := na.status(); st.Maintenance != nil {
		t.Errorf("a still in maintenance after resume: %+v", st.Maintenance)
	}
}
