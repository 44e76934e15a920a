package config

import "reflect"

// Changed lists the keys whose values differ between a and b, in schema
// order.
func Changed(a, b *Config) []string {
	var keys []string
	for _, f := range schema {
		if !reflect.DeepEqual(f.get(a), f.get(b)) {
			keys = append(keys, f.key)
		}
	}
	return keys
}

// Reload is how a reload from one config to another applies, by the
// schema.
type Reload struct {
	// Apply is the new config with every key a reload cannot change kept at
	// its running value.
	Apply *Config
	// RestartKeys changed but wait for the process to restart.
	RestartKeys []string
	// IdentityKeys changed the VRRP instance's identity (interface, VRID,
	// version, source address): the instance restarts inside the process.
	IdentityKeys []string
}

// PlanReload splits a reload from cur to next by the schema. The caller
// must validate Apply: a live change may not fit a kept value.
func PlanReload(cur, next *Config) Reload {
	out := *next
	var r Reload
	for _, f := range schema {
		if reflect.DeepEqual(f.get(cur), f.get(next)) {
			continue
		}
		switch {
		case f.restart:
			f.keep(&out, cur)
			r.RestartKeys = append(r.RestartKeys, f.key)
		case f.identity:
			r.IdentityKeys = append(r.IdentityKeys, f.key)
		}
	}
	r.Apply = &out
	return r
}

// SameSection reports whether a and b agree on every key under prefix
// (e.g. "health.", "cloud.").
func SameSection(a, b *Config, prefix string) bool {
	for _, f := range schema {
		if len(f.key) > len(prefix) && f.key[:len(prefix)] == prefix && !reflect.DeepEqual(f.get(a), f.get(b)) {
			return false
		}
	}
	return true
}
