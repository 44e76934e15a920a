#!/usr/bin/env bash
# Builds the static proxypair binary (and the lab tool) into bin/.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
mkdir -p bin
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$version -X main.commit=$commit" -o bin/proxypair ./cmd/proxypair
CGO_ENABLED=0 go build -trimpath -o bin/pplab ./internal/cmd/pplab
