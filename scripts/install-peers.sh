#!/usr/bin/env bash
# Installs the peer load generators and the server that scripts/bench-peers.sh
# compares blast against: nginx-light (server), wrk, oha, plus GNU time and jq.
# Idempotent: anything already present is left alone; apt-get update runs at
# most once per invocation, and only when a Debian package is missing.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
    SUDO="sudo"
fi

apt_updated=0

# Installs a Debian package unless dpkg already reports it installed.
apt_install() {
    local pkg=$1
    if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        echo "ok: $pkg already installed"
        return
    fi
    if [[ $apt_updated -eq 0 ]]; then
        $SUDO apt-get update -q
        apt_updated=1
    fi
    $SUDO apt-get install -y -q --no-install-recommends "$pkg"
}

apt_install nginx-light
apt_install wrk
apt_install jq   # bench-peers.sh reads blast's and oha's JSON with it
if [[ ! -x /usr/bin/time ]]; then
    apt_install time
else
    echo "ok: /usr/bin/time present"
fi

# oha is not packaged for Debian 12; build it from crates.io.
if command -v oha >/dev/null 2>&1; then
    echo "ok: oha already on PATH ($(command -v oha))"
else
    echo "installing oha with cargo (this can take several minutes)..."
    cargo install oha --locked
fi

# nginx-light's package starts a system-wide nginx on :80; the benchmark runs
# its own instance, so stop the packaged one if it is running.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet nginx 2>/dev/null; then
    $SUDO systemctl stop nginx || true
fi
