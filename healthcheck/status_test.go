package healthcheck

import "testing"

func TestClassifyServer(t *testing.T) {
	tests := []struct {
		status string
		want   ServerStatus
	}{
		{"UP", ServerUp},
		{"UP 1/3", ServerUp}, // failed 1 of 3 checks: going down, still in the pool
		{"UP 2/2", ServerUp},
		{"no check", ServerUp}, // not checked: HAProxy always uses it
		{"DOWN", ServerDown},
		{"DOWN 1/2", ServerDown}, // passed 1 of 2 checks: coming up, no traffic yet
		{"DOWN (agent)", ServerDown},
		{"NOLB", ServerNoLB},
		{"NOLB 1/3", ServerNoLB},
		{"DRAIN", ServerDrain},
		{"DRAIN 1/3", ServerDrain},
		{"DRAIN (agent)", ServerDrain},
		{"MAINT", ServerMaint},
		{"MAINT (via be_other/s1)", ServerMaint},
		{"MAINT (resolution)", ServerMaint},
		{" UP ", ServerUp},
		{"", ServerUnknown},
		{"up", ServerUnknown},
		{"UP x/y", ServerUnknown},
		{"UP 1/", ServerUnknown},
		{"UPPER", ServerUnknown},
		{"no", ServerUnknown},
		{"OPEN", ServerUnknown},
		{"MAINT via", ServerUnknown},
	}
	for _, tt := range tests {
		if got := ClassifyServer(tt.status); got != tt.want {
			t.Errorf("ClassifyServer(%q) = %v, want %v", tt.status, got, tt.want)
		}
	}
}

func TestServerStatusString(t *testing.T) {
	for s, want := range map[ServerStatus]string{ServerUp: "up", ServerMaint: "maint", ServerUnknown: "unknown", 42: "invalid", -1: "invalid"} {
		if got := s.String(); got != want {
			t.Errorf("ServerStatus(%d).String() = %q, want %q", int(s), got, want)
		}
	}
}

func TestFrontendOK(t *testing.T) {
	for status, want := range map[string]bool{
		"OPEN": true, "FULL": true, " OPEN": true,
		"STOP": false, "PAUSED": false, "": false, "open": false, "UP": false,
	} {
		if got := FrontendOK(status); got != want {
			t.Errorf("FrontendOK(%q) = %v, want %v", status, got, want)
		}
	}
}
