package appliance

import (
	"encoding/binary"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// fdTimer is a timer on a Linux timerfd. The Go runtime sleeps in epoll with
// millisecond timeouts, so its timers fire up to a millisecond late; at
// 10 ms adverts that is a tenth of the interval, and it delays every
// Skew_Time takeover. A timerfd wakes the poller on time, to the
// microsecond, as keepalived's timers do.
type fdTimer struct {
	fd   int
	f    *os.File
	c    chan time.Time
	done chan struct{}
}

func newFDTimer() (timer, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("timerfd_create", err)
	}
	t := &fdTimer{fd: fd, f: os.NewFile(uintptr(fd), "timerfd"), c: make(chan time.Time, 1), done: make(chan struct{})}
	go t.wait()
	return t, nil
}

// wait turns expirations into ticks. The fd is non-blocking, so the read
// parks in Go's poller.
func (t *fdTimer) wait() {
	defer close(t.done)
	var b [8]byte
	for {
		if _, err := t.f.Read(b[:]); err != nil {
			return // closed
		}
		if binary.NativeEndian.Uint64(b[:]) == 0 {
			continue
		}
		select {
		case t.c <- time.Now():
		default: // a tick is already pending
		}
	}
}

func (t *fdTimer) C() <-chan time.Time { return t.c }

func (t *fdTimer) Reset(d time.Duration) {
	// A zero value disarms a timerfd: a deadline already passed must
	// still fire.
	d = max(d, time.Microsecond)
	t.set(unix.NsecToTimespec(int64(d)))
}

func (t *fdTimer) Stop() { t.set(unix.Timespec{}) }

func (t *fdTimer) set(v unix.Timespec) {
	// Settime can only fail on a bad fd or value, neither of which we pass.
	_ = unix.TimerfdSettime(t.fd, 0, &unix.ItimerSpec{Value: v}, nil)
}

func (t *fdTimer) Close() {
	t.f.Close()
	<-t.done
}
