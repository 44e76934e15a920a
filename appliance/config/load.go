package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"
)

// Source says where configuration comes from.
type Source struct {
	// File is the --config flag; "" = PROXYPAIR_CONFIG, then DefaultFile
	// (which may be absent).
	File string
	// Set holds command-line overrides, key path → value (--set key=value).
	Set map[string]string
}

// Load reads and checks the configuration. It returns an error only when the
// configuration cannot be read at all (a named file that is missing or not
// YAML). Everything wrong with the values is reported in problems, all at
// once; the Config is usable only when no problem is an error (see Valid).
func Load(src Source) (*Config, []Problem, error) {
	env := envLookup(os.Environ())
	v := viper.New()
	for _, f := range schema {
		v.SetDefault(f.key, f.def)
		// BindEnv with an explicit name: env-only keys then reach Get and
		// AllKeys, which AutomaticEnv alone does not guarantee for nested keys.
		if err := v.BindEnv(f.key, EnvName(f.key)); err != nil {
			return nil, nil, fmt.Errorf("config: binding %s: %w", f.key, err)
		}
	}
	file, err := configFile(src.File, env)
	if err != nil {
		return nil, nil, err
	}
	var data []byte
	if file != "" {
		// Read once: viper takes the values, misreadText the text they
		// were written as.
		if data, err = os.ReadFile(file); err != nil {
			return nil, nil, fmt.Errorf("config: reading %s: %w", file, err)
		}
		v.SetConfigType("yaml")
		if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
			return nil, nil, fmt.Errorf("config: reading %s: %w", file, err)
		}
	}

	var problems []Problem
	problems = append(problems, unknownKeys(v)...)
	problems = append(problems, unknownEnv(env)...)
	if file != "" {
		overridden := func(key string) bool {
			_, byEnv := env[EnvName(key)]
			_, bySet := src.Set[key]
			return byEnv || bySet
		}
		problems = append(problems, misreadText(data, overridden)...)
	}

	// Flags override everything: apply them last, after checking their keys.
	for _, key := range sortedKeys(src.Set) {
		k := strings.ToLower(key)
		if !isKey(k) {
			problems = append(problems, Problem{Key: key, Message: "unknown key (from --set)" + suggest(k)})
			continue
		}
		v.Set(k, src.Set[key])
	}

	c := &Config{File: file}
	bad := map[string]bool{}
	for _, f := range schema {
		if err := f.set(c, v.Get(f.key)); err != nil {
			problems = append(problems, Problem{Key: f.key, Message: err.Error()})
			bad[f.key] = true
		}
	}
	for _, p := range Validate(c) {
		// A key that did not parse keeps its default; checking that default
		// would only add a confusing second line for the same mistake.
		if !bad[p.Key] {
			problems = append(problems, p)
		}
	}
	return c, problems, nil
}

// Valid reports whether problems holds no errors (warnings are allowed).
func Valid(problems []Problem) bool {
	return !slices.ContainsFunc(problems, func(p Problem) bool { return !p.Warning })
}

// configFile picks the file to read: the flag, then PROXYPAIR_CONFIG, then
// DefaultFile if it exists. A file named explicitly must exist.
func configFile(flag string, env map[string]string) (string, error) {
	named := flag
	if named == "" {
		named = env[EnvConfigFile]
	}
	if named != "" {
		if _, err := os.Stat(named); err != nil {
			return "", fmt.Errorf("config: %w", err)
		}
		return named, nil
	}
	if _, err := os.Stat(DefaultFile); errors.Is(err, fs.ErrNotExist) {
		return "", nil
	} else if err != nil {
		return "", fmt.Errorf("config: %w", err)
	}
	return DefaultFile, nil
}

func envLookup(env []string) map[string]string {
	m := make(map[string]string)
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, EnvPrefix) {
			m[k] = val
		}
	}
	return m
}

// unknownKeys reports keys in the file that proxypair does not know: a typo
// such as "priorty" must be an error, never silently ignored.
func unknownKeys(v *viper.Viper) []Problem {
	var out []Problem
	for _, k := range v.AllKeys() {
		switch {
		case isKey(k):
		case isSection(k):
			out = append(out, Problem{Key: k, Message: "must be a mapping of keys, not a single value"})
		default:
			out = append(out, Problem{Key: k, Message: "unknown key" + suggest(k)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// misreadText reports text keys whose unquoted value in the YAML file is
// read as something that prints differently: `auth_pass: 0123` is the
// octal number 83 and `1.10` the float 1.1, so the daemon would use a
// password the peer does not have. `auth_pass: 1234` reads back as 1234
// and passes.
func misreadText(data []byte, overridden func(key string) bool) []Problem {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return nil // viper reports what does not parse
	}
	var out []Problem
	var walk func(prefix string, n *yaml.Node)
	walk = func(prefix string, n *yaml.Node) {
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := strings.ToLower(n.Content[i].Value)
			if prefix != "" {
				key = prefix + "." + key
			}
			val := n.Content[i+1]
			if val.Kind == yaml.MappingNode {
				walk(key, val)
				continue
			}
			if !isText(key) || overridden(key) {
				continue
			}
			for _, item := range scalars(val) {
				if msg := misread(item); msg != "" {
					out = append(out, Problem{Key: key, Message: msg})
				}
			}
		}
	}
	walk("", doc.Content[0])
	return out
}

// scalars lists the scalars of n: n itself, or the items of a list, or of
// a list of lists (the notify hooks' argv lists).
func scalars(n *yaml.Node) []*yaml.Node {
	if n.Kind != yaml.SequenceNode {
		return []*yaml.Node{n}
	}
	var out []*yaml.Node
	for _, item := range n.Content {
		out = append(out, scalars(item)...)
	}
	return out
}

// misread says how YAML misreads a text scalar, or "" when it does not.
func misread(n *yaml.Node) string {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!str" {
		return ""
	}
	var typed any
	if n.Decode(&typed) != nil {
		return ""
	}
	if typed == nil && n.Value == "" {
		return "" // an empty value: ""
	}
	if typed != nil && fmt.Sprint(typed) == n.Value {
		return ""
	}
	return fmt.Sprintf("%s is read by YAML as %s, not as the text %q: quote it", n.Value, describeYAML(typed), n.Value)
}

// describeYAML names what YAML made of a plain scalar.
func describeYAML(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case int, int64, uint64, float64:
		return fmt.Sprintf("the number %v", v)
	case bool:
		return fmt.Sprintf("the boolean %v", v)
	default:
		return fmt.Sprintf("a %T (%v)", v, v)
	}
}

// hookVars are the variables a notify hook is given (appliance/hooks
// EnvNames, which its tests keep equal to this list): a hook that runs
// `proxypair` must not see them reported as misspelt settings.
var hookVars = []string{"PROXYPAIR_STATE", "PROXYPAIR_FROM", "PROXYPAIR_REASON", "PROXYPAIR_PRIORITY", "PROXYPAIR_VIPS",
	"PROXYPAIR_IFACE", "PROXYPAIR_VRID", "PROXYPAIR_INSTANCE", "PROXYPAIR_SEQ", "PROXYPAIR_TIME", "PROXYPAIR_HOOK_INDEX"}

func unknownEnv(env map[string]string) []Problem {
	known := map[string]bool{EnvConfigFile: true}
	for _, k := range hookVars {
		known[k] = true
	}
	for _, f := range schema {
		known[EnvName(f.key)] = true
	}
	var out []Problem
	for k := range env {
		if !known[k] {
			out = append(out, Problem{Key: k, Message: "unknown environment variable" + suggestEnv(k)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

func isKey(k string) bool {
	return slices.ContainsFunc(schema, func(f field) bool { return f.key == k })
}

func isSection(k string) bool {
	return slices.ContainsFunc(schema, func(f field) bool { return strings.HasPrefix(f.key, k+".") })
}

// suggest names the closest known key, for typos: one the typed key is a
// prefix of (a cut-off name), else the nearest by edit distance.
func suggest(k string) string {
	best, dist := "", 5
	for _, f := range schema {
		if strings.HasPrefix(f.key, k) {
			best = f.key
			break
		}
		if d := editDistance(k, f.key); d < dist {
			best, dist = f.key, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

func suggestEnv(k string) string {
	best, dist := "", 5
	for _, f := range schema {
		if d := editDistance(k, EnvName(f.key)); d < dist {
			best, dist = EnvName(f.key), d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
