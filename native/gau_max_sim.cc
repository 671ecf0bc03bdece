// RankTower's per-pair score in training (kernels.h gau_max_sim): the per-ISA loops of gau_max_sim.inc and the
// drivers that spread pairs over the thread pool. The forward writes one score per pair; the backward recomputes each
// pair's forward and accumulates into the rep and weight gradients (run_accumulating: pairs share user and item rows).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "cpu.h"
#include "kernels.h"
#include "pool.h"

namespace prerank {
namespace gau {

constexpr float kL2Eps = 1e-12f;

struct Dims {
  int Hu, Hi, K, D, V;
  float eps;
};

struct Args {
  Dims d;
  long Ru, Ri;
  const int32_t* users;
  const int32_t* items;
  const float* UR;
  const float* IR;
  const float* W;
  float* out;
  const float* gout;
};

struct Grads {
  float* dUR;
  float* dIR;
  float* dW;
};

// Where one branch reads: the query side's row (E, Q, U at offsets e, qq, u) and the other side's (keys at kk,
// values at vv), and the branch's weights [W_o | b_o | gamma | beta].
struct BranchIn {
  const float* q;
  const float* kv;
  int Hq, Hkv;
  long e, qq, u, kk, vv;
  const float* w;
};

// A branch's forward intermediates for one pair, per query head (views into a task's scratch); x is one head's
// pre-norm row.
struct BranchState {
  float *a, *m, *z, *xhat, *istd, *norm, *n, *x;
};

// One task's working memory: two branches' intermediates, the max-sim's arg-max and the backward's temporaries.
class Scratch {
 public:
  float *dnu, *dni, *tmp;
  float* woT[2];  // each branch's W_o transposed, [K, V] (filled by the backward)
  int* arg;

  explicit Scratch(const Dims& d) : d_(d) {
    const size_t K = d.K, V = d.V, Hu = d.Hu, Hi = d.Hi, Hmax = std::max(Hu, Hi);
    buf_.resize(2 * (Hu * Hi + 2 * Hmax * V + 2 * Hmax * K + 2 * Hmax + K) + (Hu + Hi) * K + (Hmax * K + K + 2 * V + 2 * Hmax) +
                2 * K * V);
    args_.resize(Hu);
    arg = args_.data();
    dnu = take(Hu * K);
    dni = take(Hi * K);
    tmp = take(Hmax * K + K + 2 * V + 2 * Hmax);
    woT[0] = take(K * V);
    woT[1] = take(K * V);
  }
  BranchState state(int Hq, int Hkv) {
    const size_t q = Hq, K = d_.K, V = d_.V;
    return BranchState{take(q * Hkv), take(q * V), take(q * V), take(q * K), take(q), take(q), take(q * K), take(K)};
  }

 private:
  float* take(size_t n) {
    float* p = buf_.data() + used_;
    used_ += n;
    return p;
  }
  const Dims d_;
  std::vector<float> buf_;
  std::vector<int> args_;
  size_t used_ = 0;
};

}  // namespace gau
}  // namespace prerank

// The loops once per instruction set (portable, AVX2, AVX-512).
#define PRERANK_ISA_NS prerank::gau
#define PRERANK_ISA_FILE "gau_max_sim.inc"
#include "isa_copies.inc"

namespace prerank {
namespace {

gau::Args args_of(const GauShape& s, const int32_t* users, const int32_t* items, const float* UR, const float* IR,
                  const float* W) {
  const long per_head = s.K + 2L * s.D + 2L * s.V;
  return gau::Args{{s.Hu, s.Hi, s.K, s.D, s.V, s.eps}, s.Hu * per_head, s.Hi * per_head, users, items, UR, IR, W, nullptr, nullptr};
}

// Tasks for N pairs: one per thread, none smaller than 16 pairs.
int tasks_for(long N) {
  return static_cast<int>(std::max<long>(1, std::min<long>(ThreadPool::get().size(), N / 16)));
}

}  // namespace

long gau_weights_size(const GauShape& s) { return 2L * (static_cast<long>(s.V) * s.K + 3L * s.K); }

void gau_max_sim(const GauShape& s, long N, const int32_t* users, const int32_t* items, const float* UR, const float* IR,
                 const float* W, float* out) {
  gau::Args a = args_of(s, users, items, UR, IR, W);
  a.out = out;
  const auto range = gau::active_range();
  const int tasks = tasks_for(N);
  ThreadPool::get().run(tasks, [&](int t) { range(a, N * t / tasks, N * (t + 1) / tasks, nullptr); });
}

void gau_max_sim_backward(const GauShape& s, long P, long C, long N, const int32_t* users, const int32_t* items,
                          const float* UR, const float* IR, const float* W, const float* gout, float* dUR, float* dIR,
                          float* dW) {
  gau::Args a = args_of(s, users, items, UR, IR, W);
  a.gout = gout;
  const auto range = gau::active_range();
  const int tasks = tasks_for(N);
  run_accumulating(tasks, {{dUR, P * a.Ru}, {dIR, C * a.Ri}, {dW, gau_weights_size(s)}}, [&](int t, const FloatSpan* g) {
    const gau::Grads grads{g[0].data, g[1].data, g[2].data};
    range(a, N * t / tasks, N * (t + 1) / tasks, &grads);
  });
}

}  // namespace prerank
