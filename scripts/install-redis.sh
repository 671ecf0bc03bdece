#!/usr/bin/env bash
# Install Debian's redis-server (and redis-cli, from redis-tools, which it depends on), used by the Redis item store
# tests (test/serve-stores.test.ts, test/serve-redis-cluster.test.ts) and by `prerank serve --store redis://...` or
# `--store redis-cluster://...` when several serving nodes share one item store.
#
# The tests start their own redis-server on a random loopback port with a temporary directory, and their own
# three-master Redis Cluster (redis-server --cluster-enabled yes, joined by redis-cli --cluster create); the system
# service Debian sets up is not needed by them (it is left as Debian configures it).
#
# Idempotent: re-running only re-checks that the package is present.
set -euo pipefail

PACKAGES=(redis-server redis-tools)

SCRIPT=install-redis.sh
# shellcheck source=lib/apt.sh
source "$(dirname "$0")/lib/apt.sh"

ensure_installed

redis-server --version
redis-cli --version
