#!/bin/sh
# Debian's nginx-light (it has the ssl module) for tests/tls.rs, which starts its own nginx
# on free loopback ports with certificates it generates.
exec "$(dirname "$0")/install-debian.sh" /usr/sbin/nginx nginx-light
