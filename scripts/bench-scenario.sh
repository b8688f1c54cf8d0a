#!/usr/bin/env bash
# What a scenario feature costs the client: CPU time per request ((user+sys) / requests) of a
# scenario run next to a plain run that sends the same bytes as a fixed request, both at full
# speed (50 users, no think time) against the built-in model API (`blast serve`) on CPU 0,
# the client pinned to CPU 1. One pair per feature:
#   generated   scenarios/predict-max.toml (13 generated fields) / the same-size fixed body
#   token       on_start login, captured token in `Authorization` / a fixed Authorization header
#   cookie      on_start login, the session cookie from the jar / a fixed Cookie header
#   multipart   a 100 KB image as multipart/form-data / the same multipart body, fixed
#   batch       a repeat batch of 1-32 rows / a fixed batch of 16 rows (the mean size)
# With --locust, also Locust's FastHttpUser running the token flow (login once, then
# POST /predict with the bearer token) against the same server: its CPU per request, from
# /usr/bin/time and its own request count (Locust from target/locust-venv, made with
# `python3 -m venv target/locust-venv && target/locust-venv/bin/pip install locust`).
# Prints a Markdown table. Usage: scripts/bench-scenario.sh [--locust] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
locust=""
if [ "${1:-}" = --locust ]; then locust=yes; shift; fi
secs=${1:-8}
cargo build --release --quiet
bin=target/release/blast
log=$(mktemp); tmp=$(mktemp -d)
taskset -c 0 "$bin" serve --addr 127.0.0.1:0 --threads 1 2>"$log" &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -rf "$log" "$tmp"' EXIT
for _ in $(seq 1 100); do url=$(sed -n 's/^listening on //p' "$log"); [ -n "$url" ] && break; sleep 0.05; done

row='{"age":63,"sex":1,"cp":3,"trestbps":145,"chol":233,"fbs":1,"restecg":0,"thalach":150,"exang":0,"oldpeak":2.3,"slope":0,"ca":0,"thal":1}'
toml_row='{age = 63, sex = 1, cp = 3, trestbps = 145, chol = 233, fbs = 1, restecg = 0, thalach = 150, exang = 0, oldpeak = 2.3, slope = 0, ca = 0, thal = 1}'
json='Content-Type: application/json'

# The scenarios: one task each after an optional login, no think time.
login='[on_start]
name = "login"
method = "POST"
path = "/login"
expect = {status = 200}'
cat >"$tmp/token.toml" <<EOF
$login
capture = {token = "json:/access_token"}
[[task]]
name = "predict"
path = "/predict"
headers = {Authorization = "Bearer {user.token}"}
body = $toml_row
expect = {status = 200}
EOF
cat >"$tmp/cookie.toml" <<EOF
$login
[[task]]
name = "predict"
path = "/predict"
body = $toml_row
expect = {status = 200}
EOF
head -c 102400 /dev/urandom >"$tmp/image.png"
cat >"$tmp/multipart.toml" <<EOF
[[task]]
name = "image"
path = "/image"
expect = {status = 200}
[task.multipart]
image = {files = "$tmp/image.png"}
EOF
cat >"$tmp/batch.toml" <<EOF
[[task]]
name = "batch"
path = "/batch"
expect = {status = 200}
[task.body.instances.repeat]
count = [1, 32]
of = $toml_row
EOF

# The fixed twins: the same bytes each scenario sends.
printf '{"instances":[%s' "$row" >"$tmp/batch16.json"
for _ in $(seq 2 16); do printf ',%s' "$row" >>"$tmp/batch16.json"; done
printf ']}' >>"$tmp/batch16.json"
boundary=blastbenchboundary
{
    printf -- '--%s\r\nContent-Disposition: form-data; name="image"; filename="image.png"\r\nContent-Type: image/png\r\n\r\n' "$boundary"
    cat "$tmp/image.png"
    printf -- '\r\n--%s--\r\n' "$boundary"
} >"$tmp/multipart.body"

run() { # name, blast args...
    local name=$1; shift
    /usr/bin/time -f '%U %S' -o "$tmp/$name.time" taskset -c 1 "$bin" -c 1 -u 50 -d "${secs}s" -q --json "$tmp/$name.json" "$@" >/dev/null
    local failures
    failures=$(jq '[.tasks[].failures] | add' "$tmp/$name.json")
    [ "$failures" = 0 ] || echo "bench-scenario.sh: $name had $failures failures" >&2
    echo "$name $(jq .requests "$tmp/$name.json") $(awk '{print $1 + $2}' "$tmp/$name.time") $(jq .rps "$tmp/$name.json")"
}
locust_run() { # the token flow on Locust's FastHttpUser
    cat >"$tmp/locustfile.py" <<EOF
from locust import FastHttpUser, task

ROW = $row

class Predictor(FastHttpUser):
    def on_start(self):
        token = self.client.post("/login", json={}).json()["access_token"]
        self.headers = {"Authorization": "Bearer " + token}

    @task
    def predict(self):
        self.client.post("/predict", json=ROW, headers=self.headers)
EOF
    /usr/bin/time -f '%U %S' -o "$tmp/locust.time" taskset -c 1 target/locust-venv/bin/locust \
        -f "$tmp/locustfile.py" --headless -u 50 -r 50 -t "${secs}s" --host "$url" \
        --csv "$tmp/locust" --only-summary >/dev/null 2>&1
    local reqs
    reqs=$(awk -F, '$2 == "Aggregated" { print $3 }' "$tmp/locust_stats.csv")
    echo "locust-token $reqs $(awk '{print $1 + $2}' "$tmp/locust.time") $(awk -v n="$reqs" -v s="$secs" 'BEGIN { print n / s }')"
}

results=()
results+=("$(run fixed-13 -H "$json" -b "$row" "$url/predict")")
results+=("$(run generated -s scenarios/predict-max.toml --host "$url")")
results+=("$(run fixed-auth -H "$json" -H 'Authorization: Bearer blast-demo-token' -b "$row" "$url/predict")")
results+=("$(run token -s "$tmp/token.toml" --host "$url")")
results+=("$(run fixed-cookie -H "$json" -H 'Cookie: sid=blast-demo-session' -b "$row" "$url/predict")")
results+=("$(run cookie -s "$tmp/cookie.toml" --host "$url")")
results+=("$(run fixed-100k -H "Content-Type: multipart/form-data; boundary=$boundary" --body-file "$tmp/multipart.body" "$url/image")")
results+=("$(run multipart -s "$tmp/multipart.toml" --host "$url")")
results+=("$(run fixed-16-rows -H "$json" --body-file "$tmp/batch16.json" "$url/batch")")
results+=("$(run batch -s "$tmp/batch.toml" --host "$url")")

echo "| run | requests | req/s | CPU µs/req | vs the fixed run above |"
echo "|---|---:|---:|---:|---:|"
base=""
for line in "${results[@]}"; do
    read -r name reqs cpu rps <<<"$line"
    per=$(awk -v r="$reqs" -v c="$cpu" 'BEGIN { printf "%.2f", c / r * 1e6 }')
    case $name in
        fixed-*) base=$per; ratio="" ;;
        *) ratio=$(awk -v p="$per" -v b="$base" 'BEGIN { printf "%.2fx", p / b }') ;;
    esac
    printf '| %s | %d | %.0f | %s | %s |\n' "$name" "$reqs" "$rps" "$per" "$ratio"
    [ "$name" = token ] && token_per=$per
done
if [ -n "$locust" ]; then
    read -r _ reqs cpu rps <<<"$(locust_run)"
    awk -v r="$reqs" -v c="$cpu" -v s="$rps" -v t="$token_per" 'BEGIN {
        p = c / r * 1e6
        printf "\nLocust FastHttpUser, the token flow: %d requests, %.0f req/s, %.2f CPU µs/req = %.1fx blast'"'"'s token run\n", r, s, p, p / t }'
fi
