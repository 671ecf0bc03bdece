// WebAssembly SIMD128 build of the serving kernels (serve_kernels.inc): 4-float v128 vectors, for the browser
// scorer (native/wasm, `prerank/web`). SIMD128 has no fused multiply-add: vfma is a multiply then an add. The
// relaxed build (`-mrelaxed-simd`, scripts/build-wasm.mjs) makes vfma relaxed SIMD's f32x4.relaxed_madd, which
// engines run as one FMA where the CPU has one (Node 20 does not validate it; docs/WEB.md). Max-sim tiles keep at
// most 8 accumulators (below).
#include "serve_kernels.h"

#if defined(__wasm_simd128__)

#include <wasm_simd128.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "gemm.h"

namespace prerank {
namespace serve_detail {
namespace wasm128 {

using V = v128_t;
constexpr int VW = 4;
inline V vzero() { return wasm_f32x4_splat(0.f); }
inline V vload(const float* p) { return wasm_v128_load(p); }
inline void vstore(float* p, V v) { wasm_v128_store(p, v); }
inline V vbcast(float x) { return wasm_f32x4_splat(x); }
#if defined(__wasm_relaxed_simd__)
// clang 14 emits this builtin as the pre-standard opcode (0xfd 0xaf); scripts/wasm-relaxed.mjs rewrites it to
// f32x4.relaxed_madd (0xfd 0x105), whose result is a * b + c for the operands in this order.
inline V vfma(V a, V b, V c) { return __builtin_wasm_fma_f32x4(a, b, c); }
#else
inline V vfma(V a, V b, V c) { return wasm_f32x4_add(wasm_f32x4_mul(a, b), c); }
#endif
// pmax (b < a ? a : b... as maxps) is one instruction; f32x4.max (NaN-propagating) is several on x86-64, so it
// serves only where a NaN must survive.
inline V vmax(V a, V b) { return wasm_f32x4_pmax(b, a); }
inline V vmaxn(V a, V b) { return wasm_f32x4_max(a, b); }
inline V vadd(V a, V b) { return wasm_f32x4_add(a, b); }
inline float hsum(V v) {
  const V s = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
  return wasm_f32x4_extract_lane(wasm_f32x4_add(s, wasm_i32x4_shuffle(s, s, 1, 0, 3, 2)), 0);
}
// Max-sim tiles of at most 8 accumulators with C <= 2: V8 on x86-64 allocates 15 xmm registers (xmm15 is its
// scratch), and clang, which sees a stack machine with unbounded locals, hoists a step's T broadcasts ahead of the
// FMAs, so a tile needs T*C + C + T registers: 4 x 2 takes 14; 4 x 3 (19) and 6 x 2 (20) spilled accumulators to the
// stack on every step (seen in V8's code for the 4 x 3 kernel: 4 reloads and 3 stores per 12 FMAs). Measured in
// Node 20, one thread, AMD EPYC Zen 5, 2026-12-05, p50 of 200 requests, builds and tiles alternating in blocks:
// IntTower 2 x 64 at k = 5,000 454 vs 667 us (6 x 2 before) with SIMD128, 432 vs 659 us with relaxed SIMD;
// IntTower 32 x 64 at k = 1,000 37 vs 53 ms (4 x 3 before) with relaxed SIMD.
#define SERVE_TILES(X) X(4, 1) X(4, 2) X(6, 1) X(8, 1) X(12, 1)
#define SERVE_GROUPED 1
// sgemm has no SIMD128 micro-kernel (its portable one runs here): RankTower's small W_o products go through gemv.
#define SERVE_RANKTOWER_GEMV 1
template <int G> inline V vbcast_group(const float* p) {
  if constexpr (G == 2) return wasm_v128_load64_splat(p);
  else return wasm_v128_load(p);
}
template <int G> inline V vgroup_sum(V v) {
  v = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 1, 0, 3, 2));
  if constexpr (G == 4) v = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
  return v;
}
template <int G> inline float hsum_group_firsts(V v) {
  if constexpr (G == 2) return wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 2);
  else return wasm_f32x4_extract_lane(v, 0);
}

#include "serve_kernels.inc"

}  // namespace wasm128

namespace {
bool simd_on = true;
}

const ServeKernels* serve_kernels_wasm128() {
  static const ServeKernels k = [] {
    // 16-bit tables are widened by the portable build's scalar code (a table is widened block by block anyway).
    ServeKernels k{wasm128::VW, wasm128::gemv, serve_kernels_portable()->widen, wasm128::widen8, nullptr};
    k.add(kDot, wasm128::dot);
    k.add(kMaxSim, wasm128::maxsim);
    k.add(kRankTower, wasm128::ranktower);
    return k;
  }();
  return simd_on ? &k : nullptr;
}

void set_wasm128(bool on) { simd_on = on; }

}  // namespace serve_detail
}  // namespace prerank

#else  // !__wasm_simd128__

namespace prerank {
namespace serve_detail {
const ServeKernels* serve_kernels_wasm128() { return nullptr; }
void set_wasm128(bool) {}
}  // namespace serve_detail
}  // namespace prerank

#endif
