package appliance

import (
	"encoding/binary"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fdTimer is a timer on a Linux timerfd. The Go runtime sleeps in epoll with
// millisecond timeouts, so its timers fire up to a millisecond late; at
// 10 ms adverts that is a tenth of the interval, and it delays every
// Skew_Time takeover. A timerfd wakes the poller on time, to the
// microsecond, as keepalived's timers do.
//
// Its system calls are raw (RawSyscall), like netio's: a plain
// syscall.Syscall wakes the runtime's monitor thread from its idle sleep,
// twice a tick at 10 ms adverts. timerfd calls never block.
type fdTimer struct {
	fd   int
	f    *os.File
	rc   syscall.RawConn
	c    chan time.Time
	done chan struct{}
}

func newFDTimer() (timer, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("timerfd_create", err)
	}
	f := os.NewFile(uintptr(fd), "timerfd")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	t := &fdTimer{fd: fd, f: f, rc: rc, c: make(chan time.Time, 1), done: make(chan struct{})}
	go t.wait()
	return t, nil
}

// wait turns expirations into ticks. The fd is non-blocking, so the read
// parks in Go's poller.
func (t *fdTimer) wait() {
	defer close(t.done)
	var b [8]byte
	for {
		var errno syscall.Errno
		err := t.rc.Read(func(fd uintptr) bool {
			_, _, errno = syscall.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
			return errno != unix.EAGAIN && errno != unix.EINTR
		})
		if err != nil {
			return // closed
		}
		if errno != 0 || binary.NativeEndian.Uint64(b[:]) == 0 {
			// No expirations, or an error a timerfd without
			// TFD_TIMER_CANCEL_ON_SET does not give (after Close, the
			// next Read reports the closed file).
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
	spec := unix.ItimerSpec{Value: v}
	syscall.RawSyscall6(unix.SYS_TIMERFD_SETTIME, uintptr(t.fd), 0, uintptr(unsafe.Pointer(&spec)), 0, 0, 0)
}

func (t *fdTimer) Close() {
	t.f.Close()
	<-t.done
}
