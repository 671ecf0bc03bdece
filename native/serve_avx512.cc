// AVX-512 build of the serving kernels (serve_kernels.inc): zmm vectors; max-sim tiles of up to 24 accumulators
// (12 item heads x 2 vectors = 32 user heads; 16 or 24 item heads x 1 vector). 8 x 3 is left out: GCC 12 keeps
// two of its three user vectors on the stack (130 vs 185 GFLOP/s for 12 x 2 at 32 heads x 64, one thread). The
// target pragma enables AVX-512 for this file only; serve.cc calls in here only when active_isa() is avx512.
#include "gemm.h"
#include "serve_kernels.h"

#if defined(__x86_64__)

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,avx512vl,avx2,fma")
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12 false positive on _mm512_undefined_ps
#endif

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

namespace prerank {
namespace serve_detail {
namespace avx512 {

using V = __m512;
constexpr int VW = 16;
inline V vzero() { return _mm512_setzero_ps(); }
inline V vload(const float* p) { return _mm512_loadu_ps(p); }
inline void vstore(float* p, V v) { _mm512_storeu_ps(p, v); }
inline V vbcast(float x) { return _mm512_set1_ps(x); }
inline V vfma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
inline V vmax(V a, V b) { return _mm512_max_ps(a, b); }
inline V vadd(V a, V b) { return _mm512_add_ps(a, b); }
inline float hsum(V v) { return _mm512_reduce_add_ps(v); }
// Lane i = the sum of a[i]'s 16 lanes: four levels of pairwise (shuffle, shuffle, add) halve the vectors and the
// lanes per source; the last level leaves a[4e + j]'s sum in lane 4j + e, which one permute puts in place.
inline V vreduce(const V* a) {
  V b[8], c[4], d[2];
  for (int i = 0; i < 8; ++i) {  // 256-bit halves: lanes 0-7 from a[2i], 8-15 from a[2i+1]
    const V x = a[2 * i], y = a[2 * i + 1];
    b[i] = _mm512_add_ps(_mm512_shuffle_f32x4(x, y, _MM_SHUFFLE(1, 0, 1, 0)), _mm512_shuffle_f32x4(x, y, _MM_SHUFFLE(3, 2, 3, 2)));
  }
  for (int i = 0; i < 4; ++i) {  // 128-bit quarters: quarter j from a[4i + j]
    const V x = b[2 * i], y = b[2 * i + 1];
    c[i] = _mm512_add_ps(_mm512_shuffle_f32x4(x, y, _MM_SHUFFLE(2, 0, 2, 0)), _mm512_shuffle_f32x4(x, y, _MM_SHUFFLE(3, 1, 3, 1)));
  }
  for (int i = 0; i < 2; ++i) {  // pairs in each quarter j: elements 0-1 from a[8i + j], 2-3 from a[8i + 4 + j]
    const V x = c[2 * i], y = c[2 * i + 1];
    d[i] = _mm512_add_ps(_mm512_shuffle_ps(x, y, _MM_SHUFFLE(1, 0, 1, 0)), _mm512_shuffle_ps(x, y, _MM_SHUFFLE(3, 2, 3, 2)));
  }
  const V e = _mm512_add_ps(_mm512_shuffle_ps(d[0], d[1], _MM_SHUFFLE(2, 0, 2, 0)), _mm512_shuffle_ps(d[0], d[1], _MM_SHUFFLE(3, 1, 3, 1)));
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  return _mm512_permutexvar_ps(order, e);
}
#define SERVE_VREDUCE 1
#define SERVE_TILES(X) X(12, 1) X(12, 2) X(16, 1) X(24, 1)

#include "serve_kernels.inc"

}  // namespace avx512

const ServeKernels* serve_kernels_avx512() {
  static const ServeKernels k{avx512::VW, avx512::gemv, avx512::dot, avx512::maxsim, avx512::ranktower};
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
