#!/usr/bin/env bash
# Chargewatch against two baseline central systems, in one run on one machine.
#
#   bench/compare.sh            # from the repository root or anywhere
#
# 1. Builds Chargewatch (cargo build --release), a Python venv with the PyPI `ocpp` library
#    (bench/.venv) and the npm `ocpp-rpc` library (bench/node, npm ci).
# 2. Closed-loop throughput: each server in turn pinned to one core (taskset -c 0), the load
#    generator (`chargewatch simulate --closed-loop`) on the other core (taskset -c 1);
#    BENCH_CONNECTIONS stations, BENCH_DURATION seconds, BENCH_REPS repetitions interleaved;
#    every frame stored: Chargewatch at log level debug in its embedded store, the baselines
#    append every frame to a file. Medians and ratios are printed.
# 3. Chargewatch only: idle stations (server memory from /proc/PID/status VmRSS, bytes per
#    connection from the RSS delta) and a connection storm (time until all booted).
# 4. Writes bench/results.md and bench/results.json.
#
# Everything runs on 127.0.0.0/8 and is bounded in time. Knobs (environment):
#   BENCH_DURATION=15 BENCH_REPS=3 BENCH_CONNECTIONS=100 BENCH_IDLE=10000
#   BENCH_IDLE_BIG=100000 (capped by the open-file hard limit; 0 skips) BENCH_STORM=10000
#   BENCH_SERVER_CPU=0 BENCH_LOAD_CPU=1 BENCH_SKIP_BUILD=1
#   BENCH_ONLY=chargewatch,ocpp,ocpp-rpc,chargewatch-info,ceiling
# The last two are references, not competitors: Chargewatch at log level info (the default:
# errors, boots and status changes stored, the rest kept in the per-station ring) and
# `bare_answerer`, which answers every CALL with a fixed payload and does nothing else
# (the WebSocket stack and the kernel alone: the ceiling on this core).
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$BENCH")"
cd "$ROOT"
# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"

DURATION=${BENCH_DURATION:-15}
REPS=${BENCH_REPS:-3}
CONNS=${BENCH_CONNECTIONS:-100}
IDLE_N=${BENCH_IDLE:-10000}
IDLE_BIG=${BENCH_IDLE_BIG:-100000}
STORM_N=${BENCH_STORM:-10000}
SERVER_CPU=${BENCH_SERVER_CPU:-0}
LOAD_CPU=${BENCH_LOAD_CPU:-1}
ONLY=${BENCH_ONLY:-chargewatch,ocpp,ocpp-rpc,chargewatch-info,ceiling}
IDLE_HOLD=${BENCH_IDLE_HOLD:-30}
IDLE_HEARTBEAT=${BENCH_IDLE_HEARTBEAT:-10}

CW_OCPP_PORT=19000
CW_HTTP_PORT=19080
PY_PORT=19101
RPC_PORT=19102
BARE_PORT=19103
TOKEN="bench-$(date +%s)-$$"

log() { printf '\n== %s\n' "$*" >&2; }
die() { printf 'compare.sh: %s\n' "$*" >&2; exit 1; }

command -v taskset >/dev/null || die "taskset (util-linux) is needed"
command -v python3 >/dev/null || die "python3 is needed"
command -v node >/dev/null && command -v npm >/dev/null || die "node and npm are needed"
[ "$(nproc)" -ge 2 ] || die "needs at least 2 cores (server on one, load on another)"

# One file descriptor per connection, on both sides.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
FD_LIMIT=$(ulimit -n)

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# ----- build ------------------------------------------------------------------------------
if [ -z "${BENCH_SKIP_BUILD:-}" ]; then
    log "cargo build --release"
    cargo build --release -p chargewatch
    cargo build --release -p chargewatch-sim --example bare_answerer
fi
BARE="${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/bare_answerer"
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/chargewatch"
[ -x "$BIN" ] || die "$BIN missing (cargo build --release)"

if [ ! -x "$BENCH/.venv/bin/python" ]; then
    log "python venv (bench/.venv) with ocpp + websockets"
    python3 -m venv "$BENCH/.venv"
fi
"$BENCH/.venv/bin/pip" install -q --disable-pip-version-check -r "$BENCH/requirements.txt"
if [ ! -d "$BENCH/node/node_modules/ocpp-rpc" ]; then
    log "npm ci (bench/node) for ocpp-rpc"
    (cd "$BENCH/node" && npm ci --no-audit --no-fund --loglevel=error) >&2
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/chargewatch-bench.XXXXXX")
RAW="$WORK/raw"
mkdir -p "$RAW"
SERVER_PID=""
cleanup() {
    stop_server
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_port() {
    local port=$1 i
    for i in $(seq 1 200); do
        port_open "$port" && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; die "server exited"; }
        sleep 0.1
    done
    die "nothing listens on 127.0.0.1:$port after 20 s"
}

stop_server() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    SERVER_PID=""
}

# start_server NAME: starts one server pinned to SERVER_CPU, sets SERVER_PID and URL.
start_server() {
    local name=$1
    for p in $CW_OCPP_PORT $CW_HTTP_PORT $PY_PORT $RPC_PORT $BARE_PORT; do
        port_open "$p" && die "127.0.0.1:$p is already in use"
    done
    case $name in
    chargewatch | chargewatch-info)
        local level=debug
        [ "$name" = chargewatch-info ] && level=info
        rm -rf "$WORK/cw-data"
        serve_chargewatch "$SERVER_CPU" "$BIN" "$CW_OCPP_PORT" "$CW_HTTP_PORT" "$WORK/cw-data" "$TOKEN" "$level" \
            "$WORK/server.log"
        URL="ws://127.0.0.1:$CW_OCPP_PORT/ocpp"
        wait_port "$CW_OCPP_PORT"
        ;;
    ocpp)
        rm -f "$WORK/frames-ocpp.log"
        taskset -c "$SERVER_CPU" "$BENCH/.venv/bin/python" "$BENCH/baseline_ocpp.py" \
            --port "$PY_PORT" --log "$WORK/frames-ocpp.log" >"$WORK/server.log" 2>&1 &
        SERVER_PID=$!
        URL="ws://127.0.0.1:$PY_PORT/ocpp"
        wait_port "$PY_PORT"
        ;;
    ocpp-rpc)
        rm -f "$WORK/frames-ocpp-rpc.log"
        (cd "$BENCH/node" && exec taskset -c "$SERVER_CPU" node baseline_ocpp_rpc.mjs \
            --port "$RPC_PORT" --log "$WORK/frames-ocpp-rpc.log") >"$WORK/server.log" 2>&1 &
        SERVER_PID=$!
        URL="ws://127.0.0.1:$RPC_PORT/ocpp"
        wait_port "$RPC_PORT"
        ;;
    ceiling)
        [ -x "$BARE" ] || die "$BARE missing (cargo build --release -p chargewatch-sim --example bare_answerer)"
        taskset -c "$SERVER_CPU" "$BARE" "127.0.0.1:$BARE_PORT" >"$WORK/server.log" 2>&1 &
        SERVER_PID=$!
        URL="ws://127.0.0.1:$BARE_PORT/ocpp"
        wait_port "$BARE_PORT"
        ;;
    *) die "unknown server $name" ;;
    esac
    sleep 1
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# Frames the server stored: Chargewatch's pipeline counters, or lines in the baselines' files.
stored_json() {
    local name=$1 out=$2
    case $name in
    chargewatch | chargewatch-info)
        sleep 2 # let the indexer commit its last batch
        curl -fsS -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$CW_HTTP_PORT/api/v1/logs/stats" >"$out" ||
            echo '{}' >"$out"
        ;;
    ocpp | ocpp-rpc)
        sleep 1.5 # the baselines flush their file buffers about every second
        printf '{"frames_in_file": %s}\n' "$(wc -l <"$WORK/frames-$name.log")" >"$out"
        ;;
    ceiling) echo '{}' >"$out" ;;
    esac
}

# ----- closed loop --------------------------------------------------------------------------
IFS=, read -r -a SERVERS <<<"$ONLY"
log "closed loop: ${SERVERS[*]}; $CONNS connections, ${DURATION}s, $REPS repetitions (server on CPU $SERVER_CPU, load on CPU $LOAD_CPU)"
for rep in $(seq 1 "$REPS"); do
    for name in "${SERVERS[@]}"; do
        start_server "$name"
        t0=$(cpu_ticks "$SERVER_PID")
        s0=$(date +%s.%N)
        timeout $((DURATION + 180)) taskset -c "$LOAD_CPU" "$BIN" simulate --closed-loop \
            --url "$URL" -n "$CONNS" --duration "$DURATION" --id-prefix LOAD- \
            --report-json "$RAW/closed-$name-$rep.json" >"$WORK/sim.log" 2>&1 ||
            { cat "$WORK/sim.log" >&2; die "load generator failed against $name"; }
        t1=$(cpu_ticks "$SERVER_PID")
        s1=$(date +%s.%N)
        printf '{"server_cpu_s": %s, "wall_s": %s, "server_rss_kb": %s}\n' \
            "$(awk -v a="$t0" -v b="$t1" -v h="$(getconf CLK_TCK)" 'BEGIN {print (b - a) / h}')" "$(awk -v a="$s0" -v b="$s1" 'BEGIN {print b - a}')" \
            "$(rss_kb "$SERVER_PID")" >"$RAW/closed-$name-$rep.server.json"
        stored_json "$name" "$RAW/closed-$name-$rep.stored.json"
        printf '   %-12s rep %s: %s\n' "$name" "$rep" "$(tail -n1 "$WORK/sim.log")" >&2
        stop_server
    done
done

# ----- Chargewatch idle and storm --------------------------------------------------------------
case ",$ONLY," in *,chargewatch,*) CW=1 ;; *) CW="" ;; esac

# idle_run N LABEL: a fresh server, N idle stations, RSS before and while they are connected.
idle_run() {
    local n=$1 label=$2
    log "idle: $n stations (hold ${IDLE_HOLD}s, heartbeat every ${IDLE_HEARTBEAT}s)"
    start_server chargewatch
    sleep 2
    local before after hwm
    before=$(rss_kb "$SERVER_PID")
    timeout $((IDLE_HOLD + 300)) taskset -c "$LOAD_CPU" "$BIN" simulate --idle -n "$n" \
        --url "$URL" --id-prefix IDLE- --duration "$IDLE_HOLD" --heartbeat-interval "$IDLE_HEARTBEAT" \
        --report-json "$RAW/idle-$label.json" >"$WORK/idle.log" 2>&1 &
    local sim=$!
    local ready=""
    for _ in $(seq 1 2400); do
        grep -q '^IDLE-READY' "$WORK/idle.log" 2>/dev/null && { ready=1; break; }
        kill -0 "$sim" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$ready" ] || { cat "$WORK/idle.log" >&2; echo "idle run $label did not get ready" >&2; }
    sleep 5
    after=$(rss_kb "$SERVER_PID")
    wait "$sim" || true
    hwm=$(hwm_kb "$SERVER_PID")
    printf '{"stations": %s, "rss_before_kb": %s, "rss_connected_kb": %s, "rss_peak_kb": %s}\n' \
        "$n" "$before" "$after" "$hwm" >"$RAW/idle-$label.server.json"
    printf '   %s\n   %s\n   server RSS %s MiB before, %s MiB with the stations connected\n' \
        "$(grep '^IDLE-READY' "$WORK/idle.log" || true)" "$(tail -n1 "$WORK/idle.log")" \
        $((before / 1024)) $((after / 1024)) >&2
    stop_server
}

if [ -n "$CW" ]; then
    [ "$IDLE_N" -gt 0 ] && idle_run "$IDLE_N" small
    if [ "$IDLE_BIG" -gt 0 ]; then
        # Server and load generator each need one descriptor per station.
        big=$IDLE_BIG
        if [ "$big" -gt $((FD_LIMIT - 500)) ]; then
            big=$((FD_LIMIT - 500))
            echo "   (open-file hard limit $FD_LIMIT: the large idle run uses $big stations, not $IDLE_BIG)" >&2
        fi
        if [ "$big" -gt "$IDLE_N" ]; then
            idle_run "$big" big
            printf '{"requested": %s, "fd_limit": %s}\n' "$IDLE_BIG" "$FD_LIMIT" >"$RAW/idle-big.cap.json"
        fi
    fi
    if [ "$STORM_N" -gt 0 ]; then
        log "connection storm: $STORM_N stations"
        start_server chargewatch
        timeout 200 taskset -c "$LOAD_CPU" "$BIN" simulate --storm -n "$STORM_N" --url "$URL" \
            --id-prefix STORM- --duration 120 --report-json "$RAW/storm.json" >"$WORK/storm.log" 2>&1 || true
        echo "   $(tail -n1 "$WORK/storm.log")" >&2
        stop_server
    fi
fi

# ----- results ---------------------------------------------------------------------------------
cat >"$RAW/machine.json" <<EOF
{"nproc": $(nproc), "cpu": "$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)",
 "mem_total_kb": $(awk '/^MemTotal:/ {print $2}' /proc/meminfo), "kernel": "$(uname -r)",
 "date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)", "loadavg_before": "$LOAD_BEFORE",
 "loadavg_after": "$(cut -d' ' -f1-3 /proc/loadavg)", "fd_limit": $FD_LIMIT,
 "commit": "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet 2>/dev/null || echo +dirty)",
 "rustc": "$(rustc --version 2>/dev/null || echo unknown)", "python": "$("$BENCH/.venv/bin/python" --version 2>&1)",
 "node": "$(node --version)", "ocpp_py": "$("$BENCH/.venv/bin/python" -c 'import importlib.metadata as m; print(m.version("ocpp"))')",
 "websockets_py": "$("$BENCH/.venv/bin/python" -c 'import importlib.metadata as m; print(m.version("websockets"))')",
 "ocpp_rpc": "$(node -p 'require("./bench/node/node_modules/ocpp-rpc/package.json").version')",
 "connections": $CONNS, "duration_s": $DURATION, "reps": $REPS, "server_cpu": $SERVER_CPU, "load_cpu": $LOAD_CPU}
EOF
python3 "$BENCH/summarize.py" "$RAW" "$BENCH/results.json" "$BENCH/results.md"
