#!/usr/bin/env bash
# Serves the article's model API (GET /health, POST /predict, POST /batch, POST /image,
# GET /stats: see model_api.py) with a real Python framework,
# on 127.0.0.1 only, for blast to load-test and for tests/model_api.rs:
#
#   scripts/model-api/serve.sh flask|fastapi|starlette PORT [--workers N]
#
#   flask      Flask on gunicorn, sync workers (the article's stack)
#   fastapi    FastAPI on uvicorn (uvloop, httptools)
#   starlette  Starlette on uvicorn (uvloop, httptools)
#
# N worker processes (default 1). Environment:
#   AUTH=1          POST /predict requires a session from POST /login (Authorization: Bearer
#                   <token> or the sid cookie), else 401;
#   KEEP_ALIVE_S    (uvicorn) how long an idle keep-alive connection stays open (default 5);
#   TLS_CERT, TLS_KEY  serve HTTPS with this certificate chain and key (PEM).
# Access logs are off: under load they would cost more CPU than the API. Runs setup.sh first when the virtualenv is missing. The server replaces this
# script (exec), so its PID is the server's; to stop it and its workers, signal that PID's
# process group. Note: gunicorn's sync workers close the connection after every response.
set -euo pipefail

usage() {
    echo "usage: $0 flask|fastapi|starlette PORT [--workers N]" >&2
    exit 2
}

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$(cd "$here/../.." && pwd)/.venv"

[ $# -ge 2 ] || usage
framework="$1"
port="$2"
shift 2
workers=1
while [ $# -gt 0 ]; do
    case "$1" in
        --workers | -w)
            [ $# -ge 2 ] || usage
            workers="$2"
            shift 2
            ;;
        --workers=*)
            workers="${1#--workers=}"
            shift
            ;;
        *)
            echo "serve.sh: unknown option: $1" >&2
            usage
            ;;
    esac
done
case "$port$workers" in
    *[!0-9]*)
        echo "serve.sh: PORT and N must be numbers (got port '$port', workers '$workers')" >&2
        exit 2
        ;;
esac
case "$framework" in
    flask | fastapi | starlette) ;;
    *)
        echo "serve.sh: unknown framework '$framework': expected flask, fastapi or starlette" >&2
        exit 2
        ;;
esac

if [ ! -x "$venv/bin/python" ]; then
    "$here/setup.sh"
fi

export PYTHONPYCACHEPREFIX="$venv/pycache"
export MODEL_API_AUTH="${AUTH:-0}"
cd "$here"
tls=()
if [ -n "${TLS_CERT:-}" ]; then
    case "$framework" in
        flask) tls=(--certfile "$TLS_CERT" --keyfile "${TLS_KEY:?TLS_KEY with TLS_CERT}") ;;
        *) tls=(--ssl-certfile "$TLS_CERT" --ssl-keyfile "${TLS_KEY:?TLS_KEY with TLS_CERT}") ;;
    esac
fi
case "$framework" in
    flask)
        exec "$venv/bin/gunicorn" flask_app:app \
            --bind "127.0.0.1:$port" --workers "$workers" --worker-class sync \
            --log-level warning "${tls[@]}"
        ;;
    fastapi | starlette)
        exec "$venv/bin/uvicorn" "${framework}_app:app" \
            --host 127.0.0.1 --port "$port" --workers "$workers" \
            --loop uvloop --http httptools --no-access-log --log-level warning \
            --timeout-keep-alive "${KEEP_ALIVE_S:-5}" "${tls[@]}"
        ;;
esac
