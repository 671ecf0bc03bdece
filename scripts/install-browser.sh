#!/usr/bin/env bash
# Install Debian's chromium, the browser the WebAssembly scorer's browser test (test/web-browser.test.ts) drives
# through playwright-core (npm; it downloads no browser of its own here). The test skips with a message without it
# outside CI, and fails under CI=true.
#
# Idempotent: re-running only re-checks that the package is present.
set -euo pipefail

PACKAGES=(chromium)

SCRIPT=install-browser.sh
# shellcheck source=lib/apt.sh
source "$(dirname "$0")/lib/apt.sh"

ensure_installed

echo "install-browser.sh: $(/usr/bin/chromium --version 2>/dev/null || echo 'chromium: no version') ok"
