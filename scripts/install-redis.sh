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

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "install-redis.sh: must run as root (or with sudo available) to apt-get install ${PACKAGES[*]}" >&2
    exit 1
  fi
}

all_installed() {
  local pkg
  for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || return 1
  done
}

if all_installed; then
  echo "install-redis.sh: ${PACKAGES[*]} already installed"
else
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${PACKAGES[@]}"
fi

redis-server --version
