package keepalived

import (
	"strings"
	"testing"

	"github.com/proxypair/proxypair/appliance/config"
)

// TestNameRoundTrip: every vrrp_instance name that can be vrrp.name is
// carried and loads back unchanged from the YAML (checkResult), however
// much it looks like a YAML number, date or keyword.
func TestNameRoundTrip(t *testing.T) {
	for _, name := range []string{"1", "on", "-x", "a:b", ".x", "VI_1:", "0x1F", "0o17", "0b101", "1_0", "_1", "1_", "0x_1", "-0b1", "NaN", "inf", ".inf", "1e3", "2001-12-14", "null", "~x", "Y", "yes", "off", "1.5", "007", "-", "::", "_"} {
		t.Run(name, func(t *testing.T) {
			tree, err := ParseBytes("/k/keepalived.conf", []byte(strings.Replace(inst(), "VI_1", name, 1)), ParseOptions{})
			if err != nil {
				t.Fatal(err)
			}
			res, err := Translate(tree, Options{PeerPriority: 100})
			if err != nil {
				t.Fatal(err)
			}
			want := name
			if !config.ValidName(name) {
				want = "" // warned about, left to the default
			}
			if res.Config.VRRP.Name != want {
				t.Errorf("vrrp.name = %q, want %q", res.Config.VRRP.Name, want)
			}
			checkResult(t, res)
		})
	}
}
