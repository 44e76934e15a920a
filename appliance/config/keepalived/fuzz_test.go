package keepalived

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"go.yaml.in/yaml/v3"
)

// FuzzImport feeds anything to the reader and the translator: no panic,
// no hang (includes of itself, parameters that grow), every error a
// *ParseError or ErrNoInstance, and the YAML always parses, with only the
// sections the importer writes (text from keepalived.conf in a comment
// cannot break out of it).
func FuzzImport(f *testing.F) {
	confs, _ := filepath.Glob("testdata/*.conf")
	for _, c := range confs {
		data, err := os.ReadFile(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		inst("state master", "notify \"a\rb\"", "track_script {\n chk\n}"),
		"$A=${A}x\ninclude inc.conf\ninclude inc.conf\n" + inst("priority $A"),
		"vrrp_script chk {\n script \"/bin/sh -c 'kill -0 `cat /run/haproxy.pid`'\"\n weight -2\n}\n" + inst("track_script { chk weight 3 }"),
		"vrrp_instance \"a\u2028b\" {\n virtual_ipaddress {\n 10.0.0.1 label \"x\ny\"\n}\n}\n",
		"@n1 vrrp_instance X {\n}\n{\n}}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		files := memFiles{"/k/inc.conf": string(data), "/k/check.sh": string(data)}
		tree, err := ParseBytes("/k/keepalived.conf", data, ParseOptions{Files: files, ConfigID: "n1"})
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error is not a *ParseError: %v", err)
			}
			return
		}
		res, err := Translate(tree, Options{ParseOptions: ParseOptions{Files: files}, PeerPriority: 100})
		if err != nil {
			if !errors.Is(err, ErrNoInstance) {
				t.Fatalf("Translate: %v", err)
			}
			return
		}
		var doc map[string]any
		if err := yaml.Unmarshal(res.YAML(), &doc); err != nil {
			t.Fatalf("the YAML does not parse: %v\n%s", err, res.YAML())
		}
		if n := res.Config.VRRP.Name; n != "" {
			if got := doc["vrrp"].(map[string]any)["name"]; got != n {
				t.Fatalf("vrrp.name %q reads back as %#v:\n%s", n, got, res.YAML())
			}
		}
		for k := range doc {
			if k != "vrrp" && k != "health" && k != "notify" {
				t.Fatalf("the YAML has a section %q:\n%s", k, res.YAML())
			}
		}
	})
}
