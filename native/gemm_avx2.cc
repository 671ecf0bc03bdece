// AVX2/FMA GEMM path: 6x16 micro-kernel (12 ymm accumulators, broadcast A, two B vectors per k; same
// structure as the AVX-512 one), the AVX2 packing routines (copies, and 8x8 transposes for a transposed B;
// shared with the AVX-512 path), a dot-product kernel for tiny batched A B^T, and the ymm FMA peak probe.
// Compiled with default flags: the target attribute/pragma below enables AVX2 for this file only, and the
// driver calls in here only when active_isa() says the CPU has AVX2+FMA.
#include "gemm_kernels.h"

#if defined(__x86_64__)

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,prfchw"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,prfchw")
#endif

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstring>

namespace prerank {
namespace gemm_detail {
namespace {

constexpr int kMR = 6, kNR = 16, kKC = 256, kKCS = kKC + 8;

inline __m256i lane_mask(int n) {  // lanes [0, n) set, n in [0, 8]
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// r[j] becomes column j of the 8x8 block whose rows are r[0..7].
inline void transpose8(__m256 r[8]) {
  __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r[0] = _mm256_permute2f128_ps(s0, s4, 0x20), r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
  r[2] = _mm256_permute2f128_ps(s2, s6, 0x20), r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
  r[4] = _mm256_permute2f128_ps(s0, s4, 0x31), r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
  r[6] = _mm256_permute2f128_ps(s2, s6, 0x31), r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

// Rows stored with stride ld (row i at src + i*ld, i < rows; rows >= `rows` read as zero) → dst[p*dld + i]
// for p < k, i < w (w a multiple of 8), via 8x8 transposes.
void transpose_pack(const float* src, long ld, int rows, int w, int k, float* dst, long dld) {
  int p = 0;
  for (; p + 8 <= k; p += 8) {
    for (int g = 0; g < w; g += 8) {
      __m256 r[8];
      for (int i = 0; i < 8; ++i)
        r[i] = g + i < rows ? _mm256_loadu_ps(src + (g + i) * ld + p) : _mm256_setzero_ps();
      transpose8(r);
      for (int q = 0; q < 8; ++q) _mm256_storeu_ps(dst + (p + q) * dld + g, r[q]);
    }
  }
  for (; p < k; ++p)
    for (int i = 0; i < w; ++i) dst[p * dld + i] = i < rows ? src[i * ld + p] : 0.0f;
}

// Copies w contiguous floats (w >= 4) with unmasked, possibly overlapping vector moves.
inline void copy_w(const float* s, float* d, int w) {
  if (w >= 8) {
    int j = 0;
    for (; j + 8 <= w; j += 8) _mm256_storeu_ps(d + j, _mm256_loadu_ps(s + j));
    if (j < w) _mm256_storeu_ps(d + w - 8, _mm256_loadu_ps(s + w - 8));
  } else {
    _mm_storeu_ps(d, _mm_loadu_ps(s));
    _mm_storeu_ps(d + w - 4, _mm_loadu_ps(s + w - 4));
  }
}

// Panels of w columns from contiguous rows, walking the source row by row:
// dst[panel * w * k + p * w + j] = src[p * ld + panel * w + j] for panel*w + j < cols, else 0.
// A partial last panel needs w to be a multiple of 8.
void copy_pack_panels(const float* src, long ld, int cols, int w, int k, float* dst) {
  const int full = cols / w, rem = cols % w;
  const long pstride = static_cast<long>(w) * k;
  for (int p = 0; p < k; ++p) {
    const float* s = src + p * ld;
    float* d = dst + static_cast<long>(p) * w;
    for (int q = 0; q < full; ++q) copy_w(s + q * w, d + q * pstride, w);
    if (rem) {
      float* dr = d + full * pstride;
      const float* sr = s + full * w;
      for (int j = 0; j < w; j += 8)
        _mm256_storeu_ps(dr + j, j + 8 <= rem ? _mm256_loadu_ps(sr + j)
                                 : j < rem    ? _mm256_maskload_ps(sr + j, lane_mask(rem - j))
                                              : _mm256_setzero_ps());
    }
  }
}

// One k step: acc[i][v] += A(i, p) * B(p, 8v..8v+7); row layout rows at a + i*rs.
template <int M, int NV, bool MASKB, bool AROWS>
__attribute__((always_inline)) inline void step(__m256 (&acc)[M][NV], const float* a, long rs, const float* b,
                                                __m256i mlast) {
  __m256 bv[NV];
#pragma GCC unroll 2
  for (int v = 0; v < NV; ++v)
    bv[v] = (MASKB && v == NV - 1) ? _mm256_maskload_ps(b + 8 * v, mlast) : _mm256_loadu_ps(b + 8 * v);
#pragma GCC unroll 8
  for (int i = 0; i < M; ++i) {
    const __m256 av = _mm256_broadcast_ss(AROWS ? a + i * rs : a + i);
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm256_fmadd_ps(av, bv[v], acc[i][v]);
  }
}

template <int M, int NV, bool MASKB, bool AROWS>
void tile(const TileArgs& t) {
#pragma GCC unroll 8
  for (int i = 0; i < M; ++i) {  // fetch the C tile (up to 2 lines per row) while computing
    _mm_prefetch(reinterpret_cast<const char*>(t.c + i * t.ldc), _MM_HINT_ET0);
    _mm_prefetch(reinterpret_cast<const char*>(t.c + i * t.ldc + 8 * NV - 1), _MM_HINT_ET0);
  }
  // Few rows give few accumulator chains: then keep KU sets for interleaved k and add them at the end.
  constexpr int KU = M == 1 ? 4 : M <= 3 ? 2 : 1;
  const long aps = AROWS ? 1 : t.a_ks;
  const int nlast = t.n - 8 * (NV - 1);  // columns in the last vector, 1..8
  const __m256i mlast = lane_mask(nlast);
  __m256 acc[KU][M][NV];
#pragma GCC unroll 4
  for (int u = 0; u < KU; ++u)
#pragma GCC unroll 8
    for (int i = 0; i < M; ++i)
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) acc[u][i][v] = _mm256_setzero_ps();
  const float* a = t.a;
  const long rs = t.a_rs;
  const float* b = t.b;
  const long ldb = t.ldb;
  int p = 0;
#pragma GCC unroll 2
  for (; p + KU <= t.k; p += KU, a += KU * aps, b += KU * ldb)
#pragma GCC unroll 4
    for (int u = 0; u < KU; ++u) step<M, NV, MASKB, AROWS>(acc[u], a + u * aps, rs, b + u * ldb, mlast);
  for (; p < t.k; ++p, a += aps, b += ldb) step<M, NV, MASKB, AROWS>(acc[0], a, rs, b, mlast);
#pragma GCC unroll 4
  for (int u = 1; u < KU; ++u)
#pragma GCC unroll 8
    for (int i = 0; i < M; ++i)
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) acc[0][i][v] = _mm256_add_ps(acc[0][i][v], acc[u][i][v]);
  const __m256 alpha = _mm256_set1_ps(t.alpha), beta = _mm256_set1_ps(t.beta), zero = _mm256_setzero_ps();
#pragma GCC unroll 8
  for (int i = 0; i < M; ++i) {
    float* c = t.c + i * t.ldc;
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) {
      const bool part = v == NV - 1 && nlast < 8;
      __m256 x = _mm256_mul_ps(alpha, acc[0][i][v]);
      if (t.beta != 0.0f)
        x = _mm256_fmadd_ps(beta, part ? _mm256_maskload_ps(c + 8 * v, mlast) : _mm256_loadu_ps(c + 8 * v), x);
      if (t.bias)
        x = _mm256_add_ps(x, part ? _mm256_maskload_ps(t.bias + 8 * v, mlast) : _mm256_loadu_ps(t.bias + 8 * v));
      if (t.relu) x = _mm256_max_ps(zero, x);
      if (part) _mm256_maskstore_ps(c + 8 * v, mlast, x);
      else _mm256_storeu_ps(c + 8 * v, x);
    }
  }
}

using TileFn = void (*)(const TileArgs&);
#define PRERANK_NV(M, NV) \
  { {tile<M, NV, false, false>, tile<M, NV, false, true>}, { tile<M, NV, true, false>, tile<M, NV, true, true> } }
#define PRERANK_ROW(M) \
  { PRERANK_NV(M, 1), PRERANK_NV(M, 2) }
const TileFn kTiles[kMR][2][2][2] = {PRERANK_ROW(1), PRERANK_ROW(2), PRERANK_ROW(3),
                                      PRERANK_ROW(4), PRERANK_ROW(5), PRERANK_ROW(6)};
#undef PRERANK_ROW
#undef PRERANK_NV

void tile_dispatch(const TileArgs& t) {
  const int nv = (t.n + 7) / 8;
  const bool maskb = !t.b_packed && (t.n & 7) != 0;
  kTiles[t.m - 1][nv - 1][maskb][t.a_rows](t);
}

void pack_a6(bool trans, const float* A, long lda, int m, int k, float* dst) {
  pack_a_avx2(kMR, kKCS, trans, A, lda, m, k, dst);
}
void pack_b16(bool trans, const float* B, long ldb, int k, int n, float* dst) {
  pack_b_avx2(kNR, trans, B, ldb, k, n, dst);
}

inline float hsum(__m256 v) {
  __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  x = _mm_add_ps(x, _mm_movehl_ps(x, x));
  return _mm_cvtss_f32(_mm_add_ss(x, _mm_movehdup_ps(x)));
}

// Four dot products of row a with rows b[0..3] (length k), masked tail.
inline void dot4(const float* a, const float* const b[4], int k, float out[4]) {
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  int p = 0;
  for (; p + 8 <= k; p += 8) {
    const __m256 av = _mm256_loadu_ps(a + p);
    for (int j = 0; j < 4; ++j) acc[j] = _mm256_fmadd_ps(av, _mm256_loadu_ps(b[j] + p), acc[j]);
  }
  if (p < k) {
    const __m256i m = lane_mask(k - p);
    const __m256 av = _mm256_maskload_ps(a + p, m);
    for (int j = 0; j < 4; ++j) acc[j] = _mm256_fmadd_ps(av, _mm256_maskload_ps(b[j] + p, m), acc[j]);
  }
  for (int j = 0; j < 4; ++j) out[j] = hsum(acc[j]);
}

void dot_nt(int M, int N, int K, float alpha, const float* A, long lda, const float* B, long ldb, float beta,
            float* C, long ldc) {
  for (int i = 0; i < M; ++i) {
    const float* a = A + i * lda;
    float* c = C + i * ldc;
    for (int j0 = 0; j0 < N; j0 += 4) {
      const int w = std::min(4, N - j0);
      const float* b[4];
      for (int j = 0; j < 4; ++j) b[j] = B + (j0 + std::min(j, w - 1)) * ldb;  // short group: repeat a row
      float d[4];
      dot4(a, b, K, d);
      for (int j = 0; j < w; ++j) c[j0 + j] = alpha * d[j] + (beta == 0.0f ? 0.0f : beta * c[j0 + j]);
    }
  }
}

// 12 independent ymm FMA chains, 24 FMAs per loop iteration.
double peak(double seconds) {
  using clock = std::chrono::steady_clock;
  const float x = 1e-7f, y = 0.999f;
  const long chunk = 1L << 18;
  long iters = 0;
  const auto t0 = clock::now();
  double elapsed = 0;
  do {
    long n = chunk;
    __asm__ volatile(
        "vbroadcastss %1, %%ymm12\n\tvbroadcastss %2, %%ymm13\n\t"
        "vxorps %%ymm0, %%ymm0, %%ymm0\n\tvxorps %%ymm1, %%ymm1, %%ymm1\n\tvxorps %%ymm2, %%ymm2, %%ymm2\n\t"
        "vxorps %%ymm3, %%ymm3, %%ymm3\n\tvxorps %%ymm4, %%ymm4, %%ymm4\n\tvxorps %%ymm5, %%ymm5, %%ymm5\n\t"
        "vxorps %%ymm6, %%ymm6, %%ymm6\n\tvxorps %%ymm7, %%ymm7, %%ymm7\n\tvxorps %%ymm8, %%ymm8, %%ymm8\n\t"
        "vxorps %%ymm9, %%ymm9, %%ymm9\n\tvxorps %%ymm10, %%ymm10, %%ymm10\n\tvxorps %%ymm11, %%ymm11, %%ymm11\n\t"
        "1:\n\t"
#define F(r) "vfmadd231ps %%ymm12, %%ymm13, %%ymm" #r "\n\t"
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
  return static_cast<double>(iters) * 24 * 8 * 2 / elapsed * 1e-9;
}

const Kernel kKernel = {kMR, kNR, kKC, /*mc*/ 72, /*nc*/ 512, kKCS, tile_dispatch, pack_a6, pack_b16, dot_nt, peak};

}  // namespace

void pack_a_avx2(int mr, int kcs, bool trans, const float* A, long lda, int m, int k, float* dst) {
  if (trans) {  // column layout: row p of the stored A holds (i, p) for all i
    const int full = m / mr * mr;
    if (full) copy_pack_panels(A, lda, full, mr, k, dst);
    for (int p = 0; p < k; ++p)  // partial last panel
      for (int i = 0; i < m - full; ++i) dst[static_cast<long>(full) * k + p * mr + i] = A[p * lda + full + i];
    return;
  }
  for (int i = 0; i < m; ++i)  // row layout: plain row copies
    std::memcpy(dst + static_cast<long>(i / mr) * mr * kcs + (i % mr) * kcs, A + i * lda, sizeof(float) * k);
}

void pack_b_avx2(int nr, bool trans, const float* B, long ldb, int k, int n, float* dst) {
  if (!trans) return copy_pack_panels(B, ldb, n, nr, k, dst);
  for (int c0 = 0; c0 < n; c0 += nr, dst += static_cast<long>(nr) * k)
    transpose_pack(B + c0 * ldb, ldb, std::min(nr, n - c0), nr, k, dst, nr);
}

const Kernel* kernel_avx2() { return &kKernel; }

void dot_nt_avx2(int M, int N, int K, float alpha, const float* A, long lda, const float* B, long ldb, float beta,
                 float* C, long ldc) {
  dot_nt(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

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
const Kernel* kernel_avx2() { return nullptr; }
}  // namespace gemm_detail
}  // namespace prerank

#endif
