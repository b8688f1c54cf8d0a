#!/bin/sh
# Debian's prometheus for the /metrics tests (tests/web.rs, tests/web_prometheus.rs):
# `promtool check metrics` lints the exposition text and `prometheus` scrapes a run.
"$(dirname "$0")/install-debian.sh" /usr/bin/promtool prometheus
exec "$(dirname "$0")/install-debian.sh" /usr/bin/prometheus prometheus
