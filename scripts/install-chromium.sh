#!/bin/sh
# Debian's chromium for the browser tests (tests/html.rs, tests/web_browser.rs).
exec "$(dirname "$0")/install-debian.sh" /usr/bin/chromium chromium fonts-dejavu-core
