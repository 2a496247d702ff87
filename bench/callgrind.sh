#!/usr/bin/env bash
# Instruction counts of the server per round trip, which this shared machine's speed swings
# leave alone (unlike round trips/s): Chargewatch at log level debug under valgrind's
# callgrind, while `chargewatch simulate --closed-loop` paces 100 stations at 300 round
# trips/s for 20 s. Prints the round trips and the inclusive counts of the three threads'
# entry points (the log store's includes opening its day file once, ~6,000 per round trip,
# printed below it); the whole profile is in OUT (`callgrind_annotate --inclusive=yes OUT`).
#
#   bench/callgrind.sh BINARY OUT
#   bench/callgrind.sh target/release/chargewatch /tmp/cg.after
#
# At this pace a commit groups few calls, so the writers weigh more than at saturation.
# Totals move by ~2 % between runs of one binary (how calls fall into commits); compare
# the function that a change touches. Everything stays on 127.0.0.1.
set -euo pipefail

[ $# -eq 2 ] || { sed -n '2,10p' "$0" >&2; exit 2; }
BIN=$(realpath "$1") OUT=$2
PORT=19700 HTTP=19780
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install -y valgrind)" >&2; exit 1; }
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
port_open $PORT && { echo "127.0.0.1:$PORT is in use" >&2; exit 1; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/chargewatch-callgrind.XXXXXX")
valgrind --tool=callgrind --callgrind-out-file="$OUT" "$BIN" serve \
    --ocpp-listen "127.0.0.1:$PORT" --http-listen "127.0.0.1:$HTTP" --data-dir "$dir/data" \
    --admin-token callgrind-bench-token --accept-unknown-stations --default-log-level debug \
    --ocpp-frames-per-second 0 >"$dir/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 200); do port_open $PORT && break; sleep 0.5; done
sleep 2
"$BIN" simulate --closed-loop --url "ws://127.0.0.1:$PORT/ocpp" -n 100 --rate 300 --duration 20 \
    --id-prefix CG- --report-json "$dir/report.json" >"$dir/sim.log" 2>&1
sleep 1
kill -TERM $pid
wait $pid 2>/dev/null || true
python3 - "$dir/report.json" "$OUT" <<'PY'
import json, re, subprocess, sys
r = json.load(open(sys.argv[1]))
out = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", "--auto=no", sys.argv[2]],
                     capture_output=True, text=True).stdout
def count(pattern):
    for line in out.splitlines():
        if re.search(pattern, line):
            return int(line.split()[0].replace(",", ""))  # the largest: lines come sorted
    return 0
n = max(r["round_trips"], 1)
print(f"round trips {r['round_trips']}, errors {r['errors']}")
for name, pattern in [("server", r"PROGRAM TOTALS"),
                      ("gateway", r"gateway::connection::run::\{\{closure\}\} \["),
                      ("log store", r"SqliteLogStore::append_blocking \["),
                      # Once per run, inside the log store's line: opening the day's file
                      # (finalizing its zstd dictionary is most of it).
                      ("  day file open", r"sqlite::partition::Partition::open"),
                      ("state writer", r"state::write_loop \[")]:
    c = count(pattern)
    print(f"{name:13} {c:>14,} instructions, {c / n:>9,.0f} per round trip")
PY
rm -rf "$dir"
