GO ?= go
TIMEOUT ?= 10m

.PHONY: all demo test vet crossbuild lint bench tidy

all: lint test

# Build examples/killdemo and run it to its normal end and with kill -15.
demo:
	bash scripts/demo.sh

test: vet
	$(GO) test -race -count=1 -timeout $(TIMEOUT) ./...
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

bench:
	$(GO) test -run '^$$' -bench . -benchmem -timeout $(TIMEOUT) ./...

tidy:
	$(GO) mod tidy

# The kill tests of examples/httpserver and examples/worker with
# $(STRESS_KILLS) kills each, where test runs 10 and 30; not run in CI.
# Each test prints its totals; RELIABILITY.md records one run.
STRESS_KILLS ?= 100

.PHONY: stress
stress:
	$(GO) test -race -count=1 -timeout 60m -v -run '^TestKills$$' ./examples/httpserver ./examples/worker -args -kills=$(STRESS_KILLS)
