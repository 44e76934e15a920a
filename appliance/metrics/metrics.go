// Package metrics serves a proxypair node's Prometheus metrics over HTTP.
//
// The collector takes one status snapshot per scrape, the same document
// `proxypair status` reads (control.Status), so a scrape costs the VRRP
// loop what a status request does and nothing more: the instance keeps its
// counters itself, on its loop, and no metric is touched on the advert
// path.
//
// Where the keepalived exporter (github.com/mehdy/keepalived-exporter,
// formerly cafebazaar/keepalived-exporter) already has a name, the metric
// has the same name, labels (iname, intf, vrid) and meaning, so dashboards
// and alerts written for a keepalived pair keep working after the
// migration. Everything else is under proxypair_.
package metrics

import (
	"context"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/proxypair/proxypair/appliance/control"
	"github.com/proxypair/proxypair/appliance/vrrp"
)

// snapshotTimeout bounds a scrape's wait for the status snapshot. A loop
// that cannot answer in this time is wedged: the scrape says so
// (keepalived_up 0) instead of queueing more requests behind it.
const snapshotTimeout = 3 * time.Second

// instLabels label every per-instance metric, as the keepalived exporter
// does.
var instLabels = []string{"iname", "intf", "vrid"}

func desc(name, help string, extra ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, append(slices.Clone(instLabels), extra...), nil)
}

// The keepalived exporter's metrics.
var (
	descUp = prometheus.NewDesc("keepalived_up",
		"Whether the VRRP daemon answered this scrape with its state (1) or not (0).", nil, nil)
	descVRRPState = desc("keepalived_vrrp_state",
		"The instance's state, one series per virtual IP: 0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT, 98 STOPPING or HANDOVER (a master handing over on a graceful stop or for maintenance).",
		"ip_address")
)

// kaCounter is one of the keepalived exporter's counters.
type kaCounter struct {
	desc  *prometheus.Desc
	value func(in *control.Instance) uint64
}

// drops sums the instance's drop counts for the reasons rs.
func drops(in *control.Instance, rs ...vrrp.DropReason) uint64 {
	var n uint64
	for _, r := range rs {
		n += in.Drops[r.String()]
	}
	return n
}

// kaCounters map keepalived's per-instance statistics (keepalived.stats,
// which the exporter reads) onto proxypair's counts. keepalived counts a
// packet it drops under the first check that fails; proxypair's checks
// run in keepalived's order, with one typed reason per drop.
var kaCounters = []kaCounter{
	{desc("keepalived_advertisements_received_total", "Advertisements received and accepted (every receive check passed)."),
		func(in *control.Instance) uint64 { return in.AdvertsReceived }},
	{desc("keepalived_advertisements_sent_total", "Advertisements sent, priority 0 included."),
		func(in *control.Instance) uint64 { return in.AdvertsSent }},
	{desc("keepalived_become_master_total", "Transitions to MASTER."),
		func(in *control.Instance) uint64 { return in.Counters.BecomeMaster }},
	{desc("keepalived_release_master_total", "Transitions from MASTER (to BACKUP, FAULT, STOPPING or HANDOVER)."),
		func(in *control.Instance) uint64 { return in.Counters.ReleaseMaster }},
	{desc("keepalived_priority_zero_received_total", "Accepted advertisements with priority 0 (a master resigning or stopping)."),
		func(in *control.Instance) uint64 { return in.Counters.PriorityZeroReceived }},
	{desc("keepalived_priority_zero_sent_total", "Advertisements sent with priority 0 (resigning or stopping as master)."),
		func(in *control.Instance) uint64 { return in.Counters.PriorityZeroSent }},
	{desc("keepalived_packet_length_errors_total", "Packets dropped for their length (shorter than a header, or not matching the address count)."),
		func(in *control.Instance) uint64 { return drops(in, vrrp.DropTooShort, vrrp.DropLengthMismatch) }},
	{desc("keepalived_advertisements_interval_errors_total", "Advertisements dropped for their interval (v2: not ours; v3: zero)."),
		func(in *control.Instance) uint64 { return drops(in, vrrp.DropInterval, vrrp.DropZeroInterval) }},
	{desc("keepalived_ip_ttl_errors_total", "Packets dropped for an IP TTL other than 255 (multicast)."),
		func(in *control.Instance) uint64 { return drops(in, vrrp.DropTTL) }},
	{desc("keepalived_invalid_type_received_total", "Packets dropped for a VRRP type other than advertisement."),
		func(in *control.Instance) uint64 { return drops(in, vrrp.DropType) }},
	{desc("keepalived_address_list_errors_total", "Advertisements dropped because their virtual IPs differ from ours (count or set)."),
		func(in *control.Instance) uint64 {
			return drops(in, vrrp.DropAddressCount, vrrp.DropAddressSet, vrrp.DropZeroCount)
		}},
	{desc("keepalived_authentication_invalid_total", "v2 advertisements dropped for an authentication type that does not exist."),
		func(in *control.Instance) uint64 { return in.Counters.AuthTypeUnknown }},
	{desc("keepalived_authentication_mismatch_total", "v2 advertisements dropped for an authentication type other than ours."),
		func(in *control.Instance) uint64 {
			return drops(in, vrrp.DropAuthType) - min(in.Counters.AuthTypeUnknown, drops(in, vrrp.DropAuthType))
		}},
	{desc("keepalived_authentication_failure_total", "v2 advertisements dropped for a wrong password (auth_pass)."),
		func(in *control.Instance) uint64 { return drops(in, vrrp.DropPassword) }},
}

// proxypair's own metrics.
var (
	descState = desc("proxypair_state",
		"1 for the instance's current state, 0 for the others.", "state")
	descStateSince = desc("proxypair_state_change_timestamp_seconds",
		"When the instance entered its current state (Unix time).")
	descEffectivePrio = desc("proxypair_effective_priority",
		"The priority advertised now: the configured one, lowered by health.weight while HAProxy is unhealthy.")
	descConfiguredPrio = desc("proxypair_configured_priority",
		"The configured priority (vrrp.priority).")
	descTransitions = desc("proxypair_transitions_total",
		"State changes since the daemon started, by old state, new state and reason.", "from", "to", "reason")
	descDrops = desc("proxypair_drops_total",
		"Received VRRP packets dropped, by reason.", "reason")
	descSendErrors = desc("proxypair_advert_send_errors_total",
		"Advertisements the socket refused to send.")
	descMasterAge = desc("proxypair_master_advert_age_seconds",
		"Seconds since the current master's last advertisement: our own last one while MASTER, the master's last accepted one while BACKUP. Absent when no master is known.")
	descVIPHeld = desc("proxypair_vip_held",
		"1 when the virtual IP is on the interface (as the VIP keeper last saw it), 0 when not.", "vip")
	descVIPProblem = desc("proxypair_vip_problem",
		"1 while the interface does not hold what it should (an add or delete failing, a VIP someone else put there).")
	descLinkUp = desc("proxypair_link_up",
		"1 when the VRRP interface exists and is up, 0 when it is down or missing.")
	descHealthy = desc("proxypair_health_healthy",
		"HAProxy's health verdict: 1 healthy, 0 unhealthy (the node then runs at its lowered priority). Absent when health tracking is off.")
	descCheckOK = desc("proxypair_health_check_ok",
		"1 when the health check passed at its last run, 0 when it failed.", "check")
	descCheckDuration = desc("proxypair_health_check_duration_seconds",
		"How long the health check's last run took.", "check")
	descClaimState = desc("proxypair_cloud_claim_state",
		"1 for the cloud VIP claim's current state, 0 for the others. Absent without cloud.provider.", "provider", "state")
	descClaimAttempts = desc("proxypair_cloud_claim_attempts",
		"API calls the last cloud claim made.", "provider")
	descClaimLatency = desc("proxypair_cloud_claim_latency_seconds",
		"How long the last cloud claim took.", "provider")
	descClaims = desc("proxypair_cloud_claims_total",
		"Cloud claims that succeeded.", "provider")
	descClaimFailures = desc("proxypair_cloud_claim_failures_total",
		"Cloud claims that failed (each is retried while master).", "provider")
)

// States, in the order of proxypair_state's series.
var states = []string{"INIT", "BACKUP", "MASTER", "FAULT", "STOPPING", "HANDOVER"}

// kaStates are keepalived's numbers for the states (its vrrp.h); STOPPING
// is its VRRP_STATE_STOP.
var kaStates = map[string]float64{"INIT": 0, "BACKUP": 1, "MASTER": 2, "FAULT": 3, "STOPPING": 98, "HANDOVER": 98}

// claimStates are the cloud claim's states, in the order of
// proxypair_cloud_claim_state's series.
var claimStates = []control.ClaimState{control.ClaimIdle, control.ClaimClaiming, control.ClaimClaimed, control.ClaimRetrying, control.ClaimCancelled}

// Collector is a prometheus.Collector that takes one status snapshot per
// scrape from a control.Provider (the daemon's node).
type Collector struct {
	src control.Provider
	log *slog.Logger
}

// NewCollector returns a Collector reading src.
func NewCollector(src control.Provider, log *slog.Logger) *Collector {
	return &Collector{src: src, log: log}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descUp, descVRRPState, descState, descStateSince, descEffectivePrio, descConfiguredPrio,
		descTransitions, descDrops, descSendErrors, descMasterAge, descVIPHeld, descVIPProblem, descLinkUp,
		descHealthy, descCheckOK, descCheckDuration,
		descClaimState, descClaimAttempts, descClaimLatency, descClaims, descClaimFailures} {
		ch <- d
	}
	for _, k := range kaCounters {
		ch <- k.desc
	}
}

// Collect implements prometheus.Collector: one snapshot, every metric
// from it.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), snapshotTimeout)
	defer cancel()
	st, err := c.src.Status(ctx)
	if err != nil {
		c.log.Warn("metrics: no status snapshot for this scrape", "err", err)
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 1)
	now := time.Now()
	for i := range st.Instances {
		collectInstance(ch, now, &st.Instances[i])
	}
}

// emitter sends the metrics of one instance, with its labels first.
type emitter struct {
	ch     chan<- prometheus.Metric
	labels []string
}

func (e emitter) send(d *prometheus.Desc, t prometheus.ValueType, v float64, extra ...string) {
	labels := append(slices.Clone(e.labels), extra...)
	e.ch <- prometheus.MustNewConstMetric(d, t, v, labels...)
}

func (e emitter) gauge(d *prometheus.Desc, v float64, extra ...string) {
	e.send(d, prometheus.GaugeValue, v, extra...)
}

func (e emitter) counter(d *prometheus.Desc, v uint64, extra ...string) {
	e.send(d, prometheus.CounterValue, float64(v), extra...)
}

func collectInstance(ch chan<- prometheus.Metric, now time.Time, in *control.Instance) {
	e := emitter{ch: ch, labels: []string{instanceLabel(in), in.Interface, strconv.Itoa(in.VRID)}}

	kaState, known := kaStates[in.State]
	if !known {
		kaState = -1
	}
	for _, v := range in.VIPs {
		e.gauge(descVRRPState, kaState, v)
	}
	if len(in.VIPs) == 0 {
		e.gauge(descVRRPState, kaState, "")
	}
	for _, k := range kaCounters {
		e.counter(k.desc, k.value(in))
	}

	for _, s := range states {
		e.gauge(descState, bool01(s == in.State), s)
	}
	if !known {
		e.gauge(descState, 1, in.State)
	}
	if !in.Since.IsZero() {
		e.gauge(descStateSince, unixSeconds(in.Since))
	}
	e.gauge(descEffectivePrio, float64(in.EffectivePriority))
	e.gauge(descConfiguredPrio, float64(in.ConfiguredPriority))
	for _, t := range in.Counters.Transitions {
		e.counter(descTransitions, t.Count, t.From, t.To, t.Reason)
	}
	// Every reason from the start, at 0 until it happens: rate() and
	// alerts see the first drop instead of a series appearing.
	for _, r := range vrrp.AllDropReasons() {
		e.counter(descDrops, in.Drops[r.String()], r.String())
	}
	for r, n := range in.Drops {
		if !isDropReason(r) {
			e.counter(descDrops, n, r)
		}
	}
	e.counter(descSendErrors, in.Counters.SendErrors)
	if !in.MasterAdvertAt.IsZero() {
		e.gauge(descMasterAge, max(now.Sub(in.MasterAdvertAt).Seconds(), 0))
	}

	vips := slices.Clone(in.VIPs)
	for _, h := range in.VIPsHeld {
		if !slices.Contains(vips, h) {
			vips = append(vips, h) // held but no longer configured: being removed
		}
	}
	for _, v := range vips {
		e.gauge(descVIPHeld, bool01(slices.Contains(in.VIPsHeld, v)), v)
	}
	e.gauge(descVIPProblem, bool01(in.VIPProblem != ""))
	e.gauge(descLinkUp, bool01(in.Link == "up"))

	if h := in.Health; h != nil {
		e.gauge(descHealthy, bool01(h.Healthy))
		seen := map[string]bool{}
		for _, c := range h.Checks {
			if seen[c.Name] {
				continue // one series per name; the first result is the one the verdict names first
			}
			seen[c.Name] = true
			e.gauge(descCheckOK, bool01(c.OK), c.Name)
			e.gauge(descCheckDuration, time.Duration(c.Duration).Seconds(), c.Name)
		}
	}

	if c := in.Cloud; c != nil {
		for _, s := range claimStates {
			e.gauge(descClaimState, bool01(s == c.State), c.Provider, string(s))
		}
		if !slices.Contains(claimStates, c.State) {
			e.gauge(descClaimState, 1, c.Provider, string(c.State))
		}
		e.gauge(descClaimAttempts, float64(c.Attempts), c.Provider)
		e.gauge(descClaimLatency, time.Duration(c.Latency).Seconds(), c.Provider)
		e.counter(descClaims, uint64(c.Claims), c.Provider)
		e.counter(descClaimFailures, uint64(c.Failures), c.Provider)
	}
}

func isDropReason(name string) bool {
	for _, r := range vrrp.AllDropReasons() {
		if r.String() == name {
			return true
		}
	}
	return false
}

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// instanceLabel is the iname label: the instance's name (vrrp.name, which
// the keepalived importer sets to the vrrp_instance name, so a migrated
// pair's alerts keep matching), VI_<vrid> from a daemon too old to report
// one.
func instanceLabel(in *control.Instance) string {
	if in.Name != "" {
		return in.Name
	}
	return "VI_" + strconv.Itoa(in.VRID)
}
