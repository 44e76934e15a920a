package appliance

import "time"

// timer is the instance's one timer, re-armed to the state machine's next
// deadline after every step. A tick that arrives after a Reset is harmless:
// the state machine ignores a Timeout before its deadline.
type timer interface {
	C() <-chan time.Time
	Reset(d time.Duration)
	Stop()
	Close()
}

// goTimer is a timer on the Go runtime's timers: what tests use (synctest
// bubbles fake them), and the fallback where timerfd is missing.
type goTimer struct{ t *time.Timer }

func newGoTimer() (timer, error) {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return goTimer{t}, nil
}

func (g goTimer) C() <-chan time.Time   { return g.t.C }
func (g goTimer) Reset(d time.Duration) { g.t.Reset(d) }
func (g goTimer) Stop()                 { g.t.Stop() }
func (g goTimer) Close()                { g.t.Stop() }
