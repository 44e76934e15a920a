// Package keepalived reads a keepalived.conf (keepalived 1.3, as on Ubuntu
// 18.04, to 2.x) and translates one vrrp_instance into a proxypair config:
// a typed config.Config, the same config as commented YAML, and a warning
// for everything that does not translate.
//
// Parse reads the file the way keepalived does: comments (# and !), quoted
// strings, blocks with braces on the same or the next line, include with
// globs relative to the including file, conditional lines (@id) and
// $NAME=value parameters. Every statement keeps its file and line, so
// messages can point at it.
//
// Translate maps the instance's VRRP settings, turns a vrrp_script or
// vrrp_track_process that watches HAProxy into proxypair's native health
// check, and warns about the rest: keepalived features proxypair does not
// have, and keepalived mistakes that the import would otherwise carry over
// silently (a track_script weight that never moves the VIP, "state master"
// in lower case, an auth_pass keepalived truncates, vrrp_strict).
//
// The package never imports the daemon (appliance): it is used by the
// `proxypair import keepalived` command and its tests.
package keepalived
