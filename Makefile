# proxypair: `make demo` to see it work (as root), `make build` for the
# static binary, `make test` for every test (as root: the network tests build
# namespaces), `make bench` for failover timings side by side with
# keepalived, `make soak` for random faults.

FUZZTIME ?= 60s

.PHONY: build test lint fuzz bench soak demo demo-down lab image clean deb deb-lint

DURATION ?= 30m
SEED ?= 0

# bin/proxypair (static, CGO_ENABLED=0, version and commit stamped) and bin/pplab.
build:
	scripts/build.sh

test:
	scripts/test.sh

lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt: $$out"; exit 1; fi
	go vet ./...

# Every fuzz target (the parsers and the state machine), FUZZTIME each.
fuzz:
	go test ./appliance/vrrp -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	go test ./appliance/vrrp -run '^$$' -fuzz '^FuzzValidate$$' -fuzztime $(FUZZTIME)
	go test ./healthcheck -run '^$$' -fuzz '^FuzzParseInfoStat$$' -fuzztime $(FUZZTIME)
	go test ./appliance/fsm -run '^$$' -fuzz '^FuzzRouter$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s
	go test ./appliance/config/keepalived -run '^$$' -fuzz '^FuzzImport$$' -fuzztime $(FUZZTIME)

# The walkthrough in network namespaces, with a live view and a summary of
# outages; KEEP=1 leaves the lab running to explore (it prints how) and
# demo-down removes it.
KEEP ?=
demo:
	KEEP=$(KEEP) scripts/demo.sh

demo-down:
	scripts/demo.sh down

lab:
	scripts/lab.sh

bench:
	scripts/bench.sh

# Random faults against a pair with HAProxy for DURATION (SEED 0: from the
# clock); exits non-zero on any violation.
soak:
	DURATION=$(DURATION) SEED=$(SEED) scripts/soak.sh

clean:
	rm -rf bin

# bin/proxypair_<version>_amd64.deb: the binary, units, configs and
# maintainer scripts, packaged with nfpm (internal/cmd/mkdeb). The package
# tests (go test ./packaging/) build and check their own, lintian included.
deb:
	scripts/deb.sh

# `make deb`, then lintian on that package; every tag must be overridden in
# packaging/deb/lintian-overrides with its reason (the packaging tests run
# the same check).
deb-lint:
	deb=$$(scripts/deb.sh) && lintian -I -E --pedantic --tag-display-limit 0 \
		--fail-on error,warning,info,pedantic,experimental "$$deb"

# The NCP server image: needs Packer >= 1.7 and NCLOUD_ACCESS_KEY /
# NCLOUD_SECRET_KEY (see packer/README.md). PACKER_ARGS go to packer build.
image: deb
	packer/build.sh $(PACKER_ARGS)
