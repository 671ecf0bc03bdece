// AVX2/FMA build of the serving kernels (serve_kernels.inc): ymm vectors; max-sim tiles up to 12 accumulators
// of the 16 registers (6 item heads x 2 vectors, 4 x 3, 12 x 1).
#include "gemm.h"
#include "serve_kernels.h"

#if defined(__x86_64__)

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
#endif

#include <immintrin.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cmath>
#include <vector>

namespace prerank {
namespace serve_detail {
namespace avx2 {

using V = __m256;
constexpr int VW = 8;
inline V vzero() { return _mm256_setzero_ps(); }
inline V vload(const float* p) { return _mm256_loadu_ps(p); }
inline void vstore(float* p, V v) { _mm256_storeu_ps(p, v); }
inline V vbcast(float x) { return _mm256_set1_ps(x); }
inline V vfma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
inline V vmax(V a, V b) { return _mm256_max_ps(a, b); }
// maxps gives its second operand when either is NaN; an unordered lane gets a + b (NaN) instead.
inline V vmaxn(V a, V b) { return _mm256_blendv_ps(_mm256_max_ps(a, b), _mm256_add_ps(a, b), _mm256_cmp_ps(a, b, _CMP_UNORD_Q)); }
inline V vadd(V a, V b) { return _mm256_add_ps(a, b); }
inline float hsum(V v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
}
#define SERVE_TILES(X) X(6, 1) X(6, 2) X(4, 1) X(4, 2) X(4, 3) X(12, 1)
// Grouped max-sim (few user heads): see serve_avx512.cc.
#define SERVE_GROUPED 1
template <int G> inline V vbcast_group(const float* p) {
  if constexpr (G == 2) return _mm256_castsi256_ps(_mm256_broadcastq_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
  else return _mm256_broadcast_ps(reinterpret_cast<const __m128*>(p));
}
template <int G> inline V vgroup_sum(V v) {
  v = _mm256_add_ps(v, _mm256_permute_ps(v, 0xB1));
  if constexpr (G == 4) v = _mm256_add_ps(v, _mm256_permute_ps(v, 0x4E));
  return v;
}
template <int G> inline float hsum_group_firsts(V v) { return hsum(_mm256_blend_ps(_mm256_setzero_ps(), v, G == 2 ? 0x55 : 0x11)); }

#include "serve_kernels.inc"

void widen(ItemFormat fmt, const uint16_t* src, float* dst, long n) {
  long i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    _mm256_storeu_ps(dst + i, fmt == ItemFormat::bf16 ? _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)) : _mm256_cvtph_ps(h));
  }
  for (; i < n; ++i) dst[i] = fmt == ItemFormat::bf16 ? from_bf16(src[i]) : _cvtsh_ss(src[i]);
}

}  // namespace avx2

const ServeKernels* serve_kernels_avx2() {
  static const ServeKernels k = [] {
    ServeKernels k{avx2::VW, avx2::gemv, avx2::widen, avx2::widen8, nullptr};
    k.add(kDot, avx2::dot);
    k.add(kMaxSim, avx2::maxsim);
    k.add(kCentroidMaxSim, avx2::centroid_maxsim);
    k.add(kRankTower, avx2::ranktower);
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
const ServeKernels* serve_kernels_avx2() { return nullptr; }
}  // namespace serve_detail
}  // namespace prerank

#endif
