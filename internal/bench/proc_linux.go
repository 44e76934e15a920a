//go:build linux

package bench

import (
	"fmt"
	"os"
)

// readCPUTicks is utime+stime of pid, in clock ticks.
func readCPUTicks(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("bench: CPU time of pid %d: %w", pid, err)
	}
	return ParseStatCPU(b)
}

// readRSS is the resident set size of pid in bytes.
func readRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("bench: RSS of pid %d: %w", pid, err)
	}
	return ParseVmRSS(b)
}
