// Package fsm is the VRRP state machine of RFC 3768 (v2) and RFC 5798
// (v3) §6.4, with the keepalived behaviours proxypair's users rely on.
//
// The package is only the algorithm: no sockets, no goroutines, no clock.
// The caller steps inputs into a Router together with the time they
// happened, executes the returned actions in order, and keeps one timer
// armed at NextDeadline, stepping Timeout when it fires:
//
//	r := fsm.New(cfg)
//	do(r.Step(now, fsm.Startup{}))
//	for {
//		// re-arm the one timer at r.NextDeadline(), then wait for it,
//		// a packet, a health event, a link event or a signal, and:
//		do(r.Step(now, in))
//	}
//
// Timers are deadlines stored as time.Time. The same inputs at the same
// times always give the same actions, so tests run in virtual time.
//
// # Beyond the RFC
//
//   - Fault: LinkDown moves Backup or Master to Fault (dropping the VIPs,
//     sending nothing); LinkUp moves Fault to Backup as Startup would.
//   - Stopping (make before break): Shutdown as Master sends
//     ResignAdverts priority-0 advertisements and keeps the VIPs until the
//     new master's advertisement arrives, or HandOverWait passes, then
//     drops them and goes to Initialize.
//   - Yielding (make before break on preemption): a Master preempted by
//     a higher priority (or losing a tie) becomes Backup at once but keeps
//     the VIPs until the new master announces them (PeerAnnounced), or its
//     third advertisement, at most two of its intervals: the new master
//     sends its first advertisement before it adds the VIPs (keepalived
//     1.3.9, two intervals before). See Yielding.
//   - Effective priority: the configured priority plus HealthWeight while
//     HAProxy is unhealthy (the Health input), clamped to 1..254 in one
//     place. Reconfigure keeps an unhealthy node lowered.
//   - Resign: a Master that turns unhealthy, or cannot hold its VIPs
//     (VIPsFailed), sends ResignAdverts priority-0 advertisements, drops
//     the VIPs and becomes Backup. A hold then accepts a lower-priority
//     master as if preempt were off, so a healthy peer keeps the VIPs
//     without flapping: while unhealthy, or for a doubling backoff after
//     VIPsFailed. If no peer takes over, the Master_Down_Timer brings us
//     back to Master.
//   - The VIP set: VIPs says which addresses belong on the interface;
//     AddVIPs, DelVIPs and Announce carry the changes, also when
//     Reconfigure changes the set while Master.
//   - Split-brain heal (keepalived): a Master that hears a lower-priority
//     master answers at once with an advertisement, and with gratuitous
//     ARPs at most once per HealAnnounceEvery within one episode (a lower
//     master heard after a Master_Down_Interval of silence is a new one),
//     instead of discarding it, so the other side steps down as soon as a
//     partition ends.
//   - preempt_delay (keepalived): see Config.PreemptDelay.
//   - An advertisement whose Src is our own Addr is ignored: it is our
//     own packet looped back, and answering it would feed on itself.
package fsm
