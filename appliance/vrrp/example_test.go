package vrrp_test

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/proxypair/proxypair/appliance/vrrp"
)

// A master encodes its advert; a backup configured the same way accepts it.
func Example() {
	pass, err := vrrp.Password("pass1234")
	if err != nil {
		panic(err)
	}
	vips := []netip.Addr{netip.MustParseAddr("198.18.0.100")}
	src := netip.MustParseAddr("198.18.0.1")

	adv := vrrp.Advertisement{
		Version:   2,
		Type:      vrrp.TypeAdvertisement,
		VRID:      51,
		Priority:  200,
		AuthType:  vrrp.AuthSimple,
		Interval:  time.Second,
		Addresses: vips,
		AuthData:  pass,
	}
	b, err := adv.Marshal(src, vrrp.MulticastGroup, vrrp.PseudoHeader)
	if err != nil {
		panic(err)
	}
	fmt.Printf("% x\n", b)

	got, reason := vrrp.Validate(
		vrrp.Packet{Src: src, Dst: vrrp.MulticastGroup, TTL: vrrp.TTL, Payload: b},
		vrrp.Expect{Version: 2, VRID: 51, AuthType: vrrp.AuthSimple, AuthData: pass,
			Interval: time.Second, Addresses: vips, CheckTTL: true},
	)
	fmt.Println(reason, got.Advertisement)

	_, reason = vrrp.Validate(
		vrrp.Packet{Src: src, Dst: vrrp.MulticastGroup, TTL: vrrp.TTL, Payload: b},
		vrrp.Expect{Version: 2, VRID: 52, AuthType: vrrp.AuthSimple, AuthData: pass,
			Interval: time.Second, Addresses: vips, CheckTTL: true},
	)
	fmt.Println(reason)
	// Output:
	// 21 33 c8 01 01 01 07 18 c6 12 00 64 70 61 73 73 31 32 33 34
	// none v2 vrid 51 prio 200 auth simple intvl 1s addrs 198.18.0.100
	// vrid
}
