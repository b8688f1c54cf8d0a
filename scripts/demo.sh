#!/usr/bin/env bash
# A real load test end to end on a fresh machine: build blast, start its built-in model API
# on a free loopback port, blast GET /health and POST /predict at it, stop the server.
# Usage: scripts/demo.sh [blast flags, default: -d 5s -u 50]
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --quiet
bin=target/release/blast
log=$(mktemp)
"$bin" serve --addr 127.0.0.1:0 --threads 1 2>"$log" &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -f "$log"' EXIT

# The server prints "listening on http://ADDR" once bound.
for _ in $(seq 1 100); do
    url=$(sed -n 's/^listening on //p' "$log")
    [ -n "$url" ] && break
    sleep 0.05
done
[ -n "${url:-}" ] || { echo "the built-in server did not start:" >&2; cat "$log" >&2; exit 1; }

[ $# -gt 0 ] || set -- -d 5s -u 50
echo "== GET $url/health"
"$bin" "$@" "$url/health"
echo
echo "== POST $url/predict (one of the article's payloads)"
"$bin" -H 'Content-Type: application/json' \
    -b '{"age":63,"sex":1,"cp":3,"trestbps":145,"chol":233,"fbs":1,"restecg":0,"thalach":150,"exang":0,"oldpeak":2.3,"slope":0,"ca":0,"thal":1}' \
    "$@" "$url/predict"
echo
echo "== the article's user: scenarios/heart-disease.toml (4 valid : 1 invalid predictions, health checks)"
"$bin" -s scenarios/heart-disease.toml --host "$url" --users 300 --spawn-rate 1000 -d 5s
