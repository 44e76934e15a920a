package netio

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"

	"github.com/proxypair/proxypair/appliance/vrrp"
)

// Conn is a raw IPv4 protocol-112 socket bound to one interface. Reads wait
// in Go's poller; sends go through a second, send-only raw socket that the
// poller never sees. Both the receive and the send are raw system calls
// (RawSyscall): a plain syscall.Syscall wakes the Go runtime's monitor
// thread from its idle sleep on every call, and at 100 adverts a second
// those wake-ups cost more CPU than the packets themselves. The calls never
// block (the sockets are non-blocking), so the raw form is safe.
type Conn struct {
	raw    *ipv4.RawConn   // socket options (group, multicast interface)
	rc     syscall.RawConn // the receive socket, for raw reads
	sendFD int
	ifi    *net.Interface
	src    netip.Addr
	buf    []byte // IP header + payload for Send; Send is not concurrent
	closed sync.Once
}

// Listen opens the socket. It needs CAP_NET_RAW.
func Listen(opts Options) (*Conn, error) {
	ifi, err := net.InterfaceByName(opts.Interface)
	if err != nil {
		return nil, fmt.Errorf("netio: interface %q: %w", opts.Interface, err)
	}
	if !opts.Source.Is4() {
		return nil, fmt.Errorf("netio: source address %v is not IPv4", opts.Source)
	}
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			// Bound to the interface: we neither hear nor answer VRRP on
			// any other link.
			serr = unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, opts.Interface)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(context.Background(), fmt.Sprintf("ip4:%d", vrrp.ProtocolNumber), "0.0.0.0")
	if err != nil {
		return nil, fmt.Errorf("netio: opening raw IP protocol %d socket on %s: %w", vrrp.ProtocolNumber, opts.Interface, err)
	}
	raw, err := ipv4.NewRawConn(pc)
	if err != nil {
		pc.Close()
		return nil, fmt.Errorf("netio: %w", err)
	}
	rc, err := pc.(*net.IPConn).SyscallConn()
	if err != nil {
		pc.Close()
		return nil, fmt.Errorf("netio: %w", err)
	}
	c := &Conn{raw: raw, rc: rc, ifi: ifi, src: opts.Source, buf: make([]byte, 0, 1500)}
	if err := c.setup(opts.Multicast); err != nil {
		raw.Close()
		return nil, err
	}
	if c.sendFD, err = openSender(ifi); err != nil {
		raw.Close()
		return nil, err
	}
	return c, nil
}

// openSender opens the send-only socket: IP_HDRINCL (we write the header:
// TTL 255, TOS 0xc0, our source), bound to the interface, multicast out of
// it without loopback, and a filter that accepts nothing, so no packet ever
// queues on it.
func openSender(ifi *net.Interface) (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, vrrp.ProtocolNumber)
	if err != nil {
		return -1, fmt.Errorf("netio: opening the send socket: %w", err)
	}
	dropAll := []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: 0}}
	for _, set := range []struct {
		what string
		err  error
	}{
		{"IP_HDRINCL", unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_HDRINCL, 1)},
		{"SO_BINDTODEVICE", unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, ifi.Name)},
		{"IP_MULTICAST_IF", unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_IF, &unix.IPMreqn{Ifindex: int32(ifi.Index)})},
		{"IP_MULTICAST_LOOP", unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP, 0)},
		{"SO_ATTACH_FILTER", unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER,
			&unix.SockFprog{Len: uint16(len(dropAll)), Filter: &dropAll[0]})},
	} {
		if set.err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("netio: send socket %s on %s: %w", set.what, ifi.Name, set.err)
		}
	}
	return fd, nil
}

func (c *Conn) setup(multicast bool) error {
	if multicast {
		group := &net.IPAddr{IP: vrrp.MulticastGroup.AsSlice()}
		if err := c.raw.JoinGroup(c.ifi, group); err != nil {
			return fmt.Errorf("netio: joining %v on %s: %w", vrrp.MulticastGroup, c.ifi.Name, err)
		}
	}
	if err := c.raw.SetMulticastInterface(c.ifi); err != nil {
		return fmt.Errorf("netio: multicast interface %s: %w", c.ifi.Name, err)
	}
	// Our own adverts must not come back to us as if a peer sent them.
	if err := c.raw.SetMulticastLoopback(false); err != nil {
		return fmt.Errorf("netio: multicast loopback: %w", err)
	}
	return nil
}

// Read blocks for the next packet. The returned Payload is a slice of buf.
func (c *Conn) Read(buf []byte) (Packet, error) {
	for {
		var n int
		var errno syscall.Errno
		err := c.rc.Read(func(fd uintptr) bool {
			n, errno = recv(fd, buf)
			return errno != unix.EAGAIN && errno != unix.EINTR
		})
		at := time.Now()
		if err != nil {
			return Packet{}, err
		}
		if errno != 0 {
			return Packet{}, fmt.Errorf("netio: reading on %s: %w", c.ifi.Name, errno)
		}
		// A raw IPv4 socket hands over the IP header the kernel has
		// already checked; anything else cannot come from it.
		if p, ok := ParseIPv4(buf[:n], at); ok {
			return p, nil
		}
	}
}

// TryRead returns a packet already queued on the socket, without waiting:
// ok is false when none is. It may run while another goroutine is blocked
// in Read (each packet goes to one of them); the daemon uses it to see
// adverts that arrived before a timer it is about to act on.
func (c *Conn) TryRead(buf []byte) (p Packet, ok bool) {
	for {
		var n int
		var errno syscall.Errno
		if err := c.rc.Control(func(fd uintptr) { n, errno = recv(fd, buf) }); err != nil || errno != 0 {
			return Packet{}, false // EAGAIN: nothing queued; closed: nothing more
		}
		if p, ok := ParseIPv4(buf[:n], time.Now()); ok {
			return p, true
		}
	}
}

// recv is one non-blocking recvfrom (the socket is non-blocking), raw so
// that it does not wake the runtime's monitor thread.
func recv(fd uintptr, buf []byte) (int, syscall.Errno) {
	r, _, e := syscall.RawSyscall6(unix.SYS_RECVFROM, fd,
		uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), unix.MSG_DONTWAIT, 0, 0)
	return int(r), e
}

// Send writes one VRRP message to dst with TTL 255 (RFC 3768 §7.1: "The TTL
// MUST be set to 255"). It never blocks: a full socket buffer is an error.
// It is not safe for concurrent use.
func (c *Conn) Send(payload []byte, dst netip.Addr) error {
	if !dst.Is4() {
		return fmt.Errorf("netio: destination %v is not IPv4", dst)
	}
	b := c.buf[:ipv4.HeaderLen]
	// 0: version 4, header length 5 words; 1: TOS; 2-3: total length;
	// 4-7: ID and fragment offset, zero (the kernel fills in the ID);
	// 8: TTL; 9: protocol; 10-11: checksum (the kernel's); 12-19: addresses.
	b[0], b[1] = 0x45, TOS
	binary.BigEndian.PutUint16(b[2:4], uint16(ipv4.HeaderLen+len(payload)))
	clear(b[4:8])
	b[8], b[9] = vrrp.TTL, vrrp.ProtocolNumber
	clear(b[10:12])
	src, to := c.src.As4(), dst.As4()
	copy(b[12:16], src[:])
	copy(b[16:20], to[:])
	b = append(b, payload...)
	sa := unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: to}
	_, _, errno := syscall.RawSyscall6(unix.SYS_SENDTO, uintptr(c.sendFD),
		uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), unix.MSG_DONTWAIT,
		uintptr(unsafe.Pointer(&sa)), unsafe.Sizeof(sa))
	if errno != 0 {
		return fmt.Errorf("netio: sending to %v on %s: %w", dst, c.ifi.Name, errno)
	}
	return nil
}

// Source is the address adverts are sent from.
func (c *Conn) Source() netip.Addr { return c.src }

// Close closes the sockets; a blocked Read returns net.ErrClosed.
func (c *Conn) Close() error {
	err := net.ErrClosed
	c.closed.Do(func() {
		unix.Close(c.sendFD)
		err = c.raw.Close()
	})
	return err
}

// IsClosed reports whether err means the Conn was closed.
func IsClosed(err error) bool { return errors.Is(err, net.ErrClosed) }

// FirstIPv4 returns the first IPv4 address on the interface that is not in
// exclude (the VIPs): the default advert source.
func FirstIPv4(ifname string, exclude []netip.Prefix) (netip.Addr, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("netio: interface %q: %w", ifname, err)
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("netio: addresses of %s: %w", ifname, err)
	}
next:
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(ipn.IP.To4())
		if !ok || ipn.IP.To4() == nil {
			continue
		}
		for _, vip := range exclude {
			if vip.Addr() == ip {
				continue next
			}
		}
		return ip, nil
	}
	return netip.Addr{}, fmt.Errorf("netio: %s has no IPv4 address of its own (other than the VIPs); set vrrp.source_ip or address the interface", ifname)
}
