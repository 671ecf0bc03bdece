// Portable GEMM path (any architecture, default compiler flags): a 4x16 (ARM) / 4x8 (x86) micro-kernel
// written as plain loops over fixed-size arrays so that -O2/-O3 auto-vectorises it (SSE2 on generic x86-64,
// NEON on ARM), plain packing loops (A is always packed, column layout), and a vector-extension FMA peak
// probe (multiply-add chains: contracted to FMA where the target has it).
#include <chrono>

#include "gemm_kernels.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")  // the loops are written for -O3 auto-vectorisation; keep it under -O2 too
#endif

namespace prerank {
namespace gemm_detail {
namespace {

// 4 x 16 needs 16 accumulator vectors: right for NEON (32 registers); SSE2 has 16, so x86 uses 4 x 8.
#if defined(__aarch64__) || defined(__ARM_NEON)
constexpr int kMR = 4, kNR = 16;
#else
constexpr int kMR = 4, kNR = 8;
#endif
volatile float peak_sink;

// Stores one finished tile: C = act(alpha * acc + beta * C + bias).
template <int M>
void store(const TileArgs& t, const float (&acc)[M][kNR]) {
  for (int i = 0; i < M; ++i) {
    float* c = t.c + i * t.ldc;
    for (int j = 0; j < t.n; ++j) {
      float x = t.alpha * acc[i][j];
      if (t.beta != 0.0f) x += t.beta * c[j];
      if (t.bias) x += t.bias[j];
      if (t.relu && x < 0.0f) x = 0.0f;  // NaN passes through, as in the SIMD paths
      c[j] = x;
    }
  }
}

template <int M>
void tile(const TileArgs& t) {
  float acc[M][kNR] = {};
  const float* a = t.a;
  const float* b = t.b;
  if (!t.b_packed && t.n < kNR) {  // unpacked edge: columns >= n must not be read
    for (int p = 0; p < t.k; ++p, a += t.a_ks, b += t.ldb)
      for (int i = 0; i < M; ++i)
        for (int j = 0; j < t.n; ++j) acc[i][j] += a[i] * b[j];
    return store<M>(t, acc);
  }
  for (int p = 0; p < t.k; ++p, a += t.a_ks, b += t.ldb)
    for (int i = 0; i < M; ++i) {
      const float ai = a[i];
      for (int j = 0; j < kNR; ++j) acc[i][j] += ai * b[j];
    }
  store<M>(t, acc);
}

static_assert(kMR == 4, "one tile function per row count");
using TileFn = void (*)(const TileArgs&);
const TileFn kTiles[kMR] = {tile<1>, tile<2>, tile<3>, tile<4>};

void tile_dispatch(const TileArgs& t) { kTiles[t.m - 1](t); }

void pack_a(bool trans, const float* A, long lda, int m, int k, float* dst) {
  for (int r0 = 0; r0 < m; r0 += kMR, dst += static_cast<long>(kMR) * k) {
    const int rows = m - r0 < kMR ? m - r0 : kMR;
    for (int p = 0; p < k; ++p)
      for (int i = 0; i < kMR; ++i) {
        const long r = r0 + (i < rows ? i : rows - 1);  // pad rows repeat a valid row
        dst[p * kMR + i] = trans ? A[p * lda + r] : A[r * lda + p];
      }
  }
}

void pack_b(bool trans, const float* B, long ldb, int k, int n, float* dst) {
  for (int c0 = 0; c0 < n; c0 += kNR, dst += static_cast<long>(kNR) * k) {
    const int cols = n - c0 < kNR ? n - c0 : kNR;
    for (int p = 0; p < k; ++p)
      for (int j = 0; j < kNR; ++j) {
        const long c = c0 + j;
        dst[p * kNR + j] = j >= cols ? 0.0f : trans ? B[c * ldb + p] : B[p * ldb + c];
      }
  }
}

// 12 independent 4-lane chains of multiply-add (an FMA where the target has one).
double peak(double seconds) {
  typedef float v4 __attribute__((vector_size(16)));
  using clock = std::chrono::steady_clock;
  v4 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = v4{0, 0, 0, 0} + static_cast<float>(i);
  static volatile float opaque_x = 0.999f, opaque_y = 1e-7f;  // no constant folding of the chains
  const float xs = opaque_x, ys = opaque_y;
  const v4 x = {xs, xs, xs, xs}, y = {ys, ys, ys, ys};
  const long chunk = 1L << 16;
  long iters = 0;
  const auto t0 = clock::now();
  double elapsed = 0;
  do {
    for (long n = 0; n < chunk; ++n)
      for (int i = 0; i < 12; ++i) acc[i] = acc[i] * x + y;
    iters += chunk;
    elapsed = std::chrono::duration<double>(clock::now() - t0).count();
  } while (elapsed < seconds);
  float s = 0;
  for (int i = 0; i < 12; ++i) s += acc[i][0] + acc[i][3];
  peak_sink = s;  // results are used: the chains cannot be removed
  return static_cast<double>(iters) * 12 * 4 * 2 / elapsed * 1e-9;
}

const Kernel kKernel = {kMR, kNR, /*kc*/ 256, /*mc*/ 64, /*nc*/ 512, /*kcs*/ 0, tile_dispatch, pack_a, pack_b,
                         /*dot_nt*/ nullptr, peak};

}  // namespace

const Kernel* kernel_portable() { return &kKernel; }

}  // namespace gemm_detail
}  // namespace prerank
