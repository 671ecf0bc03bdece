#!/usr/bin/env bash
# Install what scripts/build-wasm.mjs compiles the WebAssembly scorer (prerank/web) with: Debian's clang and lld
# (wasm-ld), wasi-libc, and LLVM's libc++/libc++abi and compiler-rt builtins for wasm32-wasi. `npm ci` then builds
# dist/wasm/prerank-scorer.wasm; without them it skips that build with a message, and the scorer's tests skip
# (outside CI) or fail (CI=true).
#
# Idempotent: re-running only re-checks that the packages are present.
set -euo pipefail

PACKAGES=(clang lld wasi-libc libc++-14-dev-wasm32 libc++abi-14-dev-wasm32 libclang-rt-14-dev-wasm32)

SCRIPT=install-wasm-toolchain.sh
# shellcheck source=lib/apt.sh
source "$(dirname "$0")/lib/apt.sh"

ensure_installed

echo "install-wasm-toolchain.sh: $(clang++ --version | head -1), target wasm32-wasi ok"
