#!/usr/bin/env bash
# Soak: does blast's memory stay flat over a long run with constant reconnects? Runs
# `blast serve` on loopback with --max-connection-age (every connection is retired with
# `Connection: close` after AGE, so each user reconnects every few seconds), blasts it at a
# steady open-model rate for DURATION, samples blast's RSS (VmRSS in /proc) every SAMPLE, and
# prints a Markdown table and whether every sample stayed within 10% of the first one
# (taken one SAMPLE in, after warm-up). Exit code 1 if it did not, or if the run failed.
# The run keeps one timeline entry per second for its reports (counts and an encoded
# histogram, 1-2 KB each); past the last minute they wait in an unlinked temporary file, not
# in memory, so a leak shows as growth. The script prints the timeline's size too.
# Usage: scripts/bench-soak.sh [--duration 30m] [--rate 2000] [--users 20] [--age 5s]
#                              [--sample 60] [--blast PATH]
set -euo pipefail
cd "$(dirname "$0")/.."

duration=30m   # blast's -d
rate=2000      # requests per second, in total
users=20       # connections
age=5s         # the server retires each connection this old
sample=60      # seconds between RSS samples
tolerance=10   # percent
blast=""
while [ $# -gt 0 ]; do
    case $1 in
        --duration) duration=${2:?}; shift 2 ;;
        --rate) rate=${2:?}; shift 2 ;;
        --users) users=${2:?}; shift 2 ;;
        --age) age=${2:?}; shift 2 ;;
        --sample) sample=${2:?}; shift 2 ;;
        --blast) blast=${2:?}; shift 2 ;;
        -h|--help) sed -n '2,/^set /{/^#/p}' "$0"; exit 0 ;;
        *) echo "bench-soak.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
    esac
done
if [ -z "$blast" ]; then
    cargo build --release --quiet
    blast="${CARGO_TARGET_DIR:-target}/release/blast"
fi
[ -x "$blast" ] || { echo "bench-soak.sh: no blast binary at $blast" >&2; exit 2; }

tmp=$(mktemp -d)
server="" client=""
cleanup() {
    for pid in $client $server; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT

"$blast" serve --addr 127.0.0.1:0 --threads 1 --max-connection-age "$age" 2>"$tmp/serve.log" &
server=$!
url=""
for _ in $(seq 1 200); do
    url=$(sed -n 's/^listening on //p' "$tmp/serve.log")
    [ -n "$url" ] && break
    sleep 0.05
done
[ -n "$url" ] || { echo "bench-soak.sh: blast serve did not start: $(cat "$tmp/serve.log")" >&2; exit 1; }

"$blast" -c 1 -u "$users" -R "$rate" -d "$duration" -q --json "$tmp/soak.json" "$url/health" \
    >"$tmp/blast.out" 2>&1 &
client=$!

rss_mib() { # pid → VmRSS in MiB, empty once the process is gone
    awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || true
}

echo "soak: $blast -c 1 -u $users -R $rate -d $duration against blast serve --max-connection-age $age"
echo
echo "| minute | blast RSS MiB | serve RSS MiB | vs first |"
echo "|---:|---:|---:|---:|"
start=$(date +%s)
first="" verdict=flat
while kill -0 "$client" 2>/dev/null; do
    sleep "$sample" &
    wait $! || true
    rss=$(rss_mib "$client")
    [ -n "$rss" ] || break
    minute=$(awk -v s="$(( $(date +%s) - start ))" 'BEGIN { printf "%.1f", s / 60 }')
    first=${first:-$rss}
    drift=$(awk -v r="$rss" -v f="$first" 'BEGIN { printf "%+.1f%%", (r - f) / f * 100 }')
    if awk -v r="$rss" -v f="$first" -v t="$tolerance" 'BEGIN { exit !((r - f) / f * 100 > t || (f - r) / f * 100 > t) }'; then
        verdict="NOT flat"
    fi
    echo "| $minute | $rss | $(rss_mib "$server") | $drift |"
done
status=0
wait "$client" || status=$?
client=""

echo
if [ "$status" -ne 0 ] || [ ! -s "$tmp/soak.json" ]; then
    echo "blast exited with $status:"; cat "$tmp/blast.out"
    exit 1
fi
jq -r '"timeline kept for the reports: \(.timeline | length) seconds, \([.timeline[] | .. | strings | length] | add / 1048576 * 10 | floor / 10) MiB of encoded histograms"' "$tmp/soak.json"
jq -r '"requests \(.requests), \(.rps | floor) req/s, errors \(.errors_total), connections opened \(.connections_opened), retried_stale \(.retried_stale)"' "$tmp/soak.json"
if [ -z "$first" ]; then
    echo "no sample taken: the run was shorter than one sample (${sample}s)"
    exit 1
fi
echo "RSS $verdict within ${tolerance}% of the first sample ($first MiB)"
[ "$verdict" = flat ]
