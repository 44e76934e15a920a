package appliance

import (
	"bytes"
	"time"

	"github.com/proxypair/proxypair/appliance/fsm"
	"github.com/proxypair/proxypair/appliance/ifwatch"
	"github.com/proxypair/proxypair/appliance/netio"
)

// linkChanged follows the interface. A link that goes down, or away, is
// Fault for the state machine. An interface deleted and created again
// (NIC detach/attach, a VLAN or bond rebuilt) gets a new index: the
// sockets bound to the old one are deaf and mute, so they are opened
// again, and the gratuitous ARPs go out from the new MAC; a MAC change
// alone reopens the ARP socket.
func (in *instance) linkChanged(now time.Time, l ifwatch.Link) {
	old := in.link
	in.link = l
	if l.Exists && (!old.Exists || l.Index != old.Index || !bytes.Equal(l.MAC, old.MAC)) {
		in.keeper.linkChanged(l)
		// The ARP watch is bound to the old interface: open it again.
		in.closeTakeoverWatch()
		defer in.syncTakeoverWatch(now)
	}
	stale := in.conn != nil && (!l.Exists || in.connIndex != l.Index)
	if stale {
		// What we knew of the old interface is void: leave the state as a
		// dead link would, before anything is opened on the new one.
		in.log.Warn("the interface is gone or was created again; reopening its sockets",
			"old_index", in.connIndex, "index", l.Index, "exists", l.Exists)
		in.setLink(now, false)
		in.closeConn()
	}
	if l.Exists && in.conn == nil {
		if err := in.open(l.Index); err != nil {
			if ok, suppressed := in.errLog.allow(now, "reopen"); ok {
				in.log.Error("opening the VRRP sockets failed; retrying", "err", err, "retry_in", reopenRetry, "suppressed", suppressed)
			}
			in.retryOpen()
		}
	}
	in.setLink(now, l.Usable() && in.conn != nil)
}

// retryOpen asks the loop to look at the link again after reopenRetry. One
// retry is pending at a time, however many link events fail meanwhile (a
// flapping carrier must not start a retry loop per event), and it posts
// with the effects' context, so it cannot block once the loop has ended.
func (in *instance) retryOpen() {
	if in.reopenPending {
		return
	}
	in.reopenPending = true
	ctx := in.effects
	time.AfterFunc(reopenRetry, func() { in.post(ctx, reopenEvent{}) })
}

// setLink tells the state machine about the link once per change.
func (in *instance) setLink(now time.Time, up bool) {
	if up == in.linkUp {
		return
	}
	in.linkUp = up
	if up {
		in.log.Info("link up", "reason", "link_up")
		in.step(now, fsm.LinkUp{})
	} else {
		in.log.Warn("link down", "reason", "link_down")
		in.step(now, fsm.LinkDown{})
	}
}

// open opens the VRRP sockets on the interface with index and starts
// their reader.
func (in *instance) open(index int) error {
	conn, err := in.openConn(len(in.cfg.UnicastPeers) == 0)
	if err != nil {
		return err
	}
	in.conn, in.connIndex = conn, index
	in.stopReader = in.startReader(conn)
	return nil
}

// closeConn stops the reader and closes the sockets.
func (in *instance) closeConn() {
	if in.conn == nil {
		return
	}
	in.stopReader()
	in.conn, in.stopReader = nil, nil
}

// startReader feeds received packets to the loop until stopped; it returns
// the function that stops it and closes conn.
func (in *instance) startReader(conn Conn) func() {
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		var lastErr time.Time // this goroutine's own; errLog belongs to the loop
		for {
			p, err := conn.Read(buf)
			if err != nil {
				if netio.IsClosed(err) {
					return
				}
				if time.Since(lastErr) > logEvery {
					in.log.Error("reading VRRP socket", "err", err)
					lastErr = time.Now()
				}
				select { // no busy loop on a persistent error
				case <-stop:
					return
				case <-time.After(10 * time.Millisecond):
				}
				continue
			}
			// The payload aliases buf; the loop gets its own copy.
			p.Payload = bytes.Clone(p.Payload)
			select {
			case in.events <- packetEvent{p}:
			case <-stop: // the loop has stopped reading
				return
			}
		}
	}()
	return func() {
		close(stop)
		conn.Close()
		<-done
	}
}
