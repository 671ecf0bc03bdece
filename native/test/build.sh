#!/usr/bin/env bash
# Builds the standalone GEMM check/benchmark (no Node) with generic x86-64 / default flags, as the addon is.
#   native/test/build.sh [extra g++ flags...]   → native/test/gemm_check (or $OUT)
#   native/test/gemm_check [check|bench]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$here/.."
out="${OUT:-$here/gemm_check}"
"${CXX:-g++}" -O3 -std=c++17 -pthread -Wall -Wextra "$@" \
  "$here/gemm_check.cc" "$src/cpu.cc" "$src/pool.cc" "$src/gemm.cc" \
  "$src/gemm_avx512.cc" "$src/gemm_avx2.cc" "$src/gemm_portable.cc" \
  -o "$out"
echo "built $out"
