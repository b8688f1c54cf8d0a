#!/usr/bin/env bash
# Installs Debian's nginx-light (it has the ssl module) for tests/tls.rs, which starts its
# own nginx on free loopback ports with certificates it generates. Idempotent: does nothing
# when nginx is already installed; apt-get update runs only when it is missing.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
if [[ -x /usr/sbin/nginx ]]; then
    echo "ok: nginx already installed"
    exit 0
fi
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
    SUDO="sudo"
fi
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends nginx-light
