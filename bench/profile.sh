#!/usr/bin/env bash
# make bench-profile: where the time of the missed targets goes. Run from
# the repository root. Settings: GO (go), OUT (out, relative to bench/).
#   1. CPU profile of 100 shutdowns of 100,000 no-op hooks (the Stop row);
#   2. CPU profile of a stage of 10,000 sleeping hooks, and the share of
#      stack growth (runtime.newstack) in lastcall's and in the
#      hand-written floors' (the stage rows);
#   3. strace -f -c of one whole run of lastcall's and hand's process
#      programs, and, where perf works, bench/trace.sh: a timeline of the
#      time from SIGTERM to the end of each program (the exit rows).
set -euo pipefail
cd "$(dirname "$0")"
GO=${GO:-go}
OUT=${OUT:-out}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

echo "== 1. Stop of 100,000 no-op hooks (shutdown's BenchmarkShutdown/seq/hooks=100000)"
(cd .. && "$GO" test -run '^$' -bench 'Shutdown/seq/hooks=100000$' -benchtime 100x \
	-cpuprofile "$OUT/stop.prof" -o "$OUT/shutdown.test" ./shutdown/)
# Registration is outside the timer but inside the profile: keep the
# shutdown's part only.
"$GO" tool pprof -top -cum -nodecount 30 -focus 'shutdown\.\(\*Coordinator\)\.(run|walk)$' \
	"$OUT/shutdown.test" "$OUT/stop.prof"

echo "== 2. one stage of 10,000 sleeping hooks (bench/compare), stack growth per library"
"$GO" test -c -o "$OUT/compare.test" ./compare/
for lib in lastcall hand 'hand\+errgroup' 'hand\+contract'; do
	f="$OUT/stage-${lib//[\\+]/}.prof"
	"$OUT/compare.test" -test.run '^$' -test.bench "^BenchmarkStage\$/^hooks=10000\$/^lib=$lib\$" \
		-test.benchtime 10x -test.cpuprofile "$f" | grep ^Benchmark
	"$GO" tool pprof -top "$OUT/compare.test" "$f" 2>/dev/null | grep -E 'runtime\.newstack$' | sed "s/^/$lib: /" || true
done
# Which function was running out of stack in lastcall's stage.
"$GO" tool pprof -traces "$OUT/compare.test" "$OUT/stage-lastcall.prof" 2>/dev/null |
	awk 'BEGIN{RS="-----------[+]-+"} /runtime[.]newstack/ {n=split($0,L,"\n"); got=0
		for(i=1;i<=n;i++){ if (got && L[i] ~ /[a-z]/) {gsub(/^ +/,"",L[i]); print "overflowed in: " L[i]; break}
		if (L[i] ~ /runtime[.]newstack/) got=1 } }' | sort | uniq -c | sort -rn | head -5

echo "== 3. whole processes: strace -f -c of one run, then the SIGTERM-to-end timeline"
"$GO" build -o "$OUT/proc-lastcall" ./cmd/lastcall
"$GO" build -o "$OUT/proc-hand" ./cmd/hand
once() { # once OUTFILE BIN ARGS...: strace -f -c one run, SIGTERM after "ready"
	local out=$1 fifo p
	shift
	fifo=$(mktemp -u)
	mkfifo "$fifo"
	strace -f -c -o "$out" "$@" >"$fifo" &
	p=$!
	exec 3<"$fifo"
	read -r _ <&3
	kill -TERM "$(pgrep -P "$p")"
	cat <&3 >/dev/null
	wait "$p" || true
	exec 3<&-
	rm -f "$fifo"
}
if command -v strace >/dev/null; then
	for p in lastcall hand; do
		once "$OUT/strace-$p.txt" "$OUT/proc-$p" -hooks 5
		echo "-- $p, 5 hooks: clone, the poller, futex, total"
		grep -E 'clone|epoll|eventfd|futex|total' "$OUT/strace-$p.txt" || true
	done
else
	echo "strace not found: apt-get install strace"
fi
if command -v perf >/dev/null && perf record -q -o /dev/null -e sched:sched_switch true 2>/dev/null; then
	OUT=$OUT bash trace.sh
else
	echo "perf with tracepoints not available: skipped bench/trace.sh"
fi
