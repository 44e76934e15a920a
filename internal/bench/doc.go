// Package bench is `make bench`: failover outages of a proxypair pair and a
// keepalived pair with the same settings, measured side by side in one run
// in a network-namespace lab (internal/lab), plus each daemon's CPU and
// memory at fast adverts.
//
// A row is a Scenario: VRRP settings, a way for the master to fail, and a
// probe the client runs against the VIP. Every trial of a row settles the
// pair (a master, b backup), starts the probe in the client's namespace,
// waits for one advert from the master (so the failure lands at the same
// point of the advert cycle for both daemons), fails the master, waits for
// the backup to answer, stops the probe and restores the master. The outage
// of a trial is the probe's longest outage.
//
// Issue 3's rows take the VRRP daemon away (link down, SIGTERM) and ping
// the VIP. Issue 4's rows run HAProxy on both nodes, tracked by the
// daemons (keepalived by the usual `kill -0` vrrp_script, proxypair
// natively), GET the VIP over HTTP, and take away what the daemon serves:
// HAProxy itself (SIGKILL), or the only server of its backend, a separate
// `pplab serve` process, so that HAProxy's own check marks it DOWN. Their
// failures are swept over keepalived's script cycle rather than set off
// right after an advert (see PhaseSwept). A last health-cost line measures
// proxypair's master with tracking on and off over the same window.
//
// Issue 13's rows measure every HAProxy row a third time, with two
// proxypair nodes that run with vrrp.pair (the only backup takes over at
// once on a priority-0 advert instead of after Skew_Time), against the
// same keepalived trials, and add HAProxy killed at v3 10 ms. After each
// proxypair trial of these rows the bench reads both nodes' status for
// the legs of the hand-over, the daemons' own timestamps (see Legs).
// Issue 12's planned hand-over row stops keepalived's master with SIGTERM
// and runs `proxypair handover` on proxypair's.
//
// The pure parts (statistics, the table, /proc parsing, the scenario list)
// build everywhere and have unit tests; the runner needs Linux and root.
package bench
