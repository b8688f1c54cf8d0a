#!/usr/bin/env bash
# Runs a blast command that has --web, and keeps a headless Chromium page open on its
# dashboard for the whole run: the case bench-peers.sh --web measures ("the dashboard must
# not cost the engine"). Chromium starts in its own session, pinned to BROWSER_CPU, and is
# never waited for, so GNU time over this script counts blast's CPU (its web thread
# included), not the browser's. Exits with blast's status; blast's stderr goes to stderr.
# With `curl` for CHROMIUM, a plain reader of the page's update stream (/api/stream) stands
# in for the browser: the dashboard's whole cost on blast's side, with none of a browser's
# on the machine.
# Usage: scripts/bench-web-client.sh CHROMIUM|curl BROWSER_CPU BLAST ARGS...
set -euo pipefail
browser=${1:?chromium binary}; browser_cpu=${2:?cpu}; shift 2
err=$(mktemp); profile=$(mktemp -d)
"$@" 2>"$err" &
blast=$!
url=""
for _ in $(seq 1 200); do
    url=$(grep -o 'dashboard at http://[^ ]*' "$err" | head -n1 | sed 's/^dashboard at //') || true
    [ -n "$url" ] && break
    sleep 0.05
done
chrome=""
if [ -n "$url" ]; then
    if [ "$browser" = curl ]; then
        setsid taskset -c "$browser_cpu" curl -sN "${url%/}/api/stream" </dev/null >/dev/null 2>&1 &
    else
        setsid taskset -c "$browser_cpu" "$browser" --headless --no-sandbox --disable-gpu \
            --no-first-run --disable-background-networking --disable-component-update \
            --disable-sync --window-size=1400,1000 --remote-debugging-port=0 \
            --user-data-dir="$profile" "$url" </dev/null >/dev/null 2>&1 &
    fi
    chrome=$!
    disown "$chrome"
else
    echo "bench-web-client.sh: blast printed no dashboard address" >&2
fi
rc=0
wait "$blast" || rc=$?
if [ -n "$chrome" ]; then kill -- "-$chrome" 2>/dev/null || kill "$chrome" 2>/dev/null || true; fi
cat "$err" >&2
rm -rf "$err" "$profile"
exit "$rc"
