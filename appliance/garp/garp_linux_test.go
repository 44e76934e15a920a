//go:build linux

package garp_test

import (
	"net/netip"
	"testing"

	"github.com/proxypair/proxypair/appliance/garp"
	"github.com/proxypair/proxypair/internal/lab"
)

// TestSendAfterLinkFlap: the first ARP after the link went down and up is
// the one a new master sends first; it must go out, not report the old
// link-down error.
func TestSendAfterLinkFlap(t *testing.T) {
	l := lab.NewT(t)
	a, err := l.AddHost("a", netip.MustParsePrefix("198.18.0.1/24"))
	if err != nil {
		t.Fatal(err)
	}
	var s *garp.Sender
	if nsErr := a.Do(func() { s, err = garp.Open(lab.HostInterface) }); nsErr != nil || err != nil {
		t.Fatal(nsErr, err)
	}
	defer s.Close()
	vip := netip.MustParseAddr("198.18.0.100")
	if err := s.Send(vip); err != nil {
		t.Fatal(err)
	}
	for _, up := range []bool{false, true} {
		if err := a.SetLink(up); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Send(vip); err != nil {
		t.Errorf("the first ARP after a link flap: %v", err)
	}
}
