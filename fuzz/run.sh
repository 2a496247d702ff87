#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (default 60 s each) from the committed seed
# corpus; exits non-zero on the first crash (its input is left in fuzz/artifacts/<target>/).
#
#   fuzz/run.sh              # every target, 60 s each
#   FUZZ_SECONDS=10 fuzz/run.sh frame_decode log_query
#
# cargo-fuzz needs nightly flags; on the stable toolchain RUSTC_BOOTSTRAP=1 allows them.
# cargo-fuzz itself is installed when missing (cargo install, ~2 minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")"

seconds="${FUZZ_SECONDS:-60}"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(frame_decode payload_validate log_query cert_subject_cn)
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

export RUSTC_BOOTSTRAP=1
# Build every target first: one build with sanitizer and coverage instrumentation.
cargo fuzz build

for t in "${targets[@]}"; do
    echo "fuzzing $t for ${seconds}s"
    mkdir -p "scratch/$t"
    # New inputs go to scratch/ (ignored); the committed seeds in corpus/ are only read.
    cargo fuzz run "$t" "scratch/$t" "corpus/$t" -- \
        -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
done
echo "fuzz: ${#targets[@]} passed, 0 failed"
