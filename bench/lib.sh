# Shell functions shared by the benchmark scripts of bench/ (sourced, not run).

# port_open PORT: whether something listens on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# serve_chargewatch CPU BIN OCPP_PORT HTTP_PORT DATA_DIR TOKEN LEVEL LOG: starts Chargewatch in
# the background, pinned to CPU, with every station accepted, no per-station frame limit and
# every new station at log level LEVEL; output to LOG. Sets SERVER_PID.
serve_chargewatch() {
    local cpu=$1 bin=$2 ocpp=$3 http=$4 data=$5 token=$6 level=$7 log=$8
    taskset -c "$cpu" "$bin" serve \
        --ocpp-listen "127.0.0.1:$ocpp" --http-listen "127.0.0.1:$http" \
        --data-dir "$data" --admin-token "$token" \
        --accept-unknown-stations --default-log-level "$level" --ocpp-frames-per-second 0 \
        --max-connections 200000 >"$log" 2>&1 &
    SERVER_PID=$!
}
