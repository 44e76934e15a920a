//go:build linux

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/proxypair/proxypair/internal/lab"
)

// seedConfigs holds the seed's keepalived.conf files (MASTER and BACKUP),
// which the importer's golden tests also translate.
const seedConfigs = "../../appliance/config/keepalived/testdata"

// TestImportKeepalivedMigration is the one-node-at-a-time migration: one
// node keeps running keepalived with the seed's config, the other runs
// proxypair with what `proxypair import keepalived` made of its own seed
// config. The pair elects one VIP holder, fails over when the master's
// link goes down and preempts back when it returns — each way round:
// keepalived 1.3.9 (Ubuntu 18.04's) stays the MASTER while the BACKUP is
// migrated, and keepalived 2.2.7 stays the BACKUP while the MASTER is.
func TestImportKeepalivedMigration(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root: network namespaces")
	}
	ka139, err := lab.PeerBinary(lab.Keepalived139)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		keepalived string // the binary
		onA, onB   string // seed configs; a is the MASTER (priority 200)
		proxypairA bool   // which of them proxypair runs, imported
	}{
		{"keepalived-1.3.9-master/imported-backup", ka139, "seed-master.conf", "seed-backup.conf", false},
		{"imported-master/keepalived-2.2.7-backup", "keepalived", "seed-master.conf", "seed-backup.conf", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, a, b := newPair(t)
			ppHost, kaHost, ppConf, kaConf := b, a, tc.onB, tc.onA
			if tc.proxypairA {
				ppHost, kaHost, ppConf, kaConf = a, b, tc.onA, tc.onB
			}
			startSeedKeepalived(t, kaHost, tc.keepalived, adaptSeed(t, kaHost, kaConf))
			np := startProxypair(t, ppHost, importKeepalived(t, adaptSeed(t, ppHost, ppConf)))

			waitHolder(t, a, 2*seedV2.masterDown(), a, b)
			steady(t, a, 3*seedV2.interval+time.Second, a, b)
			if st := np.status(); len(st.Drops) != 0 {
				t.Errorf("proxypair dropped keepalived's adverts: %v", st.Drops)
			}

			setLink(t, a, false)
			waitHolder(t, b, seedV2.masterDown(), a, b)
			setLink(t, a, true)
			waitHolder(t, a, 2*seedV2.masterDown(), a, b)
			steady(t, a, 3*seedV2.interval+time.Second, a, b)
			if st := np.status(); len(st.Drops) != 0 {
				t.Errorf("proxypair dropped keepalived's adverts: %v", st.Drops)
			}
		})
	}
}

// adaptSeed writes a seed keepalived.conf into h's directory with the
// lab's VIP in place of the seed's 192.168.200.102/24 (the interface is
// eth1 already) and returns its path.
func adaptSeed(t *testing.T, h *lab.Host, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(seedConfigs, name))
	if err != nil {
		t.Fatal(err)
	}
	conf := strings.ReplaceAll(string(data), "192.168.200.102/24", vip.String())
	if conf == string(data) {
		t.Fatalf("%s no longer has the seed's VIP 192.168.200.102/24", name)
	}
	path := filepath.Join(h.Dir, name)
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// importKeepalived runs `proxypair import keepalived` as a user would and
// returns the YAML it prints, after checking it exits 0.
func importKeepalived(t *testing.T, conf string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin.proxypair, "import", "keepalived", conf)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("proxypair import keepalived %s: %v\n%s", conf, err, stderr.String())
	}
	t.Logf("import warnings:\n%s", stderr.String())
	return stdout.String()
}

// startSeedKeepalived runs keepalived (VRRP only, foreground, pid files in
// the host's directory) with a config file as it is, and waits for its VRRP
// child.
func startSeedKeepalived(t *testing.T, h *lab.Host, binary, conf string) {
	t.Helper()
	pid, vrrpPID := filepath.Join(h.Dir, "keepalived.pid"), filepath.Join(h.Dir, "keepalived-vrrp.pid")
	p, err := h.Start(binary, "-n", "-l", "-D", "-P", "-f", conf, "-p", pid, "-r", vrrpPID)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = lab.Eventually(ctx, 10*time.Millisecond, func() (bool, string) {
		if p.Exited() {
			return true, "exited"
		}
		_, err := os.Stat(vrrpPID)
		return err == nil, fmt.Sprint(err)
	})
	if err != nil || p.Exited() {
		t.Fatalf("keepalived on %s has no VRRP child (%v):\n%s", h.Name, err, p.Output())
	}
}
