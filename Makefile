# custos — see README.md. Everything here needs only Go (and npm for
# `make contracts`); tests that need PostgreSQL or geth skip without them,
# except in CI (CI=true), where .ci/run starts them and a skip fails.

GO      ?= go
PKGS    ?= ./...
TIMEOUT ?= 20m

.PHONY: all build run demo cluster bench-cluster bench-fleet test test-short bench bench-go policies contracts lint fmt fuzz clean

all: build

build:
	$(GO) build -o bin/custos ./cmd/custos

## run: start the runtime on embedded defaults (NATS 127.0.0.1:4222, HTTP 127.0.0.1:8080, data ./custos-data)
run:
	$(GO) run ./cmd/custos run $(ARGS)

## demo: start custos (data in ./custos-demo), fill it with the fleet simulator, keep it running for the dashboard
demo: build
	@bin/custos run --data ./custos-demo $(ARGS) & pid=$$!; \
	trap 'kill $$pid 2>/dev/null' EXIT INT TERM; \
	for i in $$(seq 1 120); do bin/custos twin list --limit 1 >/dev/null 2>&1 && break; sleep 0.5; done; \
	bin/custos sim; \
	echo; echo "dashboard: http://127.0.0.1:8080/   (Ctrl-C stops custos)"; \
	wait $$pid

## cluster: three nats-server processes (clustered, JetStream) and three custos nodes on one PostgreSQL
## (CUSTOS_CLUSTER_DATABASE, default postgres://custos:custos@127.0.0.1:5432/custos), data in ./custos-cluster; Ctrl-C stops all
cluster:
	bash examples/cluster/run.sh

## test: the whole suite, with the race detector on the concurrent core, then
## the tests that stop and start the shared PostgreSQL server: alone (-p 1),
## after everything else, since `go test` runs packages in parallel
test:
	$(GO) vet $(PKGS)
	CUSTOS_TEST_PG_RESTART= $(GO) test -count=1 -timeout $(TIMEOUT) $(PKGS)
	$(GO) test -count=1 -race -timeout $(TIMEOUT) ./twin/ ./store/embedded/ ./internal/app/
	CUSTOS_TEST_PG_RESTART=1 $(GO) test -count=1 -p 1 -timeout $(TIMEOUT) -run 'ServerRestart' ./store/pg/ ./internal/app/

test-short:
	$(GO) test -short -count=1 $(PKGS)

## bench: Go micro-benchmarks, then raw JetStream vs custos end to end (ends with the custos-bench: line);
## with CUSTOS_BENCH_DATABASE (or CUSTOS_TEST_DATABASE) also custos on PostgreSQL and the store's records/s
bench: bench-go
	$(GO) run ./cmd/custos bench --rounds 3 $(ARGS)

## bench-fleet: a fleet in the store under a 1.5 GiB budget: FLEET twins (default 1000000; 10000000 takes ~20 min and ~10 GB of disk)
## written into the store, the daemon restarted on them, FLEET/10 readings each to another twin, with --state-retention 24h
FLEET ?= 1000000
bench-fleet:
	GOMEMLIMIT=1200MiB $(GO) run ./cmd/custos bench --store-twins $(FLEET) --messages $$(( $(FLEET) / 10 )) --state-retention 24h $(ARGS)

## bench-cluster: 1, 2 and 3 custos nodes on a 3-server NATS cluster and PostgreSQL (CUSTOS_TEST_DATABASE): readings/s, CPU per event per node, rebalancing
bench-cluster:
	$(GO) test -run '^$$' -bench ClusterNodes -benchtime 1x -timeout 30m ./internal/cluster/clustertest/

bench-go:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s ./contracts/ ./twin/ ./store/embedded/ ./anchor/...

## policies: rebuild the WebAssembly contracts: Go built-ins, AssemblyScript (npm), WAT (wabt); reproducible, tests check the committed bytes
policies:
	sh wasm-policies/build.sh
	@if [ -x wasm-policies/sdk/assemblyscript/node_modules/.bin/asc ] || (cd wasm-policies/sdk/assemblyscript && npm ci --no-audit --no-fund >/dev/null); then \
		sh wasm-policies/sdk/assemblyscript/build.sh; else echo "npm not available: AssemblyScript contracts not rebuilt"; fi
	@if command -v wat2wasm >/dev/null; then sh wasm-policies/coldchain/wat/build.sh; else echo "wat2wasm (Debian wabt) not installed: WAT contract not rebuilt"; fi

## contracts: regenerate TwinAnchor's ABI, bytecode and Go bindings (npm solc pinned in the lockfile)
contracts:
	sh anchor/contracts/gen.sh

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo 'gofmt needed'; exit 1)
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

## fuzz: a short run of every fuzz target of the parsers of untrusted input
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParseTelemetry -fuzztime 20s ./twin/
	$(GO) test -run '^$$' -fuzz FuzzParseCommand -fuzztime 10s ./twin/
	$(GO) test -run '^$$' -fuzz FuzzEventUnmarshal -fuzztime 10s ./twin/

clean:
	rm -rf bin custos-data custos-demo custos-cluster
