#!/usr/bin/env bash
# Runs every benchmark of make bench and prints the report. Run from the
# repository root (make bench does). Settings, from the environment:
#   GO          the go command (go)
#   COUNT       -count of the library's benchmarks, and rounds of the
#               in-process comparison (6)
#   RUNS        runs of each quick whole-process scenario (201)
#   HTTP_RUNS   runs of the HTTP drain scenario (25)
#   BIG_RUNS    runs of the scenario of 100,000 hooks (15)
#   SLOW_RUNS   runs of the second-signal scenario, 10 s each for fx (3)
#   OUT         where raw results go, relative to bench/ (out)
set -euo pipefail
cd "$(dirname "$0")"

GO=${GO:-go}
COUNT=${COUNT:-6}
RUNS=${RUNS:-201}
HTTP_RUNS=${HTTP_RUNS:-25}
BIG_RUNS=${BIG_RUNS:-15}
SLOW_RUNS=${SLOW_RUNS:-3}
OUT=${OUT:-out}
TIMEOUT=${TIMEOUT:-30m}

"$GO" mod download
mkdir -p "$OUT"
{
	echo "# $(date -u +%FT%TZ)"
	echo "# before: $(uptime)"
	echo "# cores: $(nproc)"
	echo "# $("$GO" version)"
	grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/^/# /' || true
	echo "# commit: $(git -C .. rev-parse --short HEAD 2>/dev/null || echo unknown)"
	git -C .. status --short -- shutdown signals 2>/dev/null | sed 's/^/# not committed: /' || true
} >"$OUT/machine.txt"

echo "== library benchmarks (shutdown/bench_test.go)" >&2
(cd .. && "$GO" test -run '^$' -bench . -benchmem -count "$COUNT" -timeout "$TIMEOUT" ./shutdown/) | tee "$OUT/lib.txt"
echo "# after the library's benchmarks: $(uptime)" >>"$OUT/machine.txt"

echo "== comparison, in-process (bench/compare)" >&2
# Each library's benchmark runs in a process of its own, round robin, so
# that none inherits another's heap or goroutines (oklog/run leaves 100,000
# dead goroutines behind, which every later garbage collection of the
# process walks) and a change in the machine's load weighs on all alike.
"$GO" test -c -o "$OUT/compare.test" ./compare/
bench() { "$OUT/compare.test" -test.run '^$' -test.benchmem -test.timeout "$TIMEOUT" -test.bench "$@"; }
{
	for _ in $(seq "$COUNT"); do
		for lib in lastcall hand 'hand\+clock' 'hand\+report' fx oklog; do
			bench "^BenchmarkStop\$/^hooks=100000\$/^lib=$lib\$"
		done
		for lib in lastcall hand 'hand\+handle' fx oklog; do
			bench "^BenchmarkRegister\$/^lib=$lib\$"
		done
		for lib in lastcall hand 'hand\+deadline' 'hand\+contract' fx oklog; do
			bench "^BenchmarkSmall\$/^lib=$lib\$"
		done
		# Sleeping hooks take 20 ms to 80 ms an iteration: 5 of them a round.
		for lib in lastcall hand 'hand\+errgroup' 'hand\+contract' oklog; do
			bench "^BenchmarkStage\$/^hooks=10000\$/^lib=$lib\$" -test.benchtime 5x
			bench "^BenchmarkStage\$/^hooks=200\$/^lib=$lib\$" -test.benchtime 5x
		done
		for lib in lastcall hand 'hand\+errgroup' 'hand\+contract'; do
			bench "^BenchmarkStage\$/^hooks=200\$/^limit=50\$/^lib=$lib\$" -test.benchtime 5x
		done
	done
	# fx runs a stage's 200 hooks one after another: 4 s an iteration.
	bench '^BenchmarkStage$/^hooks=200$/^lib=fx$' -test.benchtime 1x
	for lib in lastcall hand fx oklog; do
		bench "^BenchmarkHung\$/^lib=$lib\$" -test.benchtime 3x
	done
} | tee "$OUT/compare.txt"
echo "# after the comparison: $(uptime)" >>"$OUT/machine.txt"

echo "== whole process (bench/cmd/procbench)" >&2
"$GO" run ./cmd/procbench -n "$RUNS" -n-http "$HTTP_RUNS" -n-big "$BIG_RUNS" -n-slow "$SLOW_RUNS" | tee "$OUT/proc.txt"

echo "# after: $(uptime)" >>"$OUT/machine.txt"
"$GO" tool benchstat -col /lib "$OUT/compare.txt" >"$OUT/benchstat.txt"
"$GO" run ./cmd/report "$OUT/lib.txt" "$OUT/compare.txt" "$OUT/proc.txt" | tee "$OUT/report.md"
echo "== raw results, benchstat's tables and this report: bench/$OUT/" >&2
