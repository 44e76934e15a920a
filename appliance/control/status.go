// Package control is the daemon's control socket: HTTP over a unix socket
// (mode 0600) that `proxypair status` and scripts query. Status is the one
// snapshot document that the status command, and later the metrics
// collector, read.
package control

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Status is the daemon's state as the control socket reports it.
type Status struct {
	// Produced is when the daemon made this document: a status is a
	// moment, never a daemon's last words.
	Produced  time.Time  `json:"produced_at"`
	Version   string     `json:"version"`
	PID       int        `json:"pid"`
	Started   time.Time  `json:"started"`
	Config    string     `json:"config_file,omitempty"`
	Instances []Instance `json:"instances"`
}

// Instance is one VRRP instance's state.
type Instance struct {
	Name               string    `json:"name"` // vrrp.name, default VI_<vrid>
	Interface          string    `json:"interface"`
	VRID               int       `json:"vrid"`
	Version            int       `json:"vrrp_version"`
	State              string    `json:"state"`
	Since              time.Time `json:"since"`
	ConfiguredPriority int       `json:"configured_priority"`
	EffectivePriority  int       `json:"effective_priority"`
	AdvertInterval     Duration  `json:"advert_interval"`
	MasterAdverInt     Duration  `json:"master_advert_interval"`
	Source             string    `json:"source"`
	Master             string    `json:"master,omitempty"` // current master's address, "" when unknown
	Peers              []string  `json:"unicast_peers,omitempty"`
	VIPs               []string  `json:"vips"`      // configured
	VIPsHeld           []string  `json:"vips_held"` // on the interface, as last checked
	// VIPProblem says what keeps the interface from holding what it
	// should (an add or delete failing, a VIP someone else put there).
	VIPProblem string `json:"vip_problem,omitempty"`
	// PreemptHeldUntil is the end of the hold after failing to hold the
	// VIPs: until then this node leaves the pair to its peer.
	PreemptHeldUntil time.Time         `json:"preempt_held_until,omitempty"`
	Link             string            `json:"link"` // "up", "down" or "missing"
	AdvertsSent      uint64            `json:"adverts_sent"`
	AdvertsReceived  uint64            `json:"adverts_received"`
	Drops            map[string]uint64 `json:"drops"`
	Transitions      []Transition      `json:"transitions"` // newest last
	Health           *Health           `json:"health,omitempty"`
	// LastResign and LastTakeover time the latest hand-over's legs on this
	// node, for the bench and for anyone asking where the time went.
	LastResign   *ResignTiming   `json:"last_resign,omitempty"`
	LastTakeover *TakeoverTiming `json:"last_takeover,omitempty"`
	// Heard is what this node knows of the other routers on the link (the
	// peer, in a pair), from their adverts, the most recent first.
	Heard []Peer `json:"peers_heard,omitempty"`
	// Maintenance is set while the node is in maintenance (a planned
	// hand-over): it leaves the VIPs to its peer.
	Maintenance *Maintenance `json:"maintenance,omitempty"`
	Cloud       *Cloud       `json:"cloud,omitempty"`
	// MasterAdvertAt is when the current master last advertised: our own
	// last advert sent while Master, the master's last one accepted while
	// Backup; zero when no master is known.
	MasterAdvertAt time.Time `json:"master_advert_at,omitzero"`
	Counters       Counters  `json:"counters"`
}

// Peer is another router as this node hears it.
type Peer struct {
	Address        string            `json:"address"`
	Priority       int               `json:"priority"`        // in its last valid advert
	AdvertInterval Duration          `json:"advert_interval"` // in its last valid advert
	LastHeard      time.Time         `json:"last_heard"`      // its last packet, valid or not
	Adverts        uint64            `json:"adverts"`         // valid adverts received
	Drops          map[string]uint64 `json:"drops,omitempty"` // its packets dropped, by reason
}

// Maintenance is a node's maintenance.
type Maintenance struct {
	Since time.Time `json:"since"`
	Until time.Time `json:"until,omitempty"` // zero: until `proxypair resume`
}

// ResignTiming is when a master's resign for bad health happened, leg by
// leg.
type ResignTiming struct {
	Detected  time.Time `json:"detected"`             // the tracker saw HAProxy fail
	Handled   time.Time `json:"handled"`              // the VRRP loop took the verdict
	Prio0Sent time.Time `json:"prio0_sent,omitempty"` // the priority-0 adverts were on the wire
}

// TakeoverTiming is when this node became master, leg by leg.
type TakeoverTiming struct {
	Trigger    time.Time `json:"trigger"`               // the advert (or timer) that made us master
	AdvertSent time.Time `json:"advert_sent,omitempty"` // our first advert as master
	VIPAdded   time.Time `json:"vip_added,omitempty"`   // the kernel took the VIP
	FirstARP   time.Time `json:"first_arp,omitempty"`   // the first gratuitous ARP left
	Reason     string    `json:"reason"`
}

// Counters are an instance's counts since the daemon started, for metrics.
// Unlike Transitions, which keeps the last few for reading, they cover the
// whole lifetime.
type Counters struct {
	BecomeMaster         uint64 `json:"become_master"`          // transitions to MASTER
	ReleaseMaster        uint64 `json:"release_master"`         // transitions from MASTER
	PriorityZeroReceived uint64 `json:"priority_zero_received"` // accepted adverts with priority 0
	PriorityZeroSent     uint64 `json:"priority_zero_sent"`     // priority-0 adverts sent (resign, stop)
	SendErrors           uint64 `json:"send_errors"`            // adverts the socket refused
	// AuthTypeUnknown counts the auth_type drops whose type is none of
	// VRRPv2's (0 none, 1 PASS, 2 AH): keepalived's invalid_authtype. The
	// other auth_type drops are its authtype_mismatch.
	AuthTypeUnknown uint64            `json:"auth_type_unknown"`
	Transitions     []TransitionCount `json:"transitions"` // every kind seen, sorted
}

// TransitionCount is how many state changes of one kind happened.
type TransitionCount struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Reason string `json:"reason"`
	Count  uint64 `json:"count"`
}

// Transition is one state change.
type Transition struct {
	At     time.Time `json:"at"`
	From   string    `json:"from"`
	To     string    `json:"to"`
	Reason string    `json:"reason"`
}

// Health is the HAProxy tracker's verdict.
type Health struct {
	Healthy bool          `json:"healthy"`
	Reason  string        `json:"reason,omitempty"`
	Since   time.Time     `json:"since"`
	Checks  []HealthCheck `json:"checks"`
}

// HealthCheck is one check's latest result.
type HealthCheck struct {
	Name   string    `json:"name"`
	OK     bool      `json:"ok"`
	Detail string    `json:"detail,omitempty"`
	At     time.Time `json:"at"`
	// Duration is how long the look that produced the result took (the
	// runtime API call for the socket, process, frontend and backend
	// checks; the D-Bus call for the systemd unit).
	Duration Duration `json:"duration"`
}

// Cloud is the state of the cloud VIP move (NCP VPC).
type Cloud struct {
	Provider    string     `json:"provider"`
	State       ClaimState `json:"state"`
	LastAttempt time.Time  `json:"last_attempt,omitempty"` // the last claim's start
	Attempts    int        `json:"attempts"`               // API calls of the last claim
	Latency     Duration   `json:"latency"`                // of the last claim
	Claims      int        `json:"claims"`                 // successful claims since start
	Failures    int        `json:"failures"`               // failed claims since start (each is retried)
	Error       string     `json:"error,omitempty"`        // why the last claim failed
	NextTry     time.Time  `json:"next_try,omitempty"`     // when a failed claim is tried again
	LastVerify  time.Time  `json:"last_verify,omitempty"`  // the last check that the VIPs are routed here
	VerifyError string     `json:"verify_error,omitempty"` // why that check failed
}

// ClaimState is where the cloud claim stands.
type ClaimState string

// The claim states.
const (
	ClaimIdle      ClaimState = "idle"      // not master: nothing to claim
	ClaimClaiming  ClaimState = "claiming"  // a claim is running
	ClaimClaimed   ClaimState = "claimed"   // the VIPs are routed here (checked periodically)
	ClaimRetrying  ClaimState = "retrying"  // the last claim failed; another follows at NextTry
	ClaimCancelled ClaimState = "cancelled" // we left master while claiming
)

// Duration is a time.Duration that reads and writes as "1.5s" in JSON.
type Duration time.Duration

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// WriteText renders s for people: one block per instance.
func (s *Status) WriteText(w io.Writer, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "proxypair %s (pid %d, up %s)", s.Version, s.PID, age(now, s.Started))
	if !s.Produced.IsZero() {
		fmt.Fprintf(tw, ", as of %s", s.Produced.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
	}
	fmt.Fprintln(tw)
	for _, in := range s.Instances {
		if in.Name != "" {
			fmt.Fprintf(tw, "\n%s: ", in.Name)
		} else {
			fmt.Fprintln(tw)
		}
		fmt.Fprintf(tw, "%s vrid %d (VRRPv%d)\n", in.Interface, in.VRID, in.Version)
		fmt.Fprintf(tw, "  state\t%s for %s\n", in.State, age(now, in.Since))
		fmt.Fprintf(tw, "  priority\t%d (configured %d)\n", in.EffectivePriority, in.ConfiguredPriority)
		fmt.Fprintf(tw, "  master\t%s\n", orDash(in.Master))
		fmt.Fprintf(tw, "  advert interval\t%s (master's %s)\n", time.Duration(in.AdvertInterval), time.Duration(in.MasterAdverInt))
		fmt.Fprintf(tw, "  source\t%s\n", in.Source)
		if len(in.Peers) > 0 {
			fmt.Fprintf(tw, "  unicast peers\t%s\n", strings.Join(in.Peers, ", "))
		}
		fmt.Fprintf(tw, "  link\t%s\n", in.Link)
		fmt.Fprintf(tw, "  VIPs\t%s\n", strings.Join(in.VIPs, ", "))
		fmt.Fprintf(tw, "  VIPs held\t%s\n", orDash(strings.Join(in.VIPsHeld, ", ")))
		if in.VIPProblem != "" {
			fmt.Fprintf(tw, "  VIP problem\t%s\n", in.VIPProblem)
		}
		if !in.PreemptHeldUntil.IsZero() {
			fmt.Fprintf(tw, "  preemption held\tfor %s (could not hold the VIPs)\n", in.PreemptHeldUntil.Sub(now).Truncate(time.Millisecond))
		}
		if m := in.Maintenance; m != nil {
			until := "until `proxypair resume`"
			if !m.Until.IsZero() {
				until = "for " + m.Until.Sub(now).Truncate(time.Second).String() + " more"
			}
			fmt.Fprintf(tw, "  maintenance\tsince %s ago, %s: leaving the VIPs to the peer\n", age(now, m.Since), until)
		}
		for _, p := range in.Heard {
			fmt.Fprintf(tw, "  peer %s\tpriority %d, last heard %s ago, %d adverts, dropped %s\n",
				p.Address, p.Priority, age(now, p.LastHeard), p.Adverts, drops(p.Drops))
		}
		if len(in.Heard) == 0 {
			fmt.Fprintf(tw, "  peer\tnone heard\n")
		}
		fmt.Fprintf(tw, "  adverts\t%d sent, %d received\n", in.AdvertsSent, in.AdvertsReceived)
		fmt.Fprintf(tw, "  dropped\t%s\n", drops(in.Drops))
		if h := in.Health; h != nil {
			verdict := "healthy"
			if !h.Healthy {
				verdict = "UNHEALTHY: " + h.Reason
			}
			fmt.Fprintf(tw, "  haproxy\t%s for %s\n", verdict, age(now, h.Since))
			for _, c := range h.Checks {
				mark := "ok"
				if !c.OK {
					mark = "FAIL"
				}
				fmt.Fprintf(tw, "    %s\t%s %s\n", c.Name, mark, c.Detail)
			}
		}
		if c := in.Cloud; c != nil {
			fmt.Fprintf(tw, "  cloud (%s)\t%s, %d claims, last took %d attempts, %s", c.Provider, c.State, c.Claims, c.Attempts, time.Duration(c.Latency))
			if c.Error != "" {
				fmt.Fprintf(tw, ", error: %s", c.Error)
			}
			if !c.NextTry.IsZero() && c.State == ClaimRetrying {
				fmt.Fprintf(tw, ", next try in %s", c.NextTry.Sub(now).Truncate(time.Millisecond))
			}
			if !c.LastVerify.IsZero() {
				fmt.Fprintf(tw, "; routing checked %s ago", age(now, c.LastVerify))
				if c.VerifyError != "" {
					fmt.Fprintf(tw, " (failed: %s)", c.VerifyError)
				}
			}
			fmt.Fprintln(tw)
		}
		// Flushed per instance so the long transition lines do not widen
		// the table above them.
		if err := tw.Flush(); err != nil {
			return err
		}
		if len(in.Transitions) > 0 {
			fmt.Fprintf(w, "  transitions (newest last):\n")
			for _, t := range in.Transitions {
				fmt.Fprintf(w, "    %s  %s → %s (%s)\n", t.At.UTC().Format("2006-01-02T15:04:05.000000Z07:00"), t.From, t.To, t.Reason)
			}
		}
	}
	return tw.Flush()
}

func drops(m map[string]uint64) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, " ")
}

func age(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return now.Sub(t).Truncate(time.Millisecond).String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
