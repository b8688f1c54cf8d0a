#!/usr/bin/env bash
# The project's one test command: installs what the tests need, then runs cargo test.
#   - Debian's chromium renders the HTML report (tests/html.rs) and drives the dashboard (tests/web_browser.rs);
#   - Debian's prometheus package lints and scrapes /metrics (tests/web.rs);
#   - the Python model-API servers (scripts/model-api/) are what tests/model_api.rs loads;
#   - Debian's nginx-light is the TLS server tests/tls.rs starts.
# Both installs are idempotent and take seconds once done. Arguments go to cargo test:
#   scripts/test.sh --test model_api
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install-chromium.sh
scripts/install-prometheus.sh
scripts/model-api/setup.sh
scripts/install-nginx.sh
exec cargo test "$@"
