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
	apply, restart := PlanReload(cur, next)
	if want := []string{"vrrp.interface", "vrrp.virtual_router_id", "health.interval", "cloud.region"}; !slices.Equal(restart, want) {
		t.Errorf("restart keys = %v, want %v", restart, want)
	}
	if apply.VRRP.Interface != "eth1" || apply.VRRP.VRID != 51 || apply.Health.Interval != cur.Health.Interval || apply.Cloud.Region != "" {
		t.Errorf("restart-only keys changed live: %+v", apply)
	}
	if apply.VRRP.Priority != 150 || len(apply.VRRP.VirtualIPs) != 2 || apply.Health.Weight != -100 || apply.Log.Level != "debug" {
		t.Errorf("live keys not applied: %+v", apply)
	}
	if got := Changed(apply, next); !slices.Equal(got, restart) {
		t.Errorf("the applied config differs from the new one in %v, want exactly the restart keys %v", got, restart)
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
