#!/usr/bin/env bash
# CI's fuzz smoke: builds and runs every fuzz target in fuzz/ briefly (`fuzz run` builds its
# target first), so the targets keep building and a shallow crash is caught. cargo-fuzz needs
# the nightly toolchain; without it this says why and skips (exit 0) instead of failing CI.
# Usage: scripts/fuzz-smoke.sh [SECONDS_PER_TARGET]   (default 30)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
# A run slower than this on one input is a hang (the targets run short loopback scripts).
per_input_timeout=30

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz-smoke: skipped: no nightly toolchain (cargo-fuzz needs it: rustup toolchain install nightly)"
    exit 0
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz-smoke: installing cargo-fuzz"
    cargo install --locked cargo-fuzz
fi

cd fuzz
# monoio leaks 16 bytes per runtime (see the file); LeakSanitizer stays on for the rest.
export LSAN_OPTIONS="suppressions=$PWD/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
targets=$(cargo +nightly fuzz list)
[ -n "$targets" ] || { echo "fuzz-smoke: no fuzz targets found in fuzz/" >&2; exit 1; }
for target in $targets; do
    echo "fuzz-smoke: $target for ${secs}s"
    cargo +nightly fuzz run "$target" -- -max_total_time="$secs" -timeout="$per_input_timeout"
done
