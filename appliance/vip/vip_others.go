//go:build !linux

package vip

import (
	"errors"
	"net/netip"
)

var errUnsupported = errors.New("vip: only implemented for Linux")

// Manager is unavailable outside Linux.
type Manager struct{}

// New returns a Manager whose every call fails.
func New(string) *Manager { return &Manager{} }

// Add always fails outside Linux.
func (*Manager) Add([]netip.Prefix) error { return errUnsupported }

// Delete always fails outside Linux.
func (*Manager) Delete([]netip.Prefix) error { return errUnsupported }

// Held always fails outside Linux.
func (*Manager) Held([]netip.Prefix) ([]netip.Prefix, error) { return nil, errUnsupported }
