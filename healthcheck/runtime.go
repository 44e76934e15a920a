package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/haproxytech/client-native/v5/runtime"
	"github.com/haproxytech/client-native/v5/runtime/options"
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
// "connection refused" rather than "dial unix /x: connect: connection refused [show info]".
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

// errBusy means the previous query has not returned yet (HAProxy hung):
// client-native gives each query 30 s, so we fail checks meanwhile instead of
// queueing more queries behind it.
var errBusy = errors.New("previous query still unanswered")

// nativeRuntime is the runtimeAPI on client-native's runtime package.
//
// It uses SingleRuntime.ExecuteRaw and parses the answers itself, because
// client-native's parsed calls are unsafe for a health check: GetStats
// slices its answer without a length check (an empty answer from a dying
// HAProxy panics), GetInfo and GetStats turn socket errors into strings, and
// GetServersState returns an empty list with no error on a dead socket.
type nativeRuntime struct {
	path    string
	timeout time.Duration
	rt      runtime.SingleRuntime
	stop    context.CancelFunc
	busy    chan struct{} // holds a token while a query runs
}

func newNativeRuntime(path string, timeout time.Duration) (*nativeRuntime, error) {
	// client-native's job goroutine lives until this context ends; a query
	// sent after that would block forever, so only close() ends it, once no
	// query is running.
	ctx, stop := context.WithCancel(context.Background())
	n := &nativeRuntime{path: path, timeout: timeout, stop: stop, busy: make(chan struct{}, 1)}
	err := n.rt.Init(ctx, path, 0, 0, options.RuntimeOptions{DoNotCheckRuntimeOnInit: true})
	if err != nil {
		stop()
		return nil, fmt.Errorf("healthcheck: runtime API client for %s: %w", path, err)
	}
	return n, nil
}

func (n *nativeRuntime) state(ctx context.Context) (runtimeState, error) {
	st, err := n.stateOnce(ctx)
	var timeout *timeoutError
	if err != nil && !errors.Is(err, errBusy) && !errors.As(err, &timeout) && ctx.Err() == nil {
		// One immediate retry on a fresh connection: a reload can close a
		// connection under us, and that must not count as a failure.
		// (client-native already retries a failed dial once.)
		if st2, err2 := n.stateOnce(ctx); !errors.Is(err2, errBusy) {
			st, err = st2, err2
		}
	}
	if err != nil {
		return st, &socketError{Path: n.path, Err: err}
	}
	return st, nil
}

func (n *nativeRuntime) stateOnce(ctx context.Context) (runtimeState, error) {
	select {
	case n.busy <- struct{}{}:
	default:
		return runtimeState{}, errBusy
	}
	type answer struct {
		s   string
		err error
	}
	done := make(chan answer, 1)
	go func() {
		defer func() { <-n.busy }()
		s, err := n.rt.ExecuteRaw(infoStatCommand)
		done <- answer{s, err}
	}()
	timer := time.NewTimer(n.timeout)
	defer timer.Stop()
	select {
	case a := <-done:
		if a.err != nil {
			return runtimeState{}, a.err
		}
		return parseInfoStat(a.s)
	case <-timer.C:
		return runtimeState{}, &timeoutError{after: n.timeout}
	case <-ctx.Done():
		return runtimeState{}, ctx.Err()
	}
}

// close ends client-native's goroutine once no query is running.
func (n *nativeRuntime) close() {
	go func() {
		n.busy <- struct{}{}
		n.stop()
	}()
}
