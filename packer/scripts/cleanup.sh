#!/usr/bin/env bash
# Last step of the image build: remove what should not be baked into every
# server made from the image. Run by Packer as root on the build server.
#   SRC_DIR  the staging directory to remove
set -euo pipefail

SRC_DIR=${SRC_DIR:-/tmp/proxypair-image}

[[ $EUID -eq 0 ]] || {
	echo "cleanup: must run as root" >&2
	exit 1
}
case $SRC_DIR in
/tmp/?*) rm -rf -- "$SRC_DIR" ;;
*) echo "cleanup: not removing SRC_DIR='$SRC_DIR' (expected below /tmp)" >&2 ;;
esac

apt-get clean
rm -rf /var/lib/apt/lists/*

# Each server must get its own machine ID (systemd-networkd derives its DHCP
# client identifier from it): an empty file makes systemd generate one at
# first boot.
truncate -s 0 /etc/machine-id
if [[ -f /var/lib/dbus/machine-id && ! -L /var/lib/dbus/machine-id ]]; then
	rm -f /var/lib/dbus/machine-id
fi

# Logs and shell history of the build session.
journalctl --rotate >/dev/null 2>&1 || true
journalctl --vacuum-time=1s >/dev/null 2>&1 || true
rm -f /root/.bash_history
sync
echo "cleanup: done"
