GO ?= go
TIMEOUT ?= 10m

.PHONY: all demo test vet crossbuild lint bench tidy

all: lint test

# Build examples/killdemo and run it to its normal end and with kill -15.
demo:
	bash scripts/demo.sh

# Build examples/httpserver, put it under load and upgrade it in place once
# (kill -USR2): old and new PIDs, the old one's exit code, the requests.
.PHONY: demo-upgrade
demo-upgrade:
	bash scripts/demo-upgrade.sh

# go vet, every test under -race, then the packages whose tests depend on
# timing ($(TIMING_PKGS): the coordinator, the fault matrix of real
# processes) three more times, so that a flake shows up here and not in a
# user's CI; then the tests of the other modules ($(MODULES): the examples
# that need gRPC or Kafka, the comparison benchmarks), and the builds for
# windows, darwin and freebsd.
TIMING_PKGS ?= ./shutdown/ ./internal/faults/
MODULES := $(patsubst %/go.mod,%,$(wildcard */go.mod */*/go.mod))

test: vet
	$(GO) test -race -count=1 -timeout $(TIMEOUT) ./...
	$(GO) test -race -count=3 -timeout $(TIMEOUT) $(TIMING_PKGS)
	@for m in $(MODULES); do echo "== module $$m"; (cd $$m && $(GO) vet ./... && $(GO) test -race -count=1 -timeout $(TIMEOUT) ./...) || exit 1; done
	$(MAKE) --no-print-directory crossbuild

vet:
	$(GO) vet ./...

crossbuild:
	GOOS=windows $(GO) build ./...
	GOOS=darwin $(GO) build ./...
	GOOS=freebsd $(GO) build ./...

lint: vet
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt -l lists:"; echo "$$out"; exit 1; fi
	@if command -v staticcheck >/dev/null 2>&1; then staticcheck ./...; else echo "staticcheck not installed: skipped"; fi

# Benchmarks: the library's own (shutdown/bench_test.go), the same
# workloads against uber-go/fx, oklog/run and hand-written code
# (bench/compare), and whole-process runs (bench/cmd/procbench); then the
# table of targets and one table per workload with each program's ratio to
# lastcall (bench/cmd/report), and benchstat's view of the in-process
# runs. Raw results land in bench/$(BENCH_OUT)/. It takes about fifteen
# minutes: run it on an idle machine, and compare ratios within one run.
# BENCHMARKS.md records one.
BENCH_COUNT ?= 6
BENCH_RUNS ?= 201
BENCH_HTTP_RUNS ?= 25
BENCH_BIG_RUNS ?= 15
BENCH_SLOW_RUNS ?= 3
BENCH_OUT ?= out

bench:
	GO=$(GO) COUNT=$(BENCH_COUNT) RUNS=$(BENCH_RUNS) HTTP_RUNS=$(BENCH_HTTP_RUNS) BIG_RUNS=$(BENCH_BIG_RUNS) \
		SLOW_RUNS=$(BENCH_SLOW_RUNS) OUT=$(BENCH_OUT) bash bench/bench.sh

# What in-place upgrades cost clients (bench/cmd/upgrade): requests per
# second and latency percentiles of examples/httpserver under 32 clients
# while it makes 100 upgrades in a row, against the same load with none;
# then the same with 500 ms between upgrades. A few minutes; BENCHMARKS.md
# records one run.
.PHONY: bench-upgrade
bench-upgrade:
	cd bench && $(GO) run ./cmd/upgrade -n 100 && $(GO) run ./cmd/upgrade -n 100 -gap 500ms

# Vets and builds the bench module (it is not part of ./... at the root).
.PHONY: bench-check
bench-check:
	cd bench && $(GO) vet ./... && $(GO) build ./...

# Where the time of the targets BENCHMARKS.md reports as missed goes
# (bench/profile.sh): CPU profiles of a shutdown of 100,000 no-op hooks and
# of a stage of 10,000 sleeping hooks (stack growth per library), strace
# of one whole-process run, and, where perf works, bench/trace.sh's
# timeline from SIGTERM to the end of each process program. Profiles and
# test binaries stay in bench/$(BENCH_OUT)/ for go tool pprof.
.PHONY: bench-profile
bench-profile:
	GO=$(GO) OUT=$(BENCH_OUT) bash bench/profile.sh

tidy:
	$(GO) mod tidy

# The model-based fuzz test of package shutdown (FuzzModel) for
# $(FUZZTIME). A failing input is saved under
# shutdown/testdata/fuzz/FuzzModel/ and replayed by every later go test.
FUZZTIME ?= 5m

.PHONY: fuzz
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzModel$$' -fuzztime $(FUZZTIME) ./shutdown/

# The kill tests of examples/httpserver, examples/worker,
# examples/grpcserver and examples/kafka with $(STRESS_KILLS) kills each,
# where test runs 10, 30, 10 and 20; not run in CI. Each test prints its
# totals; RELIABILITY.md records one run.
STRESS_KILLS ?= 100

.PHONY: stress
stress:
	$(GO) test -race -count=1 -timeout 60m -v -run '^TestKills$$' ./examples/httpserver ./examples/worker -args -kills=$(STRESS_KILLS)
	cd examples/grpcserver && $(GO) test -race -count=1 -timeout 60m -v -run '^TestKills$$' . -args -kills=$(STRESS_KILLS)
	cd examples/kafka && $(GO) test -race -count=1 -timeout 60m -v -run '^TestKills$$' . -args -kills=$(STRESS_KILLS)
	$(GO) test -race -count=1 -timeout 60m -v -run '^TestUpgrades$$' ./examples/httpserver -args -upgrades=$(or $(STRESS_UPGRADES),100)

# Regenerates the code of examples/grpcserver from its .proto: protoc from
# Debian's protobuf-compiler package (apt-get install protobuf-compiler;
# brew install protobuf), the Go plugins at the versions that
# examples/grpcserver/go.mod pins as tools. Not part of test: the
# generated code is committed.
PROTO_MODULE := github.com/lastcall-go/lastcall/examples/grpcserver

.PHONY: proto
proto:
	@command -v protoc >/dev/null 2>&1 || { echo "protoc not found: apt-get install protobuf-compiler"; exit 1; }
	cd examples/grpcserver && bin=$$(mktemp -d) && trap 'rm -rf "$$bin"' EXIT && \
		$(GO) build -o "$$bin/" google.golang.org/protobuf/cmd/protoc-gen-go google.golang.org/grpc/cmd/protoc-gen-go-grpc && \
		protoc -I proto --plugin=protoc-gen-go="$$bin/protoc-gen-go" --plugin=protoc-gen-go-grpc="$$bin/protoc-gen-go-grpc" \
			--go_out=. --go_opt=module=$(PROTO_MODULE) --go-grpc_out=. --go-grpc_opt=module=$(PROTO_MODULE) \
			lastcall/examples/work/v1/work.proto

# The rolling restart of examples/fleet: three replicas of
# examples/httpserver behind a real HAProxy (haproxy on PATH: apt-get
# install haproxy, brew install haproxy), each restarted in turn for
# $(FLEET_ROUNDS) rounds under load, and the runs without a drain that must
# fail; prints the figures. make test runs the same tests, 10 rounds.
FLEET_ROUNDS ?= 10

.PHONY: fleet
fleet:
	$(GO) test -race -count=1 -timeout $(TIMEOUT) -v -run '^(TestRollingRestart|TestMutantCaught)$$' ./examples/fleet -args -rounds=$(FLEET_ROUNDS)
