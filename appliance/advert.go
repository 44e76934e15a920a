package appliance

import (
	"net/netip"
	"time"

	"github.com/proxypair/proxypair/appliance/config"
	"github.com/proxypair/proxypair/appliance/vrrp"
)

// send sends count adverts with prio to the group or each unicast peer,
// from the loop: nothing slower stands between a decision and the packet.
//
// It returns when the first copy left (the zero time if none did): a
// hand-over's legs are timed from the advert the peer acts on.
func (in *instance) send(now time.Time, prio uint8, count int) (first time.Time) {
	if in.conn == nil {
		return first // no interface: nobody to tell
	}
	e := in.recv.expect
	adv := vrrp.Advertisement{
		Version:   e.Version,
		Type:      vrrp.TypeAdvertisement,
		VRID:      e.VRID,
		Priority:  prio,
		AuthType:  e.AuthType,
		Interval:  in.cfg.AdvertInterval,
		Addresses: e.Addresses,
		AuthData:  e.AuthData,
	}
	dsts := in.recv.peers
	if dsts == nil {
		dsts = []netip.Addr{vrrp.MulticastGroup}
	}
	mode := vrrp.PseudoHeader
	if in.cfg.V3Checksum == config.ChecksumMessageOnly {
		mode = vrrp.MessageOnly
	}
	for _, dst := range dsts {
		b, err := adv.Marshal(in.src, dst, mode)
		if err != nil {
			// Config validation rules out every encoding error; reaching
			// this is a bug, but not one worth a crash.
			in.log.Error("encoding advert", "err", err)
			return first
		}
		for range max(count, 1) {
			if err := in.conn.Send(b, dst); err != nil {
				in.sendErrs++
				if ok, suppressed := in.errLog.allow(now, "send"); ok {
					in.log.Error("sending advert failed", "to", dst, "err", err, "failures", in.sendErrs, "suppressed", suppressed)
				}
				continue
			}
			if first.IsZero() {
				first = time.Now()
			}
			in.sent++
			in.counts.sent(now, prio)
		}
	}
	return first
}
