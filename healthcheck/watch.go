package healthcheck

import (
	"context"
	"fmt"
	"net"
	"time"
)

// watchConn keeps one connection to the runtime API open in interactive
// ("prompt") mode and calls fire once when HAProxy closes it or it fails: the
// kernel closes it the moment the process exits, and a reload closes it when
// the old worker finishes. It returns when ctx ends (without firing) or after
// firing. It works on any kernel and in any PID namespace, unlike pidfd.
//
// The connection stays idle. In prompt mode HAProxy 2.6 applies no idle
// timeout; 1.8 closes it after `stats timeout` (10 s by default, 30 s in
// Ubuntu's haproxy.cfg). Then the tracker re-checks (a healthy answer is not
// a failure) and reconnects at once, since the connection was older than an
// interval (watchers are re-armed at most once per interval).
func watchConn(ctx context.Context, path string, dialTimeout time.Duration, fire func(reason string)) {
	d := net.Dialer{Timeout: dialTimeout}
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		if ctx.Err() == nil {
			fire(fmt.Sprintf("runtime API watch connection failed: %v", describeSocketErr(err)))
		}
		return
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	if _, err := conn.Write([]byte("prompt\n")); err != nil {
		if ctx.Err() == nil {
			fire(fmt.Sprintf("runtime API watch connection failed: %v", describeSocketErr(err)))
		}
		return
	}
	buf := make([]byte, 512)
	for {
		if _, err := conn.Read(buf); err != nil {
			if ctx.Err() == nil {
				fire("runtime API watch connection closed")
			}
			return
		}
	}
}
