// AVX-512 build of the serving kernels (serve_kernels.inc): zmm vectors; max-sim tiles of up to 24 accumulators
// (12 item heads x 2 vectors = 32 user heads; 16 or 24 item heads x 1 vector), and the grouped max-sim for up to 8
// user heads (IntTower 2 x 64: k = 1,000 at 32 -> 24 us, k = 5,000 on one thread 127 -> 87 us against the tiles; AMD EPYC Zen 5, 2026-12-01). 8 x 3 is left out: GCC 12 keeps
// two of its three user vectors on the stack (130 vs 185 GFLOP/s for 12 x 2 at 32 heads x 64, one thread). The
// target pragma enables AVX-512 for this file only; serve.cc calls in here only when active_isa() is avx512.
#include "gemm.h"
#include "serve_kernels.h"

#if defined(__x86_64__)

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c")
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12 false positives on _mm512_undefined_ps
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <immintrin.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cmath>
#include <vector>

namespace prerank {
namespace serve_detail {
namespace avx512 {

#include "serve_vocab_avx512.inc"
// Grouped max-sim (few user heads): lane l of a G-float broadcast holds p[l % G]; sums within groups of G lanes;
// the sum of each group's first lane.
#define SERVE_GROUPED 1
template <int G> inline V vbcast_group(const float* p) {
  if constexpr (G == 2) return _mm512_broadcast_f32x2(_mm_castsi128_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
  else return _mm512_broadcast_f32x4(_mm_loadu_ps(p));
}
template <int G> inline V vgroup_sum(V v) {
  v = _mm512_add_ps(v, _mm512_permute_ps(v, 0xB1));  // + the neighbour in each pair
  if constexpr (G == 4) v = _mm512_add_ps(v, _mm512_permute_ps(v, 0x4E));  // + the other pair of four
  return v;
}
template <int G> inline float hsum_group_firsts(V v) { return _mm512_reduce_add_ps(_mm512_maskz_mov_ps(G == 2 ? 0x5555 : 0x1111, v)); }

#include "serve_kernels.inc"

void widen(ItemFormat fmt, const uint16_t* src, float* dst, long n) {
  long i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    _mm512_storeu_ps(dst + i, fmt == ItemFormat::bf16 ? _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)) : _mm512_cvtph_ps(h));
  }
  for (; i < n; ++i) dst[i] = fmt == ItemFormat::bf16 ? from_bf16(src[i]) : _cvtsh_ss(src[i]);
}

}  // namespace avx512

const ServeKernels* serve_kernels_avx512() {
  static const ServeKernels k = [] {
    ServeKernels k{avx512::VW, avx512::gemv, avx512::widen, avx512::widen8, bf16_kernels_avx512()};
    k.add(kDot, avx512::dot);
    k.add(kMaxSim, avx512::maxsim);
    k.add(kCentroidMaxSim, avx512::centroid_maxsim);
    k.add(kRankTower, avx512::ranktower);
    return k;
  }();
  return &k;
}

}  // namespace serve_detail
}  // namespace prerank

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#else  // !__x86_64__

namespace prerank {
namespace serve_detail {
const ServeKernels* serve_kernels_avx512() { return nullptr; }
}  // namespace serve_detail
}  // namespace prerank

#endif
