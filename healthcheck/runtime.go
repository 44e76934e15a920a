package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"
)

// runtimeAPI asks HAProxy's runtime API for its state.
type runtimeAPI interface {
	// state returns HAProxy's PID, version and show stat rows, or a
	// *socketError saying why the runtime API did not answer usefully.
	state(ctx context.Context) (runtimeState, error)
	close()
}

// socketError is a failed runtime API round trip. Its text is the reason the
// tracker reports, e.g. "haproxy socket /run/haproxy/admin.sock: connection refused".
type socketError struct {
	Path string
	Err  error
}

func (e *socketError) Error() string {
	return fmt.Sprintf("haproxy socket %s: %s", e.Path, describeSocketErr(e.Err))
}

func (e *socketError) Unwrap() error { return e.Err }

// describeSocketErr shortens an error from the runtime API to its cause:
// "connection refused" rather than "dial unix /x: connect: connection refused".
func describeSocketErr(err error) string {
	var errno syscall.Errno
	var timeout *timeoutError
	switch {
	case errors.As(err, &timeout):
		return timeout.Error()
	case errors.As(err, &errno):
		return errno.Error()
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "timed out"
	}
	return err.Error()
}

// timeoutError is a runtime API query that did not answer within the check
// timeout.
type timeoutError struct{ after time.Duration }

func (e *timeoutError) Error() string { return fmt.Sprintf("no answer within %v", e.after) }

// MaxAnswerBytes bounds one answer to "show info;show stat". HAProxy writes
// about 200 (1.8) to 250 (2.6) bytes per show stat row, one row per server,
// backend and frontend, so 32 MiB holds well over 100,000 rows; an answer
// that goes over fails the check (naming the bound) instead of growing the
// daemon's memory without limit.
const MaxAnswerBytes = 32 << 20

// errTooBig is an answer longer than MaxAnswerBytes.
var errTooBig = fmt.Errorf("answer longer than %d MiB (MaxAnswerBytes); too many servers for one show stat", MaxAnswerBytes>>20)

// socketRuntime is the runtimeAPI on HAProxy's runtime API socket: one
// connection per query, which HAProxy closes after answering (it is not in
// interactive mode).
//
// DESIGN.md has the tracker talk to HAProxy through client-native. Its
// runtime package (v5.1.10) does not fit a health check, so this is our own
// client of the same protocol:
//
//   - SingleRuntime runs every query on one goroutine with a fixed 30 s
//     deadline and no way to cancel one: after HAProxy hangs, every check
//     fails for up to 30 s behind the hung query, even once HAProxy answers
//     again. Here each query has its own connection and its own deadline,
//     the check timeout, so the first check after a recovery sees it.
//   - It ignores read errors, its own deadline included, and trims the
//     answer: a timed-out or truncated answer comes back as a success, and
//     the empty line that marks a complete answer is gone, so a cut-short
//     show stat can read as a healthy HAProxy with fewer backends.
//   - It reads without a size bound.
//   - Its parsed calls are unsafe or slow for us: GetStats slices its
//     answer without a length check (an empty answer from a dying HAProxy
//     panics) and decodes every row with mapstructure; GetInfo and GetStats
//     turn socket errors into strings.
type socketRuntime struct {
	path     string
	timeout  time.Duration
	sizeHint int // the last answer's length, to size the next read's buffer
}

func newSocketRuntime(path string, timeout time.Duration) *socketRuntime {
	return &socketRuntime{path: path, timeout: timeout}
}

func (r *socketRuntime) state(ctx context.Context) (runtimeState, error) {
	deadline := time.Now().Add(r.timeout)
	st, err := r.query(ctx, deadline)
	var timeout *timeoutError
	if err != nil && !errors.As(err, &timeout) && !errors.Is(err, errTooBig) && ctx.Err() == nil && time.Now().Before(deadline) {
		// One immediate retry on a fresh connection, within the same
		// deadline: a reload can close a connection under us, and that
		// must not count as a failure.
		st, err = r.query(ctx, deadline)
	}
	if err != nil {
		return st, &socketError{Path: r.path, Err: err}
	}
	return st, nil
}

// query sends infoStatCommand on a new connection and parses the answer.
func (r *socketRuntime) query(ctx context.Context, deadline time.Time) (runtimeState, error) {
	d := net.Dialer{Deadline: deadline}
	conn, err := d.DialContext(ctx, "unix", r.path)
	if err != nil {
		return runtimeState{}, r.ioError(ctx, err)
	}
	defer conn.Close()
	// Cancelling ctx (Run ending) unblocks a read or write at once.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := conn.SetDeadline(deadline); err != nil {
		return runtimeState{}, err
	}
	if _, err := io.WriteString(conn, infoStatCommand+"\n"); err != nil {
		return runtimeState{}, r.ioError(ctx, err)
	}
	var b strings.Builder
	b.Grow(r.sizeHint + r.sizeHint/8)
	n, err := io.Copy(&b, io.LimitReader(conn, MaxAnswerBytes+1))
	switch {
	case n > MaxAnswerBytes:
		return runtimeState{}, errTooBig
	case err != nil:
		return runtimeState{}, r.ioError(ctx, err)
	}
	r.sizeHint = int(n)
	return parseInfoStat(b.String())
}

// ioError turns a deadline into a timeoutError and a cancelled ctx into its
// error.
func (r *socketRuntime) ioError(ctx context.Context, err error) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, os.ErrDeadlineExceeded):
		return &timeoutError{after: r.timeout}
	}
	return err
}

// close has nothing to release: every query closes its own connection.
func (r *socketRuntime) close() {}
