// Package vip adds and removes virtual IP addresses on a Linux interface
// through netlink. Every operation is idempotent: adding an address that is
// there, or removing one that is not, succeeds, so the daemon can always say
// what it wants the interface to look like without tracking what it did.
package vip
