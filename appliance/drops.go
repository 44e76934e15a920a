package appliance

import (
	"context"
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

// maxForeignRouters bounds the memory of other virtual routers seen on the
// link (their VRID drops are logged once each, then at debug level).
const maxForeignRouters = 64

// drops counts dropped packets by reason and logs them, rate-limited per
// reason. It belongs to the instance goroutine.
type drops struct {
	log     *slog.Logger
	count   map[vrrp.DropReason]uint64
	rate    *rateLog
	foreign map[netip.Addr]bool // sources of other VRIDs already logged
	// authUnknown counts the DropAuthType drops whose type is none of
	// VRRPv2's: keepalived tells these (invalid_authtype) from a type
	// that differs from ours (authtype_mismatch).
	authUnknown uint64
}

func newDrops(log *slog.Logger) *drops {
	return &drops{log: log, count: map[vrrp.DropReason]uint64{}, rate: newRateLog(), foreign: map[netip.Addr]bool{}}
}

// add records one dropped packet. detail says what differed, for the log;
// it is only called when the drop is logged, so a flood costs no parsing.
func (d *drops) add(now time.Time, reason vrrp.DropReason, from netip.Addr, detail func() string) {
	d.count[reason]++
	level := slog.LevelWarn
	msg := "dropped VRRP packet"
	if reason == vrrp.DropVRID {
		// Other virtual routers on a shared LAN are normal, not a
		// misconfiguration of ours: say so once per router, then only at
		// debug level.
		if d.foreign[from] || len(d.foreign) >= maxForeignRouters {
			level = slog.LevelDebug
		} else {
			d.foreign[from] = true
			level = slog.LevelInfo
		}
		msg = "ignoring VRRP of another virtual router"
	}
	ok, suppressed := d.rate.allow(now, reason.String())
	if !ok && level != slog.LevelInfo {
		return
	}
	attrs := []any{"reason", reason.String(), "from", from, "total", d.count[reason]}
	if suppressed > 0 {
		attrs = append(attrs, "suppressed", suppressed)
	}
	if s := detail(); s != "" {
		attrs = append(attrs, "detail", s)
	}
	d.log.Log(context.Background(), level, msg, attrs...)
}

// snapshot returns the counts by reason name.
func (d *drops) snapshot() map[string]uint64 {
	m := make(map[string]uint64, len(d.count))
	for r, n := range d.count {
		m[r.String()] = n
	}
	return m
}
