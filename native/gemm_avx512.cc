// AVX-512 GEMM path: 14x32 micro-kernel (28 zmm accumulators; per k two B vectors and 14 A broadcasts,
// A taken from a packed panel or straight from the rows/columns of the caller's matrix; masked loads and
// stores for column edges, a template per row count for row edges; extra accumulator sets for 1-3 rows;
// epilogue alpha/beta/bias/relu fused into the store) and the zmm FMA peak probe. Packing reuses the AVX2
// routines. Compiled with default flags: the target attribute/pragma below enables AVX-512 for this file
// only, and the driver calls in here only when active_isa() is avx512.
#include "gemm_kernels.h"

#if defined(__x86_64__)

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,prfchw"))), \
                             apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,prfchw")
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12 false positive on _mm512_undefined_ps
#endif

#include <immintrin.h>

#include <chrono>

namespace prerank {
namespace gemm_detail {
namespace {

constexpr int kMR = 14, kNR = 32, kKC = 384, kKCS = kKC + 8;

// One k step: acc[i][v] += A(i, p) * B(p, 16v..16v+15). Row layout: rows 0-6 from a, 7-13 from a7 (two
// bases plus six i*rs offsets keep the 14 row addresses in registers).
template <int M, int NV, bool MASKB, bool AROWS>
__attribute__((always_inline)) inline void step(__m512 (&acc)[M][NV], const float* a, const float* a7, long rs,
                                                const float* b, __mmask16 mlast) {
  __m512 bv[NV];
#pragma GCC unroll 2
  for (int v = 0; v < NV; ++v)
    bv[v] = (MASKB && v == NV - 1) ? _mm512_maskz_loadu_ps(mlast, b + 16 * v) : _mm512_loadu_ps(b + 16 * v);
#pragma GCC unroll 16
  for (int i = 0; i < M; ++i) {
    const float* ai = !AROWS ? a + i : i < 7 ? a + i * rs : a7 + (i - 7) * rs;
    const __m512 av = _mm512_set1_ps(*ai);
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_fmadd_ps(av, bv[v], acc[i][v]);
  }
}

template <int M, int NV, bool MASKB, bool AROWS>
void tile(const TileArgs& t) {
  const int nlast = t.n - 16 * (NV - 1);  // columns in the last vector, 1..16
  const __mmask16 mlast = static_cast<__mmask16>((1u << nlast) - 1);
  float* const c = t.c;
  const long ldc = t.ldc;
  // The C tile is written after ~K*14 cycles: fetch its lines (up to 3 per row when unaligned) now.
#pragma GCC unroll 16
  for (int i = 0; i < M; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_ET0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 16 * NV - 1), _MM_HINT_ET0);
    if (NV == 2) _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 16), _MM_HINT_ET0);
  }

  // Few rows give few accumulator chains: then keep KU sets for interleaved k and add them at the end.
  constexpr int KU = M == 1 ? 4 : M <= 3 ? 2 : 1;
  const long aps = AROWS ? 1 : t.a_ks;
  __m512 acc[KU][M][NV];
#pragma GCC unroll 4
  for (int u = 0; u < KU; ++u)
#pragma GCC unroll 16
    for (int i = 0; i < M; ++i)
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) acc[u][i][v] = _mm512_setzero_ps();
  const float* a = t.a;
  const float* a7 = M > 7 ? t.a + 7 * t.a_rs : t.a;
  const long rs = t.a_rs;
  const float* b = t.b;
  const long ldb = t.ldb;
  int p = 0;
#pragma GCC unroll 2
  for (; p + KU <= t.k; p += KU, a += KU * aps, a7 += KU * aps, b += KU * ldb)
#pragma GCC unroll 4
    for (int u = 0; u < KU; ++u)
      step<M, NV, MASKB, AROWS>(acc[u], a + u * aps, a7 + u * aps, rs, b + u * ldb, mlast);
  for (; p < t.k; ++p, a += aps, a7 += aps, b += ldb) step<M, NV, MASKB, AROWS>(acc[0], a, a7, rs, b, mlast);
#pragma GCC unroll 4
  for (int u = 1; u < KU; ++u)
#pragma GCC unroll 16
    for (int i = 0; i < M; ++i)
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) acc[0][i][v] = _mm512_add_ps(acc[0][i][v], acc[u][i][v]);

  const __m512 alpha = _mm512_set1_ps(t.alpha), beta = _mm512_set1_ps(t.beta), zero = _mm512_setzero_ps();
#pragma GCC unroll 16
  for (int i = 0; i < M; ++i) {
    float* ci = c + i * ldc;
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) {
      const __mmask16 mk = v == NV - 1 ? mlast : static_cast<__mmask16>(0xFFFF);
      __m512 x = _mm512_mul_ps(alpha, acc[0][i][v]);
      if (t.beta != 0.0f) x = _mm512_fmadd_ps(beta, _mm512_maskz_loadu_ps(mk, ci + 16 * v), x);
      if (t.bias) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(mk, t.bias + 16 * v));
      if (t.relu) x = _mm512_max_ps(zero, x);
      _mm512_mask_storeu_ps(ci + 16 * v, mk, x);
    }
  }
}

using TileFn = void (*)(const TileArgs&);
#define PRERANK_NV(M, NV) \
  { {tile<M, NV, false, false>, tile<M, NV, false, true>}, { tile<M, NV, true, false>, tile<M, NV, true, true> } }
#define PRERANK_ROW(M) \
  { PRERANK_NV(M, 1), PRERANK_NV(M, 2) }
const TileFn kTiles[kMR][2][2][2] = {PRERANK_ROW(1),  PRERANK_ROW(2),  PRERANK_ROW(3),  PRERANK_ROW(4),
                                      PRERANK_ROW(5),  PRERANK_ROW(6),  PRERANK_ROW(7),  PRERANK_ROW(8),
                                      PRERANK_ROW(9),  PRERANK_ROW(10), PRERANK_ROW(11), PRERANK_ROW(12),
                                      PRERANK_ROW(13), PRERANK_ROW(14)};
#undef PRERANK_ROW
#undef PRERANK_NV

void tile_dispatch(const TileArgs& t) {
  const int nv = (t.n + 15) / 16;
  const bool maskb = !t.b_packed && (t.n & 15) != 0;
  kTiles[t.m - 1][nv - 1][maskb][t.a_rows](t);
}

void pack_a14(bool trans, const float* A, long lda, int m, int k, float* dst) {
  pack_a_avx2(kMR, kKCS, trans, A, lda, m, k, dst);
}
void pack_b32(bool trans, const float* B, long ldb, int k, int n, float* dst) {
  pack_b_avx2(kNR, trans, B, ldb, k, n, dst);
}

// 12 independent zmm FMA chains, 24 FMAs per loop iteration.
double peak(double seconds) {
  using clock = std::chrono::steady_clock;
  const float x = 1e-7f, y = 0.999f;
  const long chunk = 1L << 17;
  long iters = 0;
  const auto t0 = clock::now();
  double elapsed = 0;
  do {
    long n = chunk;
    __asm__ volatile(
        "vbroadcastss %1, %%zmm12\n\tvbroadcastss %2, %%zmm13\n\t"
        "vpxord %%zmm0, %%zmm0, %%zmm0\n\tvpxord %%zmm1, %%zmm1, %%zmm1\n\tvpxord %%zmm2, %%zmm2, %%zmm2\n\t"
        "vpxord %%zmm3, %%zmm3, %%zmm3\n\tvpxord %%zmm4, %%zmm4, %%zmm4\n\tvpxord %%zmm5, %%zmm5, %%zmm5\n\t"
        "vpxord %%zmm6, %%zmm6, %%zmm6\n\tvpxord %%zmm7, %%zmm7, %%zmm7\n\tvpxord %%zmm8, %%zmm8, %%zmm8\n\t"
        "vpxord %%zmm9, %%zmm9, %%zmm9\n\tvpxord %%zmm10, %%zmm10, %%zmm10\n\tvpxord %%zmm11, %%zmm11, %%zmm11\n\t"
        "1:\n\t"
#define F(r) "vfmadd231ps %%zmm12, %%zmm13, %%zmm" #r "\n\t"
        F(0) F(1) F(2) F(3) F(4) F(5) F(6) F(7) F(8) F(9) F(10) F(11)
        F(0) F(1) F(2) F(3) F(4) F(5) F(6) F(7) F(8) F(9) F(10) F(11)
#undef F
        "sub $1, %0\n\tjnz 1b\n\tvzeroupper\n\t"
        : "+r"(n)
        : "m"(x), "m"(y)
        : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",
          "xmm12", "xmm13", "cc");
    iters += chunk;
    elapsed = std::chrono::duration<double>(clock::now() - t0).count();
  } while (elapsed < seconds);
  return static_cast<double>(iters) * 24 * 16 * 2 / elapsed * 1e-9;
}

const Kernel kKernel = {kMR, kNR, kKC, /*mc*/ 56, /*nc*/ 384, kKCS, tile_dispatch, pack_a14, pack_b32, dot_nt_avx2,
                         peak};

}  // namespace

const Kernel* kernel_avx512() { return &kKernel; }

}  // namespace gemm_detail
}  // namespace prerank

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#else  // !__x86_64__

namespace prerank {
namespace gemm_detail {
const Kernel* kernel_avx512() { return nullptr; }
}  // namespace gemm_detail
}  // namespace prerank

#endif
