//go:build linux

package e2e

import (
	"testing"
	"time"

	"github.com/proxypair/proxypair/internal/lab"
)

// TestKeepalivedInterop pairs proxypair with a real keepalived 2.2.7, each
// way round: the seed's settings (v2, PASS, VRID 51, 1 s), v3, and v3
// unicast (what an NCP VPC pair uses). In steady state exactly one holds the
// VIP; failover and preemption work in both directions.
func TestKeepalivedInterop(t *testing.T) {
	t.Parallel()
	for _, s := range []settings{
		seedV2,
		{version: 3, interval: 500 * time.Millisecond},
		{version: 3, interval: 500 * time.Millisecond, unicast: true},
	} {
		for _, keepalivedMaster := range []bool{true, false} {
			name := s.String() + "/proxypair-master"
			if keepalivedMaster {
				name = s.String() + "/keepalived-master"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				_, a, b := newPair(t) // a has priority 200, b 100
				var ka *lab.Keepalived
				var np *node
				var err error
				if keepalivedMaster {
					ka, err = a.StartKeepalived(s.keepalived(200, addrB))
					np = startProxypair(t, b, s.yaml(100, addrA, ""))
				} else {
					np = startProxypair(t, a, s.yaml(200, addrB, ""))
					ka, err = b.StartKeepalived(s.keepalived(100, addrA))
				}
				if err != nil {
					t.Fatal(err)
				}
				_ = ka

				waitHolder(t, a, 2*s.masterDown(), a, b)
				steady(t, a, 3*s.interval+time.Second, a, b)
				if st := np.status(); len(st.Drops) != 0 {
					t.Errorf("proxypair dropped keepalived's adverts: %v", st.Drops)
				}

				setLink(t, a, false)
				waitHolder(t, b, s.masterDown(), a, b)
				setLink(t, a, true)
				waitHolder(t, a, 2*s.masterDown(), a, b)
				steady(t, a, 3*s.interval+time.Second, a, b)
				if st := np.status(); len(st.Drops) != 0 {
					t.Errorf("proxypair dropped keepalived's adverts: %v", st.Drops)
				}
			})
		}
	}
}
