package bench

import (
	"errors"
	"testing"
	"time"
)

// A real /proc/PID/stat line (keepalived's VRRP child), utime 123 and
// stime 45 (fields 14 and 15).
const statLine = "4242 (keepalived) S 4241 4241 4241 0 -1 4194624 310 0 0 0 123 45 0 0 20 0 1 0 12345 12980224 1234 18446744073709551615 1 1 0 0 0 0 0 4096 16387 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n"

func TestParseStatCPU(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		want    uint64
		wantErr bool
	}{
		{"keepalived", statLine, 168, false},
		{"comm with spaces and parens", "7 (a) b (c)) R 1 7 7 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0 1 1 1", 11, false},
		{"no comm", "7 a R 1 7 7 0 -1 0 0 0 0 0 5 6", 0, true},
		{"too short", "7 (x) R 1 7 7 0 -1 0 0 0 0 0 5", 0, true},
		{"utime not a number", "7 (x) R 1 7 7 0 -1 0 0 0 0 0 x 6", 0, true},
		{"stime negative", "7 (x) R 1 7 7 0 -1 0 0 0 0 0 5 -6", 0, true},
		{"empty", "", 0, true},
	} {
		got, err := ParseStatCPU([]byte(tc.in))
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("%s: ParseStatCPU = %d, %v; want %d, error %t", tc.name, got, err, tc.want, tc.wantErr)
		}
		if err != nil && !errors.Is(err, ErrProcFormat) {
			t.Errorf("%s: error %v does not wrap ErrProcFormat", tc.name, err)
		}
	}
}

func TestParseVmRSS(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		want    int64
		wantErr bool
	}{
		{"status", "Name:\tproxypair\nVmPeak:\t 1263888 kB\nVmRSS:\t    9876 kB\nRssAnon:\t    4000 kB\n", 9876 * 1024, false},
		{"zero", "VmRSS:\t       0 kB\n", 0, false},
		{"no VmRSS (kernel thread)", "Name:\tkthreadd\nState:\tS (sleeping)\n", 0, true},
		{"other unit", "VmRSS:\t 9876 MB\n", 0, true},
		{"not a number", "VmRSS:\t lots kB\n", 0, true},
		{"negative", "VmRSS:\t -1 kB\n", 0, true},
	} {
		got, err := ParseVmRSS([]byte(tc.in))
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("%s: ParseVmRSS = %d, %v; want %d, error %t", tc.name, got, err, tc.want, tc.wantErr)
		}
		if err != nil && !errors.Is(err, ErrProcFormat) {
			t.Errorf("%s: error %v does not wrap ErrProcFormat", tc.name, err)
		}
	}
}

func TestCPUPercent(t *testing.T) {
	for _, tc := range []struct {
		ticks uint64
		wall  time.Duration
		want  float64
	}{
		{30, 30 * time.Second, 1},     // 0.3 s of CPU in 30 s
		{100, time.Second, 100},       // one whole core
		{250, 10 * time.Second, 25},   //
		{0, 30 * time.Second, 0},      //
		{10, 0, 0},                    // no window, no rate
		{6000, 30 * time.Second, 200}, // two cores busy
	} {
		if got := CPUPercent(tc.ticks, tc.wall); got != tc.want {
			t.Errorf("CPUPercent(%d, %v) = %v, want %v", tc.ticks, tc.wall, got, tc.want)
		}
	}
}
