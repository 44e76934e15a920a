package fsm_test

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/proxypair/proxypair/appliance/fsm"
)

// A backup hears nothing, becomes master at Master_Down_Interval, and
// hands over after a higher-priority peer's advertisement, keeping the VIP
// until the peer's gratuitous ARP says it holds it. The caller passes the
// time of every input; here it is virtual.
func Example() {
	r := fsm.New(fsm.Config{
		Version:        2,
		Priority:       100,
		AdvertInterval: time.Second,
		Preempt:        true,
		Addr:           netip.MustParseAddr("198.18.0.2"),
		VIPs:           []netip.Prefix{netip.MustParsePrefix("198.18.0.100/24")},
	})
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	show := func(now time.Time, in fsm.Input) {
		for _, a := range r.Step(now, in) {
			fmt.Printf("%v: %T%+v\n", now.Sub(start), a, a)
		}
	}

	show(start, fsm.Startup{})
	deadline, _ := r.NextDeadline() // the caller arms its one timer here
	show(deadline, fsm.Timeout{})
	show(deadline.Add(300*time.Millisecond), fsm.AdvertReceived{
		Src:      netip.MustParseAddr("198.18.0.3"),
		Priority: 200,
		Interval: time.Second,
	})
	show(deadline.Add(301*time.Millisecond), fsm.PeerAnnounced{})
	fmt.Println(r.State(), r.Master(), r.MasterDownInterval())
	// Output:
	// 0s: fsm.StateChanged{From:INIT To:BACKUP Reason:startup}
	// 3.609375s: fsm.SendAdvert{Priority:100 Count:1}
	// 3.609375s: fsm.AddVIPs{VIPs:[198.18.0.100/24]}
	// 3.609375s: fsm.Announce{VIPs:[198.18.0.100] Heal:false}
	// 3.609375s: fsm.StateChanged{From:BACKUP To:MASTER Reason:master_down}
	// 3.909375s: fsm.StateChanged{From:MASTER To:BACKUP Reason:preempted}
	// 3.910375s: fsm.DelVIPs{VIPs:[198.18.0.100/24]}
	// BACKUP 198.18.0.3 3.609375s
}
