// Dot product and FE-Block max-sim over a bfloat16 item table with AVX512_BF16's dot-product instruction (vdpbf16ps: per 32-bit
// lane, acc += a.lo * b.lo + a.hi * b.hi with bf16 inputs and float32 accumulation). The max-sim tiles of
// serve_kernels.inc with a bf16 item policy: one step takes a pair of item values, broadcast as one 32-bit word,
// against C vectors of user-head pairs, so a step does twice the multiply-adds of a float32 FMA (measured on Zen 5:
// 6.6 G vdpbf16ps/s vs 7.2 G vfmadd/s per core, 32 vs 16 multiply-adds each). Its own file: the target enables
// AVX512_BF16 here only, and this file's entry returns the kernel only when the CPU reports it (serve.cc also
// lets PRERANK_BF16=0 or setBf16Dot(false) turn it off).
#include "serve_kernels.h"

#include <cstring>

#if defined(__x86_64__)

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,avx2,fma")
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12 false positives on _mm512_undefined_ps
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <immintrin.h>

#include <algorithm>
#include <cstdio>

namespace prerank {
namespace serve_detail {
namespace avx512bf16 {

#include "serve_vocab_avx512.inc"  // the same vocabulary and tiles as the float32 AVX-512 build
#define SERVE_BF16_ONLY 1

#include "serve_kernels.inc"

// Item policy: rows of bf16 bits; step q reads the pair (2q, 2q + 1) as one 32-bit word, broadcast to every lane.
struct Bf16Items {
  using Item = uint16_t;
  static int steps(int P) { return P / 2; }
  static V bcast(const uint16_t* r, int q) {
    uint32_t w;
    std::memcpy(&w, r + 2 * q, sizeof w);
    return _mm512_castsi512_ps(_mm512_set1_epi32(static_cast<int>(w)));
  }
  static V fma(V a, V b, V acc) { return _mm512_dpbf16_ps(acc, reinterpret_cast<__m512bh&>(a), reinterpret_cast<__m512bh&>(b)); }
  static const uint16_t* row(const ItemRows& it, long n) { return it.row16(n); }
};

void maxsim(const MaxSimArgs& a, long n0, long n1) {
  for (long n = n0; n < n1; ++n) a.out[n] = 0.f;
  maxsim_tiles<Bf16Items>(a, n0, n1);
}

inline __m512bh bh(__m512i x) { return reinterpret_cast<__m512bh&>(x); }

// Four candidates per pass share each load of u (as the float32 dot does); 32 values per instruction, the last
// partial vector through masked loads (nothing read past a row).
void dot(int dim, const uint16_t* u, const ItemRows& items, long n0, long n1, float* out) {
  const int full = dim / 32, rem = dim % 32;
  const __mmask32 tail = rem ? (__mmask32{1} << rem) - 1 : 0;
  for (long n = n0; n < n1; n += 4) {
    const int g_n = static_cast<int>(n1 - n < 4 ? n1 - n : 4);
    const uint16_t* v[4];
    for (int g = 0; g < 4; ++g) v[g] = items.row16(n + (g < g_n ? g : 0));
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    for (int b = 0; b < full; ++b) {
      const __m512i ub = _mm512_loadu_si512(u + 32 * b);
      for (int g = 0; g < 4; ++g) acc[g] = _mm512_dpbf16_ps(acc[g], bh(ub), bh(_mm512_loadu_si512(v[g] + 32 * b)));
    }
    if (rem) {
      const __m512i ub = _mm512_maskz_loadu_epi16(tail, u + 32 * full);
      for (int g = 0; g < 4; ++g) acc[g] = _mm512_dpbf16_ps(acc[g], bh(ub), bh(_mm512_maskz_loadu_epi16(tail, v[g] + 32 * full)));
    }
    for (int g = 0; g < g_n; ++g) out[n + g] = _mm512_reduce_add_ps(acc[g]);
  }
}

const Bf16Kernels kKernels{maxsim, dot};

}  // namespace avx512bf16

const Bf16Kernels* bf16_kernels_avx512() {
  static const bool cpu = __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw");
  return cpu ? &avx512bf16::kKernels : nullptr;
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
const Bf16Kernels* bf16_kernels_avx512() { return nullptr; }
}  // namespace serve_detail
}  // namespace prerank

#endif
