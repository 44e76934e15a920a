//go:build linux

package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/proxypair/proxypair/internal/lab"
)

// scrape GETs a's metrics from inside h; it reports whether anything
// answered at addr.
func scrape(h *lab.Host, addr string) (string, bool) {
	hc := h.HTTPClient(time.Second)
	resp, err := hc.Get("http://" + addr + "/metrics")
	if err != nil {
		return err.Error(), false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b), resp.StatusCode == http.StatusOK
}

// TestFullLiveReload: SIGHUP applies health settings (the tracker rebuilt
// in place), the metrics address and the log level on a master without a
// lost request; a new VRRP identity (the VRID) restarts the instances
// inside their processes (the same PIDs), ending with one holder.
func TestFullLiveReload(t *testing.T) {
	t.Parallel()
	s := fast
	a, b, na, nb, cl := servingPair(t, s)
	pidA, pidB := na.PID(), nb.PID()

	// Health settings, the metrics endpoint and the log level, live.
	write := func(n *haNode, prio, vrid int, extraHealth, metrics string) {
		t.Helper()
		cfg := s.yaml(prio, addrB, healthYAML(n.hp, extraHealth))
		cfg = strings.Replace(cfg, "virtual_router_id: 51", fmt.Sprintf("virtual_router_id: %d", vrid), 1)
		n.Control = ""
		if metrics != "" {
			n.Control = "  metrics_listen: " + metrics + "\n"
		}
		if err := n.Rewrite(cfg); err != nil {
			t.Fatal(err)
		}
		if err := n.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	m1 := addrA.Addr().String() + ":9542"
	write(na, 200, 51, "  interval: 300ms\n  fall: 2\n", m1)
	eventually(t, "metrics at "+m1, 5*time.Second, func() (bool, string) {
		out, ok := scrape(a, m1)
		return ok && strings.Contains(out, "keepalived_vrrp_state"), out
	})
	na.waitHealthy(t, true, 5*time.Second)
	m2 := addrA.Addr().String() + ":9543"
	write(na, 200, 51, "  interval: 300ms\n  fall: 2\n", m2)
	eventually(t, "metrics moved to "+m2, 5*time.Second, func() (bool, string) {
		_, old := scrape(a, m1)
		out, ok := scrape(a, m2)
		return ok && !old, out
	})
	steady(t, a, time.Second, a, b)
	if st := na.status(); st.State != "MASTER" || len(st.Transitions) != 2 {
		t.Errorf("a after live reloads: %s, transitions %+v", st.State, st.Transitions)
	}
	if n := cl.failed.Load(); n != 0 {
		t.Errorf("%d requests lost across live reloads", n)
	}
	if !strings.Contains(na.Output(), "health.interval health.fall") {
		t.Errorf("a's log does not show the health settings applied")
	}
	// The new tracker is the one that counts: told to track a backend
	// that does not exist, a turns unhealthy and hands over; told to
	// track the real one again, it takes the VIP back.
	cl.close()
	write(na, 200, 51, "    backends: [be_missing]\n  interval: 300ms\n", m2)
	waitHolder(t, b, 3*s.masterDown(), a, b)
	if st := na.status(); st.Health == nil || st.Health.Healthy || !strings.Contains(st.Health.Reason, "be_missing") {
		t.Fatalf("a tracking a missing backend: %+v", st.Health)
	}
	write(na, 200, 51, "", m2)
	waitHolder(t, a, 3*s.masterDown()+2*time.Second, a, b)

	// A new identity on both nodes: their instances restart in-process.
	write(na, 200, 52, "", "")
	write(nb, 100, 52, "", "")
	eventually(t, "both on VRID 52", 10*time.Second, func() (bool, string) {
		sa, sb := na.status(), nb.status()
		return sa.VRID == 52 && sb.VRID == 52, fmt.Sprint(sa.VRID, sb.VRID)
	})
	waitHolder(t, a, 3*s.masterDown(), a, b)
	steady(t, a, time.Second, a, b)
	if na.PID() != pidA || nb.PID() != pidB || na.Exited() || nb.Exited() {
		t.Errorf("the processes changed: a %d→%d, b %d→%d", pidA, na.PID(), pidB, nb.PID())
	}
	if st := nb.status(); st.State != "BACKUP" || st.Master != addrA.Addr().String() {
		t.Errorf("b on VRID 52: %s, master %q", st.State, st.Master)
	}
}
