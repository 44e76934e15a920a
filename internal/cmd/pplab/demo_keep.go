//go:build linux

package main

// A kept lab (`make demo KEEP=1`) is kept by a process that stays: the
// lab's design ties every process it starts to its creator (Pdeathsig) and
// lets any later lab.New sweep the namespaces of a dead creator. Rather
// than loosen either for the demo, the demo runs in a background pplab
// (`demo --hold`, its own session) that creates the lab, walks through the
// steps on the terminal, records the lab, hands the terminal back and then
// sleeps until SIGTERM, when it closes the lab as any run does.
//
//   - Sweep leaves a kept lab alone because its creator is alive: the
//     namespace names carry the keeper's PID and each namespace's lo alias
//     its PID and start time, so a test run after it sees a live creator.
//   - Nothing of a kept lab can outlive its keeper: if the keeper dies
//     (kill -9, OOM), the kernel kills every lab process (Pdeathsig) and
//     the next lab.New sweeps the namespaces and the lab directory.
//   - `pplab demo-down` finds the lab through the record under a fixed
//     directory (/run/proxypair-demo, cleared at boot like the namespaces
//     themselves): it SIGTERMs the keeper by PID, checked against its start
//     time through a pidfd, waits for it to close the lab, then removes by
//     PID and by namespace name whatever is left (lab.Record.Remove). It
//     never kills by process name.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/proxypair/proxypair/internal/lab"
)

const (
	// defaultDemoStateDir holds the record of a kept lab.
	defaultDemoStateDir = "/run/proxypair-demo"
	keptFile            = "lab.json"
	keeperLog           = "keeper.log"
	// keptMark is what the keeper writes to the foreground pplab once the
	// lab is kept and the terminal is free.
	keptMark = "kept\n"
	// readyFD is the keeper's end of the pipe to the foreground pplab.
	readyFD = 3
)

// keptLab is the record of a kept lab (lab.json).
type keptLab struct {
	Lab       lab.Record `json:"lab"` // the keeper is Lab.Creator
	Created   time.Time  `json:"created"`
	Proxypair string     `json:"proxypair"`
	VIP       string     `json:"vip"`
	Hosts     []keptHost `json:"hosts"`
	Log       string     `json:"keeper_log"`
}

// keptHost is one host of a kept lab, for people exploring it.
type keptHost struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	Addr      string `json:"addr"`
	Dir       string `json:"dir"`
	Config    string `json:"proxypair_config,omitempty"`
}

// keepInBackground is `pplab demo --keep`: it starts the keeper (`demo
// --hold`, in a session of its own, writing to this terminal) and returns
// once the keeper says the lab is kept, or fails with it. Interrupted, it
// stops the keeper, which removes the lab.
func keepInBackground(ctx context.Context, f demoFlags, stdout, stderr io.Writer) error {
	if err := checkNoKeptLab(f.stateDir); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	args := []string{"demo", "--hold", "--proxypair", f.bin, "--state-dir", f.stateDir,
		"--steps", strconv.Itoa(f.steps), "--every", f.every.String()}
	if f.short {
		args = append(args, "--short")
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	cmd := exec.Command(self, args...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.ExtraFiles = []*os.File{w} // readyFD
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return fmt.Errorf("demo: starting the lab's keeper: %w", err)
	}
	said := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(r).ReadString('\n')
		said <- s
	}()
	select {
	case s := <-said:
		if s == keptMark {
			return nil
		}
		return fmt.Errorf("demo: the lab was not kept: %w", cmd.Wait())
	case <-ctx.Done():
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		return errors.New("demo: interrupted; the lab is removed")
	}
}

// holdDemo is the keeper (`demo --hold`): the demo, then the lab kept until
// SIGTERM or SIGINT.
func holdDemo(ctx context.Context, f demoFlags, o demoOptions) error {
	ready := os.NewFile(readyFD, "ready")
	if ready == nil {
		return errors.New("demo --hold: no pipe on fd 3: run `pplab demo --keep`")
	}
	syscall.CloseOnExec(readyFD) // not for the lab's processes
	signal.Ignore(syscall.SIGHUP)
	l, err := lab.New(lab.Options{})
	if err != nil {
		return err
	}
	d, err := runDemo(ctx, o, l)
	if err == nil {
		err = d.keep(f)
	}
	if err != nil {
		l.Close()
		fmt.Fprintln(o.out, "\nCleaned up: every namespace and process of the lab is gone.")
		return err
	}
	// Hand the terminal (or make's pipe) back: the foreground pplab exits
	// on the mark, and nothing keeps its output open.
	logf, err := os.OpenFile(filepath.Join(f.stateDir, keeperLog), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err == nil {
		err = errors.Join(unix.Dup3(int(logf.Fd()), 1, 0), unix.Dup3(int(logf.Fd()), 2, 0))
		logf.Close()
	}
	if err != nil {
		l.Close()
		return fmt.Errorf("demo: keeper log: %w", err)
	}
	_, _ = ready.WriteString(keptMark)
	ready.Close()
	fmt.Printf("%s keeping the lab (pid %d)\n", time.Now().Format(time.RFC3339), os.Getpid())
	<-ctx.Done()
	fmt.Printf("%s stopping: closing the lab\n", time.Now().Format(time.RFC3339))
	err = l.Close()
	fmt.Printf("%s closed (%v)\n", time.Now().Format(time.RFC3339), err)
	return err
}

// keep records the lab under the state directory and prints how to
// explore it.
func (d *demo) keep(f demoFlags) error {
	k := keptLab{
		Lab:       d.lab.Record(),
		Created:   time.Now().UTC(),
		Proxypair: d.o.proxypair,
		VIP:       demoVIP.Addr().String(),
		Log:       filepath.Join(f.stateDir, keeperLog),
	}
	k.Lab.Creator.Name = "pplab demo (the lab's keeper)"
	for _, m := range []*member{d.a, d.b} {
		k.Hosts = append(k.Hosts, keptHost{Name: m.name, Namespace: m.host.NS, Addr: m.host.Addr.Addr().String(),
			Dir: m.host.Dir, Config: m.pp.ConfigFile})
	}
	k.Hosts = append(k.Hosts, keptHost{Name: d.c.Name, Namespace: d.c.NS, Addr: d.c.Addr.Addr().String(), Dir: d.c.Dir})
	if err := os.MkdirAll(f.stateDir, 0o755); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if err := writeJSONFile(filepath.Join(f.stateDir, keptFile), k); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	d.explore(k, f.stateDir)
	return nil
}

// explore prints the commands to explore the kept lab.
func (d *demo) explore(k keptLab, stateDir string) {
	a, b, c := d.a, d.b, d.c
	pp := d.o.proxypair
	pplab := strings.Join(d.o.pplab, " ")
	d.say("\nThe lab keeps running: pplab (pid %d) keeps it, recorded in %s.\n", os.Getpid(), filepath.Join(stateDir, keptFile))
	d.say("Explore it (as root):\n\n")
	d.say("  ip netns exec %s %s status --config %s\n", a.host.NS, pp, a.pp.ConfigFile)
	d.say("  ip netns exec %s %s status --config %s\n", b.host.NS, pp, b.pp.ConfigFile)
	d.say("  ip netns exec %s curl -s http://%s/    # answers with the serving node's name\n", c.NS, k.VIP)
	d.say("  ip netns exec %s %s probe http --target %s    # a client counting outages; Ctrl-C for its summary\n", c.NS, pplab, k.VIP)
	d.say("  ip netns exec %s %s handover --config %s    # then: resume\n", a.host.NS, pp, a.pp.ConfigFile)
	d.say("  kill %d    # a's HAProxy: b takes over\n", a.hp.PID())
	d.say("  kill %d    # a's backend server: HAProxy marks it DOWN, a resigns\n", a.server.PID())
	d.say("  kill -STOP %d    # freeze a's proxypair (kill -CONT %d thaws it)\n", a.pp.PID(), a.pp.PID())
	d.say("  ip -n %s link set eth1 down    # a drops off the network (up again: link set eth1 up)\n", a.host.NS)
	d.say("  ip netns exec %s haproxy -D -f %s    # start a's HAProxy again\n", a.host.NS, a.hp.ConfigFile)
	d.say("\nConfigs and logs: %s/{a,b,c}/\n", filepath.Dir(a.host.Dir))
	d.say("Remove it: make demo-down    (or: pplab demo-down)\n")
}

// readKept reads the record of a kept lab; the error wraps fs.ErrNotExist
// when there is none.
func readKept(dir string) (*keptLab, error) {
	path := filepath.Join(dir, keptFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	var k keptLab
	if err := json.Unmarshal(b, &k); err != nil {
		return nil, fmt.Errorf("demo: %s: %w (check `ip netns list` for pp-* namespaces, then delete the file)", path, err)
	}
	if err := k.Lab.Check(); err != nil {
		return nil, fmt.Errorf("demo: %s: %w", path, err)
	}
	return &k, nil
}

// checkNoKeptLab fails when a kept lab still runs; what a dead keeper left
// is removed.
func checkNoKeptLab(dir string) error {
	k, err := readKept(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case k.Lab.Creator.Alive():
		return fmt.Errorf("demo: a kept lab is running (pplab pid %d, since %s): explore it, or remove it with `make demo-down`",
			k.Lab.Creator.PID, k.Created.Local().Format(time.DateTime))
	}
	return removeKept(dir, k, io.Discard)
}

// removeKept removes what is left of a kept lab whose keeper is gone, and
// its record.
func removeKept(dir string, k *keptLab, out io.Writer) error {
	err := k.Lab.Remove(func(format string, args ...any) { fmt.Fprintf(out, "  "+format+"\n", args...) })
	if err != nil {
		return err
	}
	for _, name := range []string{keptFile, keeperLog} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("demo: %w", err)
		}
	}
	_ = os.Remove(dir) // only if empty
	return nil
}

// newDemoDownCmd is `pplab demo-down` (make demo-down).
func newDemoDownCmd(stdout io.Writer) *cobra.Command {
	var stateDir string
	cmd := &cobra.Command{
		Use:   "demo-down",
		Short: "Remove the lab `pplab demo --keep` left running (needs root)",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return demoDown(stateDir, stdout)
		},
	}
	cmd.Flags().StringVar(&stateDir, "state-dir", defaultDemoStateDir, "where the kept lab is recorded")
	return cmd
}

// demoDown stops the keeper of the kept lab recorded in dir (it closes the
// lab), then removes whatever is left, by PID and by namespace name.
func demoDown(dir string, out io.Writer) error {
	if os.Geteuid() != 0 {
		return errors.New("demo-down needs root (it deletes network namespaces)")
	}
	k, err := readKept(dir)
	if errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(out, "No kept lab: %s does not exist.\n", filepath.Join(dir, keptFile))
		return nil
	}
	if err != nil {
		return err
	}
	keeper := k.Lab.Creator
	if keeper.Alive() {
		fmt.Fprintf(out, "Stopping %v: it stops every process of the lab and deletes its namespaces.\n", keeper)
		if _, err := keeper.Signal(unix.SIGTERM); err != nil {
			return err
		}
		if !keeper.WaitGone(30 * time.Second) {
			fmt.Fprintf(out, "%v did not exit within 30s of SIGTERM: killing it.\n", keeper)
			if _, err := keeper.Signal(unix.SIGKILL); err != nil {
				return err
			}
			if !keeper.WaitGone(5 * time.Second) {
				return fmt.Errorf("demo-down: %v still runs after SIGKILL", keeper)
			}
		}
	} else {
		fmt.Fprintf(out, "%v is gone (so is every process it started); removing what is left.\n", keeper)
	}
	if err := removeKept(dir, k, out); err != nil {
		return err
	}
	fmt.Fprintf(out, "The kept lab is gone: its %d processes stopped, namespaces %s deleted, %s removed.\n",
		len(k.Lab.Processes), strings.Join(k.Lab.Namespaces, " "), filepath.Join(dir, keptFile))
	return nil
}
