# proxypair: `make build` for the static binary, `make test` for every test
# (as root: the network tests build namespaces), `make bench` for failover
# timings side by side with keepalived.

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
FUZZTIME ?= 60s

.PHONY: build test lint fuzz bench lab image clean

build:
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o bin/proxypair ./cmd/proxypair

test:
	scripts/test.sh

lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt: $$out"; exit 1; fi
	go vet ./...

# Every parser's fuzz target, FUZZTIME each.
fuzz:
	go test ./appliance/vrrp -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	go test ./appliance/vrrp -run '^$$' -fuzz '^FuzzValidate$$' -fuzztime $(FUZZTIME)

lab:
	scripts/lab.sh

bench:
	scripts/bench.sh

clean:
	rm -rf bin
