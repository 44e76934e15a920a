package keepalived

import (
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/proxypair/proxypair/appliance/config"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldens are whole configs: the seed's MASTER and BACKUP, the HAProxy
// tutorial, a 2.x config with every reader feature, and keepalived 2.2.7's
// configs from the wire captures. Each translates to NAME.yaml (stdout)
// and NAME.warnings (stderr) in testdata.
var goldens = []struct {
	name, conf string
	opt        Options
}{
	{"seed-master", "testdata/seed-master.conf", Options{}},
	{"seed-backup", "testdata/seed-backup.conf", Options{}},
	{"tutorial-master", "testdata/tutorial-master.conf", Options{PeerPriority: 100}},
	{"v2x-unicast-lb1", "testdata/v2x-unicast.conf", Options{ParseOptions: ParseOptions{ConfigID: "lb1"}}},
	{"v2x-unicast-lb2", "testdata/v2x-unicast.conf", Options{ParseOptions: ParseOptions{ConfigID: "lb2"}}},
	{"capture-ka-v2", "../../../testdata/captures/keepalived/ka-v2.conf", Options{}},
	{"capture-ka-v2-2vip", "../../../testdata/captures/keepalived/ka-v2-2vip.conf", Options{}},
	{"capture-ka-v3", "../../../testdata/captures/keepalived/ka-v3.conf", Options{}},
	{"capture-ka-v3-50ms", "../../../testdata/captures/keepalived/ka-v3-50ms.conf", Options{}},
	{"capture-ka-v3-uni", "../../../testdata/captures/keepalived/ka-v3-uni.conf", Options{}},
}

func TestGolden(t *testing.T) {
	for _, g := range goldens {
		t.Run(g.name, func(t *testing.T) {
			res, err := Import(g.conf, g.opt)
			if err != nil {
				t.Fatal(err)
			}
			checkResult(t, res)
			if problems := config.Validate(res.Config); !config.Valid(problems) {
				t.Errorf("does not validate: %v", problems)
			}
			golden(t, filepath.Join("testdata", g.name+".yaml"), string(res.YAML()))
			golden(t, filepath.Join("testdata", g.name+".warnings"), warningText(res.Warnings))
		})
	}
}

func golden(t *testing.T, file, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs (-want +got; go test -update rewrites it):\n%s", file, diff)
	}
}

// TestSeedMatchesExamples: the seed's keepalived configs import to the
// VRRP settings of configs/master.yaml and configs/backup.yaml, which
// quote them.
func TestSeedMatchesExamples(t *testing.T) {
	clearEnv(t)
	for conf, example := range map[string]string{
		"testdata/seed-master.conf": "../../../configs/master.yaml",
		"testdata/seed-backup.conf": "../../../configs/backup.yaml",
	} {
		res, err := Import(conf, Options{})
		if err != nil {
			t.Fatal(err)
		}
		want, problems, err := config.Load(config.Source{File: example})
		if err != nil || !config.Valid(problems) {
			t.Fatalf("%s: %v %v", example, err, problems)
		}
		if diff := cmp.Diff(want.VRRP, res.Config.VRRP, cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
			cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
			t.Errorf("%s imports to other VRRP settings than %s (-example +import):\n%s", conf, example, diff)
		}
		// The examples quote the keepalived originals; every quoted
		// setting is in the testdata file.
		ex, _ := os.ReadFile(example)
		orig, _ := os.ReadFile(conf)
		for _, l := range strings.Split(string(ex), "\n") {
			l = strings.TrimPrefix(l, "#   ")
			if kw, _, _ := strings.Cut(strings.TrimSpace(l), " "); kw == "state" || kw == "priority" || kw == "virtual_router_id" {
				if !strings.Contains(string(orig), strings.TrimSpace(strings.Split(l, "#")[0])) {
					t.Errorf("%s quotes %q, which %s lacks", example, strings.TrimSpace(l), conf)
				}
			}
		}
	}
}
