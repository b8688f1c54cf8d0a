#!/bin/sh
# Installs Debian's prometheus package for the /metrics tests (tests/web.rs): `promtool check
# metrics` lints the exposition text and `prometheus` scrapes a run on loopback.
# Idempotent and quiet: does nothing when /usr/bin/promtool is already there.
set -eu

if [ -x /usr/bin/promtool ] && [ -x /usr/bin/prometheus ]; then
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null

if [ ! -x /usr/bin/promtool ]; then
    echo "install-prometheus: /usr/bin/promtool still missing after apt-get install" >&2
    exit 1
fi
