#!/usr/bin/env bash
# The main job on its built-in default: a proxypair pair (and a keepalived
# peer) in network namespaces on this machine, showing election, failover,
# graceful hand-over and interop, with the client's outage at each step.
# Needs root; touches nothing outside the namespaces it creates.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh
exec bin/pplab demo --proxypair bin/proxypair "$@"
