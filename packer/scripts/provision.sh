#!/usr/bin/env bash
# Provision the proxypair appliance: HAProxy, the static proxypair binary, its
# system user, systemd units (enabled), a default config, the
# /etc/default/proxypair example and net.ipv4.ip_nonlocal_bind=1.
#
# Run by Packer as root on the build server. Inputs (environment):
#   SRC_DIR            staged tree with systemd/ and configs/ (default: the
#                      repository this script lives in)
#   PROXYPAIR_BIN      the binary (default: $SRC_DIR/proxypair)
#   PROXYPAIR_VARIANT  vpc or classic: picks configs/vpc-master.yaml or
#                      configs/master.yaml as /etc/proxypair/proxypair.yaml
#   DESTDIR            scratch root for offline tests: every file is laid out
#                      below it with its final owner and mode, but no package
#                      is installed and systemctl/sysctl are not called; the
#                      user is created in $DESTDIR/etc/passwd.
set -euo pipefail
# Modes below are explicit; parents created on the way get 0755.
umask 022

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC_DIR=${SRC_DIR:-$(cd "$here/../.." && pwd)}
PROXYPAIR_BIN=${PROXYPAIR_BIN:-$SRC_DIR/proxypair}
PROXYPAIR_VARIANT=${PROXYPAIR_VARIANT:-vpc}
DESTDIR=${DESTDIR:-}
root=${DESTDIR%/}

log() { echo "provision: $*"; }
die() {
	echo "provision: error: $*" >&2
	exit 1
}

case $PROXYPAIR_VARIANT in
vpc) default_config=vpc-master.yaml ;;
classic) default_config=master.yaml ;;
*) die "PROXYPAIR_VARIANT='$PROXYPAIR_VARIANT' must be vpc or classic" ;;
esac
[[ $EUID -eq 0 ]] || die "must run as root (files are installed with root and proxypair owners)"
for f in "$PROXYPAIR_BIN" "$SRC_DIR/systemd/proxypair.service" \
	"$SRC_DIR/systemd/proxypair-eth1.service" "$SRC_DIR/systemd/proxypair-eth1" \
	"$SRC_DIR/systemd/sysusers.d/proxypair.conf" "$SRC_DIR/configs/haproxy.cfg" \
	"$SRC_DIR/configs/proxypair.env.example" "$SRC_DIR/configs/$default_config"; do
	[[ -f $f ]] || die "missing input $f"
done
if [[ -n $DESTDIR ]]; then
	[[ -d $DESTDIR && $root != "" ]] || die "DESTDIR='$DESTDIR' must be an existing directory other than /"
	log "laying out files below $DESTDIR (no packages, no systemctl)"
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

install_packages() {
	export DEBIAN_FRONTEND=noninteractive
	wait_for_apt
	log "installing haproxy"
	apt-get update -q
	apt-get install -y -q --no-install-recommends haproxy iproute2 psmisc
}

# id_of NAME passwd|group: the numeric ID from the target root's database,
# so DESTDIR runs do not depend on the build host's users.
id_of() {
	local id
	id=$(awk -F: -v n="$1" '$1 == n { print $3; exit }' "$root/etc/$2")
	[[ -n $id ]] || die "no $2 entry for $1 in $root/etc/$2"
	echo "$id"
}

# put SRC DEST MODE [OWNER [GROUP]]: install one file, creating missing
# parents root-owned 0755 (existing ones keep their owner and mode).
put() {
	local src=$1 dest=$root$2 mode=$3 owner=${4:-0} group=${5:-0}
	local dir
	dir=$(dirname "$dest")
	[[ -d $dir ]] || install -d -m 0755 -o 0 -g 0 "$dir"
	install -m "$mode" -o "$owner" -g "$group" "$src" "$dest"
}

if [[ -z $DESTDIR ]]; then
	install_packages
fi

# The system user first: files below are owned by its group.
put "$SRC_DIR/systemd/sysusers.d/proxypair.conf" /usr/lib/sysusers.d/proxypair.conf 0644
command -v systemd-sysusers >/dev/null || die "systemd-sysusers not found (package systemd)"
if [[ -n $DESTDIR ]]; then
	install -d -m 0755 "$root/etc"
	systemd-sysusers --root="$root" proxypair.conf
else
	systemd-sysusers proxypair.conf
fi
pp_gid=$(id_of proxypair group)

log "installing proxypair"
put "$PROXYPAIR_BIN" /usr/local/bin/proxypair 0755
put "$SRC_DIR/systemd/proxypair-eth1" /usr/local/sbin/proxypair-eth1 0755
put "$SRC_DIR/systemd/proxypair.service" /etc/systemd/system/proxypair.service 0644
put "$SRC_DIR/systemd/proxypair-eth1.service" /etc/systemd/system/proxypair-eth1.service 0644

# Config: readable by the daemon (group proxypair), not by other users: it
# holds auth_pass and may hold API keys.
install -d -m 0750 -o 0 -g "$pp_gid" "$root/etc/proxypair"
put "$SRC_DIR/configs/$default_config" /etc/proxypair/proxypair.yaml 0640 0 "$pp_gid"
# Per-node settings; read by systemd as root. Kept if present so a re-run
# does not wipe a node's values.
if [[ ! -e $root/etc/default/proxypair ]]; then
	put "$SRC_DIR/configs/proxypair.env.example" /etc/default/proxypair 0600
fi

# Every example, for the init script and for humans.
for f in master.yaml backup.yaml vpc-master.yaml vpc-backup.yaml master.env \
	backup.env proxypair.env.example haproxy.cfg; do
	if [[ -f $SRC_DIR/configs/$f ]]; then
		put "$SRC_DIR/configs/$f" "/usr/share/doc/proxypair/examples/$f" 0644
	fi
done

log "configuring haproxy"
# Keep the package's original once, for reference (not our own on a re-run).
cfg=$root/etc/haproxy/haproxy.cfg
if [[ -f $cfg && ! -e $cfg.dist ]] && ! cmp -s "$cfg" "$SRC_DIR/configs/haproxy.cfg"; then
	cp -p "$cfg" "$cfg.dist"
fi
put "$SRC_DIR/configs/haproxy.cfg" /etc/haproxy/haproxy.cfg 0644

# The backup's HAProxy binds the VIP it does not hold yet.
install -d -m 0755 "$root/etc/sysctl.d"
printf '%s\n' \
	'# proxypair: let HAProxy bind the VIP on the node that does not hold it,' \
	'# so a failover needs no HAProxy restart.' \
	'net.ipv4.ip_nonlocal_bind = 1' >"$root/etc/sysctl.d/60-proxypair.conf"
chmod 0644 "$root/etc/sysctl.d/60-proxypair.conf"
chown 0:0 "$root/etc/sysctl.d/60-proxypair.conf"

# Enable: what `systemctl enable` does, as symlinks, so a DESTDIR gets the
# same result offline.
wants=$root/etc/systemd/system/multi-user.target.wants
install -d -m 0755 "$wants"
for unit in proxypair-eth1.service proxypair.service; do
	ln -sfn "/etc/systemd/system/$unit" "$wants/$unit"
done

if [[ -n $DESTDIR ]]; then
	log "done (DESTDIR)"
	exit 0
fi

haproxy -c -f /etc/haproxy/haproxy.cfg
sysctl -p /etc/sysctl.d/60-proxypair.conf
systemctl daemon-reload
systemctl enable haproxy.service proxypair-eth1.service proxypair.service
"$root/usr/local/bin/proxypair" version
log "done"
