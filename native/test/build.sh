#!/usr/bin/env bash
# Builds the standalone native checks (no Node) with generic x86-64 / default flags, as the addon is:
#   native/test/build.sh [extra g++ flags...]   → native/test/gemm_check (or $OUT), native/test/serve_check (or $SERVE_OUT)
#   native/test/gemm_check [check|bench]        the GEMM against a double-precision reference, and its speed
#   native/test/serve_check                     the serving score kinds and their kernels by name, on every ISA
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$here/.."
out="${OUT:-$here/gemm_check}"
serve_out="${SERVE_OUT:-$here/serve_check}"
gemm=("$src/cpu.cc" "$src/pool.cc" "$src/gemm.cc" "$src/gemm_avx512.cc" "$src/gemm_avx2.cc" "$src/gemm_portable.cc")
"${CXX:-g++}" -O3 -std=c++17 -pthread -Wall -Wextra "$@" "$here/gemm_check.cc" "${gemm[@]}" -o "$out"
echo "built $out"
"${CXX:-g++}" -O3 -std=c++17 -pthread -Wall -Wextra "$@" "$here/serve_check.cc" "${gemm[@]}" \
  "$src/serve.cc" "$src/serve_scores.cc" "$src/serve_avx512.cc" "$src/serve_avx512bf16.cc" "$src/serve_avx2.cc" \
  "$src/serve_portable.cc" "$src/serve_wasm128.cc" -o "$serve_out"
echo "built $serve_out"
