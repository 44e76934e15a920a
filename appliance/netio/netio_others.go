//go:build !linux

package netio

import (
	"errors"
	"net/netip"
)

var errUnsupported = errors.New("netio: raw VRRP sockets are only implemented for Linux")

// Conn is unavailable outside Linux.
type Conn struct{}

// Listen always fails outside Linux.
func Listen(Options) (*Conn, error) { return nil, errUnsupported }

// Read always fails outside Linux.
func (*Conn) Read([]byte) (Packet, error) { return Packet{}, errUnsupported }

// TryRead returns nothing outside Linux.
func (*Conn) TryRead([]byte) (Packet, bool) { return Packet{}, false }

// Send always fails outside Linux.
func (*Conn) Send([]byte, netip.Addr) error { return errUnsupported }

// Source is invalid outside Linux.
func (*Conn) Source() netip.Addr { return netip.Addr{} }

// Close does nothing outside Linux.
func (*Conn) Close() error { return nil }

// IsClosed reports false outside Linux.
func IsClosed(error) bool { return false }

// FirstIPv4 always fails outside Linux.
func FirstIPv4(string, []netip.Prefix) (netip.Addr, error) { return netip.Addr{}, errUnsupported }
