#!/usr/bin/env bash
# Sets up the Python model-API servers (scripts/model-api/): a virtualenv at <repo>/.venv with
# the pinned requirements, and the model that train.py writes to .venv/model/heart.joblib.
# Idempotent and quiet, from any directory: a second run only checks two timestamps.
#   - the venv is created when .venv/bin/python is missing;
#   - requirements.txt is installed when it differs from the copy kept after the last install;
#   - the model is trained when it is missing or older than train.py or that install.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$root/.venv"
python="${PYTHON:-python3}"
installed="$venv/requirements.installed"
model="$venv/model/heart.joblib"
# Bytecode caches go in the venv, not next to the sources in the work tree.
export PYTHONPYCACHEPREFIX="$venv/pycache"

if [ ! -x "$venv/bin/python" ]; then
    # Debian's own python3 ships venv apart, in python3-venv: install it when it is missing.
    if ! "$python" -c 'import ensurepip' >/dev/null 2>&1 && command -v apt-get >/dev/null; then
        sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-venv >/dev/null
    fi
    "$python" -m venv "$venv"
fi

if ! cmp -s "$here/requirements.txt" "$installed"; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        --requirement "$here/requirements.txt"
    cp "$here/requirements.txt" "$installed"
fi

if [ ! -f "$model" ] || [ "$here/train.py" -nt "$model" ] || [ "$installed" -nt "$model" ]; then
    (cd "$here" && "$venv/bin/python" train.py "$model")
fi
