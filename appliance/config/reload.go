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

// PlanReload splits a reload from cur to next by the schema: it returns the
// config to apply — next, with every key a reload cannot change kept at its
// running value — and those keys that changed but wait for a restart.
// The caller must validate the result: a live change may not fit a kept
// value (a v3 interval while the running version stays 2).
func PlanReload(cur, next *Config) (apply *Config, restartKeys []string) {
	out := *next
	for _, f := range schema {
		if f.restart && !reflect.DeepEqual(f.get(cur), f.get(next)) {
			f.keep(&out, cur)
			restartKeys = append(restartKeys, f.key)
		}
	}
	return &out, restartKeys
}
