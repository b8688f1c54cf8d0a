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
# The URL a `blast serve` prints on stderr (in $1) once it listens; fails after 5 s.
listening_url() {
    local url=""
    for _ in $(seq 1 100); do
        url=$(sed -n 's/^listening on //p' "$1")
        [ -n "$url" ] && { echo "$url"; return; }
        sleep 0.05
    done
    echo "the built-in server did not start:" >&2
    cat "$1" >&2
    return 1
}
url=$(listening_url "$log")

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

echo
echo "== HTTPS: blast serve --self-signed (a throwaway CA for --cacert), then the same GET over TLS"
tls_dir=$(mktemp -d)
tls_log=$(mktemp)
"$bin" serve --addr 127.0.0.1:0 --threads 1 --self-signed "$tls_dir" 2>"$tls_log" &
tls_server=$!
trap 'kill "$server" "$tls_server" 2>/dev/null || true; rm -rf "$log" "$tls_log" "$tls_dir"' EXIT
tls_url=$(listening_url "$tls_log")
# The certificate names localhost; --connect-to would do the same for any other name.
tls_url=${tls_url/127.0.0.1/localhost}
"$bin" --cacert "$tls_dir/ca.pem" "$@" "$tls_url/health"
