"""Turns the raw figures of bench/compare.sh into bench/results.json and bench/results.md.

    python3 summarize.py RAW_DIR results.json results.md
"""

import glob
import json
import os
import re
import statistics
import sys

raw, out_json, out_md = sys.argv[1:4]


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def median_of(values):
    """The median of the values that are known (None when none is)."""
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def paired_ratio(reps, base_reps):
    """Median over repetitions of this server's rate over the baseline's in the same
    repetition: runs of one repetition follow each other within a minute, so a slow spell
    of a shared machine weighs on both sides of each ratio."""
    base = {r["rep"]: r["round_trips_per_sec"] for r in base_reps}
    return median_of(r["round_trips_per_sec"] / base[r["rep"]] for r in reps if base.get(r["rep"]))


machine = load(os.path.join(raw, "machine.json")) or {}
NAMES = {
    "chargewatch": "Chargewatch",
    "ocpp": "PyPI ocpp",
    "ocpp-rpc": "npm ocpp-rpc (strict)",
    "chargewatch-info": "*reference:* Chargewatch at level info",
    "ceiling": "*reference:* bare answerer",
}
STORE = {
    "chargewatch": "embedded log store, level debug",
    "ocpp": "appended to a file",
    "ocpp-rpc": "appended to a file",
    "chargewatch-info": "errors, boots, status changes",
    "ceiling": "none (no parsing either)",
}
CHARGEWATCH = ("chargewatch", "chargewatch-info")

closed = {}
for name in NAMES:
    reps = []
    for path in sorted(glob.glob(os.path.join(raw, f"closed-{name}-*.json"))):
        if not re.fullmatch(rf"closed-{re.escape(name)}-\d+\.json", os.path.basename(path)):
            continue
        r = load(path)
        if not r:
            continue
        r["rep"] = int(re.search(r"-(\d+)\.json$", path).group(1))
        base = path[: -len(".json")]
        r["server"] = load(base + ".server.json") or {}
        stored = load(base + ".stored.json") or {}
        if name in CHARGEWATCH:
            p = stored.get("pipeline", {})
            r["stored"] = {
                k: p.get(k)
                for k in ("frames_in", "frames_out", "records_captured", "records_stored", "records_dropped")
            }
        else:
            r["stored"] = stored
        cpu_s, trips = r["server"].get("server_cpu_s"), r.get("round_trips")
        r["cpu_us_per_round_trip"] = cpu_s * 1e6 / trips if cpu_s and trips else None
        reps.append(r)
    if not reps:
        continue

    def med(key, reps=reps):
        return statistics.median(r[key] for r in reps)

    cpu = [r["server"].get("server_cpu_s", 0) / max(r["server"].get("wall_s", 1), 1e-9) for r in reps]
    closed[name] = {
        "reps": reps,
        "round_trips_per_sec": med("round_trips_per_sec"),
        "p50_ms": med("p50_ms"),
        "p90_ms": med("p90_ms"),
        "p99_ms": med("p99_ms"),
        "errors": sum(r["errors"] + r["connect_failures"] for r in reps),
        "server_cpu_share": statistics.median(cpu),
        "cpu_us_per_round_trip": median_of(r["cpu_us_per_round_trip"] for r in reps),
        "server_rss_mib": statistics.median(r["server"].get("server_rss_kb", 0) for r in reps) / 1024,
    }

for name, c in closed.items():
    for base in ("ocpp", "ocpp-rpc"):
        if base in closed and base != name:
            b = closed[base]
            c[f"ratio_vs_{base}"] = c["round_trips_per_sec"] / max(b["round_trips_per_sec"], 1e-9)
            c[f"paired_ratio_vs_{base}"] = paired_ratio(c["reps"], b["reps"])
            if c["cpu_us_per_round_trip"] and b["cpu_us_per_round_trip"]:
                c[f"cpu_ratio_vs_{base}"] = b["cpu_us_per_round_trip"] / c["cpu_us_per_round_trip"]

idle = {}
for label in ("small", "big"):
    r, s = load(os.path.join(raw, f"idle-{label}.json")), load(os.path.join(raw, f"idle-{label}.server.json"))
    if r and s:
        delta = (s["rss_connected_kb"] - s["rss_before_kb"]) * 1024
        r.update(s)
        r["bytes_per_connection"] = delta / max(r.get("connected_at_end") or r.get("booted") or 1, 1)
        r["extrapolated_100k_gib"] = (s["rss_before_kb"] * 1024 + 100_000 * r["bytes_per_connection"]) / 2**30
        cap = load(os.path.join(raw, f"idle-{label}.cap.json"))
        if cap:
            r["requested"] = cap["requested"]
        idle[label] = r
storm = load(os.path.join(raw, "storm.json"))

results = {"machine": machine, "closed_loop": closed, "idle": idle, "storm": storm}
with open(out_json, "w") as f:
    json.dump(results, f, indent=2)
    f.write("\n")

# ----- markdown ---------------------------------------------------------------------------------
def times(v):
    return f"{v:.1f}×" if v else "—"


def cpu_table(closed):
    """Two views that a shared machine's slow spells disturb less than the medians above:
    throughput ratios taken within each repetition, and the server's CPU time per round trip
    (`utime + stime` from /proc, which leaves out time stolen by the hypervisor)."""
    return [
        "Steadier views of the same runs: *paired* is the median over repetitions of the ratio within one "
        "repetition (the servers of a repetition run back to back); *CPU per round trip* is the server's "
        "CPU time (user + system, /proc/PID/stat) over the run divided by its round trips, and its ratios "
        "say how many times more CPU the baseline spends on one round trip.",
        "",
        "| server | paired vs ocpp | paired vs ocpp-rpc | server CPU µs per round trip | CPU vs ocpp | CPU vs ocpp-rpc |",
        "|---|---:|---:|---:|---:|---:|",
    ] + [
        f"| {NAMES[name]} | {times(c.get('paired_ratio_vs_ocpp'))} | {times(c.get('paired_ratio_vs_ocpp-rpc'))} | "
        f"{c['cpu_us_per_round_trip'] or 0:.1f} | {times(c.get('cpu_ratio_vs_ocpp'))} | "
        f"{times(c.get('cpu_ratio_vs_ocpp-rpc'))} |"
        for name, c in closed.items()
    ] + [""]


m = machine
lines = [
    "# Benchmark: Chargewatch against central systems on PyPI `ocpp` and npm `ocpp-rpc`",
    "",
    f"Produced by `bench/compare.sh` on {m.get('date', '?')}, commit `{m.get('commit', '?')}`.",
    "",
    f"Machine: {m.get('nproc', '?')} cores ({m.get('cpu', '?')}), {round(m.get('mem_total_kb', 0) / 2**20)} GiB, "
    f"Linux {m.get('kernel', '?')}; load average before the run {m.get('loadavg_before', '?')}, "
    f"after {m.get('loadavg_after', '?')}. {m.get('rustc', '')}; Python {m.get('python', '').replace('Python ', '')} "
    f"with ocpp {m.get('ocpp_py', '?')} and websockets {m.get('websockets_py', '?')}; Node {m.get('node', '?')} "
    f"with ocpp-rpc {m.get('ocpp_rpc', '?')}.",
    "",
    f"Each server pinned to CPU {m.get('server_cpu', 0)} (`taskset`), the load generator "
    f"(`chargewatch simulate --closed-loop`) to CPU {m.get('load_cpu', 1)}. {m.get('connections', '?')} "
    f"stations, each sending its next CALL as soon as the previous answer arrived (70 % MeterValues with four "
    f"sampled values, 20 % Heartbeat, 10 % StatusNotification), {m.get('duration_s', '?')} s per run, "
    f"{m.get('reps', '?')} runs per server interleaved, medians. The three central systems validate every "
    "payload against the OCPP 1.6 schemas and store every frame in and out.",
    "",
] + (
    [
        "The rows marked *reference* are not part of the comparison: Chargewatch at log level `info` (the "
        "default: errors, boots and status changes stored, the other frames kept in each station's ring buffer) "
        "shows what the message log at `debug` costs; the bare answerer (`crates/sim/examples/bare_answerer.rs`) "
        "answers every CALL with one fixed payload without parsing, validating or storing anything: the "
        "WebSocket library and the kernel's loopback TCP alone, the ceiling of any server on this core.",
        "",
    ]
    if any(n in closed for n in ("chargewatch-info", "ceiling"))
    else []
) + (
    [
        f"Note: the load average before the run was {m.get('loadavg_before')}: other processes (builds) ran "
        "concurrently on this 2-core machine and took CPU time from the servers and the load generator; "
        "treat the figures as lower bounds and compare the three servers with each other (interleaved runs).",
        "",
    ]
    if float(str(m.get("loadavg_before", "0")).split()[0]) > 1.0
    else []
) + [
    "## Closed loop",
    "",
    "| server | frames stored | round trips/s | p50 ms | p90 ms | p99 ms | vs ocpp | vs ocpp-rpc | server CPU | errors |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
]
for name, c in closed.items():
    def ratio(base, c=c):
        return times(c.get(f"ratio_vs_{base}"))

    lines.append(
        f"| {NAMES[name]} | {STORE[name]} | {c['round_trips_per_sec']:,.0f} | {c['p50_ms']:.2f} | {c['p90_ms']:.2f} | "
        f"{c['p99_ms']:.2f} | {ratio('ocpp')} | {ratio('ocpp-rpc')} | {100 * c['server_cpu_share']:.0f} % | {c['errors']} |"
    )
lines.append("")
lines.append("Runs (round trips/s):")
lines.append("")
for name, c in closed.items():
    runs = ", ".join(f"{r['round_trips_per_sec']:,.0f}" for r in c["reps"])
    extra = ""
    if name == "ceiling":
        extra = ""
    elif name in CHARGEWATCH:
        st = [r["stored"] for r in c["reps"]]
        extra = "; records stored/dropped per run: " + ", ".join(
            f"{s.get('records_stored')}/{s.get('records_dropped')}" for s in st
        )
    else:
        extra = "; frames in the file per run: " + ", ".join(str(r["stored"].get("frames_in_file")) for r in c["reps"])
    lines.append(f"- {NAMES[name]}: {runs}{extra}")
    kinds = {}
    for r in c["reps"]:
        for k, v in r.get("error_kinds", {}).items():
            kinds[k] = kinds.get(k, 0) + v
    if kinds:
        lines.append(f"  - errors: " + ", ".join(f"{k}: {v}" for k, v in sorted(kinds.items())))
lines.append("")
lines += cpu_table(closed)

if idle or storm:
    lines += ["## Chargewatch: idle stations and connection storm", ""]
for label, r in idle.items():
    req = f" (asked for {r['requested']:,}; capped by the open-file hard limit {m.get('fd_limit')})" if r.get("requested") else ""
    lines.append(
        f"- **Idle, {r['stations']:,} stations**{req}: {r['booted']:,} booted in {r['time_to_boot_s']:.1f} s, "
        f"{r['connected_at_end']:,} still connected after {r['hold_s']:.0f} s of heartbeats; server RSS "
        f"{r['rss_before_kb'] / 1024:.0f} MiB before, {r['rss_connected_kb'] / 1024:.0f} MiB connected "
        f"(peak {r['rss_peak_kb'] / 1024:.0f} MiB): **{r['bytes_per_connection'] / 1024:.1f} KiB per connection**, "
        f"100,000 stations ≈ {r['extrapolated_100k_gib']:.2f} GiB. Errors: {r['errors']}"
        + (f" ({', '.join(f'{k}: {v}' for k, v in r['error_kinds'].items())})" if r["errors"] else "")
    )
if storm:
    lines.append(
        f"- **Connection storm, {storm['stations']:,} stations** (connect + BootNotification as fast as they can, "
        f"at most 1000 handshakes in flight): {storm['booted']:,} booted, **all done after {storm['time_to_all_s']:.2f} s**; "
        f"per station connect+boot p50 {storm['connect_and_boot_p50_ms']:.0f} ms, p99 {storm['connect_and_boot_p99_ms']:.0f} ms. "
        f"Errors: {storm['errors']}"
        + (f" ({', '.join(f'{k}: {v}' for k, v in storm['error_kinds'].items())})" if storm["errors"] else "")
    )
lines.append("")
lines.append("Raw figures: `bench/results.json`.")
with open(out_md, "w") as f:
    f.write("\n".join(lines) + "\n")
print("\n".join(lines))
