#!/usr/bin/env bash
# CPU cost per request of a scenario run (scenarios/predict-max.toml: 13 generated fields
# per request) next to a plain run POSTing a fixed body of the same size, both against the
# built-in model API on CPU 0, the client pinned to CPU 1. Prints a Markdown table.
# Usage: scripts/bench-scenario.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-8}
cargo build --release --quiet
bin=target/release/blast
log=$(mktemp); tmp=$(mktemp -d)
taskset -c 0 "$bin" serve --addr 127.0.0.1:0 --threads 1 2>"$log" &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -rf "$log" "$tmp"' EXIT
for _ in $(seq 1 100); do url=$(sed -n 's/^listening on //p' "$log"); [ -n "$url" ] && break; sleep 0.05; done

body='{"age":63,"sex":1,"cp":3,"trestbps":145,"chol":233,"fbs":1,"restecg":0,"thalach":150,"exang":0,"oldpeak":2.3,"slope":0,"ca":0,"thal":1}'
run() { # name, blast args...
    local name=$1; shift
    /usr/bin/time -f '%U %S' -o "$tmp/$name.time" taskset -c 1 "$bin" -c 1 -u 50 -d "${secs}s" -q --json "$tmp/$name.json" "$@" >/dev/null
    local cpu reqs
    cpu=$(awk '{print $1 + $2}' "$tmp/$name.time")
    reqs=$(jq .requests "$tmp/$name.json")
    echo "$name $reqs $cpu $(jq '.rps' "$tmp/$name.json")"
}
fixed=$(run fixed -H 'Content-Type: application/json' -b "$body" "$url/predict")
scen=$(run scenario -s scenarios/predict-max.toml --host "$url")
echo "| run | requests | req/s | CPU µs/req |"
echo "|---|---:|---:|---:|"
for line in "$fixed" "$scen"; do
    read -r name reqs cpu rps <<<"$line"
    awk -v n="$name" -v r="$reqs" -v c="$cpu" -v s="$rps" 'BEGIN { printf "| %s | %d | %.0f | %.2f |\n", n, r, s, c / r * 1e6 }'
done
read -r _ r1 c1 _ <<<"$fixed"; read -r _ r2 c2 _ <<<"$scen"
awk -v r1="$r1" -v c1="$c1" -v r2="$r2" -v c2="$c2" 'BEGIN { printf "\nscenario / fixed CPU per request: %.2fx\n", (c2 / r2) / (c1 / r1) }'
