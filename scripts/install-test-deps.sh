#!/usr/bin/env bash
# What the test suite needs beyond npm, run by `npm test` first (its pretest), so `npm ci && npm test` is enough on a
# fresh Debian machine: redis-server, python3-torch, python3-onnx, clang + lld + wasi-libc and chromium, each through
# its install-*.sh (idempotent: a present package is only re-checked). A package that cannot be installed (no root,
# no network) is reported and its tests skip with a message, or fail under CI=true where the suite requires them.
# Then the WebAssembly scorer is built if `npm ci` ran before its toolchain was there.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
for script in install-redis install-reference install-onnx-checker install-wasm-toolchain install-browser; do
  bash "$here/$script.sh" >/dev/null 2>&1 || echo "install-test-deps.sh: $script.sh did not complete: the tests that need it will skip (or fail under CI=true)"
done
if [ ! -f "$here/../dist/wasm/prerank-scorer.wasm" ]; then
  node "$here/build-wasm.mjs" --if-toolchain || echo "install-test-deps.sh: the WebAssembly scorer was not built"
fi
exit 0
