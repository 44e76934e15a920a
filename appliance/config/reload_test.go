package config

import (
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"
)

func loaded(t *testing.T) *Config {
	t.Helper()
	c, problems, err := Load(Source{File: "../../configs/master.yaml"})
	if err != nil || !Valid(problems) {
		t.Fatalf("loading the example: %v %v", err, problems)
	}
	return c
}

// TestPlanReloadFollowsTheSchema: every key is either applied or kept by
// a reload, as the schema says; none is forgotten.
func TestPlanReloadFollowsTheSchema(t *testing.T) {
	cur := loaded(t)
	next := loaded(t)
	next.VRRP.Priority = 150
	next.VRRP.VirtualIPs = append(next.VRRP.VirtualIPs, netip.MustParsePrefix("192.168.200.103/24"))
	next.VRRP.Interface = "eth2"
	next.VRRP.VRID = 52
	next.Health.Interval = time.Second
	next.Health.Weight = -100
	next.Log.Level = "debug"
	next.Cloud.Region = "KR"
	if got, want := Changed(cur, next), []string{"vrrp.interface", "vrrp.virtual_router_id", "vrrp.priority", "vrrp.virtual_ips",
		"log.level", "health.interval", "health.weight", "cloud.region"}; !slices.Equal(got, want) {
		t.Fatalf("Changed = %v, want %v", got, want)
	}
	r := PlanReload(cur, next)
	apply := r.Apply
	if want := []string{"vrrp.interface", "vrrp.virtual_router_id"}; !slices.Equal(r.IdentityKeys, want) {
		t.Errorf("identity keys = %v, want %v", r.IdentityKeys, want)
	}
	if len(r.RestartKeys) != 0 {
		t.Errorf("restart keys = %v, want none (health and cloud are rebuilt live)", r.RestartKeys)
	}
	// Identity keys are applied: the instance restarts with them.
	if apply.VRRP.Interface != "eth2" || apply.VRRP.VRID != 52 || apply.Health.Interval != time.Second || apply.Cloud.Region != "KR" {
		t.Errorf("identity or live keys not applied: %+v", apply)
	}
	if apply.VRRP.Priority != 150 || len(apply.VRRP.VirtualIPs) != 2 || apply.Health.Weight != -100 || apply.Log.Level != "debug" {
		t.Errorf("live keys not applied: %+v", apply)
	}
	// Process-restart keys keep their running values.
	next.Control.Socket = "/run/other.sock"
	next.Log.Format = "json"
	r = PlanReload(cur, next)
	if want := []string{"control.socket", "log.format"}; !slices.Equal(r.RestartKeys, want) {
		t.Errorf("restart keys = %v, want %v", r.RestartKeys, want)
	}
	if r.Apply.Control.Socket != cur.Control.Socket || r.Apply.Log.Format != cur.Log.Format {
		t.Errorf("restart-only keys changed live: %+v", r.Apply.Control)
	}
	if got := Changed(r.Apply, next); !slices.Equal(got, r.RestartKeys) {
		t.Errorf("the applied config differs from the new one in %v, want exactly the restart keys %v", got, r.RestartKeys)
	}
	if SameSection(cur, next, "health.") || !SameSection(cur, next, "notify.") {
		t.Error("SameSection")
	}
	if !reflect.DeepEqual(cur, loaded(t)) {
		t.Error("PlanReload changed the running config")
	}
}

// TestEveryKeyIsCompared: changing any key shows in Changed, so a new key
// cannot silently count as unchanged on reload.
func TestEveryKeyIsCompared(t *testing.T) {
	base := loaded(t)
	for _, f := range schema {
		next := loaded(t)
		var raw any
		switch f.get(next).(type) {
		case string:
			raw = "x-changed"
		case int:
			raw = 7
		case bool:
			raw = !f.get(next).(bool)
		case time.Duration:
			raw = "7s"
		case []string:
			raw = "a,b"
		case []netip.Prefix:
			raw = "198.18.0.77/24"
		case [][]string:
			raw = `[["/bin/true", "x"]]`
		case []netip.Addr:
			raw = "198.18.0.77"
		case netip.Addr:
			raw = "198.18.0.77"
		default:
			t.Fatalf("%s: type %T not covered", f.key, f.get(next))
		}
		if err := f.set(next, raw); err != nil {
			t.Fatalf("%s: %v", f.key, err)
		}
		if got := Changed(base, next); !slices.Equal(got, []string{f.key}) {
			t.Errorf("changing %s: Changed = %v", f.key, got)
		}
	}
}
