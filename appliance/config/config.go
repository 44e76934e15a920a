// Package config loads proxypair's configuration from a YAML file, PROXYPAIR_*
// environment variables and command-line overrides into a typed Config, and
// checks it.
//
// Precedence is flag (--set) > environment > file > default. Every key is
// bound to its environment variable explicitly, so a key that is set only in
// the environment still reaches the typed Config.
package config

import (
	"net/netip"
	"strconv"
	"time"
)

// DefaultFile is read when neither --config nor PROXYPAIR_CONFIG names a file.
// It may be absent: a node can be configured entirely from the environment.
const DefaultFile = "/etc/proxypair/proxypair.yaml"

// EnvPrefix starts every environment variable that sets a key.
const EnvPrefix = "PROXYPAIR_"

// EnvConfigFile names the config file, like --config.
const EnvConfigFile = "PROXYPAIR_CONFIG"

// Config is the whole typed configuration of one proxypair node.
type Config struct {
	VRRP    VRRP
	Control Control
	Log     Log
	Health  Health
	Cloud   Cloud
	Notify  Notify

	// File is the config file that was read, or "" when there was none.
	File string
}

// VRRP configures the virtual router on the interface.
type VRRP struct {
	// Name names the instance, as keepalived's vrrp_instance NAME does:
	// the metrics' iname label and the hooks' PROXYPAIR_INSTANCE. "" =
	// VI_<vrid> (see InstanceName).
	Name           string
	Interface      string
	VRID           int
	Priority       int
	Version        int
	AdvertInterval time.Duration
	Preempt        bool
	PreemptDelay   time.Duration
	AuthPass       string
	VirtualIPs     []netip.Prefix
	UnicastPeers   []netip.Addr
	SourceIP       netip.Addr // invalid = the interface's first IPv4 address
	// PeerPriority is the peer's configured priority, if known (0 = not
	// known): validate then checks that health.weight hands it the VIP.
	PeerPriority int
	// Pair says the virtual router has exactly two members, this node and
	// one peer: when the master resigns (a priority-0 advert) the backup
	// takes over at once instead of after Skew_Time. Exactly one unicast
	// peer implies it (see PairMode).
	Pair       bool
	V3Checksum string // ChecksumPseudoHeader or ChecksumMessageOnly
	GARP       GARP
}

// InstanceName is the instance's name: vrrp.name, or VI_<vrid> when it
// is not set (keepalived's tutorials name the first instance VI_1).
func (v VRRP) InstanceName() string {
	if v.Name != "" {
		return v.Name
	}
	return "VI_" + strconv.Itoa(v.VRID)
}

// Values of vrrp.v3_checksum.
const (
	ChecksumPseudoHeader = "pseudo-header"
	ChecksumMessageOnly  = "message-only"
)

// GARP configures the gratuitous ARPs sent on becoming master. The defaults
// are keepalived's: 5 at once, 5 more after 5 seconds.
type GARP struct {
	Repeat   int           // ARPs per burst
	Delay    time.Duration // until the second burst; 0 = no second burst
	Interval time.Duration // between ARPs within a burst
}

// Control configures the control socket used by `proxypair status`, and
// where the daemon keeps what must survive a restart, and the Prometheus
// metrics endpoint.
type Control struct {
	Socket string
	// StateDir keeps the maintenance state (a planned hand-over survives
	// a restart and a reboot: the node does not take the VIP back).
	StateDir string
	// MetricsListen is the host:port /metrics is served on over HTTP, e.g.
	// 127.0.0.1:9542; "" serves no metrics.
	MetricsListen string
}

// Log configures the structured log on standard error.
type Log struct {
	Level  string // debug|info|warn|error
	Format string // text|json
}

// Health configures HAProxy health tracking.
type Health struct {
	Enabled  bool
	Interval time.Duration
	Fall     int
	Rise     int
	// Weight is added to the priority while HAProxy is unhealthy (clamped to
	// 1..254). The default drops any node to priority 1, so every healthy peer
	// with a configured priority of 2 or more wins.
	Weight  int
	HAProxy HAProxy
}

// HAProxy says how to reach HAProxy and what "healthy" means.
type HAProxy struct {
	Socket       string
	Backends     []string // empty = every backend a frontend uses
	MinServersUp int
	SystemdUnit  string // "" = do not check the unit
}

// Cloud configures moving the VIP through a cloud API (NCP VPC).
type Cloud struct {
	Provider           string // "" or "ncp"
	Site               string // public|gov|fin
	Region             string
	NetworkInterfaceNo string
	AccessKey          string
	SecretKey          string
	APIURL             string // override of the site's API gateway (tests, private endpoints)
	MetadataURL        string // override of the metadata service (tests)
}

// Notify configures the notify hooks: commands run on state changes, one
// at a time and in the order of the changes (appliance/hooks). Each hook is
// an argv list — the program's absolute path and its arguments, no shell —
// and a state can have several, run in the order listed.
type Notify struct {
	Master [][]string // on becoming MASTER
	Backup [][]string // on becoming BACKUP (at start-up too)
	Fault  [][]string // on entering FAULT (the interface is down or gone)
	Stop   [][]string // once, when the daemon stops, after the VIPs are released
	// Timeout bounds each hook; one that runs longer is killed (its
	// process group: SIGTERM, then SIGKILL).
	Timeout time.Duration
}

// Problem is one thing wrong (or, as a warning, suspicious) in a config.
type Problem struct {
	Key     string // the key path, e.g. "vrrp.priority", or an environment variable
	Message string
	Warning bool
}

func (p Problem) String() string {
	if p.Warning {
		return "warning: " + p.Key + ": " + p.Message
	}
	return p.Key + ": " + p.Message
}

// PairMode reports whether the node may take over at once when the master
// resigns: vrrp.pair, or exactly one unicast peer (then no third router can
// be heard, so none can be waiting).
func (v VRRP) PairMode() bool { return v.Pair || len(v.UnicastPeers) == 1 }
