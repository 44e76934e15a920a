package healthcheck

import (
	"context"
	"fmt"
	"sync"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
)

// unitWatcher asks systemd, over D-Bus, for a unit's ActiveState. It keeps one
// connection and redials after any error, so a restarted bus is picked up.
type unitWatcher struct {
	unit string
	dial func(ctx context.Context) (*sddbus.Conn, error)

	mu      sync.Mutex
	conn    *sddbus.Conn
	dialing chan dialResult // non-nil while a dial runs in the background
}

type dialResult struct {
	conn *sddbus.Conn
	err  error
}

func newUnitWatcher(unit string, dial func(ctx context.Context) (*sddbus.Conn, error)) *unitWatcher {
	if dial == nil {
		dial = sddbus.NewSystemConnectionContext
	}
	return &unitWatcher{unit: unit, dial: dial}
}

// unitStateOK lists the ActiveState values that count as healthy: "reloading"
// is `systemctl reload haproxy`, which is not a failure.
func unitStateOK(state string) bool {
	return state == "active" || state == "reloading"
}

// check returns the unit check. connCtx bounds the life of a new D-Bus
// connection (godbus closes a connection when its dial context ends), ctx
// bounds this one query.
func (u *unitWatcher) check(connCtx, ctx context.Context) Check {
	c := Check{Name: CheckSystemd}
	state, err := u.activeState(connCtx, ctx)
	switch {
	case err != nil:
		c.Detail = fmt.Sprintf("systemd unit %s: %v", u.unit, err)
	default:
		c.OK = unitStateOK(state)
		c.Detail = fmt.Sprintf("systemd unit %s: %s", u.unit, state)
	}
	return c
}

func (u *unitWatcher) activeState(connCtx, ctx context.Context) (string, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.conn != nil && !u.conn.Connected() {
		u.conn.Close()
		u.conn = nil
	}
	if u.conn == nil {
		conn, err := u.connect(connCtx, ctx)
		if err != nil {
			return "", fmt.Errorf("system bus unavailable: %w", err)
		}
		u.conn = conn
	}
	p, err := u.conn.GetUnitPropertyContext(ctx, u.unit, "ActiveState")
	if err != nil {
		u.conn.Close()
		u.conn = nil
		return "", fmt.Errorf("ActiveState: %w", err)
	}
	s, ok := p.Value.Value().(string)
	if !ok {
		return "", fmt.Errorf("ActiveState is %s, not a string", p.Value.Signature())
	}
	return s, nil
}

// connect dials the bus, waiting no longer than ctx: the dial (auth, Hello)
// has no deadline of its own, and a hung bus must not hang the tracker. A
// dial that outlives ctx goes on in the background; later checks pick up its
// result instead of starting another.
func (u *unitWatcher) connect(connCtx, ctx context.Context) (*sddbus.Conn, error) {
	if u.dialing == nil {
		ch := make(chan dialResult, 1)
		u.dialing = ch
		go func() {
			c, err := u.dial(connCtx)
			ch <- dialResult{c, err}
		}()
	}
	select {
	case r := <-u.dialing:
		u.dialing = nil
		return r.conn, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("no answer: %w", context.Cause(ctx))
	}
}

func (u *unitWatcher) close() {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.conn != nil {
		u.conn.Close()
		u.conn = nil
	}
	if ch := u.dialing; ch != nil {
		u.dialing = nil
		go func() {
			if r := <-ch; r.conn != nil {
				r.conn.Close()
			}
		}()
	}
}
