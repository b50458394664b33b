#!/bin/sh
# Send benchmark: our send loop (ledger + mailer + go-mail) against Postfix's smtp-sink
# on loopback, compared with Postfix's own load generator, smtp-source, pushing the
# same number of messages of the same size over the same number of connections.
#
# Needs: Go, the Debian package postfix (smtp-sink, smtp-source), root (the sink drops
# to the postfix user). Loopback only; every step has a time limit.
#
#   sudo bench/send/run.sh                 # 10,000 and 100,000 subscribers
#   SIZES=2000 sudo bench/send/run.sh      # a quick run
set -eu

SIZES=${SIZES:-"10000 100000"}
CONC=${CONC:-10}
LIMIT=${LIMIT:-900} # seconds per step
cd "$(dirname "$0")/../.."

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BIN=$(mktemp -d)/sendbench
go build -o "$BIN" ./bench/send

/usr/sbin/smtp-sink -u postfix -m 1024 127.0.0.1:"$PORT" 1024 &
SINK=$!
trap 'kill $SINK 2>/dev/null; rm -rf "$(dirname "$BIN")"' EXIT INT TERM
sleep 0.5

printf '%-12s %10s %11s %13s %6s %10s %9s %12s %14s\n' subscribers "msg bytes" "ours msg/s" "source msg/s" ratio "peak RSS" "ours secs" "ours CPU/msg" "source CPU/msg"
for n in $SIZES; do
	line=$(timeout "$LIMIT" "$BIN" -n "$n" -addr 127.0.0.1:"$PORT" -concurrency "$CONC")
	ours=$(echo "$line" | sed 's/.*rate=\([0-9.]*\).*/\1/')
	size=$(echo "$line" | sed 's/.*size=\([0-9]*\).*/\1/')
	rss=$(echo "$line" | sed 's/.*peak_rss_mb=\([0-9.]*\).*/\1/')
	secs=$(echo "$line" | sed 's/.*seconds=\([0-9.]*\).*/\1/')
	cpu=$(echo "$line" | sed 's/.*cpu_us_per_msg=\([0-9.]*\).*/\1/')

	t0=$(date +%s.%N)
	srccpu=$( { timeout "$LIMIT" /usr/bin/time -f "%U %S" /usr/sbin/smtp-source -d -s "$CONC" -m "$n" -l "$size" \
		-f weekly@example.com -t reader@example.net 127.0.0.1:"$PORT" >/dev/null; } 2>&1 | tail -n 1)
	t1=$(date +%s.%N)
	src=$(echo "$n $t0 $t1" | awk '{ printf "%.0f", $1 / ($3 - $2) }')
	srcus=$(echo "$srccpu $n" | awk '{ printf "%.0f", ($1 + $2) * 1e6 / $3 }')
	ratio=$(echo "$ours $src" | awk '{ printf "%.0f%%", 100 * $1 / $2 }')
	printf '%-12s %10s %11s %13s %6s %7s MB %9s %9s µs %11s µs\n' "$n" "$size" "$ours" "$src" "$ratio" "$rss" "$secs" "$cpu" "$srcus"
done
