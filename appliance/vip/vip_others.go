//go:build !linux

package vip

import (
	"errors"
	"net/netip"
)

var errUnsupported = errors.New("vip: only implemented for Linux")

// ErrNoInterface means the interface does not exist.
var ErrNoInterface = errors.New("vip: no such interface")

// Manager is unavailable outside Linux.
type Manager struct{ label string }

// New returns a Manager whose every call fails.
func New(_, label string) *Manager { return &Manager{label: label} }

// Label returns the label the Manager marks its addresses with.
func (m *Manager) Label() string { return m.label }

// Add always fails outside Linux.
func (*Manager) Add(netip.Prefix) error { return errUnsupported }

// Delete always fails outside Linux.
func (*Manager) Delete(netip.Prefix) error { return errUnsupported }

// List always fails outside Linux.
func (*Manager) List() ([]Addr, error) { return nil, errUnsupported }

// RemoveOwned always fails outside Linux.
func (*Manager) RemoveOwned() ([]netip.Prefix, error) { return nil, errUnsupported }

// Permanent reports false outside Linux.
func Permanent(error) bool { return false }
