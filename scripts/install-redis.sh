#!/usr/bin/env bash
# Install Debian's redis-server, used by the Redis item store tests (test/serve-stores.test.ts) and by
# `prerank serve --store redis://...` when several serving nodes share one item store.
#
# The tests start their own redis-server on a random loopback port with a temporary directory; the system
# service Debian sets up is not needed by them (it is left as Debian configures it).
#
# Idempotent: re-running only re-checks that the package is present.
set -euo pipefail

PACKAGES=(redis-server)

SCRIPT=install-redis.sh
# shellcheck source=lib/apt.sh
source "$(dirname "$0")/lib/apt.sh"

if all_installed; then
  echo "install-redis.sh: ${PACKAGES[*]} already installed"
else
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${PACKAGES[@]}"
fi

redis-server --version
