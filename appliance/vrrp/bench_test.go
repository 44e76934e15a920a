package vrrp

import (
	"testing"
	"time"
)

func BenchmarkMarshal(b *testing.B) {
	for _, bc := range []struct {
		name string
		a    Advertisement
	}{
		{"v2", v2Adv(200, vip100)},
		{"v3", v3Adv(200, time.Second, vip100)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.a.Marshal(capSrc, MulticastGroup, PseudoHeader); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkValidate(b *testing.B) {
	for _, bc := range []struct {
		name string
		p    Packet
		e    Expect
	}{
		{"v2", pkt(mustMarshal(b, v2Adv(200, vip100), MulticastGroup, 0)), v2Expect()},
		{"v3", pkt(mustMarshal(b, v3Adv(200, time.Second, vip100), MulticastGroup, PseudoHeader)), v3Expect()},
		{"v3 message only", pkt(mustMarshal(b, v3Adv(200, time.Second, vip100), MulticastGroup, MessageOnly)), v3Expect()},
		{"v2 bad password", pkt(mustMarshal(b, v2Adv(200, vip100), MulticastGroup, 0)), func() Expect { e := v2Expect(); e.AuthData = [8]byte{}; return e }()},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Validate(bc.p, bc.e)
			}
		})
	}
}
