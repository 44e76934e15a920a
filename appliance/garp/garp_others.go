//go:build !linux

package garp

import (
	"errors"
	"net/netip"
)

// Sender is unavailable outside Linux.
type Sender struct{}

// Open always fails outside Linux.
func Open(string) (*Sender, error) {
	return nil, errors.New("garp: only implemented for Linux")
}

// Send always fails outside Linux.
func (*Sender) Send(netip.Addr) error { return errors.New("garp: only implemented for Linux") }

// Close does nothing outside Linux.
func (*Sender) Close() error { return nil }

// Watcher is unavailable outside Linux.
type Watcher struct{}

// Watch always fails outside Linux.
func Watch(string) (*Watcher, error) { return nil, errors.New("garp: only implemented for Linux") }

// Next always fails outside Linux.
func (*Watcher) Next([]netip.Addr) (netip.Addr, error) {
	return netip.Addr{}, errors.New("garp: only implemented for Linux")
}

// Close does nothing outside Linux.
func (*Watcher) Close() error { return nil }
