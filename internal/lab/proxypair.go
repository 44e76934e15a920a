//go:build linux

package lab

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/proxypair/proxypair/appliance/control"
)

// Proxypair is a proxypair daemon on a lab host.
type Proxypair struct {
	*Process
	Host       *Host
	Binary     string
	ConfigFile string
	Socket     string // its control socket
}

// StartProxypair writes config (YAML without the control and log sections,
// which the lab sets) to the host's directory and runs `bin run` with it
// until its control socket answers.
func (h *Host) StartProxypair(bin, config string) (*Proxypair, error) {
	p := &Proxypair{
		Host:       h,
		Binary:     bin,
		ConfigFile: filepath.Join(h.Dir, "proxypair.yaml"),
		Socket:     filepath.Join(h.Dir, "proxypair.sock"),
	}
	full := config + fmt.Sprintf("control:\n  socket: %s\nlog:\n  level: debug\n", p.Socket)
	if err := os.WriteFile(p.ConfigFile, []byte(full), 0o600); err != nil {
		return nil, fmt.Errorf("lab: proxypair on %s: %w", h.Name, err)
	}
	return p, p.Start()
}

// Start (re)starts the daemon with its config, for after Stop or Kill.
func (p *Proxypair) Start() error {
	proc, err := p.Host.Start(p.Binary, "run", "--config", p.ConfigFile)
	if err != nil {
		return err
	}
	p.Process = proc
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = waitStarted(ctx, proc, func() bool {
		_, err := p.Status(ctx)
		return err == nil
	})
	if err != nil {
		_ = proc.Kill()
		return fmt.Errorf("lab: proxypair on %s: control socket never answered: %w", p.Host.Name, err)
	}
	return nil
}

// Status asks the daemon for its status over the control socket.
func (p *Proxypair) Status(ctx context.Context) (*control.Status, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return control.Get(ctx, p.Socket)
}

// Instance is the status of the daemon's VRRP instance.
func (p *Proxypair) Instance(ctx context.Context) (control.Instance, error) {
	st, err := p.Status(ctx)
	if err != nil {
		return control.Instance{}, err
	}
	if len(st.Instances) == 0 {
		return control.Instance{}, fmt.Errorf("lab: proxypair on %s reports no instance", p.Host.Name)
	}
	return st.Instances[0], nil
}

// Holders returns the hosts whose eth1 holds a.
func Holders(a netip.Addr, hosts ...*Host) []*Host {
	var out []*Host
	for _, h := range hosts {
		if h.HasAddr(a) {
			out = append(out, h)
		}
	}
	return out
}
