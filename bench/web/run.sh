#!/bin/sh
# Benchmark of one-click unsubscribe: wrk POSTs /unsubscribe/{token} with the RFC 8058
# body to 'weekly web' on loopback, cycling through distinct valid tokens.
#
#   bench/web/run.sh            # alone
#   SEND=1 bench/web/run.sh     # while 'weekly digest send' delivers to a local smtp-sink
#
# Settings: PASSES2 (set: run wrk a second time, when every token is a repeat), DURATION (10s), CONNS (32), THREADS (2), TOKENS (10000), PORT (18080);
# with SEND=1, RECIPIENTS (200000) active subscribers get the issue, SINK_PORT (2525).
# Needs wrk; SEND=1 needs smtp-sink (Debian postfix) and root to start it as postfix.
set -eu
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-10s}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
TOKENS=${TOKENS:-10000}
PORT=${PORT:-18080}
SEND=${SEND:-}
RECIPIENTS=${RECIPIENTS:-200000}
SINK_PORT=${SINK_PORT:-2525}

dir=$(mktemp -d)
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

go build -o "$dir/weekly" ./cmd/weekly
go build -o "$dir/seed" ./bench/web/seed
export WEEKLY_DB="$dir/weekly.db" WEEKLY_OUTBOX="$dir/outbox" WEEKLY_BASE_URL="http://127.0.0.1:$PORT"
export WEEKLY_FROM=weekly@example.com
"$dir/weekly" init >/dev/null
subs=$TOKENS
draft=""
if [ -n "$SEND" ]; then
	subs=$((TOKENS > RECIPIENTS ? TOKENS : RECIPIENTS))
	draft=-draft
fi
"$dir/seed" -db "$WEEKLY_DB" -subscribers "$subs" -n-tokens "$TOKENS" -tokens "$dir/tokens.txt" $draft

"$dir/weekly" web --listen "127.0.0.1:$PORT" >/dev/null 2>"$dir/web.log" &
pids="$pids $!"
i=0
until curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; do
	i=$((i + 1)); [ $i -lt 100 ] || { echo "weekly web did not start:"; cat "$dir/web.log"; exit 1; }
	sleep 0.1
done

if [ -n "$SEND" ]; then
	smtp-sink -u postfix "127.0.0.1:$SINK_PORT" 1000 >/dev/null 2>&1 &
	pids="$pids $!"
	sleep 0.5
	"$dir/weekly" digest send --smtp-host 127.0.0.1 --smtp-port "$SINK_PORT" --smtp-tls none \
		>"$dir/send.out" 2>"$dir/send.log" &
	sendpid=$!
	pids="$pids $sendpid"
	sleep 0.5 # let the send take its lease and start delivering
fi

echo "wrk: $THREADS threads, $CONNS connections, $DURATION, $TOKENS distinct tokens${SEND:+, during a send to $RECIPIENTS recipients}"
echo "--- pass 1: every token's first use unsubscribes (a write), later ones repeat"
wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s bench/web/unsubscribe.lua \
	"http://127.0.0.1:$PORT" -- "$dir/tokens.txt"
if [ -n "${PASSES2:-}" ]; then
	echo "--- pass 2: the same tokens again (all repeats: a read and the page)"
	wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s bench/web/unsubscribe.lua \
		"http://127.0.0.1:$PORT" -- "$dir/tokens.txt"
fi

if [ -n "$SEND" ]; then
	if kill -0 "$sendpid" 2>/dev/null; then
		echo "send: still running when wrk finished, so they overlapped throughout; waiting for it"
	else
		echo "send: FINISHED BEFORE wrk did; raise RECIPIENTS for a full overlap"
	fi
	wait "$sendpid" && echo "send: exit 0" || echo "send: FAILED with exit $?"
	tail -n 3 "$dir/send.out"
	echo "deliveries by status: $(sqlite3 "$WEEKLY_DB" "SELECT group_concat(status || '=' || n, ' ') FROM (SELECT status, count(*) n FROM deliveries GROUP BY status)" 2>/dev/null || echo '(sqlite3 not installed)')"
	if grep -i "database is locked\|SQLITE_BUSY" "$dir/send.log"; then echo "send log: DATABASE LOCKED"; else echo "send log: no 'database is locked'"; fi
fi
if grep -i "database is locked\|SQLITE_BUSY" "$dir/web.log"; then echo "web log: DATABASE LOCKED"; else echo "web log: no 'database is locked'"; fi
errors=$(grep -c 'level=ERROR' "$dir/web.log" || true)
echo "web log: $errors errors"
grep 'level=ERROR' "$dir/web.log" | head -n 3
echo "unsubscribed: $(curl -fsS "http://127.0.0.1:$PORT/metrics" | grep 'weekly_subscribers{status="unsubscribed"}')"
