#!/usr/bin/env bash
# The lab's walkthrough: the same as `make demo` (scripts/demo.sh), kept
# under its old name.
set -euo pipefail
exec "$(dirname "$0")/demo.sh" "$@"
