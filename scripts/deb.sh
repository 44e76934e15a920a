#!/usr/bin/env bash
# `make deb`: builds bin/proxypair (scripts/build.sh) and packages it as
# bin/proxypair_<version>_amd64.deb (internal/cmd/mkdeb, nfpm). The version
# is the binary's (git describe); SOURCE_DATE_EPOCH, the commit time, dates
# the files so the same commit gives the same package.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
export SOURCE_DATE_EPOCH
go run ./internal/cmd/mkdeb -binary bin/proxypair -src . -out bin "$@"
