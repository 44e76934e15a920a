//go:build linux

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/proxypair/proxypair/internal/lab"
)

// hookLog writes a notify hook into h's directory that appends the
// transition it is told to h's hooks.log, and returns the YAML that runs
// it for every state, and the log's path.
func hookLog(t *testing.T, h *lab.Host) (yaml, log string) {
	t.Helper()
	log = filepath.Join(h.Dir, "hooks.log")
	hook := filepath.Join(h.Dir, "hook.sh")
	// The stop hook takes its time: the daemon must wait for it.
	body := fmt.Sprintf(`#!/bin/sh
[ "$PROXYPAIR_STATE" = STOP ] && sleep 0.5
echo "$PROXYPAIR_SEQ $PROXYPAIR_STATE from=$PROXYPAIR_FROM reason=$PROXYPAIR_REASON prio=$PROXYPAIR_PRIORITY vips=$PROXYPAIR_VIPS" >> %s
echo "hook ran for $PROXYPAIR_STATE"
`, log)
	if err := os.WriteFile(hook, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	yaml = "notify:\n"
	for _, k := range []string{"master", "backup", "fault", "stop"} {
		yaml += fmt.Sprintf("  %s: [[%q]]\n", k, hook)
	}
	return yaml + "  timeout: 5s\n", log
}

func logLines(log string) []string {
	b, _ := os.ReadFile(log)
	s := strings.TrimSpace(string(b))
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// TestNotifyHooksFollowFailover: real daemons run their notify hooks for
// every transition of an election, a failover (link down), a preemption
// and a graceful stop: in order, with the transition in the environment,
// the output in the log, and the stop hook run before the daemon exits.
func TestNotifyHooksFollowFailover(t *testing.T) {
	t.Parallel()
	_, a, b := newPair(t)
	s := settings{version: 3, interval: 200 * time.Millisecond}
	hooksA, logA := hookLog(t, a)
	hooksB, logB := hookLog(t, b)
	na := startProxypair(t, a, s.yaml(200, addrB, hooksA))
	waitHolder(t, a, s.masterDown(), a, b)
	nb := startProxypair(t, b, s.yaml(100, addrA, hooksB))
	nb.waitState("BACKUP", 5*time.Second)

	setLink(t, a, false)
	waitHolder(t, b, s.masterDown(), a, b)
	setLink(t, a, true)
	waitHolder(t, a, 2*s.masterDown(), a, b)
	nb.waitState("BACKUP", 5*time.Second)

	if err := na.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code, err := na.Wait(10 * time.Second); err != nil || code != 0 {
		t.Fatalf("graceful stop: exit %d, %v\n%s", code, err, na.Output())
	}
	// The stop hook ran before the daemon exited: no waiting here.
	gotA := logLines(logA)
	waitHolder(t, b, s.masterDown(), a, b)

	const vips = "prio=%d vips=198.18.0.100/24"
	wantA := []string{
		"1 BACKUP from=INIT reason=startup " + fmt.Sprintf(vips, 200),
		"2 MASTER from=BACKUP reason=master_down " + fmt.Sprintf(vips, 200),
		"3 FAULT from=MASTER reason=link_down " + fmt.Sprintf(vips, 200),
		"4 BACKUP from=FAULT reason=link_up " + fmt.Sprintf(vips, 200),
		"5 MASTER from=BACKUP reason=preempt_lower_priority " + fmt.Sprintf(vips, 200),
		"6 STOP from=MASTER reason=peer_took_over " + fmt.Sprintf(vips, 200),
	}
	if len(gotA) == len(wantA) && strings.Contains(gotA[5], "reason=no_peer") {
		// The peer's takeover came after the hand-over wait (a loaded
		// machine): the stop is as right, by another reason.
		wantA[5] = strings.Replace(wantA[5], "peer_took_over", "no_peer", 1)
	}
	if !slices.Equal(gotA, wantA) {
		t.Errorf("a's hooks ran\n%s\nwant\n%s\n%s", strings.Join(gotA, "\n"), strings.Join(wantA, "\n"), na.Output())
	}

	wantB := []string{
		"1 BACKUP from=INIT reason=startup " + fmt.Sprintf(vips, 100),
		"2 MASTER from=BACKUP reason=master_down " + fmt.Sprintf(vips, 100),
		"3 BACKUP from=MASTER reason=preempted " + fmt.Sprintf(vips, 100),
		"4 MASTER from=BACKUP reason=peer_resigned " + fmt.Sprintf(vips, 100),
	}
	eventually(t, "b's hooks", 10*time.Second, func() (bool, string) {
		got := logLines(logB)
		return slices.Equal(got, wantB), strings.Join(got, " | ")
	})

	out := na.Output()
	for _, want := range []string{`msg="notify hook output"`, `line="hook ran for MASTER"`, `msg="notify hook finished" component=hooks hook=stop`} {
		if !strings.Contains(out, want) {
			t.Errorf("a's log lacks %s:\n%s", want, out)
		}
	}
}
