// Fused element-wise, normalisation, loss and optimizer kernels. Plain loops written for auto-vectorisation;
// large inputs are split over the ThreadPool by rows (or by contiguous ranges for flat vectors).
#include "kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "cpu.h"
#include "pool.h"

namespace prerank {
namespace {

constexpr long kMinParallelElems = 1L << 15;

// Runs fn(begin, end) over [0, n) in chunks on the pool, or inline when the work is small.
template <class Fn>
void parallel_for(long n, long work_per_item, Fn&& fn) {
  ThreadPool& pool = ThreadPool::get();
  const int threads = pool.size();
  if (threads <= 1 || n * work_per_item < kMinParallelElems || n < 2) {
    fn(0L, n);
    return;
  }
  const int tasks = static_cast<int>(std::min<long>(threads, n));
  pool.run(tasks, [&](int t) {
    const long b = n * t / tasks, e = n * (t + 1) / tasks;
    if (b < e) fn(b, e);
  });
}

inline float sigmoidf(float x) {
  return x >= 0 ? 1.f / (1.f + std::exp(-x)) : std::exp(x) / (1.f + std::exp(x));
}

}  // namespace

void act_forward(int act, long rows, long cols, const float* x, float* y, const float* slope, long slope_len) {
  parallel_for(rows, cols, [&](long r0, long r1) {
    for (long r = r0; r < r1; r++) {
      const float* xr = x + r * cols;
      float* yr = y + r * cols;
      switch (act) {
        case kNone: std::copy(xr, xr + cols, yr); break;
        case kRelu: for (long c = 0; c < cols; c++) yr[c] = xr[c] > 0.f ? xr[c] : 0.f; break;
        case kPrelu:
          for (long c = 0; c < cols; c++) {
            const float s = slope[slope_len == 1 ? 0 : c];
            yr[c] = xr[c] > 0.f ? xr[c] : s * xr[c];
          }
          break;
        case kSigmoid: for (long c = 0; c < cols; c++) yr[c] = sigmoidf(xr[c]); break;
        case kTanh: for (long c = 0; c < cols; c++) yr[c] = std::tanh(xr[c]); break;
        case kSilu: for (long c = 0; c < cols; c++) yr[c] = xr[c] * sigmoidf(xr[c]); break;
      }
    }
  });
}

void act_backward(int act, long rows, long cols, const float* x, const float* y, const float* dy, float* dx,
                  const float* slope, float* dslope, long slope_len) {
  if (act == kPrelu && dslope) {
    // The slope gradient is a reduction over rows: keep it serial and deterministic.
    for (long r = 0; r < rows; r++)
      for (long c = 0; c < cols; c++) {
        const long i = r * cols + c;
        if (x[i] < 0.f) dslope[slope_len == 1 ? 0 : c] += dy[i] * x[i];
      }
  }
  parallel_for(rows, cols, [&](long r0, long r1) {
    for (long i = r0 * cols; i < r1 * cols; i++) {
      float d;
      switch (act) {
        case kNone: d = 1.f; break;
        case kRelu: d = x[i] > 0.f ? 1.f : 0.f; break;
        case kPrelu: d = x[i] > 0.f ? 1.f : slope[slope_len == 1 ? 0 : i % cols]; break;
        case kSigmoid: d = y[i] * (1.f - y[i]); break;
        case kTanh: d = 1.f - y[i] * y[i]; break;
        default: { const float s = sigmoidf(x[i]); d = s * (1.f + x[i] * (1.f - s)); }
      }
      dx[i] = dy[i] * d;
    }
  });
}

void col_sum(long rows, long cols, const float* x, float* out, bool accumulate) {
  ThreadPool& pool = ThreadPool::get();
  const int tasks = (rows * cols >= kMinParallelElems) ? pool.size() : 1;
  std::vector<double> partial(static_cast<size_t>(tasks) * cols, 0.0);
  auto body = [&](int t) {
    double* acc = partial.data() + static_cast<long>(t) * cols;
    const long r0 = rows * t / tasks, r1 = rows * (t + 1) / tasks;
    for (long r = r0; r < r1; r++) {
      const float* xr = x + r * cols;
      for (long c = 0; c < cols; c++) acc[c] += xr[c];
    }
  };
  if (tasks == 1) body(0); else pool.run(tasks, body);
  for (long c = 0; c < cols; c++) {
    double s = accumulate ? out[c] : 0.0;
    for (int t = 0; t < tasks; t++) s += partial[static_cast<long>(t) * cols + c];
    out[c] = static_cast<float>(s);
  }
}

void l2norm(long rows, long cols, const float* x, float* y, float* norms, float eps) {
  parallel_for(rows, cols, [&](long r0, long r1) {
    for (long r = r0; r < r1; r++) {
      const float* xr = x + r * cols;
      float ss = 0.f;
      for (long c = 0; c < cols; c++) ss += xr[c] * xr[c];
      const float norm = std::sqrt(ss);
      norms[r] = norm;
      const float inv = 1.f / std::max(norm, eps);
      for (long c = 0; c < cols; c++) y[r * cols + c] = xr[c] * inv;
    }
  });
}

void l2norm_backward(long rows, long cols, const float* y, const float* norms, const float* dy, float* dx, float eps) {
  parallel_for(rows, cols, [&](long r0, long r1) {
    for (long r = r0; r < r1; r++) {
      const float* yr = y + r * cols;
      const float* dyr = dy + r * cols;
      float dot = 0.f;
      for (long c = 0; c < cols; c++) dot += dyr[c] * yr[c];
      if (norms[r] < eps) dot = 0.f;
      const float inv = 1.f / std::max(norms[r], eps);
      for (long c = 0; c < cols; c++) dx[r * cols + c] = (dyr[c] - yr[c] * dot) * inv;
    }
  });
}

void softmax(long rows, long cols, const float* x, float* y, bool log) {
  parallel_for(rows, cols, [&](long r0, long r1) {
    for (long r = r0; r < r1; r++) {
      const float* xr = x + r * cols;
      float* yr = y + r * cols;
      float mx = -INFINITY;
      for (long c = 0; c < cols; c++) mx = std::max(mx, xr[c]);
      double s = 0.0;
      for (long c = 0; c < cols; c++) s += std::exp(xr[c] - mx);
      if (log) {
        const float lse = mx + static_cast<float>(std::log(s));
        for (long c = 0; c < cols; c++) yr[c] = xr[c] - lse;
      } else {
        const float inv = static_cast<float>(1.0 / s);
        for (long c = 0; c < cols; c++) yr[c] = std::exp(xr[c] - mx) * inv;
      }
    }
  });
}

void softmax_backward(long rows, long cols, const float* y, const float* dy, float* dx, bool log) {
  parallel_for(rows, cols, [&](long r0, long r1) {
    for (long r = r0; r < r1; r++) {
      const float* yr = y + r * cols;
      const float* dyr = dy + r * cols;
      float* dxr = dx + r * cols;
      float s = 0.f;
      if (log) {
        for (long c = 0; c < cols; c++) s += dyr[c];
        for (long c = 0; c < cols; c++) dxr[c] = dyr[c] - std::exp(yr[c]) * s;
      } else {
        for (long c = 0; c < cols; c++) s += dyr[c] * yr[c];
        for (long c = 0; c < cols; c++) dxr[c] = yr[c] * (dyr[c] - s);
      }
    }
  });
}

double bce_logits(long n, const float* z, const float* t, const float* w, float* grad, float scale) {
  double total = 0.0;
  for (long i = 0; i < n; i++) {
    const float x = z[i];
    const float wi = w ? w[i] : 1.f;
    total += wi * (std::max(x, 0.f) - x * t[i] + std::log1p(std::exp(-std::fabs(x))));
    if (grad) grad[i] = scale * wi * (sigmoidf(x) - t[i]);
  }
  return total;
}

long gather_rows(long V, long D, const float* table, const int32_t* ids, long n, float* out) {
  for (long i = 0; i < n; i++)
    if (ids[i] < 0 || ids[i] >= V) return i;
  parallel_for(n, D, [&](long i0, long i1) {
    for (long i = i0; i < i1; i++) std::copy(table + ids[i] * D, table + ids[i] * D + D, out + i * D);
  });
  return -1;
}

long scatter_add_rows(long V, long D, float* dst, const int32_t* ids, long n, const float* src) {
  for (long i = 0; i < n; i++)
    if (ids[i] < 0 || ids[i] >= V) return i;
  // Serial: several positions may hit the same row.
  for (long i = 0; i < n; i++) {
    float* d = dst + static_cast<long>(ids[i]) * D;
    const float* s = src + i * D;
    for (long c = 0; c < D; c++) d[c] += s[c];
  }
  return -1;
}

namespace {
// Per-column sums of f(r, c) over rows, split over the pool by row ranges and combined in double.
template <class F>
void column_sums(long rows, long cols, std::vector<double>& out, F&& f) {
  ThreadPool& pool = ThreadPool::get();
  const int tasks = rows * cols >= kMinParallelElems ? std::min<long>(pool.size(), rows) : 1;
  std::vector<double> partial(static_cast<size_t>(tasks) * cols, 0.0);
  auto body = [&](int t) {
    double* acc = partial.data() + static_cast<long>(t) * cols;
    for (long r = rows * t / tasks; r < rows * (t + 1) / tasks; r++)
      for (long c = 0; c < cols; c++) acc[c] += f(r, c);
  };
  if (tasks == 1) body(0); else pool.run(tasks, body);
  out.assign(cols, 0.0);
  for (int t = 0; t < tasks; t++)
    for (long c = 0; c < cols; c++) out[c] += partial[static_cast<long>(t) * cols + c];
}

// A normalisation's gamma and beta gradients: dgamma = sum_r g * xhat, dbeta = sum_r g per column (double sums in
// dg, db for the caller's dx; float copies in dgamma, dbeta).
void affine_grads(long rows, long cols, const float* g, const float* xhat, std::vector<double>& dg, std::vector<double>& db,
                  float* dgamma, float* dbeta) {
  column_sums(rows, cols, dg, [&](long r, long c) { return static_cast<double>(g[r * cols + c]) * xhat[r * cols + c]; });
  column_sums(rows, cols, db, [&](long r, long c) { return static_cast<double>(g[r * cols + c]); });
  for (long c = 0; c < cols; c++) {
    dgamma[c] = static_cast<float>(dg[c]);
    dbeta[c] = static_cast<float>(db[c]);
  }
}
}  // namespace

// The mask loop is integer-multiply bound: a plain loop the compiler vectorises, built for each ISA with a target
// attribute (standalone functions with no templates inside, so nothing ISA-specific leaks into shared code).
#define PRERANK_DROPOUT_RANGE(NAME, ATTR)                                                                  \
  ATTR static void NAME(long b, long e, float p, uint32_t seed, float keep, const float* x, float* y,        \
                        float* mask) {                                                                     \
    for (long i = b; i < e; i++) {                                                                         \
      uint32_t h = seed ^ (static_cast<uint32_t>(i) * 0x9e3779b1u);                                        \
      h ^= h >> 16;                                                                                        \
      h *= 0x85ebca6bu;                                                                                    \
      h ^= h >> 13;                                                                                        \
      h *= 0xc2b2ae35u;                                                                                    \
      h ^= h >> 16;                                                                                        \
      const float m = static_cast<float>(static_cast<int32_t>(h >> 8)) * (1.0f / 16777216.0f) >= p ? keep : 0.f; \
      mask[i] = m;                                                                                         \
      y[i] = x[i] * m;                                                                                     \
    }                                                                                                      \
  }
PRERANK_DROPOUT_RANGE(dropout_portable, )
#if defined(__x86_64__)
PRERANK_DROPOUT_RANGE(dropout_avx2, __attribute__((target("avx2,fma"))))
PRERANK_DROPOUT_RANGE(dropout_avx512, __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl"))))
#endif

void dropout(long n, float p, uint32_t seed, const float* x, float* y, float* mask) {
  const float keep = 1.f / (1.f - p);
  auto range = dropout_portable;
#if defined(__x86_64__)
  if (active_isa() == Isa::avx512) range = dropout_avx512;
  else if (active_isa() == Isa::avx2) range = dropout_avx2;
#endif
  parallel_for(n, 2, [&](long b, long e) { range(b, e, p, seed, keep, x, y, mask); });
}

// Softmax cross-entropy over rows (IntTower's CIR: [Q, B] similarities, a few million exps per step). std::exp
// does not vectorise without -ffast-math (and GCC turns a clamped polynomial's constant branches into jumps), so the
// row loops are written with AVX-512 / AVX2 intrinsics in functions carrying their target attribute, beside a
// scalar portable version; all three use the same polynomial.
namespace {
// Cephes' expf: exp(x) = 2^n exp(r), n = round(x log2 e), r = x - n ln 2 in two parts, degree-6 polynomial; within
// 2 ulp on [-87, 88]. Inputs below -87 give exp(-87) ~ 1.6e-38 (a softmax term that contributes nothing); NaN stays NaN.
constexpr float kExpLo = -87.0f, kExpHi = 88.0f, kLog2e = 1.44269504088896341f, kLn2Hi = 0.693359375f,
                kLn2Lo = -2.12194440e-4f;
constexpr float kExpP[6] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f, 4.1665795894e-2f, 1.6666665459e-1f,
                            5.0000001201e-1f};

// The scalar form, for the AVX2 path's row tails (so a row's terms all come from the same polynomial).
inline float exp_poly(float x) {
  x = std::min(std::max(x, kExpLo), kExpHi);
  // Round to nearest by adding and removing 1.5 * 2^23 (exact for |t| < 2^22; the build has no -ffast-math).
  const float n = (x * kLog2e + 12582912.0f) - 12582912.0f;
  const float r = x - n * kLn2Hi - n * kLn2Lo;
  float y = kExpP[0];
  for (int i = 1; i < 6; i++) y = y * r + kExpP[i];
  y = y * (r * r) + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float two_n;
  std::memcpy(&two_n, &bits, sizeof two_n);
  return y * two_n;
}

// Portable: std::exp (scalar either way, and exact).
void ce_fwd_portable(long r0, long r1, long cols, const float* x, float scale, float* lse) {
  for (long r = r0; r < r1; r++) {
    const float* xr = x + r * cols;
    float mx = -INFINITY;
    for (long c = 0; c < cols; c++) mx = std::max(mx, scale * xr[c]);
    double s = 0.0;
    for (long c = 0; c < cols; c++) s += std::exp(scale * xr[c] - mx);
    lse[r] = mx + static_cast<float>(std::log(s));
  }
}

void ce_bwd_portable(long r0, long r1, long cols, const float* x, float scale, const float* lse, float gk, float* dx) {
  for (long r = r0; r < r1; r++)
    for (long c = 0; c < cols; c++) dx[r * cols + c] = gk * std::exp(scale * x[r * cols + c] - lse[r]);
}

#if defined(__x86_64__)
// GCC 12's AVX-512 headers build unmasked max/reduce from a self-initialised "undefined" vector, which -O3 reports
// as maybe-uninitialized inside these functions; the values are never used.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#define PRERANK_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))
#define PRERANK_AVX2 __attribute__((target("avx2,fma")))

PRERANK_AVX512 inline __m512 exp16(__m512 x) {
  // max/min with x second: a NaN x comes through.
  x = _mm512_min_ps(_mm512_set1_ps(kExpHi), _mm512_max_ps(_mm512_set1_ps(kExpLo), x));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Hi), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Lo), r);
  __m512 y = _mm512_set1_ps(kExpP[0]);
  for (int i = 1; i < 6; i++) y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(kExpP[i]));
  y = _mm512_fmadd_ps(y, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  const __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
  return _mm512_mul_ps(y, _mm512_castsi512_ps(e));
}

PRERANK_AVX512 void ce_fwd_avx512(long r0, long r1, long cols, const float* x, float scale, float* lse) {
  const __m512 vs = _mm512_set1_ps(scale);
  const __mmask16 tail = static_cast<__mmask16>((1u << (cols % 16)) - 1);
  const long main = cols - cols % 16;
  for (long r = r0; r < r1; r++) {
    const float* xr = x + r * cols;
    __m512 vmax = _mm512_set1_ps(-INFINITY);
    for (long c = 0; c < main; c += 16) vmax = _mm512_max_ps(vmax, _mm512_mul_ps(vs, _mm512_loadu_ps(xr + c)));
    if (tail) vmax = _mm512_mask_max_ps(vmax, tail, vmax, _mm512_mul_ps(vs, _mm512_maskz_loadu_ps(tail, xr + main)));
    const float mx = _mm512_reduce_max_ps(vmax);
    const __m512 vm = _mm512_set1_ps(mx);
    __m512 acc = _mm512_setzero_ps();
    for (long c = 0; c < main; c += 16) acc = _mm512_add_ps(acc, exp16(_mm512_fmsub_ps(vs, _mm512_loadu_ps(xr + c), vm)));
    if (tail) acc = _mm512_mask_add_ps(acc, tail, acc, exp16(_mm512_fmsub_ps(vs, _mm512_maskz_loadu_ps(tail, xr + main), vm)));
    lse[r] = mx + std::log(_mm512_reduce_add_ps(acc));
  }
}

PRERANK_AVX512 void ce_bwd_avx512(long r0, long r1, long cols, const float* x, float scale, const float* lse, float gk,
                                  float* dx) {
  const __m512 vs = _mm512_set1_ps(scale), vg = _mm512_set1_ps(gk);
  const __mmask16 tail = static_cast<__mmask16>((1u << (cols % 16)) - 1);
  const long main = cols - cols % 16;
  for (long r = r0; r < r1; r++) {
    const float* xr = x + r * cols;
    float* dr = dx + r * cols;
    const __m512 vl = _mm512_set1_ps(lse[r]);
    for (long c = 0; c < main; c += 16)
      _mm512_storeu_ps(dr + c, _mm512_mul_ps(vg, exp16(_mm512_fmsub_ps(vs, _mm512_loadu_ps(xr + c), vl))));
    if (tail)
      _mm512_mask_storeu_ps(dr + main, tail, _mm512_mul_ps(vg, exp16(_mm512_fmsub_ps(vs, _mm512_maskz_loadu_ps(tail, xr + main), vl))));
  }
}

PRERANK_AVX2 inline __m256 exp8(__m256 x) {
  x = _mm256_min_ps(_mm256_set1_ps(kExpHi), _mm256_max_ps(_mm256_set1_ps(kExpLo), x));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Hi), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Lo), r);
  __m256 y = _mm256_set1_ps(kExpP[0]);
  for (int i = 1; i < 6; i++) y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(kExpP[i]));
  y = _mm256_fmadd_ps(y, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

PRERANK_AVX2 inline float hmax8(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
  return _mm_cvtss_f32(m);
}

PRERANK_AVX2 inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

// Tails (cols % 8) run through the scalar polynomial.
PRERANK_AVX2 void ce_fwd_avx2(long r0, long r1, long cols, const float* x, float scale, float* lse) {
  const __m256 vs = _mm256_set1_ps(scale);
  const long main = cols - cols % 8;
  for (long r = r0; r < r1; r++) {
    const float* xr = x + r * cols;
    __m256 vmax = _mm256_set1_ps(-INFINITY);
    for (long c = 0; c < main; c += 8) vmax = _mm256_max_ps(vmax, _mm256_mul_ps(vs, _mm256_loadu_ps(xr + c)));
    float mx = hmax8(vmax);
    for (long c = main; c < cols; c++) mx = std::max(mx, scale * xr[c]);
    const __m256 vm = _mm256_set1_ps(mx);
    __m256 acc = _mm256_setzero_ps();
    for (long c = 0; c < main; c += 8) acc = _mm256_add_ps(acc, exp8(_mm256_fmsub_ps(vs, _mm256_loadu_ps(xr + c), vm)));
    float s = hsum8(acc);
    for (long c = main; c < cols; c++) s += exp_poly(scale * xr[c] - mx);
    lse[r] = mx + std::log(s);
  }
}

PRERANK_AVX2 void ce_bwd_avx2(long r0, long r1, long cols, const float* x, float scale, const float* lse, float gk,
                              float* dx) {
  const __m256 vs = _mm256_set1_ps(scale), vg = _mm256_set1_ps(gk);
  const long main = cols - cols % 8;
  for (long r = r0; r < r1; r++) {
    const float* xr = x + r * cols;
    float* dr = dx + r * cols;
    const __m256 vl = _mm256_set1_ps(lse[r]);
    for (long c = 0; c < main; c += 8)
      _mm256_storeu_ps(dr + c, _mm256_mul_ps(vg, exp8(_mm256_fmsub_ps(vs, _mm256_loadu_ps(xr + c), vl))));
    for (long c = main; c < cols; c++) dr[c] = gk * exp_poly(scale * xr[c] - lse[r]);
  }
}
#pragma GCC diagnostic pop
#endif
}  // namespace

double cross_entropy(long rows, long cols, const float* x, const int32_t* labels, float scale, float* lse) {
  auto fwd = ce_fwd_portable;
#if defined(__x86_64__)
  if (active_isa() == Isa::avx512) fwd = ce_fwd_avx512;
  else if (active_isa() == Isa::avx2) fwd = ce_fwd_avx2;
#endif
  parallel_for(rows, cols, [&](long r0, long r1) { fwd(r0, r1, cols, x, scale, lse); });
  // The total in a fixed order, so it does not depend on the thread count.
  double total = 0.0;
  for (long r = 0; r < rows; r++) total += static_cast<double>(lse[r]) - static_cast<double>(scale * x[r * cols + labels[r]]);
  return total;
}

void cross_entropy_backward(long rows, long cols, const float* x, const int32_t* labels, float scale, const float* lse,
                            float gscale, float* dx) {
  auto bwd = ce_bwd_portable;
#if defined(__x86_64__)
  if (active_isa() == Isa::avx512) bwd = ce_bwd_avx512;
  else if (active_isa() == Isa::avx2) bwd = ce_bwd_avx2;
#endif
  const float gk = gscale * scale;
  parallel_for(rows, cols, [&](long r0, long r1) {
    bwd(r0, r1, cols, x, scale, lse, gk, dx);
    for (long r = r0; r < r1; r++) dx[r * cols + labels[r]] -= gk;
  });
}

void mul(long n, const float* a, const float* b, float* out) {
  parallel_for(n, 1, [&](long s, long e) {
    for (long i = s; i < e; i++) out[i] = a[i] * b[i];
  });
}

void batch_norm_forward(long rows, long cols, const float* x, const float* gamma, const float* beta, float* run_mean,
                        float* run_var, bool training, float momentum, float eps, float* xhat, float* inv_std, float* y) {
  std::vector<double> mean(cols);
  if (training) {
    std::vector<double> sum, var;
    column_sums(rows, cols, sum, [&](long r, long c) { return static_cast<double>(x[r * cols + c]); });
    for (long c = 0; c < cols; c++) mean[c] = sum[c] / rows;
    column_sums(rows, cols, var, [&](long r, long c) { const double d = x[r * cols + c] - mean[c]; return d * d; });
    for (long c = 0; c < cols; c++) {
      inv_std[c] = static_cast<float>(1.0 / std::sqrt(var[c] / rows + eps));
      run_mean[c] = static_cast<float>((1.0 - momentum) * run_mean[c] + momentum * mean[c]);
      run_var[c] = static_cast<float>((1.0 - momentum) * run_var[c] + momentum * var[c] / std::max(rows - 1, 1L));
    }
  } else {
    for (long c = 0; c < cols; c++) {
      mean[c] = run_mean[c];
      inv_std[c] = static_cast<float>(1.0 / std::sqrt(static_cast<double>(run_var[c]) + eps));
    }
  }
  std::vector<float> meanf(mean.begin(), mean.end());
  parallel_for(rows, cols, [&](long r0, long r1) {
    for (long r = r0; r < r1; r++)
      for (long c = 0; c < cols; c++) {
        const long i = r * cols + c;
        xhat[i] = (x[i] - meanf[c]) * inv_std[c];
        y[i] = xhat[i] * gamma[c] + beta[c];
      }
  });
}

void batch_norm_backward(long rows, long cols, const float* g, const float* xhat, const float* gamma,
                         const float* inv_std, bool training, float* dx, float* dgamma, float* dbeta) {
  std::vector<double> dg, db;
  affine_grads(rows, cols, g, xhat, dg, db, dgamma, dbeta);
  if (!dx) return;
  std::vector<float> a(cols), mb(cols), mg(cols);
  for (long c = 0; c < cols; c++) {
    a[c] = gamma[c] * inv_std[c];
    mb[c] = training ? static_cast<float>(db[c] / rows) : 0.f;
    mg[c] = training ? static_cast<float>(dg[c] / rows) : 0.f;
  }
  parallel_for(rows, cols, [&](long r0, long r1) {
    for (long r = r0; r < r1; r++)
      for (long c = 0; c < cols; c++) {
        const long i = r * cols + c;
        dx[i] = a[c] * (g[i] - mb[c] - xhat[i] * mg[c]);
      }
  });
}

// Rows are short (RankTower's sub-spaces: 32), so each row is three passes in registers and the rows are split over the
// pool; the row statistics are accumulated in double as the reference does.
void layer_norm_forward(long rows, long cols, const float* x, const float* gamma, const float* beta, float eps, float* xhat,
                        float* inv_std, float* y) {
  parallel_for(rows, cols, [&](long r0, long r1) {
    for (long r = r0; r < r1; r++) {
      const float* xr = x + r * cols;
      double m = 0;
      for (long c = 0; c < cols; c++) m += xr[c];
      m /= cols;
      double v = 0;
      for (long c = 0; c < cols; c++) v += (xr[c] - m) * (xr[c] - m);
      const float is = static_cast<float>(1.0 / std::sqrt(v / cols + eps));
      const float mf = static_cast<float>(m);
      inv_std[r] = is;
      float* hr = xhat + r * cols;
      float* yr = y + r * cols;
      for (long c = 0; c < cols; c++) {
        hr[c] = (xr[c] - mf) * is;
        yr[c] = hr[c] * gamma[c] + beta[c];
      }
    }
  });
}

void layer_norm_backward(long rows, long cols, const float* g, const float* xhat, const float* gamma, const float* inv_std,
                         float* dx, float* dgamma, float* dbeta) {
  std::vector<double> dg, db;
  affine_grads(rows, cols, g, xhat, dg, db, dgamma, dbeta);
  if (!dx) return;
  parallel_for(rows, cols, [&](long r0, long r1) {
    for (long r = r0; r < r1; r++) {
      const float* gr = g + r * cols;
      const float* hr = xhat + r * cols;
      double sg = 0, sgh = 0;
      for (long c = 0; c < cols; c++) {
        const double gh = static_cast<double>(gr[c]) * gamma[c];
        sg += gh;
        sgh += gh * hr[c];
      }
      const float mg = static_cast<float>(sg / cols), mgh = static_cast<float>(sgh / cols);
      float* dr = dx + r * cols;
      for (long c = 0; c < cols; c++) dr[c] = inv_std[r] * (gr[c] * gamma[c] - mg - hr[c] * mgh);
    }
  });
}

void group_max_sum(long A, long N, long G, const float* x, float* out, int32_t* arg) {
  parallel_for(N, A * G, [&](long n0, long n1) {
    for (long n = n0; n < n1; n++) out[n] = 0.f;
    for (long a = 0; a < A; a++) {
      for (long n = n0; n < n1; n++) {
        const float* row = x + a * N * G + n * G;
        long best = 0;
        for (long g = 1; g < G; g++)
          if (row[g] > row[best]) best = g;
        arg[a * N + n] = static_cast<int32_t>(best);
        out[n] += row[best];
      }
    }
  });
}

// Per-pair max-sim: for each of N pairs, A user heads against G item heads of size P (IntTower's FE-Block in
// training: A = L*H, G = H, P = 64). As a batched GEMM plus max and sum this was tiny products with per-call
// overhead and a [N, A, G] intermediate; here each pair's A*G dot products are formed and reduced in registers.
// Plain loops with 16 partial sums (vectorised without reassociating), compiled per ISA as dropout above.
#define PRERANK_MAX_SIM(NAME, ATTR)                                                                          \
  ATTR static inline float NAME##_dot(const float* a, const float* b, long P) {                             \
    float acc[16] = {};                                                                                      \
    long p = 0;                                                                                              \
    for (; p + 16 <= P; p += 16)                                                                             \
      for (int j = 0; j < 16; j++) acc[j] += a[p + j] * b[p + j];                                            \
    float s = 0.f;                                                                                           \
    for (int j = 0; j < 16; j++) s += acc[j];                                                                \
    for (; p < P; p++) s += a[p] * b[p];                                                                     \
    return s;                                                                                                \
  }                                                                                                          \
  ATTR static void NAME##_fwd(long n0, long n1, long A, long G, long P, const float* U, const float* V,      \
                              float* out, int32_t* arg) {                                                   \
    for (long n = n0; n < n1; n++) {                                                                         \
      const float* v = V + n * G * P;                                                                        \
      float total = 0.f;                                                                                     \
      for (long a = 0; a < A; a++) {                                                                         \
        const float* u = U + (n * A + a) * P;                                                                \
        long best = 0;                                                                                       \
        float bv = NAME##_dot(u, v, P);                                                                      \
        for (long g = 1; g < G; g++) {                                                                       \
          const float d = NAME##_dot(u, v + g * P, P);                                                       \
          if (d > bv) bv = d, best = g;                                                                      \
        }                                                                                                    \
        arg[n * A + a] = static_cast<int32_t>(best);                                                         \
        total += bv;                                                                                         \
      }                                                                                                      \
      out[n] = total;                                                                                        \
    }                                                                                                        \
  }                                                                                                          \
  ATTR static void NAME##_bwd(long n0, long n1, long A, long G, long P, const float* U, const float* V,      \
                              const int32_t* arg, const float* gout, float* dU, float* dV) {                \
    for (long n = n0; n < n1; n++) {                                                                         \
      const float gn = gout[n];                                                                              \
      if (dV) std::fill(dV + n * G * P, dV + (n + 1) * G * P, 0.f);                                          \
      for (long a = 0; a < A; a++) {                                                                         \
        const long i = n * A + a, g = arg[i];                                                                \
        const float* u = U + i * P;                                                                          \
        const float* v = V + (n * G + g) * P;                                                                \
        if (dU)                                                                                              \
          for (long p = 0; p < P; p++) dU[i * P + p] = gn * v[p];                                            \
        if (dV)                                                                                              \
          for (long p = 0; p < P; p++) dV[(n * G + g) * P + p] += gn * u[p];                                 \
      }                                                                                                      \
    }                                                                                                        \
  }
PRERANK_MAX_SIM(max_sim_portable, )
#if defined(__x86_64__)
PRERANK_MAX_SIM(max_sim_avx2, __attribute__((target("avx2,fma"))))
PRERANK_MAX_SIM(max_sim_avx512, __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl"))))
#endif

void pair_max_sim(long N, long A, long G, long P, const float* U, const float* V, float* out, int32_t* arg) {
  auto fwd = max_sim_portable_fwd;
#if defined(__x86_64__)
  if (active_isa() == Isa::avx512) fwd = max_sim_avx512_fwd;
  else if (active_isa() == Isa::avx2) fwd = max_sim_avx2_fwd;
#endif
  parallel_for(N, A * G * P, [&](long n0, long n1) { fwd(n0, n1, A, G, P, U, V, out, arg); });
}

void pair_max_sim_backward(long N, long A, long G, long P, const float* U, const float* V, const int32_t* arg,
                           const float* gout, float* dU, float* dV) {
  auto bwd = max_sim_portable_bwd;
#if defined(__x86_64__)
  if (active_isa() == Isa::avx512) bwd = max_sim_avx512_bwd;
  else if (active_isa() == Isa::avx2) bwd = max_sim_avx2_bwd;
#endif
  parallel_for(N, A * P, [&](long n0, long n1) { bwd(n0, n1, A, G, P, U, V, arg, gout, dU, dV); });
}

void row_dot(long rows, long cols, const float* a, const float* b, float* out) {
  parallel_for(rows, cols, [&](long r0, long r1) {
    for (long r = r0; r < r1; r++) {
      float acc = 0.f;
      for (long c = 0; c < cols; c++) acc += a[r * cols + c] * b[r * cols + c];
      out[r] = acc;
    }
  });
}

void row_scale(long rows, long cols, const float* s, const float* x, float* out) {
  parallel_for(rows, cols, [&](long r0, long r1) {
    for (long r = r0; r < r1; r++)
      for (long c = 0; c < cols; c++) out[r * cols + c] = s[r] * x[r * cols + c];
  });
}

void axpy(long n, float alpha, const float* src, float* dst) {
  parallel_for(n, 1, [&](long b, long e) {
    for (long i = b; i < e; i++) dst[i] += alpha * src[i];
  });
}

namespace {
inline void adam_range(long b, long e, float* p, const float* g, float* m, float* v, float lr, float b1, float b2,
                       float eps, float wd, float c1, float c2, bool decoupled) {
  const float step_size = lr / c1;
  const float inv_sqrt_c2 = 1.f / std::sqrt(c2);
  for (long i = b; i < e; i++) {
    float gi = g[i];
    if (decoupled) p[i] -= lr * wd * p[i];
    else gi += wd * p[i];
    m[i] = b1 * m[i] + (1.f - b1) * gi;
    v[i] = b2 * v[i] + (1.f - b2) * gi * gi;
    p[i] -= step_size * m[i] / (std::sqrt(v[i]) * inv_sqrt_c2 + eps);
  }
}
}  // namespace

void adam(long n, float* p, const float* g, float* m, float* v, float lr, float b1, float b2, float eps, float wd,
          double step, bool decoupled) {
  const float c1 = static_cast<float>(1.0 - std::pow(static_cast<double>(b1), step));
  const float c2 = static_cast<float>(1.0 - std::pow(static_cast<double>(b2), step));
  parallel_for(n, 4, [&](long b, long e) { adam_range(b, e, p, g, m, v, lr, b1, b2, eps, wd, c1, c2, decoupled); });
}

long adam_rows(long V, long D, const int32_t* ids, long n_ids, float* p, const float* g, float* m, float* v, float lr,
               float b1, float b2, float eps, float wd, double step, bool decoupled) {
  for (long r = 0; r < n_ids; r++)
    if (ids[r] < 0 || ids[r] >= V) return r;
  const float c1 = static_cast<float>(1.0 - std::pow(static_cast<double>(b1), step));
  const float c2 = static_cast<float>(1.0 - std::pow(static_cast<double>(b2), step));
  parallel_for(n_ids, D * 4, [&](long r0, long r1) {
    for (long r = r0; r < r1; r++) {
      const long o = static_cast<long>(ids[r]) * D;
      adam_range(0, D, p + o, g + r * D, m + o, v + o, lr, b1, b2, eps, wd, c1, c2, decoupled);
    }
  });
  return -1;
}

void sgd(long n, float* p, const float* g, float* buf, float lr, float momentum, float wd) {
  parallel_for(n, 2, [&](long b, long e) {
    for (long i = b; i < e; i++) {
      float gi = g[i] + wd * p[i];
      if (buf) {
        buf[i] = momentum * buf[i] + gi;
        gi = buf[i];
      }
      p[i] -= lr * gi;
    }
  });
}

void adagrad(long n, float* p, const float* g, float* sum, float lr, float eps, float wd) {
  parallel_for(n, 4, [&](long b, long e) {
    for (long i = b; i < e; i++) {
      const float gi = g[i] + wd * p[i];
      sum[i] += gi * gi;
      p[i] -= lr * gi / (std::sqrt(sum[i]) + eps);
    }
  });
}

}  // namespace prerank
