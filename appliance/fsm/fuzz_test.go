package fsm

import (
	"net/netip"
	"reflect"
	"testing"
	"time"
)

// fuzzEpoch is the LAN's virtual epoch, for Maintenance deadlines.
var fuzzEpoch = t0

// fuzzVIPs are the VIP sets the fuzzer's configurations choose from.
var fuzzVIPs = []netip.Prefix{
	netip.MustParsePrefix("198.18.0.100/24"),
	netip.MustParsePrefix("198.18.0.101/24"),
	netip.MustParsePrefix("198.18.0.100/32"),
	netip.MustParsePrefix("198.18.0.102/32"),
}

// fuzzOp is one decoded fuzz step: advance virtual time, then apply in
// (or reconfigure when rc is set).
type fuzzOp struct {
	advance    time.Duration
	toDeadline bool
	in         Input
	rc         *Config
}

// decodeFuzz turns bytes into a configuration and a sequence of inputs.
// Every byte string decodes to something, so the fuzzer explores inputs,
// not parse errors.
func decodeFuzz(data []byte) (Config, []fuzzOp) {
	cfgFrom := func(b0, b1 byte) Config {
		c := Config{Version: 2, Priority: b1, AdvertInterval: time.Second, Addr: addrSelf, Preempt: b0&2 != 0,
			VIPs: fuzzVIPs[int(b1%3) : int(b1%3)+1+int(b1>>6)%2], HealthWeight: -int(b1 >> 2)}
		if b0&1 != 0 {
			c.Version = 3
			c.AdvertInterval = time.Duration(1+b0>>4) * 10 * time.Millisecond
		}
		if b0&4 != 0 {
			c.PreemptDelay = 3 * c.AdvertInterval
		}
		if b0&8 != 0 {
			c.ResignAdverts = int(b0 >> 5)
		}
		return c
	}
	if len(data) < 2 {
		return cfgFrom(0, 100), nil
	}
	cfg := cfgFrom(data[0], data[1])
	srcs := []netip.Addr{addrLow, addrHigh, addrSelf, {}}
	var ops []fuzzOp
	for b := data[2:]; len(b) >= 3; b = b[3:] {
		op, arg, dt := b[0], b[1], b[2]
		o := fuzzOp{advance: time.Duration(dt) * cfg.AdvertInterval / 16}
		switch op % 10 {
		case 0:
			o.in = Startup{}
		case 1:
			o.in = Shutdown{}
		case 2:
			o.in, o.toDeadline = Timeout{}, true
		case 3:
			o.in = Timeout{} // possibly early
		case 4:
			o.in = AdvertReceived{Src: srcs[op>>4%4], Priority: arg, Interval: time.Duration(arg%8) * 25 * time.Millisecond}
		case 5:
			o.in = Health{Healthy: arg&1 == 0}
			if arg >= 240 {
				o.in = PeerAnnounced{} // a gratuitous ARP for our VIPs
			}
		case 6:
			switch arg % 5 {
			case 0, 1:
				o.in = VIPsFailed{}
			case 2:
				o.in = VIPsHeld{}
			case 3:
				o.in = Maintenance{On: true, Until: time.Time{}}
			case 4:
				o.in = Maintenance{On: arg&8 == 0, Until: fuzzEpoch.Add(time.Duration(arg) * cfg.AdvertInterval)}
			}
		case 7:
			o.in = LinkDown{}
		case 8:
			o.in = LinkUp{}
		case 9:
			c := cfgFrom(op, arg)
			o.rc = &c
		}
		ops = append(ops, o)
	}
	return cfg, ops
}

// runFuzz drives one Router through ops on a single-node LAN, so every
// step gets the LAN's invariant checks, and returns every action list.
func runFuzz(t *testing.T, cfg Config, ops []fuzzOp) [][]Action {
	l := newLAN(t, 0)
	n := l.add("R", cfg)
	var trace [][]Action
	for i, o := range ops {
		// Like the daemon's loop, fire every timer that falls due
		// while time advances.
		target := l.now.Add(o.advance)
		for {
			d, has := n.r.NextDeadline()
			if !has || !d.Before(target) {
				break
			}
			l.now = d
			l.step(n, Timeout{})
		}
		l.now = target
		d, has := n.r.NextDeadline()
		if o.toDeadline && has {
			l.now = d
		}
		wasYielding := n.r.Yielding()
		wasMaint, _ := n.r.InMaintenance()
		if o.rc != nil {
			before := n.r.State()
			acts := l.reconfigure(n, *o.rc)
			if n.r.State() != before {
				t.Fatalf("op %d: Reconfigure changed the state %v → %v", i, before, n.r.State())
			}
			for _, a := range acts {
				switch a.(type) {
				case SendAdvert:
					if before != Master {
						t.Fatalf("op %d: Reconfigure in %v returned %s", i, before, fmtActions(acts))
					}
				case AddVIPs, DelVIPs, Announce:
					if before != Master && !before.leaving() && !wasYielding {
						t.Fatalf("op %d: Reconfigure in %v returned %s", i, before, fmtActions(acts))
					}
				default:
					t.Fatalf("op %d: Reconfigure returned %s", i, fmtActions(acts))
				}
			}
			trace = append(trace, acts)
			continue
		}
		before := n.r.State()
		trace = append(trace, l.step(n, o.in))
		if p := n.r.Priority(); p < 1 || p > 254 {
			t.Fatalf("op %d: Priority() = %d, outside 1..254", i, p)
		}
		// A Timeout at the deadline always does something.
		if o.toDeadline && has {
			switch before {
			case Backup:
				// The deadline is the Master_Down_Timer, the end of a
				// yield or the end of maintenance.
				maint, _ := n.r.InMaintenance()
				if n.r.State() != Master && !(wasYielding && !n.r.Yielding()) && !(wasMaint && !maint) {
					t.Fatalf("op %d: Master_Down_Timer (or the end of a yield, or of maintenance) fired but state is %v, yielding %v, maintenance %v",
						i, n.r.State(), n.r.Yielding(), maint)
				}
			case Master:
				if len(n.sent) == 0 || n.sent[len(n.sent)-1].at != l.now.Sub(t0) {
					t.Fatalf("op %d: Adver_Timer fired but nothing was sent", i)
				}
			}
		}
		if !n.r.Master().IsValid() && n.r.State() == Master {
			t.Fatalf("op %d: Master() invalid while Master", i)
		}
	}
	return trace
}

func FuzzRouter(f *testing.F) {
	f.Add([]byte{0x02, 100, 0, 0, 0, 2, 0, 0, 2, 0, 0})
	f.Add([]byte{0x03, 200, 0, 0, 0, 4, 150, 8, 2, 0, 0, 6, 0, 3, 4, 0, 1, 2, 0, 0})
	f.Add([]byte{0x06, 100, 0, 0, 0, 4, 50, 16, 4, 50, 16, 2, 0, 0, 7, 0, 4, 8, 0, 4, 2, 0, 0})
	f.Add([]byte{0x0b, 254, 0, 0, 0, 2, 0, 0, 9, 30, 0, 5, 255, 2, 6, 0, 1, 2, 0, 0, 1, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, ops := decodeFuzz(data)
		first := runFuzz(t, cfg, ops)
		second := runFuzz(t, cfg, ops)
		if !reflect.DeepEqual(first, second) {
			t.Fatalf("same inputs, different outputs:\n%v\n%v", first, second)
		}
	})
}

// TestFuzzDecode keeps decodeFuzz honest: a seed decodes to the
// configuration and inputs it was written for, and they reach Master.
func TestFuzzDecode(t *testing.T) {
	cfg, ops := decodeFuzz([]byte{0x03, 200, 0, 0, 0, 2, 0, 0})
	if cfg.Version != 3 || !cfg.Preempt || cfg.Priority != 200 || cfg.AdvertInterval != 10*time.Millisecond {
		t.Fatalf("decodeFuzz config = %+v", cfg)
	}
	if len(ops) != 2 || ops[0].in != (Startup{}) || ops[1].in != (Timeout{}) || !ops[1].toDeadline {
		t.Fatalf("decodeFuzz ops = %+v", ops)
	}
	trace := runFuzz(t, cfg, ops)
	if want := takeoverVIPs(200, ReasonMasterDown, cfg.VIPs...); !reflect.DeepEqual(trace[1], want) {
		t.Errorf("second step = %s, want %s", fmtActions(trace[1]), fmtActions(want))
	}
}
