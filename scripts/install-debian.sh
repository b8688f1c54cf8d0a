#!/bin/sh
# Installs Debian packages for the test suite unless the program they provide is there:
#   scripts/install-debian.sh PROGRAM PACKAGE...
# Idempotent and quiet: nothing runs (not even apt-get update) when PROGRAM is executable;
# afterwards PROGRAM must exist, else it says so and fails.
set -eu
program=$1
shift
[ -x "$program" ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
if [ ! -x "$program" ]; then
    echo "install-debian: $program still missing after apt-get install $*" >&2
    exit 1
fi
