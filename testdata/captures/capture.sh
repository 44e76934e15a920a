#!/usr/bin/env bash
# capture.sh KEEPALIVED CONF OUT [SECONDS]
#
# Records the VRRP adverts of one keepalived binary, as the goldens in
# appliance/vrrp/golden_test.go are made: KEEPALIVED runs CONF (state MASTER,
# on eth1) in a network namespace whose eth1 is 198.18.0.1/24; tcpdump
# listens in a second namespace, 198.18.0.9/24, at the other end of a veth
# pair, and writes what it sees to OUT. After SECONDS (default 2.5: two
# adverts at 1 s) keepalived gets SIGTERM, so OUT ends with its priority-0
# advert. Needs root; touches nothing outside the two namespaces it makes.
#
#   sudo testdata/captures/capture.sh testdata/peers/keepalived-1.3.9 \
#       testdata/captures/keepalived/ka-v2.conf testdata/captures/ka139-stop-v2.txt
set -euo pipefail

if [ $# -lt 3 ] || [ $# -gt 4 ]; then
	echo "usage: $0 KEEPALIVED CONF OUT [SECONDS]" >&2
	exit 2
fi
keepalived=$(command -v "$1" || true)
conf=$(realpath "$2")
out=$3
secs=${4:-2.5}
if [ -z "$keepalived" ]; then
	echo "capture: no keepalived at $1" >&2
	exit 2
fi

# Not "pp-": that prefix belongs to internal/lab, whose sweep removes stale labs.
ka=ppcap-$$-ka
peer=ppcap-$$-peer
dir=$(mktemp -d)
kapid=""
tdpid=""
cleanup() {
	if [ -n "$kapid" ]; then kill -TERM "$kapid" 2>/dev/null || true; fi
	if [ -n "$tdpid" ]; then kill -INT "$tdpid" 2>/dev/null || true; fi
	wait 2>/dev/null || true
	ip netns del "$ka" 2>/dev/null || true
	ip netns del "$peer" 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT

ip netns add "$ka"
ip netns add "$peer"
# Made inside the namespace: the host's own namespace never sees the veth.
ip -n "$ka" link add eth1 type veth peer name eth1 netns "$peer"
ip -n "$ka" addr add 198.18.0.1/24 dev eth1
ip -n "$peer" addr add 198.18.0.9/24 dev eth1
for ns in "$ka" "$peer"; do
	ip -n "$ns" link set lo up
	ip -n "$ns" link set eth1 up
done

# -v prints the VRRP fields and the password, -xx the whole frame in hex.
ip netns exec "$peer" tcpdump -i eth1 -n -l -v -xx 'ip proto 112' >"$out" 2>"$dir/tcpdump.err" &
tdpid=$!
for _ in $(seq 100); do
	grep -q "listening on" "$dir/tcpdump.err" && break
	sleep 0.05
done

# keepalived's own flags, the same in 1.3.9 and 2.2.7 (testdata/peers/BUILD.txt).
ip netns exec "$ka" "$keepalived" -n -l -D -P -f "$conf" -p "$dir/ka.pid" -r "$dir/vrrp.pid" >"$dir/keepalived.log" 2>&1 &
kapid=$!
sleep "$secs"
kill -TERM "$kapid"
wait "$kapid" || true
kapid=""
sleep 0.5 # let tcpdump print the last frame
kill -INT "$tdpid"
wait "$tdpid" || true
tdpid=""
cat "$dir/keepalived.log" >&2
