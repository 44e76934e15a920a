package appliance

import (
	"context"
	"fmt"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// netlinkLinks watches one interface's link state through netlink.
type netlinkLinks struct {
	ifname string
}

// Watch reports whether the link is up now, then every change. "Up" means
// administratively up with carrier (IFF_UP and IFF_RUNNING): a cable pulled
// or a veth peer gone is down, as keepalived's FAULT sees it.
func (l netlinkLinks) Watch(ctx context.Context) (bool, <-chan bool, error) {
	updates := make(chan netlink.LinkUpdate, 16)
	done := make(chan struct{})
	if err := netlink.LinkSubscribeWithOptions(updates, done, netlink.LinkSubscribeOptions{}); err != nil {
		return false, nil, fmt.Errorf("watching link %s: %w", l.ifname, err)
	}
	link, err := netlink.LinkByName(l.ifname)
	if err != nil {
		close(done)
		return false, nil, fmt.Errorf("interface %s: %w", l.ifname, err)
	}
	up := linkUp(link.Attrs().RawFlags)
	out := make(chan bool, 1)
	go func() {
		defer close(done)
		last := up
		for {
			select {
			case <-ctx.Done():
				return
			case u, ok := <-updates:
				if !ok {
					return
				}
				if u.Attrs().Name != l.ifname {
					continue
				}
				now := u.Header.Type != unix.RTM_DELLINK && linkUp(u.IfInfomsg.Flags)
				if now == last {
					continue
				}
				last = now
				select {
				case out <- now:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return up, out, nil
}

func linkUp(flags uint32) bool {
	return flags&unix.IFF_UP != 0 && flags&unix.IFF_RUNNING != 0
}
