#!/usr/bin/env bash
# Where the time from SIGTERM to the end of a process goes: runs
# cmd/lastcall, cmd/hand and hand's floors -stdio, -deadline,
# -deadline -warm and -contract RUNS times each, round robin, under perf
# record (tracepoints of signals, the scheduler and system calls, for the
# shell that runs them and its children only), and prints cmd/exittrace's
# medians. perf adds its own cost to every event: read the columns as
# counts and shares, not as the figures of procbench. Needs perf (Debian:
# linux-perf) and root, or perf_event_paranoid ≤ -1.
# Run from the repository root (make bench-profile does). Settings:
#   GO     the go command (go)
#   RUNS   runs of each program (21)
#   HOOKS  no-op hooks each program registers (5)
#   OUT    where perf.data and the timelines go, relative to bench/ (out)
set -euo pipefail
cd "$(dirname "$0")"
GO=${GO:-go}
RUNS=${RUNS:-21}
HOOKS=${HOOKS:-5}
OUT=${OUT:-out}
mkdir -p "$OUT/trace"
OUT=$(cd "$OUT" && pwd)
bin=$OUT/trace
"$GO" build -o "$bin/lastcall" ./cmd/lastcall
"$GO" build -o "$bin/hand" ./cmd/hand
"$GO" build -tags contract -o "$bin/hand-contract" ./cmd/hand
cp "$bin/hand" "$bin/hand-stdio"
cp "$bin/hand" "$bin/hand-deadline"
cp "$bin/hand" "$bin/hand-dl-warm"

# once BIN ARGS...: start, wait for the ready line, SIGTERM, wait.
once() {
	local fifo p line
	fifo=$(mktemp -u)
	mkfifo "$fifo"
	"$@" >"$fifo" &
	p=$!
	exec 3<"$fifo"
	read -r line <&3
	sleep 0.02
	kill -TERM "$p"
	cat <&3 >/dev/null
	wait "$p" || true
	exec 3<&-
	rm -f "$fifo"
}
runs() {
	for _ in $(seq "$RUNS"); do
		once "$bin/lastcall" -hooks "$HOOKS"
		once "$bin/hand" -hooks "$HOOKS"
		once "$bin/hand-stdio" -hooks "$HOOKS" -stdio
		once "$bin/hand-deadline" -hooks "$HOOKS" -deadline
		once "$bin/hand-dl-warm" -hooks "$HOOKS" -deadline -warm
		once "$bin/hand-contract" -hooks "$HOOKS" -contract
	done
}
export -f once runs
export bin RUNS HOOKS
perf record -q -o "$OUT/trace/perf.data" \
	-e signal:signal_generate,signal:signal_deliver,sched:sched_switch,sched:sched_wakeup,sched:sched_wakeup_new,raw_syscalls:sys_enter,sched:sched_process_exit \
	-- bash -c runs
perf script -i "$OUT/trace/perf.data" -F comm,pid,tid,cpu,time,event,trace 2>/dev/null >"$OUT/trace/script.txt"
"$GO" run ./cmd/exittrace -v <"$OUT/trace/script.txt" >"$OUT/trace/timelines.md"
sed '/^####/,$d' "$OUT/trace/timelines.md"
echo "== timelines of one run each: $OUT/trace/timelines.md" >&2
