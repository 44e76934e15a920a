#!/usr/bin/env bash
# make demo: a proxypair pair (and for three steps a keepalived peer) in
# network namespaces on this machine, through failures, a planned hand-over,
# split brain and keepalived interop, with a live view of each step and a
# summary of the client's outages. Needs root; touches nothing outside the
# namespaces it creates.
#
#   scripts/demo.sh [pplab demo flags]   e.g. --short (VRRP v3 at 100 ms), --steps N
#   KEEP=1 scripts/demo.sh               leave the lab running to explore (it prints how)
#   scripts/demo.sh down                 remove a lab KEEP=1 left running
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = down ]; then
	shift
	if [ "$(id -u)" -ne 0 ]; then
		echo "demo: run as root (it deletes network namespaces)" >&2
		exit 1
	fi
	[ -x bin/pplab ] || scripts/build.sh
	exec bin/pplab demo-down "$@"
fi

scripts/deps.sh
scripts/build.sh
args=()
case "${KEEP:-}" in
"" | 0 | no | false) ;;
*) args+=(--keep) ;;
esac
exec bin/pplab demo --proxypair bin/proxypair "${args[@]}" "$@"
