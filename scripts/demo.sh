#!/usr/bin/env bash
# Runs examples/killdemo twice: once to its normal end, once with kill -15
# sent while it sleeps. Both runs should print handler 2, then handler 1, and
# exit 0. The binary is built, not run with go run, which would not pass the
# signal on to it.
set -euo pipefail
cd "$(dirname "$0")/.."

tmp=$(mktemp -d)
pid=
cleanup() {
	if [ -n "$pid" ]; then kill -KILL "$pid" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$tmp/killdemo" ./examples/killdemo
failed=0

echo "== normal end: killdemo -sleep 1s"
code=0
"$tmp/killdemo" -sleep 1s || code=$?
echo "exit code: $code"
[ "$code" -eq 0 ] || failed=1

echo
echo "== kill -15 during the sleep: killdemo -sleep 30s -timeline"
"$tmp/killdemo" -sleep 30s -timeline >"$tmp/out" 2>&1 &
pid=$!
for _ in $(seq 100); do # up to 5s
	grep -q "Will sleep" "$tmp/out" && break
	sleep 0.05
done
kill -TERM "$pid"
code=0
wait "$pid" || code=$?
pid=
cat "$tmp/out"
echo "exit code: $code"
[ "$code" -eq 0 ] || failed=1

exit "$failed"
