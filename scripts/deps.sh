#!/usr/bin/env bash
# Installs what proxypair's tests, lab and benchmarks need on Debian/Ubuntu,
# skipping what is already there, then fetches the Go modules.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: run as root (apt-get, network namespaces)" >&2
	exit 1
fi
if ! command -v go >/dev/null; then
	echo "deps: Go is not installed (need the version in go.mod; see https://go.dev/doc/install)" >&2
	exit 1
fi

# haproxy and keepalived: the real peers the tests run in network namespaces;
# frr: FRR's zebra and vrrpd, the other VRRP peer of the interop tests (its
# frr.service is enabled but, like the others, never started here);
# nftables: VRRP blocked one way in the fault tests, the soak and the demo;
# curl: the commands `make demo KEEP=1` prints to explore the lab.
# packer, shellcheck, systemd: the offline checks of the image and unit;
# dbus-daemon: a private bus for the health tracker's systemd-unit check.
# lintian: the package's check (go test ./packaging/, make deb-lint); dpkg's
# dpkg-deb and dpkg-statoverride, util-linux's unshare and
# init-system-helpers' deb-systemd-helper (with systemd) are already there.
# The libraries of testdata/peers' keepalived 1.3.9 and HAProxy 1.8.8
# (Ubuntu 18.04's versions; `ldd` lists them).
packages=(haproxy keepalived frr iproute2 iputils-ping procps tcpdump nftables curl packer shellcheck systemd dbus-daemon ca-certificates lintian
	libssl3 libnl-3-200 libnl-genl-3-200 libnl-route-3-200 libcrypt1 zlib1g liblua5.3-0 libsystemd0 libpcre3)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "deps: installing ${missing[*]}"
	# Installing haproxy, keepalived or frr must not start them in the host's own
	# network namespace: policy-rc.d exit 101 tells the package scripts not
	# to start services.
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		trap 'rm -f /usr/sbin/policy-rc.d' EXIT
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
go mod download
