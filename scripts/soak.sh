#!/usr/bin/env bash
# `make soak`: a seeded random sequence of faults (link flaps, crashes and
# restarts as the unit does them, freezes, HAProxy and backend failures,
# reloads that swap priorities, graceful restarts, VRRP blocked one way and
# both, the VIP removed behind the daemon's back, eth1 re-created) against a
# proxypair pair with real HAProxy, with a client GETting the VIP. After
# each fault heals it checks: exactly one VIP holder, the preferred healthy
# node, both daemons answering status, no panic. Exits 1 on any violation.
#
# Needs root: it builds its own network namespaces (pp-<pid>-…) and touches
# nothing outside them. DURATION and SEED (0: from the clock) set the run:
#   make soak DURATION=30m SEED=42
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh
exec bin/pplab soak --proxypair bin/proxypair --duration "${DURATION:-30m}" --seed "${SEED:-0}"
