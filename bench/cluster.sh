#!/usr/bin/env bash
# End-to-end throughput beyond one machine, on this machine: one gateway process and one
# indexer process talking through the local RabbitMQ into the local PostgreSQL, under the
# closed-loop load of `chargewatch simulate`. Prints records/s stored end to end, the
# visibility lag under load (sampled every 250 ms: how old the newest record visible in
# PostgreSQL is, i.e. how long a frame takes to become visible; p50/p99/max of the samples
# after the first 2 s) and the drain (time from the end of the load until every record the
# gateway published is stored).
#
# With CLUSTER_GATEWAY_STATE=remote the gateway keeps no state (`--gateway-state remote`, its
# own data dir, as on another host) and an API process answers its chargers through RabbitMQ.
#
# With CLUSTER_RATE=N the load sends at most N round trips/s (two records each), to measure
# the visibility lag at a given rate rather than at saturation.
#
#   bench/cluster.sh [STATIONS] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
STATIONS=${1:-100}
SECONDS_LOAD=${2:-20}
cargo build --release -q -p chargewatch
BIN=target/release/chargewatch
RUN=$(date +%s)$$
WORK=$(mktemp -d)
DB=${CHARGEWATCH_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
COMMON=(--amqp-url amqp://guest:guest@127.0.0.1:5672/%2f --amqp-prefix "cwbench-$RUN"
        --database-url "$DB" --database-schema "cwbench_$RUN" --admin-token bench-token-123
        --accept-unknown-stations --default-log-level debug --ocpp-frames-per-second 0)
# More serve flags for both processes, e.g. CLUSTER_SERVE_ARGS="--database-payload-index false".
read -r -a EXTRA <<<"${CLUSTER_SERVE_ARGS:-}"
COMMON+=("${EXTRA[@]}")
RUST_LOG=warn "$BIN" serve --role indexer "${COMMON[@]}" --data-dir "$WORK" --http-listen 127.0.0.1:18391 --ocpp-listen 127.0.0.1:18392 >"$WORK/indexer.log" &
IDX=$!
sleep 2
GATEWAY_ARGS=(--data-dir "$WORK")
API=
if [ "${CLUSTER_GATEWAY_STATE:-local}" = remote ]; then
    RUST_LOG=warn "$BIN" serve --role api "${COMMON[@]}" --data-dir "$WORK" --http-listen 127.0.0.1:18395 --ocpp-listen 127.0.0.1:18396 >"$WORK/api.log" &
    API=$!
    for _ in $(seq 100); do curl -sf http://127.0.0.1:18395/health >/dev/null && break; sleep 0.2; done
    mkdir -p "$WORK/gateway"
    GATEWAY_ARGS=(--data-dir "$WORK/gateway" --gateway-state remote)
fi
RUST_LOG=warn "$BIN" serve --role gateway "${COMMON[@]}" "${GATEWAY_ARGS[@]}" --http-listen 127.0.0.1:18393 --ocpp-listen 127.0.0.1:18394 >"$WORK/gateway.log" &
GW=$!
trap 'kill $IDX $GW $API 2>/dev/null || true; psql "$DB" -qc "DROP SCHEMA IF EXISTS cwbench_$RUN CASCADE" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do curl -sf http://127.0.0.1:18393/health >/dev/null && break; sleep 0.2; done
count() { psql "$DB" -Atqc "SELECT count(*) FROM cwbench_$RUN.log" 2>/dev/null || echo 0; }
lag_samples() {
    sleep 2
    local stop=$(($(date +%s) + SECONDS_LOAD - 2))
    while [ "$(date +%s)" -lt "$stop" ]; do
        psql "$DB" -Atqc "SELECT extract(epoch FROM clock_timestamp() - max(ts)) FROM cwbench_$RUN.log" 2>/dev/null
        sleep 0.25
    done >"$WORK/lag.txt"
}
lag_samples &
LAG=$!
RATE=()
[ -n "${CLUSTER_RATE:-}" ] && RATE=(--rate "$CLUSTER_RATE")
"$BIN" simulate --closed-loop "${RATE[@]}" -n "$STATIONS" --duration "$SECONDS_LOAD" --url ws://127.0.0.1:18394/ocpp --id-prefix BENCH- | tail -3
END=$(date +%s.%N)
wait $LAG || true
sort -g "$WORK/lag.txt" | awk 'NF { v[n++] = $1 } END { if (n) printf "visibility lag under load (%d samples): p50 %.2f s, p99 %.2f s, max %.2f s\n", n, v[int(n * 0.5)], v[int((n - 1) * 0.99)], v[n - 1] }'
kill -TERM $GW; wait $GW || true
PUBLISHED=$(grep -o '"records_published":[0-9]*' "$WORK/gateway.log" | cut -d: -f2)
for _ in $(seq 600); do
    N=$(count)
    [ "$N" -ge "$PUBLISHED" ] && break
    sleep 0.2
done
DONE=$(date +%s.%N)
echo "published=$PUBLISHED stored=$N drain_after_load_s=$(echo "$DONE - $END" | bc)"
echo "records/s end to end: $(echo "$N / ($SECONDS_LOAD + $DONE - $END)" | bc)"
