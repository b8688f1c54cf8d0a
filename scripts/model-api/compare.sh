#!/usr/bin/env bash
# Which framework should serve the model? Starts the article's model API on Flask/gunicorn,
# FastAPI/uvicorn and Starlette/uvicorn (one worker each, free loopback ports) and runs
# `blast compare` over them: a limit search per framework under an SLO, rounds rotating the
# order so the machine's drift shows, then p50/p99 at the highest rate all three sustain.
#
#   scripts/model-api/compare.sh [blast compare flags]
#   default flags: -s scenarios/predict-max.toml --slo-p99 100ms --step 3s --rounds 2 -c 1
#   reports: target/model-api-compare/compare.{json,html,csv}
#
# With two or more CPUs the servers are pinned to CPU 0 and blast to CPU 1, so the client
# never takes the servers' CPU. gunicorn's sync workers close every connection, so Flask's
# figures include a TCP handshake per request: the article's stack without a proxy.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

"$here/setup.sh"
cargo build --release --quiet
blast="$root/target/release/blast"
out="$root/target/model-api-compare"
mkdir -p "$out"

server_cpu=() client_cpu=()
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
    server_cpu=(taskset -c 0)
    client_cpu=(taskset -c 1)
fi

free_port() {
    "$root/.venv/bin/python" -c \
        'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

groups=()
cleanup() {
    for g in "${groups[@]}"; do kill -TERM -- "-$g" 2>/dev/null || true; done
}
trap cleanup EXIT

targets=()
for fw in flask fastapi starlette; do
    port="$(free_port)"
    setsid "${server_cpu[@]}" "$here/serve.sh" "$fw" "$port" 2>"$out/$fw.stderr" &
    groups+=($!)
    for _ in $(seq 300); do
        if curl -fs -o /dev/null "http://127.0.0.1:$port/health"; then break; fi
        sleep 0.1
    done
    targets+=(--target "$fw=http://127.0.0.1:$port")
done

[ $# -gt 0 ] || set -- -s scenarios/predict-max.toml --slo-p99 100ms --step 3s --rounds 2 -c 1
"${client_cpu[@]}" "$blast" compare "${targets[@]}" "$@" \
    --json "$out/compare.json" --html "$out/compare.html" --csv "$out/compare.csv"
