// Fused element-wise, normalisation, loss and optimizer kernels. Plain loops written for auto-vectorisation;
// large inputs are split over the ThreadPool by rows (or by contiguous ranges for flat vectors).
#include "kernels.h"

#include <algorithm>
#include <cmath>
#include <vector>

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
  column_sums(rows, cols, dg, [&](long r, long c) { return static_cast<double>(g[r * cols + c]) * xhat[r * cols + c]; });
  column_sums(rows, cols, db, [&](long r, long c) { return static_cast<double>(g[r * cols + c]); });
  for (long c = 0; c < cols; c++) {
    dgamma[c] = static_cast<float>(dg[c]);
    dbeta[c] = static_cast<float>(db[c]);
  }
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
