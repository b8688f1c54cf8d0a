#!/usr/bin/env bash
# The framework comparison: blast against the article's model API on Flask/gunicorn,
# FastAPI/uvicorn and Starlette/uvicorn, one worker each, and a markdown table of the results.
#
#   scripts/model-api/compare.sh [SECONDS] [WORKERS]     # defaults: 5 s, 1 worker
#
# Per framework: GET /health with 50 keep-alive users, then scenarios/predict-max.toml
# (valid /predict payloads, no think time) with 50 users. With two or more CPUs the server
# is pinned to CPU 0 and blast to CPU 1, so the client never takes the server's CPU.
# gunicorn's sync workers close every connection, so Flask's figures include a TCP
# handshake per request: that is the article's stack as deployed without a proxy.
set -euo pipefail

seconds="${1:-5}"
workers="${2:-1}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

"$here/setup.sh"
cargo build --release --quiet
blast="$root/target/release/blast"

server_cpu=() client_cpu=()
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
    server_cpu=(taskset -c 0)
    client_cpu=(taskset -c 1)
fi

free_port() {
    "$root/.venv/bin/python" -c \
        'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# "rps p50 p99 non-2xx+errors" from a blast JSON report.
summary() {
    "$root/.venv/bin/python" - "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
bad = sum(n for code, n in r["status_codes"].items() if not code.startswith("2"))
lat = r["latency_ms"] or {}
print(f'{r["rps"]:.0f} | {lat.get("p50", "-")} | {lat.get("p99", "-")} | {bad + r["errors_total"]}')
PY
}

tmp="$(mktemp -d)"
server=""
cleanup() {
    if [ -n "$server" ]; then kill -TERM -- "-$server" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT

echo "| framework | test | req/s | p50 ms | p99 ms | non-2xx + errors |"
echo "|---|---|---:|---:|---:|---:|"
for fw in flask fastapi starlette; do
    port="$(free_port)"
    setsid "${server_cpu[@]}" "$here/serve.sh" "$fw" "$port" --workers "$workers" \
        2>"$tmp/$fw.stderr" &
    server=$!
    for _ in $(seq 300); do
        if curl -fs -o /dev/null "http://127.0.0.1:$port/health"; then break; fi
        sleep 0.1
    done
    "${client_cpu[@]}" "$blast" -c 1 -q -u 50 -d "${seconds}s" --json "$tmp/health.json" \
        "http://127.0.0.1:$port/health" >/dev/null
    echo "| $fw | GET /health, 50 users | $(summary "$tmp/health.json") |"
    "${client_cpu[@]}" "$blast" -c 1 -q -s scenarios/predict-max.toml \
        --host "http://127.0.0.1:$port" -u 50 -d "${seconds}s" --json "$tmp/predict.json" >/dev/null
    echo "| $fw | predict-max.toml, 50 users | $(summary "$tmp/predict.json") |"
    kill -TERM -- "-$server"
    wait "$server" 2>/dev/null || true
    server=""
done
