// SGEMM driver (gemm.h): picks the micro-kernel for active_isa(), splits C into one rectangle per thread,
// and runs a Goto-style blocked loop nest on each rectangle; plus the batched small-matrix GEMM and the FMA
// peak probe.
//
// Micro-kernels and blocking (Kernel tables in the ISA files):
//   AVX-512  14x32 (28 zmm accumulators), KC 384, MC 56, NC 384
//   AVX2      6x16 (12 ymm accumulators), KC 256, MC 72, NC 512
//   portable  4x8 on x86 (SSE2 by auto-vectorisation), 4x16 on ARM (NEON), KC 256, MC 64, NC 512
// K is split into balanced blocks of at most KC (+7); every block but the first accumulates onto C, and
// alpha/beta/bias/relu are applied in the micro-kernel's store (bias/relu on the last K block only).
// Loop nest per thread rectangle: jc (NC) > pc (KC) > [pack B] > ic (MC) > [pack A] > ir (MR) > jr (NR).
// The A micro-panel (14 x KC) stays in L1 across the jr loop, the B block (KC x NC) in L2.
// Packing is skipped whenever the kernel can read the caller's matrix as is: a transposed A already has
// the column layout, a row-major A the row layout (row stride permitting, see rows_spread_over_l1), and a
// row-major B with rows under 4 KB is read row by row. So the forward (NN) and dW (TN) products pack
// nothing, and dX (NT) only transposes B into 32-column panels.
// Threading: each of T threads gets one rectangle of C (tm x tn grid from a cost model counting row-tile
// work, edge tiles and packing), so threads never synchronise inside a GEMM. 1 x N with B^T uses dot
// products; tiny batched products use direct kernels, batches spread over the threads.
//
// Measured on AMD EPYC Zen 5 (KVM guest, 2 cores, shared with other work; 2026-11-23), best of 3 passes of
// `native/test/gemm_check bench all 3`, GFLOP/s at 1 thread / 2 threads (2-thread % of the 2-thread peak):
//   FMA peak             avx512 248 / 484          avx2 123 / 244
//   fwd 2048x300x300 NN  avx512 227 / 449 (92.7%)  avx2 116 / 230 (94.1%)
//   fwd 2048x300x160 NN  222 / 442 (91%)   fwd 2048x128x300 NN 239 / 457 (94%)  fwd 2048x300x96 NN 224 / 432 (89%)
//   dW 160x300x2048 TN   223 / 421 (87%)   dW 300x300x2048 TN  221 / 431 (89%)  dW 96x300x2048 TN  228 / 429 (89%)
//   dX 2048x160x300 NT   237 / 435 (90%)   dX 2048x300x300 NT  227 / 453 (93%)  dX 2048x96x300 NT  233 / 428 (88%)
//   serving (avx512)     64x300x300 231 / 431, 16x300x300 193 / 339, 1x300x300 48 (one thread)
#include "gemm.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "cpu.h"
#include "gemm_kernels.h"
#include "pool.h"

namespace prerank {
namespace {

using gemm_detail::Kernel;
using gemm_detail::TileArgs;

constexpr long kMinMacsPerThread = 1L << 19;  // less work per thread than this: use fewer threads
// A row-major B is read in place (not packed) when its rows are less than 4 KB apart (a 4 KB stride piles a
// panel's rows into few L2 sets), or when a thread has so few rows that packing would not pay off.
constexpr long kDirectBMaxLd = 1023;
constexpr int kDirectBRows = 16;
// Products with at most this many rows and B stored [N,K] are computed as dot products of contiguous rows
// (from 2 rows on, transposing B into panels wins).
constexpr int kDotMaxRows = 1;

bool read_b_in_place(bool transB, long ldb, int rows) {
  return !transB && (ldb <= kDirectBMaxLd || rows <= kDirectBRows);
}

struct Problem {
  bool ta, tb;
  int M, N, K;
  float alpha;
  const float* A;
  long lda;
  const float* B;
  long ldb;
  float beta;
  float* C;
  long ldc;
  Epilogue ep;
};

const Kernel& active_kernel(Isa isa) {
  const Kernel* k = nullptr;
  if (isa == Isa::avx512) k = gemm_detail::kernel_avx512();
  else if (isa == Isa::avx2) k = gemm_detail::kernel_avx2();
  return k ? *k : *gemm_detail::kernel_portable();
}

int ceil_div(long a, long b) { return static_cast<int>((a + b - 1) / b); }
int round_up(long a, long b) { return ceil_div(a, b) * static_cast<int>(b); }

// Runs body(task) for task in [0, n) on the pool. The std::function gets a one-pointer lambda, which it
// stores inline: no heap allocation per call.
template <class F>
void parallel(int n, const F& body) {
  const F* f = &body;
  ThreadPool::get().run(n, [f](int task) { (*f)(task); });
}

// Grow-only, 64-byte aligned scratch owned by one thread.
class Buffer {
 public:
  ~Buffer() { std::free(raw_); }
  float* get(size_t floats) {
    if (floats > cap_) {
      std::free(raw_);
      raw_ = std::malloc(floats * sizeof(float) + 64);
      cap_ = floats;
    }
    return reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(raw_) + 63) & ~uintptr_t(63));
  }

 private:
  void* raw_ = nullptr;
  size_t cap_ = 0;
};

struct Workspace {
  Buffer a, b;
};
thread_local Workspace tls_ws;

// C = act(beta * C + bias) for K == 0 or alpha == 0.
void scale_only(const Problem& p) {
  for (int i = 0; i < p.M; ++i) {
    float* c = p.C + i * p.ldc;
    for (int j = 0; j < p.N; ++j) {
      float x = p.beta == 0.0f ? 0.0f : p.beta * c[j];
      if (p.ep.bias) x += p.ep.bias[j];
      if (p.ep.act == Act::relu && x < 0.0f) x = 0.0f;
      c[j] = x;
    }
  }
}

// True when `rows` rows `ld` floats apart fall into L1 sets (64 sets of 64-byte lines) with at most 4 rows on
// any one set, so streaming them together does not thrash an 8- or 12-way L1.
bool rows_spread_over_l1(long ld, int rows) {
  int count[64] = {};
  for (int i = 0; i < rows; ++i)
    if (++count[(i * ld * 4 / 64) % 64] > 4) return false;
  return true;
}

// Splits [0, len) into `parts` balanced blocks whose sizes are multiples of `unit` (except the last).
int block_size(int len, int max_block, int unit) {
  const int parts = ceil_div(len, max_block);
  return round_up(ceil_div(len, parts), unit);
}

// How one thread's rectangle is blocked and which operands are packed.
struct RectPlan {
  int kcb, mcb, ncb;  // block sizes along K, M, N
  bool direct_a;      // A read in place (no packing)
  bool a_rows;        // A in the row layout (else the column layout)
  bool direct_b;      // B read in place
};

RectPlan plan_rect(const Kernel& kr, const Problem& p, int rows, int cols) {
  RectPlan r;
  r.kcb = block_size(p.K, kr.kc, 8);
  r.mcb = block_size(rows, kr.mc, kr.mr);
  r.ncb = block_size(cols, kr.nc, kr.nr);
  // The SIMD kernels take A in place when the layout they want is already there: columns from a transposed
  // A, rows from a row-major A whose row stride spreads a micro-panel over the L1 sets.
  r.a_rows = kr.kcs != 0 && !p.ta;
  r.direct_a = kr.kcs != 0 && (p.ta || rows_spread_over_l1(p.lda, kr.mr));
  r.direct_b = read_b_in_place(p.tb, p.ldb, rows);
  return r;
}

// Rows [ic, ic+mc) x cols [jc, jc+nc) of C for K block [pc, pc+t.k): loops over micro-tiles. The A
// micro-panel stays in L1 across the jr loop; B streams from L2.
void macro_kernel(const Kernel& kr, const Problem& p, const RectPlan& r, TileArgs& t, const float* abuf,
                  const float* bbuf, int ic, int mc, int jc, int nc, int pc, bool last_k) {
  const long a_panel = static_cast<long>(kr.mr) * (r.a_rows ? kr.kcs : t.k);  // floats per packed A panel
  for (int ir = 0; ir < mc; ir += kr.mr) {
    if (!r.direct_a) t.a = abuf + ir / kr.mr * a_panel;
    else t.a = p.ta ? p.A + pc * p.lda + ic + ir : p.A + (ic + ir) * p.lda + pc;
    t.m = std::min(kr.mr, mc - ir);
    for (int jr = 0; jr < nc; jr += kr.nr) {
      t.n = std::min(kr.nr, nc - jr);
      t.b = r.direct_b ? p.B + pc * p.ldb + jc + jr : bbuf + static_cast<long>(jr) * t.k;
      t.c = p.C + (ic + ir) * p.ldc + jc + jr;
      t.bias = last_k && p.ep.bias ? p.ep.bias + jc + jr : nullptr;
      kr.tile(t);
    }
  }
}

// One thread's share: rows [m0, m1) x cols [n0, n1) of C, full K. Loop nest jc > pc > (pack B) > ic >
// (pack A) > macro-kernel.
void gemm_rect(const Kernel& kr, const Problem& p, int m0, int m1, int n0, int n1) {
  const RectPlan r = plan_rect(kr, p, m1 - m0, n1 - n0);
  const size_t a_floats = static_cast<size_t>(ceil_div(r.mcb, kr.mr)) * kr.mr * (r.a_rows ? kr.kcs : r.kcb);
  float* abuf = r.direct_a ? nullptr : tls_ws.a.get(a_floats + 32);
  float* bbuf = r.direct_b ? nullptr : tls_ws.b.get(static_cast<size_t>(round_up(r.ncb, kr.nr)) * r.kcb + 32);
  TileArgs t;
  t.ldc = p.ldc;
  t.alpha = p.alpha;
  t.a_rows = r.a_rows;
  t.a_ks = r.direct_a ? p.lda : kr.mr;
  t.a_rs = r.direct_a ? p.lda : kr.kcs;
  t.b_packed = !r.direct_b;
  t.ldb = r.direct_b ? p.ldb : kr.nr;
  for (int jc = n0; jc < n1; jc += r.ncb) {
    const int nc = std::min(r.ncb, n1 - jc);
    for (int pc = 0; pc < p.K; pc += r.kcb) {
      t.k = std::min(r.kcb, p.K - pc);
      const bool last_k = pc + t.k == p.K;
      t.beta = pc == 0 ? p.beta : 1.0f;  // later K blocks accumulate onto C
      t.relu = last_k && p.ep.act == Act::relu;
      const float* b_src = p.tb ? p.B + jc * p.ldb + pc : p.B + pc * p.ldb + jc;
      if (!r.direct_b) kr.pack_b(p.tb, b_src, p.ldb, t.k, nc, bbuf);
      for (int ic = m0; ic < m1; ic += r.mcb) {
        const int mc = std::min(r.mcb, m1 - ic);
        const float* a_src = p.ta ? p.A + pc * p.lda + ic : p.A + ic * p.lda + pc;
        if (!r.direct_a) kr.pack_a(p.ta, a_src, p.lda, mc, t.k, abuf);
        macro_kernel(kr, p, r, t, abuf, bbuf, ic, mc, jc, nc, pc, last_k);
      }
    }
  }
}

struct Grid {
  int tm, tn;
};

// Part `i` of `parts` of [0, len), split at multiples of `unit`.
void split(int len, int unit, int parts, int i, int& lo, int& hi) {
  const long units = ceil_div(len, unit);
  lo = static_cast<int>(std::min<long>(len, units * i / parts * unit));
  hi = static_cast<int>(std::min<long>(len, units * (i + 1) / parts * unit));
}

int max_part(int len, int unit, int parts) {
  int most = 0, lo, hi;
  for (int i = 0; i < parts; ++i) split(len, unit, parts, i, lo, hi), most = std::max(most, hi - lo);
  return most;
}

// Relative time for one thread's rectangle, per unit of K, in zmm-FMA-sized steps: row tiles cost their
// rows + 2 (loads, loop), per 16 columns; packing A costs ~0.3 per element, packing B ~1.
double rect_cost(const Kernel& kr, const Problem& p, int rows, int cols) {
  if (rows <= 0 || cols <= 0) return 0;
  const RectPlan r = plan_rect(kr, p, rows, cols);
  const int full = rows / kr.mr, rem = rows % kr.mr;
  const double tile_rows = full * (kr.mr + 2.0) + (rem ? rem + 2.0 : 0.0);
  const double pack_a = r.direct_a ? 0.0 : 0.3 * rows * ceil_div(cols, kr.nc);
  const double pack_b = r.direct_b ? 0.0 : 1.0 * cols;
  return tile_rows * ceil_div(cols, 16) + pack_a + pack_b;
}

// Chooses how many threads and which tm x tn grid of C rectangles minimise the slowest thread's time.
Grid choose_grid(const Kernel& kr, const Problem& p, int max_threads) {
  const long macs = static_cast<long>(p.M) * p.N * p.K;
  const int threads = static_cast<int>(std::max(1L, std::min<long>(max_threads, macs / kMinMacsPerThread)));
  Grid best{1, 1};
  if (threads == 1) return best;
  double best_cost = rect_cost(kr, p, p.M, p.N);
  for (int tm = 1; tm <= threads; ++tm) {
    for (int tn = 1; tm * tn <= threads; ++tn) {
      if (tm * tn == 1 || tm * tn * 2 <= threads) continue;  // (leaving more than half the threads idle)
      const double cost = rect_cost(kr, p, max_part(p.M, kr.mr, tm), max_part(p.N, 16, tn));
      if (cost < best_cost * 0.98) best_cost = cost, best = Grid{tm, tn};
    }
  }
  return best;
}

// Direct kernels for tiny products (no packing), plain loops for the auto-vectoriser.
// op(B) stored [N,K]: dot products along K.
void small_gemm_dot(const Problem& p) {
  const long as = p.ta ? p.lda : 1;  // stride of A(i, k) along k
  for (int i = 0; i < p.M; ++i) {
    float* c = p.C + i * p.ldc;
    const float* ai = p.ta ? p.A + i : p.A + i * p.lda;
    for (int j = 0; j < p.N; ++j) {
      const float* bj = p.B + j * p.ldb;
      float part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      int k = 0;
      if (as == 1)
        for (; k + 8 <= p.K; k += 8)
          for (int u = 0; u < 8; ++u) part[u] += ai[k + u] * bj[k + u];
      for (; k < p.K; ++k) part[k & 7] += ai[k * as] * bj[k];
      const float s = ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
      c[j] = p.alpha * s + (p.beta == 0.0f ? 0.0f : p.beta * c[j]);
    }
  }
}

// op(B) stored [K,N]: each row of C accumulates rows of B, 64 columns at a time in a local buffer.
void small_gemm_axpy(const Problem& p) {
  constexpr int W = 64;
  const long as = p.ta ? p.lda : 1;
  float acc[W];
  for (int i = 0; i < p.M; ++i) {
    float* c = p.C + i * p.ldc;
    const float* ai = p.ta ? p.A + i : p.A + i * p.lda;
    for (int j0 = 0; j0 < p.N; j0 += W) {
      const int w = std::min(W, p.N - j0);
      for (int j = 0; j < W; ++j) acc[j] = 0.0f;
      for (int k = 0; k < p.K; ++k) {
        const float a = ai[k * as];
        const float* bk = p.B + k * p.ldb + j0;
        if (w == W)
          for (int j = 0; j < W; ++j) acc[j] += a * bk[j];
        else
          for (int j = 0; j < w; ++j) acc[j] += a * bk[j];
      }
      for (int j = 0; j < w; ++j) c[j0 + j] = p.alpha * acc[j] + (p.beta == 0.0f ? 0.0f : p.beta * c[j0 + j]);
    }
  }
}

// C = act(C + bias) on columns [n0, n1).
void apply_epilogue(const Problem& p, int n0, int n1) {
  if (!p.ep.bias && p.ep.act == Act::none) return;
  for (int i = 0; i < p.M; ++i) {
    float* c = p.C + i * p.ldc;
    for (int j = n0; j < n1; ++j) {
      float x = c[j] + (p.ep.bias ? p.ep.bias[j] : 0.0f);
      if (p.ep.act == Act::relu && x < 0.0f) x = 0.0f;
      c[j] = x;
    }
  }
}

// One row times a row-major B^T (scoring items against one user): dot products of contiguous rows beat
// transposing B into panels (from 2 rows on, packing wins). Threads split N.
void run_dot(const Kernel& kr, const Problem& p, int max_threads) {
  const long macs = static_cast<long>(p.M) * p.N * p.K;
  const int threads = static_cast<int>(std::max(1L, std::min<long>(max_threads, macs / kMinMacsPerThread)));
  auto part = [&](int t) {
    int n0, n1;
    split(p.N, 16, threads, t, n0, n1);
    if (n0 >= n1) return;
    Problem q = p;
    q.N = n1 - n0, q.B = p.B + n0 * p.ldb, q.C = p.C + n0;
    if (kr.dot_nt) kr.dot_nt(q.M, q.N, q.K, q.alpha, q.A, q.lda, q.B, q.ldb, q.beta, q.C, q.ldc);
    else small_gemm_dot(q);
    apply_epilogue(p, n0, n1);
  };
  if (threads == 1) return part(0);
  parallel(threads, part);
}

void run_gemm(const Problem& p, int max_threads) {
  if (p.M <= 0 || p.N <= 0) return;
  if (p.K <= 0 || p.alpha == 0.0f) return scale_only(p);
  const Kernel& kr = active_kernel(active_isa());
  if (p.tb && !p.ta && p.M <= kDotMaxRows) return run_dot(kr, p, max_threads);
  const Grid g = choose_grid(kr, p, max_threads);
  if (g.tm * g.tn == 1) return gemm_rect(kr, p, 0, p.M, 0, p.N);
  parallel(g.tm * g.tn, [&](int task) {
    int m0, m1, n0, n1;
    split(p.M, kr.mr, g.tm, task / g.tn, m0, m1);
    split(p.N, 16, g.tn, task % g.tn, n0, n1);
    if (m0 < m1 && n0 < n1) gemm_rect(kr, p, m0, m1, n0, n1);
  });
}

}  // namespace

void sgemm(bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
           int ldb, float beta, float* C, int ldc, const Epilogue& ep) {
  const Problem p{transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, ep};
  run_gemm(p, ThreadPool::get().size());
}

void sgemm_batched(bool transA, bool transB, int batch, int M, int N, int K, float alpha, const float* A, int lda,
                   long strideA, const float* B, int ldb, long strideB, float beta, float* C, int ldc,
                   long strideC) {
  if (batch <= 0 || M <= 0 || N <= 0) return;
  const long macs = static_cast<long>(M) * N * std::max(K, 1);
  // The packed kernels pay off for large products, and for a row-major B (read in place) of 16+ columns.
  const bool blocked = (macs >= 32768 && std::min(M, N) >= 8) || (!transB && N >= 16);
  const int tasks = static_cast<int>(
      std::max(1L, std::min<long>({ThreadPool::get().size(), batch, macs * batch / kMinMacsPerThread})));
  const Kernel& kr = active_kernel(active_isa());
  auto one = [&](int b) {
    const Problem p{transA, transB, M,   N,    K,   alpha, A + b * strideA, lda, B + b * strideB, ldb,
                    beta,   C + b * strideC, ldc, Epilogue{}};
    if (K <= 0 || alpha == 0.0f) scale_only(p);
    else if (blocked) run_gemm(p, 1);
    else if (transB && !transA && kr.dot_nt) kr.dot_nt(M, N, K, alpha, p.A, lda, p.B, ldb, beta, p.C, ldc);
    else if (transB) small_gemm_dot(p);
    else small_gemm_axpy(p);
  };
  if (tasks == 1) {
    for (int b = 0; b < batch; ++b) one(b);
    return;
  }
  parallel(tasks, [&](int task) {
    const int b0 = static_cast<int>(static_cast<long>(batch) * task / tasks);
    const int b1 = static_cast<int>(static_cast<long>(batch) * (task + 1) / tasks);
    for (int b = b0; b < b1; ++b) one(b);
  });
}

double fma_peak_gflops(int isa, int threads, double seconds) {
  if (isa < 0 || isa > 2 || !isa_supported(static_cast<Isa>(isa))) return 0.0;
  const Kernel& kr = active_kernel(static_cast<Isa>(isa));
  threads = std::max(1, threads);
  ThreadPool& pool = ThreadPool::get();
  const int old_size = pool.size();
  if (threads > old_size) pool.resize(threads);
  // Total work over the span from the first start to the last end: honest even if the tasks did not all
  // overlap (a slow helper, a busy machine).
  using clock = std::chrono::steady_clock;
  std::vector<double> gflop(threads, 0.0);
  std::vector<clock::time_point> start(threads), end(threads);
  pool.run(threads, [&](int t) {
    start[t] = clock::now();
    const double rate = kr.peak(seconds);
    end[t] = clock::now();
    gflop[t] = rate * std::chrono::duration<double>(end[t] - start[t]).count();
  });
  if (threads > old_size) pool.resize(old_size);
  double total = 0;
  for (double g : gflop) total += g;
  const auto first = *std::min_element(start.begin(), start.end()), last = *std::max_element(end.begin(), end.end());
  return total / std::chrono::duration<double>(last - first).count();
}

}  // namespace prerank
