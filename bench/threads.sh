#!/usr/bin/env bash
# Interleaved A/B runs of Chargewatch's closed loop, judged by each thread's CPU time.
#
#   bench/threads.sh REPS SECONDS "NAME|BINARY|ENV=VALUE ..." ["NAME|BINARY|ENV=VALUE ..."]...
#   bench/threads.sh 3 8 "before|/tmp/cw-before|" "after|target/release/chargewatch|"
#
# Each variant runs REPS times, interleaved with the others: a fresh server at log level debug
# pinned to CPU 0 (`taskset`), `chargewatch simulate --closed-loop` with 100 stations on CPU 1
# for SECONDS. Printed per run: round trips/s, p99, the server's CPU µs per round trip, each
# thread's CPU ticks (utime + stime from /proc/PID/task/*/stat over the load), and two ratios:
# the state writer's and the log store's CPU time over the gateway thread's. The gateway's work
# per round trip is the same in every variant that does not change it, so these ratios show a
# change in a writer's cost per round trip even when this shared machine's speed swings by
# ±30 % between runs (which round trips/s cannot). The gateway is the busiest tokio worker; the
# log store's appends run on tokio's blocking threads (the other `tokio-rt-worker`s), and
# log_writes/record is their write system calls (`syscw` of /proc/TID/io: WAL frame headers
# and pages, checkpoints) over the records stored (`records_stored` on /metrics).
# Environment variables in a variant apply to its server only. Everything stays on 127.0.0.1.
set -euo pipefail

[ $# -ge 3 ] || { sed -n '2,18p' "$0" >&2; exit 2; }
REPS=$1 DURATION=$2
shift 2
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
PORT=19500 HTTP=19580 TOKEN=threads-bench-token

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# snapshot PID: per thread "tid comm cpu_ticks write_syscalls"; then "stored N" (records stored).
snapshot() {
    for t in /proc/"$1"/task/*; do
        echo "${t##*/} $(tr ' ' _ <"$t/comm") $(awk '{print $14 + $15}' "$t/stat") $(awk '/^syscw/ {print $2}' "$t/io")"
    done
    echo "stored $(curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$HTTP/metrics" |
        awk '/^chargewatch_records_stored / {print $2}')"
}

# run_once NAME BINARY ENV...: one closed loop against a fresh server; prints one line.
run_once() {
    local name=$1 bin=$2
    shift 2
    local dir pid kv
    dir=$(mktemp -d "${TMPDIR:-/tmp}/chargewatch-threads.XXXXXX")
    port_open $PORT && { echo "127.0.0.1:$PORT is in use" >&2; exit 1; }
    # The variant's environment, for the server only.
    for kv in "$@"; do export "${kv?}"; done
    serve_chargewatch 0 "$bin" $PORT $HTTP "$dir/data" $TOKEN debug "$dir/server.log"
    for kv in "$@"; do unset "${kv%%=*}"; done
    pid=$SERVER_PID
    for _ in $(seq 1 100); do port_open $PORT && break; sleep 0.1; done
    sleep 1
    snapshot $pid >"$dir/before"
    taskset -c 1 "$bin" simulate --closed-loop --url "ws://127.0.0.1:$PORT/ocpp" -n 100 --duration "$DURATION" \
        --id-prefix LOAD- --report-json "$dir/report.json" >"$dir/sim.log" 2>&1
    snapshot $pid >"$dir/after"
    kill -TERM $pid
    wait $pid 2>/dev/null || true
    python3 - "$name" "$dir" "$(getconf CLK_TCK)" <<'PY'
import json, sys
name, d, hz = sys.argv[1], sys.argv[2], int(sys.argv[3])
r = json.load(open(f"{d}/report.json"))
def read(path):
    rows = [line.split() for line in open(path)]
    stored = int(next((r[1] for r in rows if r[0] == "stored" and len(r) > 1), 0))
    return {int(r[0]): (r[1], int(r[2]), int(r[3])) for r in rows if r[0] != "stored"}, stored
(a, stored_a), (b, stored_b) = read(f"{d}/before"), read(f"{d}/after")
zero = (None, 0, 0)
threads = sorted((tid, comm, t - a.get(tid, zero)[1], w - a.get(tid, zero)[2]) for tid, (comm, t, w) in b.items())
threads = [t for t in threads if t[2] > 0]
workers = [t for t in threads if t[1].startswith("tokio-rt-worker")]
top = max(workers, key=lambda t: t[2]) if workers else (0, "", 0, 0)
gateway = top[2]
state = sum(t[2] for t in threads if t[1] in ("state-writer", "state-sync"))
log_store = sum(t[2] for t in workers) - gateway
log_writes = sum(t[3] for t in workers) - top[3]
stored = stored_b - stored_a
total = sum(t[2] for t in threads)
ratio = lambda x: f"{x / gateway:.2f}" if gateway else "?"
print(f"{name:<12} rt/s={r['round_trips_per_sec']:7.0f} p99={r['p99_ms']:6.2f}ms "
      f"cpu_us/rt={total * 1e6 / hz / max(r['round_trips'], 1):5.1f} "
      f"gateway={gateway} state={state} log={log_store} state/gateway={ratio(state)} log/gateway={ratio(log_store)} "
      f"log_writes/record={log_writes / stored if stored else 0:.3f}")
PY
    rm -rf "$dir"
}

for _ in $(seq 1 "$REPS"); do
    for variant in "$@"; do
        IFS='|' read -r name bin envs <<<"$variant"
        # shellcheck disable=SC2086 # the variant's environment: words on purpose
        run_once "$name" "$bin" ${envs:-CHARGEWATCH_THREADS_BENCH=1}
    done
done
