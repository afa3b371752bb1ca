#!/usr/bin/env bash
# Shows one in-place upgrade of examples/httpserver under load: builds the
# server, starts it with a PID file, puts it under load from curl clients
# (POST /work, half of them reusing one keep-alive connection), sends
# kill -USR2 $(cat PIDFILE), and prints the old and new PIDs, the server's
# records of the upgrade, the old process's exit code, and the count of
# client requests answered 200 and of those that failed, by outcome.
# Nothing is in front of the server: no request may fail or be refused.
# Exits 1 if one did, or if the old process did not exit 0.
set -euo pipefail
cd "$(dirname "$0")/.."

CLIENTS=${CLIENTS:-8}
HANDLER_MS=${HANDLER_MS:-50}

tmp=$(mktemp -d)
old=
new=
loaders=()
cleanup() {
	for p in "${loaders[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in $old $new; do kill -KILL "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT

# wait_for FILE PATTERN: up to 10 s for a line matching PATTERN in FILE.
wait_for() {
	for _ in $(seq 200); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "no line matching '$2' in $1 within 10s" >&2
	cat "$1" >&2
	return 1
}

echo "== go build -o $tmp/httpserver ./examples/httpserver"
go build -o "$tmp/httpserver" ./examples/httpserver

echo "== $tmp/httpserver -addr 127.0.0.1:0 -pidfile $tmp/httpserver.pid &"
"$tmp/httpserver" -addr 127.0.0.1:0 -pidfile "$tmp/httpserver.pid" >"$tmp/server.log" 2>&1 &
old=$!
wait_for "$tmp/server.log" "listening on "
addr=$(grep -m1 "listening on " "$tmp/server.log" | sed 's/listening on //')
echo "listening on $addr; PID file: $(cat "$tmp/httpserver.pid")"

url="http://$addr/work?ms=$HANDLER_MS"
echo
echo "== load: $CLIENTS curl clients sending POST $url back to back ($((CLIENTS / 2)) on keep-alive connections)"
for i in $(seq "$CLIENTS"); do
	(
		n=1 # a fresh connection per request
		if [ $((i % 2)) -eq 0 ]; then
			n=20 # one curl, 20 requests on one keep-alive connection
		fi
		args=()
		for _ in $(seq $n); do args+=(-o /dev/null "$url"); done
		while [ ! -e "$tmp/stop" ]; do
			curl -s -X POST -d job -w '%{http_code} %{num_connects}\n' "${args[@]}" || true
		done
	) >>"$tmp/client-$i.log" 2>&1 &
	loaders+=($!)
done
sleep 1 # load pacing: let every client send a few requests first

echo
echo "== kill -USR2 \$(cat $tmp/httpserver.pid)    # $old"
kill -USR2 "$(cat "$tmp/httpserver.pid")"
code=0
wait "$old" || code=$?
new=$(cat "$tmp/httpserver.pid")
echo "old process $old exited with code $code; the PID file names $new"
sleep 1 # load pacing: the new process serves for a while

touch "$tmp/stop"
for p in "${loaders[@]}"; do wait "$p" || true; done
loaders=()
cat "$tmp"/client-*.log >"$tmp/clients.log"
ok=$(awk '$1 == 200' "$tmp/clients.log" | wc -l)
failed=$(awk '$1 != 200' "$tmp/clients.log" | wc -l)

echo
echo "== kill -TERM $new"
kill -TERM "$new"
for _ in $(seq 200); do kill -0 "$new" 2>/dev/null || break; sleep 0.05; done
new_gone=$(kill -0 "$new" 2>/dev/null && echo "still running" || echo "ended")
echo "new process $new $new_gone"

echo
echo "== the server's output (both processes: pid= names which)"
grep -v "hook=" "$tmp/server.log"

echo
reused=$(awk '$1 == 200 && $2 == 0' "$tmp/clients.log" | wc -l)
echo "== clients: $ok requests answered 200 ($reused on a reused keep-alive connection), $failed failed or refused"
if [ "$failed" -gt 0 ]; then
	awk '$1 != 200' "$tmp/clients.log" | sort | uniq -c
fi
[ "$code" -eq 0 ] && [ "$failed" -eq 0 ]
