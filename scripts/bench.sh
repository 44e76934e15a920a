#!/usr/bin/env bash
# `make bench`: failover outages of a keepalived pair and a proxypair pair
# with the same settings, measured side by side in one run (a client pings
# the VIP every 10 ms while the master drops off the network or stops
# gracefully), plus each master's CPU and RSS at 10 ms adverts. Prints the
# table; every trial's numbers go to bin/bench.json.
#
# Needs root: it builds its own network namespaces (pp-<pid>-…) and touches
# nothing outside them. Arguments go to `pplab bench`, e.g.
#   scripts/bench.sh --trials 3 --only 'v3-10ms'
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh
exec bin/pplab bench --proxypair bin/proxypair --json bin/bench.json "$@"
