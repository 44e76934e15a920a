#!/usr/bin/env bash
# Provision the proxypair appliance: HAProxy from Ubuntu's archive, the
# proxypair .deb (the same package a hand-installed server gets: binary,
# units enabled, user, config, sysctl), the Classic default config if asked
# for, and HAProxy's config with proxypair's runtime API socket.
#
# Run by Packer as root on the build server. Inputs (environment):
#   PROXYPAIR_DEB      the package (make deb: bin/proxypair_<version>_amd64.deb)
#   PROXYPAIR_VARIANT  vpc (the package's default config,
#                      configs/vpc-master.yaml) or classic (replaced by
#                      configs/master.yaml, as a local edit dpkg keeps on
#                      upgrade)
#   DESTDIR            scratch root for offline tests: the package is
#                      installed below it by dpkg with a database of its own
#                      (dpkg --root, maintainer scripts run with DPKG_ROOT,
#                      dependencies not checked: the root has no systemd
#                      package), no apt-get, systemctl or haproxy is run.
set -euo pipefail
umask 022

PROXYPAIR_DEB=${PROXYPAIR_DEB:-}
PROXYPAIR_VARIANT=${PROXYPAIR_VARIANT:-vpc}
DESTDIR=${DESTDIR:-}
root=${DESTDIR%/}

log() { echo "provision: $*"; }
die() {
	echo "provision: error: $*" >&2
	exit 1
}

case $PROXYPAIR_VARIANT in
vpc) default_config= ;;
classic) default_config=master.yaml ;;
*) die "PROXYPAIR_VARIANT='$PROXYPAIR_VARIANT' must be vpc or classic" ;;
esac
[[ $EUID -eq 0 ]] || die "must run as root (dpkg installs files owned by root and proxypair)"
[[ -n $PROXYPAIR_DEB ]] || die "PROXYPAIR_DEB is not set: the proxypair package to install (make deb)"
[[ -f $PROXYPAIR_DEB ]] || die "missing input $PROXYPAIR_DEB (make deb builds it)"
deb=$(cd "$(dirname "$PROXYPAIR_DEB")" && pwd)/$(basename "$PROXYPAIR_DEB")
if [[ -n $DESTDIR ]]; then
	[[ -d $DESTDIR && $root != "" ]] || die "DESTDIR='$DESTDIR' must be an existing directory other than /"
	log "installing below $DESTDIR (own dpkg database, no apt-get, no systemctl)"
fi

# Wait until the base image's first-boot jobs (cloud-init, unattended
# upgrades) have released apt, so apt-get does not fail on the lock.
wait_for_apt() {
	if command -v cloud-init >/dev/null; then
		cloud-init status --wait >/dev/null 2>&1 || true
	fi
	local i
	for ((i = 0; i < 120; i++)); do
		if ! fuser /var/lib/dpkg/lock /var/lib/dpkg/lock-frontend /var/lib/apt/lists/lock >/dev/null 2>&1; then
			return 0
		fi
		sleep 5
	done
	die "apt is still locked after 10 minutes"
}

if [[ -z $DESTDIR ]]; then
	export DEBIAN_FRONTEND=noninteractive
	wait_for_apt
	log "installing haproxy and $(basename "$deb")"
	apt-get update -q
	# HAProxy first: the package recommends it, and its group must exist
	# before our haproxy.cfg names it. The package's postinst creates the
	# proxypair user and enables the units without starting them.
	apt-get install -y -q --no-install-recommends haproxy iproute2 psmisc
	apt-get install -y -q --no-install-recommends \
		-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$deb"
else
	admin=$root/var/lib/dpkg
	install -d -m 0755 "$admin/info" "$admin/updates" "$root/var/log"
	[[ -e $admin/status ]] || : >"$admin/status"
	dpkg --root="$root" --force-script-chrootless --force-depends \
		--force-confdef --force-confold --log="$root/var/log/dpkg.log" -i "$deb"
fi

examples=$root/usr/share/doc/proxypair/examples
[[ -d $examples ]] || die "the package installed no $examples"

# The Classic image starts from the keepalived seed's settings (multicast,
# no cloud); writing into the file keeps its owner and mode (root:proxypair
# 0640), and dpkg treats it as the admin's version of the conffile.
if [[ -n $default_config ]]; then
	log "default config: $default_config"
	cat "$examples/$default_config" >"$root/etc/proxypair/proxypair.yaml"
fi

log "configuring haproxy"
# Keep the distribution's original once, for reference (not our own on a
# re-run).
cfg=$root/etc/haproxy/haproxy.cfg
if [[ -f $cfg && ! -e $cfg.dist ]] && ! cmp -s "$cfg" "$examples/haproxy.cfg"; then
	cp -p "$cfg" "$cfg.dist"
fi
install -d -m 0755 -o 0 -g 0 "$root/etc/haproxy"
install -m 0644 -o 0 -g 0 "$examples/haproxy.cfg" "$cfg"

if [[ -n $DESTDIR ]]; then
	log "done (DESTDIR)"
	exit 0
fi

haproxy -c -f /etc/haproxy/haproxy.cfg
systemctl enable haproxy.service
proxypair version
log "done"
