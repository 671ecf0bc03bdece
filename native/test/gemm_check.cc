// Standalone correctness check and benchmark for the native GEMM (no Node): build with native/test/build.sh.
//   gemm_check            check, then benchmark
//   gemm_check check      correctness only (exit status 1 on any failure)
//   gemm_check bench      benchmark only
//   gemm_check MODE ISA [PASSES]   only that ISA (avx512|avx2|portable|all); bench: best of PASSES passes
// Checks sgemm / sgemm_batched against a double-precision reference on every ISA this CPU supports, at
// several pool sizes; benchmarks the two-tower training shapes per ISA at 1 and 2 threads next to the
// register-only FMA peak.
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../cpu.h"
#include "../gemm.h"
#include "../pool.h"

using namespace prerank;

// Counts heap allocations, to check that a warmed-up sgemm allocates nothing.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"  // new is malloc here, so free is the match
#endif
static std::atomic<long> g_allocs{0};
void* operator new(size_t n) {
  g_allocs++;
  if (void* p = std::malloc(n ? n : 1)) return p;
  std::abort();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace {

std::mt19937 rng(12345);
int failures = 0, checks = 0;
double worst = 0;  // largest error / bound seen

std::vector<float> random_vec(size_t n) {
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

std::string only_isa;  // optional second argument: restrict to one ISA

std::vector<Isa> supported_isas() {
  std::vector<Isa> v;
  for (Isa i : {Isa::portable, Isa::avx2, Isa::avx512})
    if (isa_supported(i) && (only_isa.empty() || only_isa == isa_name(i))) v.push_back(i);
  return v;
}

struct Case {
  bool ta, tb;
  int M, N, K;
  float alpha, beta;
  int pad;  // extra leading-dimension elements
  bool bias, relu;
};

// Reference C and the per-element error scale (|alpha| sum |a||b| + |beta c| + |bias|).
void reference(const Case& c, const std::vector<float>& A, int lda, const std::vector<float>& B, int ldb,
               const std::vector<float>& C0, int ldc, const std::vector<float>& bias, std::vector<double>& ref,
               std::vector<double>& scale) {
  ref.assign(static_cast<size_t>(c.M) * c.N, 0.0);
  scale.assign(ref.size(), 0.0);
  for (int i = 0; i < c.M; ++i)
    for (int j = 0; j < c.N; ++j) {
      double s = 0, sa = 0;
      for (int k = 0; k < c.K; ++k) {
        const double a = c.ta ? A[static_cast<size_t>(k) * lda + i] : A[static_cast<size_t>(i) * lda + k];
        const double b = c.tb ? B[static_cast<size_t>(j) * ldb + k] : B[static_cast<size_t>(k) * ldb + j];
        s += a * b, sa += std::fabs(a * b);
      }
      double x = c.alpha * s, sc = std::fabs(c.alpha) * sa;
      if (c.beta != 0) x += c.beta * static_cast<double>(C0[static_cast<size_t>(i) * ldc + j]),
                       sc += std::fabs(c.beta * C0[static_cast<size_t>(i) * ldc + j]);
      if (c.bias) x += bias[j], sc += std::fabs(bias[j]);
      if (c.relu && x < 0) x = 0;
      ref[static_cast<size_t>(i) * c.N + j] = x;
      scale[static_cast<size_t>(i) * c.N + j] = sc;
    }
}

bool compare(const char* what, const float* C, int ldc, int M, int N, int K, const double* ref,
             const double* scale) {
  const double tol = 1e-5 * std::sqrt(std::max(K, 1));
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      const double got = C[static_cast<size_t>(i) * ldc + j], want = ref[static_cast<size_t>(i) * N + j];
      const double err = std::fabs(got - want), bound = tol * scale[static_cast<size_t>(i) * N + j] + 1e-30;
      worst = std::max(worst, err / bound);
      if (!(err <= bound)) {
        if (failures < 30)
          std::printf("FAIL %s at (%d,%d): got %.9g want %.9g err %.3g bound %.3g\n", what, i, j, got, want,
                      err, bound);
        return false;
      }
    }
  return true;
}

std::string describe(const Case& c, Isa isa, int threads) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s t%d %c%c M=%d N=%d K=%d alpha=%g beta=%g pad=%d bias=%d relu=%d",
                isa_name(isa), threads, c.ta ? 'T' : 'N', c.tb ? 'T' : 'N', c.M, c.N, c.K, c.alpha, c.beta, c.pad,
                c.bias, c.relu);
  return buf;
}

// Runs one case on every ISA and the given pool sizes against one reference.
void check_case(const Case& c, const std::vector<int>& pool_sizes) {
  const int lda = (c.ta ? c.M : c.K) + c.pad, ldb = (c.tb ? c.K : c.N) + c.pad, ldc = c.N + c.pad;
  const size_t a_rows = c.ta ? c.K : c.M, b_rows = c.tb ? c.N : c.K;
  const auto A = random_vec(std::max<size_t>(1, a_rows * lda)), B = random_vec(std::max<size_t>(1, b_rows * ldb));
  auto C0 = random_vec(static_cast<size_t>(c.M) * ldc);
  if (c.beta == 0) std::fill(C0.begin(), C0.end(), std::numeric_limits<float>::quiet_NaN());
  const auto bias = random_vec(c.N);
  std::vector<double> ref, scale;
  reference(c, A, lda, B, ldb, C0, ldc, bias, ref, scale);
  Epilogue ep;
  ep.bias = c.bias ? bias.data() : nullptr;
  ep.act = c.relu ? Act::relu : Act::none;
  for (Isa isa : supported_isas()) {
    set_isa(isa);
    for (int threads : pool_sizes) {
      ThreadPool::get().resize(threads);
      auto C = C0;
      sgemm(c.ta, c.tb, c.M, c.N, c.K, c.alpha, A.data(), lda, B.data(), ldb, c.beta, C.data(), ldc, ep);
      ++checks;
      bool ok = compare(describe(c, isa, threads).c_str(), C.data(), ldc, c.M, c.N, c.K, ref.data(), scale.data());
      // Padding columns of C must be untouched.
      for (int i = 0; ok && i < c.M; ++i)
        for (int j = c.N; j < ldc; ++j)
          if (std::memcmp(&C[static_cast<size_t>(i) * ldc + j], &C0[static_cast<size_t>(i) * ldc + j], 4)) {
            std::printf("FAIL %s: wrote padding (%d,%d)\n", describe(c, isa, threads).c_str(), i, j);
            ok = false;
            break;
          }
      if (!ok) ++failures;
    }
  }
}

void check_sgemm() {
  const int sizes[] = {1, 2, 7, 13, 33, 64, 65, 100, 300, 301};
  const int ns = 10;
  int variant = 0;
  // Every M x N pair from the list; K from the list too, rotating; all transposes; rotating extras.
  for (int im = 0; im < ns; ++im)
    for (int in = 0; in < ns; ++in)
      for (int t = 0; t < 4; ++t, ++variant) {
        Case c{(t & 1) != 0, (t & 2) != 0, sizes[im], sizes[in], sizes[(im + in + t) % ns], 1.0f, 0.0f, 0, false,
               false};
        switch (variant % 5) {
          case 1: c.beta = 1.0f; break;
          case 2: c.alpha = -0.5f, c.beta = 0.75f, c.pad = 5; break;
          case 3: c.pad = 17, c.bias = true, c.relu = true; break;
          case 4: c.alpha = 2.0f, c.bias = true; break;
        }
        check_case(c, {variant % 3 + 1});
      }
  // K sweep on a fixed odd shape, including K = 0 and K past one K block.
  for (int K : {0, 1, 2, 7, 8, 9, 13, 33, 64, 65, 100, 300, 301, 700, 1000})
    for (int t = 0; t < 4; ++t) {
      check_case({(t & 1) != 0, (t & 2) != 0, 37, 45, K, 1.0f, 0.0f, 3, true, true}, {1, 2});
      check_case({(t & 1) != 0, (t & 2) != 0, 29, 70, K, 0.5f, -1.5f, 0, false, false}, {2});
    }
  check_case({false, false, 33, 65, 100, 0.0f, 0.5f, 2, true, false}, {1, 2});  // alpha = 0
  // Row strides that alias in L1 (A gets packed instead of read in place).
  check_case({false, false, 50, 40, 1024, 1.0f, 0.0f, 0, true, false}, {1, 2});
  check_case({false, true, 30, 33, 512, 1.0f, 1.0f, 0, false, true}, {1, 2});
  // Training shapes (batch 2048) in the layouts they are used in, with and without the fused epilogue.
  const int layers[][2] = {{160, 300}, {300, 300}, {300, 128}, {96, 300}};
  for (auto& l : layers) {
    const int in = l[0], out = l[1];
    check_case({false, false, 2048, out, in, 1.0f, 0.0f, 0, true, true}, {1, 2});
    check_case({true, false, in, out, 2048, 1.0f, 0.0f, 0, false, false}, {1, 2});
    check_case({true, false, in, out, 2048, 1.0f, 1.0f, 4, false, false}, {2});
    check_case({false, true, 2048, in, out, 1.0f, 0.0f, 0, false, false}, {1, 2});
  }
  // Serving: small M (M = 1 with B stored [N,K] takes the dot-product path).
  for (int M : {1, 2, 3, 4, 5, 16, 31, 64})
    for (int t = 0; t < 4; ++t) check_case({(t & 1) != 0, (t & 2) != 0, M, 300, 300, 1.0f, 0.0f, 1, true, true}, {2});
}

void check_batched() {
  struct B {
    bool ta, tb;
    int batch, M, N, K;
    float alpha, beta;
    int pad;
  };
  const B cases[] = {{false, true, 2048, 4, 4, 64, 1.0f, 0.0f, 0},  {false, false, 2048, 4, 64, 4, 1.0f, 0.0f, 0},
                     {true, false, 37, 5, 7, 9, 0.5f, 1.0f, 3},     {true, true, 19, 13, 2, 33, 1.0f, -1.0f, 1},
                     {false, false, 7, 64, 65, 64, 1.0f, 0.0f, 2},  {true, true, 5, 100, 33, 70, 2.0f, 0.5f, 0},
                     {false, true, 3, 1, 1, 1, 1.0f, 0.0f, 0},      {false, true, 9, 3, 5, 13, 1.0f, 0.5f, 2},
                     {false, false, 6, 3, 17, 5, 1.0f, 0.0f, 1},    {true, false, 6, 2, 40, 3, -1.0f, 2.0f, 0},
                     {false, false, 4, 3, 3, 0, 1.0f, 0.5f, 0}};
  for (const B& c : cases) {
    const int lda = (c.ta ? c.M : c.K) + c.pad, ldb = (c.tb ? c.K : c.N) + c.pad, ldc = c.N + c.pad;
    const long sA = static_cast<long>(c.ta ? c.K : c.M) * lda + 3, sB = static_cast<long>(c.tb ? c.N : c.K) * ldb + 1,
               sC = static_cast<long>(c.M) * ldc + 2;
    const auto A = random_vec(sA * c.batch), Bm = random_vec(sB * c.batch);
    auto C0 = random_vec(sC * c.batch);
    if (c.beta == 0) std::fill(C0.begin(), C0.end(), std::numeric_limits<float>::quiet_NaN());
    for (Isa isa : supported_isas()) {
      set_isa(isa);
      for (int threads : {1, 2}) {
        ThreadPool::get().resize(threads);
        auto C = C0;
        sgemm_batched(c.ta, c.tb, c.batch, c.M, c.N, c.K, c.alpha, A.data(), lda, sA, Bm.data(), ldb, sB, c.beta,
                      C.data(), ldc, sC);
        bool ok = true;
        for (int b = 0; ok && b < c.batch; ++b) {
          Case cc{c.ta, c.tb, c.M, c.N, c.K, c.alpha, c.beta, c.pad, false, false};
          std::vector<float> Ab(A.begin() + b * sA, A.begin() + (b + 1) * sA);
          std::vector<float> Bb(Bm.begin() + b * sB, Bm.begin() + (b + 1) * sB);
          std::vector<float> Cb(C0.begin() + b * sC, C0.begin() + (b + 1) * sC);
          std::vector<double> ref, scale;
          reference(cc, Ab, lda, Bb, ldb, Cb, ldc, {}, ref, scale);
          char what[160];
          std::snprintf(what, sizeof what, "batched %s t%d %c%c batch=%d/%d M=%d N=%d K=%d", isa_name(isa), threads,
                        c.ta ? 'T' : 'N', c.tb ? 'T' : 'N', b, c.batch, c.M, c.N, c.K);
          ok = compare(what, C.data() + b * sC, ldc, c.M, c.N, c.K, ref.data(), scale.data());
        }
        ++checks;
        if (!ok) ++failures;
      }
    }
  }
}

// Pool: every task runs exactly once, nested run() is serial, resize between runs, concurrent callers.
void check_pool() {
  ThreadPool& pool = ThreadPool::get();
  bool ok = true;
  for (int size : {1, 2, 3, 2}) {
    pool.resize(size);
    for (int rep = 0; rep < 2000; ++rep) {
      const int n = 1 + rep % 7;
      std::vector<std::atomic<int>> hits(n);
      for (auto& h : hits) h = 0;
      pool.run(n, [&](int t) {
        hits[t]++;
        if (rep % 100 == 0) pool.run(3, [&](int) { hits[t] += 10; });  // nested: serial, inline
      });
      for (int t = 0; t < n; ++t) ok = ok && hits[t] == (rep % 100 == 0 ? 31 : 1);
    }
  }
  // Two outside threads using sgemm at once (run() serialises them) must both get right answers.
  pool.resize(2);
  auto worker = [&](int seed, bool& good) {
    std::mt19937 r(seed);
    std::uniform_real_distribution<float> d(-1, 1);
    std::vector<float> A(97 * 61), B(61 * 83), C(97 * 83), R(97 * 83, 0.0f);
    for (auto& x : A) x = d(r);
    for (auto& x : B) x = d(r);
    for (int i = 0; i < 97; ++i)
      for (int k = 0; k < 61; ++k)
        for (int j = 0; j < 83; ++j) R[i * 83 + j] += A[i * 61 + k] * B[k * 83 + j];
    good = true;
    for (int rep = 0; rep < 300; ++rep) {
      sgemm(false, false, 97, 83, 61, 1.0f, A.data(), 61, B.data(), 83, 0.0f, C.data(), 83);
      for (size_t e = 0; e < C.size(); ++e) good = good && std::fabs(C[e] - R[e]) < 1e-4f;
    }
  };
  {  // no heap allocation per call once the per-thread buffers have grown
    std::vector<float> A(256 * 300, 0.5f), B(300 * 300, 0.25f), C(256 * 300);
    auto call = [&] { sgemm(false, false, 256, 300, 300, 1.0f, A.data(), 300, B.data(), 300, 0.0f, C.data(), 300); };
    call();
    const long before = g_allocs.load();
    for (int r = 0; r < 20; ++r) call();
    if (g_allocs.load() != before) ok = false, std::printf("FAIL sgemm allocated %ld times\n", g_allocs.load() - before);
  }
  bool g1 = false, g2 = false;
  std::thread t1(worker, 1, std::ref(g1)), t2(worker, 2, std::ref(g2));
  t1.join(), t2.join();
  ok = ok && g1 && g2;
  ++checks;
  if (!ok) ++failures, std::printf("FAIL thread pool check\n");
}

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// Best GFLOP/s over `reps` timing runs of at least `min_time` seconds each.
template <class F>
double best_gflops(double flops, F&& f, int reps = 8, double min_time = 0.04) {
  f();
  double best = 0;
  for (int r = 0; r < reps; ++r) {
    int iters = 0;
    const double t0 = now();
    double t;
    do f(), ++iters;
    while ((t = now() - t0) < min_time);
    best = std::max(best, flops * iters / t * 1e-9);
  }
  return best;
}

struct Shape {
  const char* name;
  bool ta, tb;
  int M, N, K;
};

double bench_shape(const Shape& s) {
  const int lda = s.ta ? s.M : s.K, ldb = s.tb ? s.K : s.N;
  const auto A = random_vec(static_cast<size_t>(s.M) * s.K), B = random_vec(static_cast<size_t>(s.K) * s.N);
  std::vector<float> C(static_cast<size_t>(s.M) * s.N);
  return best_gflops(2.0 * s.M * s.N * s.K, [&] {
    sgemm(s.ta, s.tb, s.M, s.N, s.K, 1.0f, A.data(), lda, B.data(), ldb, 0.0f, C.data(), s.N);
  });
}

double bench_batched(bool ta, bool tb, int batch, int M, int N, int K) {
  const int lda = ta ? M : K, ldb = tb ? K : N;
  const long sA = static_cast<long>(M) * K, sB = static_cast<long>(K) * N, sC = static_cast<long>(M) * N;
  const auto A = random_vec(sA * batch), B = random_vec(sB * batch);
  std::vector<float> C(sC * batch);
  return best_gflops(2.0 * batch * M * N * K, [&] {
    sgemm_batched(ta, tb, batch, M, N, K, 1.0f, A.data(), lda, sA, B.data(), ldb, sB, 0.0f, C.data(), N, sC);
  });
}

void bench(int repeats) {
  const Shape shapes[] = {
      {"fwd 2048x300x160 NN", false, false, 2048, 300, 160}, {"fwd 2048x300x300 NN", false, false, 2048, 300, 300},
      {"fwd 2048x128x300 NN", false, false, 2048, 128, 300}, {"fwd 2048x300x96  NN", false, false, 2048, 300, 96},
      {"dW  160x300x2048 TN", true, false, 160, 300, 2048},  {"dW  300x300x2048 TN", true, false, 300, 300, 2048},
      {"dW  300x128x2048 TN", true, false, 300, 128, 2048},  {"dW  96x300x2048  TN", true, false, 96, 300, 2048},
      {"dX  2048x160x300 NT", false, true, 2048, 160, 300},  {"dX  2048x300x300 NT", false, true, 2048, 300, 300},
      {"dX  2048x300x128 NT", false, true, 2048, 300, 128},  {"dX  2048x96x300  NT", false, true, 2048, 96, 300},
      {"srv 1x300x300    NN", false, false, 1, 300, 300},    {"srv 16x300x300   NN", false, false, 16, 300, 300},
      {"srv 64x300x300   NN", false, false, 64, 300, 300},  {"srv 1x10000x64   NT", false, true, 1, 10000, 64},
      {"srv 4x10000x64   NT", false, true, 4, 10000, 64},   {"srv 16x10000x64  NT", false, true, 16, 10000, 64},
  };
  const size_t shapes_count = sizeof shapes / sizeof shapes[0];
  const auto isas = supported_isas();
  std::printf("\nCPU: %s, detected %s, pool default %d; best of %d passes\n", cpu_model(), isa_name(detect_isa()),
              ThreadPool::get().size(), repeats);
  using Measure = std::function<double(Isa, int)>;
  std::vector<std::pair<std::string, Measure>> rows;
  for (const Shape& s : shapes) rows.emplace_back(s.name, [s](Isa, int) { return bench_shape(s); });
  rows.emplace_back("batched 2048x4x4x64 NT", [](Isa, int) { return bench_batched(false, true, 2048, 4, 4, 64); });
  rows.emplace_back("batched 2048x4x64x4 NN", [](Isa, int) { return bench_batched(false, false, 2048, 4, 64, 4); });
  rows.emplace_back("FMA peak", [](Isa isa, int threads) {
    ThreadPool::get().resize(2);
    return fma_peak_gflops(static_cast<int>(isa), threads, 0.3);
  });
  // best[row][isa][threads]: other load on the machine only ever lowers a number, so keep the best pass.
  std::vector<std::vector<std::vector<double>>> best(rows.size(), std::vector<std::vector<double>>(3, {0, 0, 0}));
  for (int pass = 0; pass < repeats; ++pass)
    for (size_t r = 0; r < rows.size(); ++r)
      for (Isa isa : isas)
        for (int threads : {1, 2}) {
          set_isa(isa);
          ThreadPool::get().resize(threads);
          double& b = best[r][static_cast<int>(isa)][threads];
          b = std::max(b, rows[r].second(isa, threads));
        }
  std::printf("%-24s", "GFLOP/s");
  for (Isa isa : isas) std::printf(" %9s-1t %9s-2t", isa_name(isa), isa_name(isa));
  std::printf("\n");
  for (size_t r = 0; r < rows.size(); ++r) {
    std::printf("%-24s", rows[r].first.c_str());
    for (Isa isa : isas)
      for (int threads : {1, 2}) std::printf(" %12.1f", best[r][static_cast<int>(isa)][threads]);
    std::printf("\n");
  }
  std::printf("2 threads, %% of the 2-thread FMA peak:\n");
  for (size_t r = 0; r < shapes_count; ++r) {
    std::printf("  %-22s", rows[r].first.c_str());
    for (Isa isa : isas) {
      const int i = static_cast<int>(isa);
      std::printf(" %9s %5.1f%%", isa_name(isa), 100.0 * best[r][i][2] / best.back()[i][2]);
    }
    std::printf("\n");
  }
  ThreadPool::get().resize(2);
  {  // two 5 us tasks on 2 threads: ideally 5 us per run(), 10 us if the helper never joins
    auto spin = [](int) {
      const double until = now() + 5e-6;
      while (now() < until) {
      }
    };
    double sum = 0;
    for (int r = 0; r < 2000; ++r) {
      const double t0 = now();
      ThreadPool::get().run(2, spin);
      sum += now() - t0;
    }
    std::printf("pool: run() of two 5 us tasks on 2 threads takes %.2f us on average\n", sum / 2000 * 1e6);
  }
  for (Isa isa : isas) {
    const int i = static_cast<int>(isa);
    std::printf("%s: 2048x300x300 NN at 2 threads = %.1f GFLOP/s = %.1f%% of the 2-thread FMA peak %.1f\n",
                isa_name(isa), best[1][i][2], 100.0 * best[1][i][2] / best.back()[i][2], best.back()[i][2]);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "all";
  if (argc > 2 && std::string(argv[2]) != "all") only_isa = argv[2];
  const int repeats = argc > 3 ? std::max(1, std::atoi(argv[3])) : 1;
  const int default_threads = ThreadPool::get().size();
  if (mode == "all" || mode == "check") {
    const double t0 = now();
    check_sgemm();
    check_batched();
    check_pool();
    std::printf("checks: %d run, %d failed (ISAs:", checks, failures);
    for (Isa isa : supported_isas()) std::printf(" %s", isa_name(isa));
    std::printf(") in %.1f s; worst error = %.3f of the bound\n", now() - t0, worst);
  }
  ThreadPool::get().resize(default_threads);
  if (mode == "all" || mode == "bench") bench(repeats);
  return failures ? 1 : 0;
}
