package appliance

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/proxypair/proxypair/appliance/control"
	"github.com/proxypair/proxypair/appliance/fsm"
)

// maintenanceFile is where the maintenance state of an interface and VRID
// is kept, so that a restart or a reboot during patching does not take the
// VIP back.
func maintenanceFile(dir, iface string, vrid int) string {
	return filepath.Join(dir, fmt.Sprintf("maintenance-%s-%d.json", iface, vrid))
}

// loadMaintenance reads a maintenance state; an ended or missing one is
// none (and an ended one is removed).
func loadMaintenance(path string, now time.Time) (*control.Maintenance, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("maintenance state: %w", err)
	}
	var m control.Maintenance
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("maintenance state %s: %w", path, err)
	}
	if !m.Until.IsZero() && !now.Before(m.Until) {
		os.Remove(path)
		return nil, nil
	}
	return &m, nil
}

// saveMaintenance writes m (nil: removes the file), atomically.
func saveMaintenance(path string, m *control.Maintenance) error {
	if m == nil {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("maintenance state: %w", err)
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("maintenance state: %w", err)
	}
	b, _ := json.Marshal(m)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("maintenance state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("maintenance state: %w", err)
	}
	return nil
}

// setMaintenance applies a maintenance change on the loop: the state
// machine hands over (as master) or lets go.
func (in *instance) setMaintenance(now time.Time, m *control.Maintenance) {
	was := in.maintenance
	in.maintenance = m
	if m != nil {
		in.log.Info("maintenance: leaving the VIPs to the peer", "until", m.Until, "state", in.r.State().String(), "reason", "maintenance")
		in.step(now, fsm.Maintenance{On: true, Until: m.Until})
	} else if was != nil {
		in.log.Info("maintenance ended (resume)", "reason", "resume")
		in.step(now, fsm.Maintenance{On: false})
	}
	in.notifier.Status(in.statusLine())
}

// maintenanceStatus is what status says of maintenance: the state
// machine's view, so an end time that passed is over.
func (in *instance) maintenanceStatus() *control.Maintenance {
	on, _ := in.r.InMaintenance()
	if !on || in.maintenance == nil {
		return nil
	}
	m := *in.maintenance
	return &m
}
