// Package healthcheck watches HAProxy natively (no fork/exec) and emits
// healthy/unhealthy events for the VRRP daemon.
//
// # Checks
//
// Every Interval (default 200 ms) the Tracker makes one runtime API round
// trip, "show info;show stat", on a connection of its own with Timeout as
// its deadline (socketRuntime says why not through client-native), and
// derives:
//
//   - socket: the runtime API answered with a PID and show stat rows. An
//     empty or truncated answer, one over MaxAnswerBytes, a refused or
//     missing socket, or no answer within Timeout (default 1 s) fails, with
//     reasons such as
//     "haproxy socket /run/haproxy/admin.sock: connection refused". A hung
//     HAProxy costs each check its Timeout, and the first check after it
//     answers again sees it.
//   - process: HAProxy's process (the PID from show info) is alive; when the
//     socket fails the reason says whether that process exited.
//   - frontend <name>: every frontend and listen section is OPEN (or FULL:
//     saturated is not broken). PAUSED (`disable frontend`) and STOP fail.
//     Frontends disabled in the configuration are skipped.
//   - backend <name>: at least MinServersUp servers are UP, see
//     ClassifyServer for which show stat statuses count. The backends are
//     HAProxyConfig.Backends, or else every backend that a frontend uses
//     (default_backend, use_backend, listen sections with servers) in the
//     configuration files named on the running HAProxy's command line
//     (/proc/<pid>/cmdline, re-read when the PID changes). The runtime API
//     cannot report this mapping. If the files cannot be read, every backend
//     with servers is checked. use_backend rules with computed names are
//     logged and skipped.
//   - systemd: optionally, the systemd unit is active (or reloading), asked
//     over D-Bus with go-systemd. A bus that is missing or hangs fails the
//     check after Timeout; it never blocks the tracker.
//
// A check is healthy when all of these pass. Rise/fall hysteresis
// (Hysteresis, default fall 1, rise 2) turns checks into a verdict.
//
// # Fast path
//
// Waiting for the next interval would add up to 200 ms to every failover, so
// two watchers wake the tracker the moment HAProxy dies, and it runs a check
// at once:
//
//   - a pidfd on HAProxy's PID, polled by Go's network poller (Linux 5.3+; on
//     older kernels, or when the PID belongs to another PID namespace, it is
//     skipped and logged);
//   - one idle runtime API connection in interactive ("prompt") mode, which
//     the kernel closes when the process exits. It works on any kernel
//     (Ubuntu 18.04's 4.15 has no pidfd).
//
// Measured against real HAProxy 2.6 and 1.8.8 in a namespace: SIGKILL to
// the unhealthy event takes 3-7 ms with either watcher alone, against 200 ms
// on average by polling (TestHAProxyKilledFastPath -v).
//
// # HAProxy versions
//
// The tracker works with HAProxy 1.8 (Ubuntu 18.04's 1.8.8) and 2.x; the
// tests run against 1.8.8 and Debian's 2.6. What differs: 1.8's show stat
// has fewer columns (up to "dses"; columns are found by name), it shows a
// paused frontend (`disable frontend`) as STOP rather than PAUSED (both
// fail), and it closes an idle prompt-mode connection after `stats timeout`
// (see watchConn). Master-worker reloads (-W, SIGUSR2) work alike.
//
// Reloads must not count as failures. A wake only triggers a check: if the
// runtime API answers (a master-worker reload has already put the new worker
// on the socket), there is no failure and the watchers move to the new PID.
// The periodic check also notices a new PID and moves the watchers, which
// closes our connection to the old worker so it is not kept alive. A query
// that gets an empty answer or a closed connection is retried once on a
// fresh connection before it counts. Watchers that fire are re-armed at most
// once per interval.
//
// # Cost
//
// About 1.2 ms of CPU per check of a small HAProxy (one unix connection,
// CSV parse): 0.6% of one core at the default interval (TestCPUCost). A
// check costs time linear in the show stat rows: about 8 ms of CPU for
// 10,000 servers (BenchmarkCheck), with one P as the daemon runs. The
// answer is bounded by MaxAnswerBytes and the unhealthy reason by
// MaxReasonLen.
package healthcheck
