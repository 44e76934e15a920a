//go:build linux

// Package ppnode runs proxypair daemons as peers in an internal/lab lab. It
// is apart from lab so that lab's users (healthcheck's tests among them) do
// not depend on the daemon's packages.
package ppnode

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/proxypair/proxypair/appliance/control"
	"github.com/proxypair/proxypair/internal/lab"
)

// Node is a proxypair daemon on a lab host.
type Node struct {
	*lab.Process
	Host       *lab.Host
	Binary     string
	ConfigFile string
	Socket     string   // its control socket
	Env        []string // extra environment (KEY=value), e.g. NOTIFY_SOCKET
	// Control is added to the control section Rewrite writes, e.g.
	// "  metrics_listen: 198.18.0.1:9542\n".
	Control string
}

// Start writes config (YAML without the control and log sections, which it
// sets: the control socket and the state directory in the host's
// directory) to the host's directory and runs `bin run` with it until its
// control socket answers.
func Start(h *lab.Host, bin, config string) (*Node, error) {
	return StartEnv(h, bin, config, nil)
}

// StartEnv is Start with extra environment variables for the daemon.
func StartEnv(h *lab.Host, bin, config string, env []string) (*Node, error) {
	p := &Node{
		Env:        env,
		Host:       h,
		Binary:     bin,
		ConfigFile: filepath.Join(h.Dir, "proxypair.yaml"),
		Socket:     filepath.Join(h.Dir, "proxypair.sock"),
	}
	if err := p.Rewrite(config); err != nil {
		return nil, err
	}
	return p, p.Restart()
}

// Rewrite replaces the daemon's config file with config (YAML without the
// control and log sections, which it sets as Start does); a SIGHUP or a
// restart then reads it.
func (p *Node) Rewrite(config string) error {
	full := config + fmt.Sprintf("control:\n  socket: %s\n  state_dir: %s\n%slog:\n  level: debug\n", p.Socket, p.Host.Dir, p.Control)
	if err := os.WriteFile(p.ConfigFile, []byte(full), 0o600); err != nil {
		return fmt.Errorf("ppnode: proxypair on %s: %w", p.Host.Name, err)
	}
	return nil
}

// Restart starts the daemon again with its config, after Stop or Kill.
func (p *Node) Restart() error {
	args := []string{"run", "--config", p.ConfigFile}
	prog := p.Binary
	if len(p.Env) > 0 {
		// env execs the daemon, so the PID stays the daemon's own.
		args = append(append(append([]string{}, p.Env...), p.Binary), args...)
		prog = "env"
	}
	proc, err := p.Host.Start(prog, args...)
	if err != nil {
		return err
	}
	p.Process = proc
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = lab.Eventually(ctx, 10*time.Millisecond, func() (bool, string) {
		if proc.Exited() {
			return true, "exited"
		}
		_, err := p.Status(ctx)
		return err == nil, fmt.Sprint(err)
	})
	if err == nil && proc.Exited() {
		err = fmt.Errorf("exited at start")
	}
	if err != nil {
		_ = proc.Kill()
		return fmt.Errorf("ppnode: proxypair on %s: control socket never answered: %w\n%s", p.Host.Name, err, proc.Output())
	}
	return nil
}

// Status asks the daemon for its status over the control socket.
func (p *Node) Status(ctx context.Context) (*control.Status, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return control.Get(ctx, p.Socket)
}

// Instance is the status of the daemon's VRRP instance.
func (p *Node) Instance(ctx context.Context) (control.Instance, error) {
	st, err := p.Status(ctx)
	if err != nil {
		return control.Instance{}, err
	}
	if len(st.Instances) == 0 {
		return control.Instance{}, fmt.Errorf("ppnode: proxypair on %s reports no instance", p.Host.Name)
	}
	return st.Instances[0], nil
}
