package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// UserHZ is the unit of utime and stime in /proc/PID/stat: USER_HZ, which
// the kernel fixes at 100 for user space whatever its own tick rate.
const UserHZ = 100

// ErrProcFormat is returned for /proc content that is not in the expected
// format.
var ErrProcFormat = errors.New("unexpected /proc format")

// ParseStatCPU returns utime+stime, in clock ticks, from the contents of
// /proc/PID/stat. They count every thread of the process.
func ParseStatCPU(stat []byte) (ticks uint64, err error) {
	// The command name (field 2) is in parentheses and may itself hold
	// spaces and parentheses: the fields proper start after the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("bench: /proc/PID/stat: no ')' after the command name: %w", ErrProcFormat)
	}
	f := bytes.Fields(stat[i+1:])
	// f[0] is field 3 (state), so field n is f[n-3]: utime is field 14,
	// stime field 15 (proc(5)).
	const utime, stime = 14 - 3, 15 - 3
	if len(f) <= stime {
		return 0, fmt.Errorf("bench: /proc/PID/stat: %d fields after the command name, want at least %d: %w", len(f), stime+1, ErrProcFormat)
	}
	u, err := strconv.ParseUint(string(f[utime]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bench: /proc/PID/stat: utime %q: %w", f[utime], ErrProcFormat)
	}
	s, err := strconv.ParseUint(string(f[stime]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bench: /proc/PID/stat: stime %q: %w", f[stime], ErrProcFormat)
	}
	return u + s, nil
}

// ParseVmRSS returns the resident set size in bytes from the contents of
// /proc/PID/status (its "VmRSS:   9876 kB" line).
func ParseVmRSS(status []byte) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		rest, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, fmt.Errorf("bench: /proc/PID/status: VmRSS line %q: want \"<n> kB\": %w", rest, ErrProcFormat)
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil || kb < 0 {
			return 0, fmt.Errorf("bench: /proc/PID/status: VmRSS %q: %w", f[0], ErrProcFormat)
		}
		return kb * 1024, nil // the kernel's "kB" is KiB
	}
	// Kernel threads and zombies have no VmRSS line.
	return 0, fmt.Errorf("bench: /proc/PID/status: no VmRSS line: %w", ErrProcFormat)
}

// CPUPercent is ticks of CPU time used over wall, as a percentage of one
// core.
func CPUPercent(ticks uint64, wall time.Duration) float64 {
	if wall <= 0 {
		return 0
	}
	cpu := time.Duration(ticks) * time.Second / UserHZ
	return 100 * float64(cpu) / float64(wall)
}
