package bench

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"time"
)

// ErrNoAdvertLine is returned when wait-advert's output has no result line.
var ErrNoAdvertLine = errors.New(`bench: no "advert from" line in wait-advert's output`)

// FormatAdvertLine is the line `pplab wait-advert` prints for the advert
// it waited for; at is when the socket read it, which the bench takes as
// the phase of the master's advert cycle.
func FormatAdvertLine(from netip.Addr, vrid, priority uint8, at time.Time) string {
	return fmt.Sprintf("advert from %v vrid %d priority %d at_unix_ns %d", from, vrid, priority, at.UnixNano())
}

var advertLineRE = regexp.MustCompile(`(?m)^advert from \S+ vrid \d+ priority \d+ at_unix_ns (\d+)$`)

// ParseAdvertLine finds FormatAdvertLine's line in out and returns its
// time.
func ParseAdvertLine(out string) (time.Time, error) {
	m := advertLineRE.FindStringSubmatch(out)
	if m == nil {
		return time.Time{}, ErrNoAdvertLine
	}
	ns, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("bench: wait-advert's time %q: %w", m[1], err)
	}
	return time.Unix(0, ns), nil
}

// ServeMarker starts the line `pplab serve` prints once it accepts
// connections; the bench waits for it before starting HAProxy.
const ServeMarker = "pplab: serving"
