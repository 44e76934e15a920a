package appliance

import (
	"log/slog"
	"net/netip"
	"time"

	"github.com/proxypair/proxypair/appliance/vrrp"
)

// logEvery is how often one kind of repeated problem may be logged. A flood
// of bad packets costs one line per reason per period, with the count of
// the rest.
const logEvery = 10 * time.Second

// rateLog decides which occurrences of a repeated event get a log line.
type rateLog struct {
	last   map[string]time.Time
	hidden map[string]uint64
}

func newRateLog() *rateLog {
	return &rateLog{last: map[string]time.Time{}, hidden: map[string]uint64{}}
}

// allow reports whether an event of this kind may be logged now and, if
// so, how many were suppressed since the last line.
func (l *rateLog) allow(now time.Time, kind string) (ok bool, suppressed uint64) {
	if last, seen := l.last[kind]; seen && now.Sub(last) < logEvery {
		l.hidden[kind]++
		return false, 0
	}
	suppressed = l.hidden[kind]
	l.last[kind], l.hidden[kind] = now, 0
	return true, suppressed
}

// drops counts dropped packets by reason and logs them, rate-limited per
// reason. It belongs to the instance goroutine.
type drops struct {
	log   *slog.Logger
	count map[vrrp.DropReason]uint64
	rate  *rateLog
}

func newDrops(log *slog.Logger) *drops {
	return &drops{log: log, count: map[vrrp.DropReason]uint64{}, rate: newRateLog()}
}

// add records one dropped packet. detail says what differed, for the log.
func (d *drops) add(now time.Time, reason vrrp.DropReason, from netip.Addr, detail string) {
	d.count[reason]++
	ok, suppressed := d.rate.allow(now, reason.String())
	if !ok {
		return
	}
	attrs := []any{"reason", reason.String(), "from", from, "total", d.count[reason]}
	if suppressed > 0 {
		attrs = append(attrs, "suppressed", suppressed)
	}
	if detail != "" {
		attrs = append(attrs, "detail", detail)
	}
	d.log.Warn("dropped VRRP packet", attrs...)
}

// snapshot returns the counts by reason name.
func (d *drops) snapshot() map[string]uint64 {
	m := make(map[string]uint64, len(d.count))
	for r, n := range d.count {
		m[r.String()] = n
	}
	return m
}
