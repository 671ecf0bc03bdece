// ServePlan (serve.h): the user tower's steps, the thread pool's split policy, top-n and one request end to end.
// The score kinds are in serve_scores.cc, the JS binding in serve_binding.cc; the per-ISA kernels come from
// serve_kernels.inc, and this file picks the active ISA's set per call. Small requests stay on the calling thread
// (waking the pool costs more than a 1,000-candidate dot product).
#include "serve.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>

#include "cpu.h"
#include "pool.h"

namespace prerank {
namespace {

using serve_detail::kParallelMacs;
using serve_detail::kWakeMacs;
using serve_detail::ServeKernels;
using serve_detail::split;

const ServeKernels& kernels() {
  const ServeKernels* k = nullptr;
  switch (active_isa()) {
    case Isa::avx512: k = serve_detail::serve_kernels_avx512(); break;
    case Isa::avx2: k = serve_detail::serve_kernels_avx2(); break;
    default: k = serve_detail::serve_kernels_wasm128(); break;  // null outside a wasm SIMD128 build
  }
  return k ? *k : *serve_detail::serve_kernels_portable();
}

// When steps run on the pool (serve_detail::split, serve_score.h). A step of at least kWakeMacs multiply-adds is
// always split. A step of at least kParallelMacs is split only when the pool's helpers are awake (spinning after a
// recent job): waking a sleeping thread, and waiting for it, cost more than it saves — `prerank serve` at 500 req/s
// with IntTower 2 x 64 (2M multiply-adds of max-sim per request) answered at p50 0.64 ms splitting and 0.37 ms on
// one thread (AMD EPYC Zen 5, 2026-11-23). Smaller steps never split: splitting every step of >= 8K multiply-adds
// when the helpers are awake takes DSSM 300-300-128 at 1,000 candidates back to back from 15-17 to 10.5 us on that
// machine, but on an Intel Xeon (Emerald Rapids VM, 2026-12-01) it buys nothing at p50 and doubles p99 (k = 1,000,
// p50 / p99 us: DSSM 23-36 / 81-85 split vs 24 / 58-63 not, IntTower 2 x 64 52-88 / 122-203 vs 53 / 95-101), and
// p99 is what a pre-ranker's budget is set by.
//
// A step that splits because it is at least kWakeMacs is cut into pieces of about serve_piece_macs() multiply-adds
// (at most kMaxPieces), which the pool's threads take one at a time, instead of one equal share per thread: a thread
// the VM deschedules mid-request then holds up only the piece it is on, while the others take the rest. 0 = one
// share per thread. PRERANK_SERVE_PIECE=<multiply-adds> at start-up, or set_serve_piece_macs().
constexpr long kDefaultPieceMacs = 1L << 22;

// A count set by environment variable `name` at start-up: a whole decimal in [0, max], else `fallback`.
long env_count(const char* name, long fallback, long max) {
  const char* e = std::getenv(name);
  if (!e || !*e) return fallback;
  char* end = nullptr;
  const long x = std::strtol(e, &end, 10);
  return end != e && *end == '\0' && x >= 0 && x <= max ? x : fallback;
}

std::atomic<long>& piece_macs_flag() {
  static std::atomic<long> v{env_count("PRERANK_SERVE_PIECE", kDefaultPieceMacs, LONG_MAX)};
  return v;
}

// In a request whose scoring splits anyway (serve_request: the helpers were woken at its start), a tower layer of at
// least this many multiply-adds is split too: such layers are gemv, bound by reading the weights (IntTower 32 x 64's
// head projections, 300 x 2,048 floats each, 0.6M multiply-adds), and two cores read them faster than one.
constexpr long kWideLayerMacs = 1L << 17;

void linear(const ServeKernels& k, const ServeStep& s, float* arena, bool wide) {
  const float* b = s.b.empty() ? nullptr : s.b.data();
  const bool relu = s.act == ServeStep::kRelu;
  for (int r = 0; r < s.rows; ++r) {
    const float* x = arena + s.src + static_cast<long>(r) * s.in;
    float* y = arena + s.dst + static_cast<long>(r) * s.out;
    // Column pieces on whole 2-vector blocks (a 128-wide layer still splits in two).
    const long unit = 2L * k.vw;
    const long blocks = (s.out + unit - 1) / unit;
    split(blocks, static_cast<long>(s.in) * unit, [&](long b0, long b1) {
      k.gemv(s.in, s.out, x, s.w.data(), b, relu, y, static_cast<int>(b0 * unit), static_cast<int>(std::min<long>(s.out, b1 * unit)));
    }, wide ? kWideLayerMacs : kParallelMacs);
    if (s.act == ServeStep::kSilu)
      for (int c = 0; c < s.out; ++c) y[c] = y[c] / (1.f + std::exp(-y[c]));
    if (s.act == ServeStep::kSigmoid)
      for (int c = 0; c < s.out; ++c) y[c] = 1.f / (1.f + std::exp(-y[c]));
  }
}

void gate(const ServeStep& s, float* arena) {
  for (int i = 0; i < s.out; ++i) arena[s.dst + i] = arena[s.src + i] / (1.f + std::exp(-arena[s.aux + i]));
}

void field_gate(const ServeStep& s, float* arena) {
  const int F = s.in, D = s.out;
  const float* x = arena + s.src;
  float* y = arena + s.dst;
  const float* shift = s.b.empty() ? nullptr : s.b.data();
  for (int f = 0; f < F; ++f) {
    const float g = s.aux >= 0 ? s.scale / (1.f + std::exp(-arena[s.aux + f])) : 1.f;
    for (int d = 0; d < D; ++d) y[f * D + d] = x[f * D + d] * g + (shift ? shift[f * D + d] : 0.f);
  }
  std::copy(x + F * D, x + F * D + s.tail, y + F * D);
}

void l2norm(const ServeStep& s, float* arena) {
  for (int r = 0; r < s.in; ++r) {
    float* x = arena + s.src + static_cast<long>(r) * s.out;
    double ss = 0;
    for (int c = 0; c < s.out; ++c) ss += static_cast<double>(x[c]) * x[c];
    const float n = std::max(static_cast<float>(std::sqrt(ss)), s.eps);
    for (int c = 0; c < s.out; ++c) x[c] /= n;
  }
}

void light_se(const ServeStep& s, float* arena, std::vector<float>& work) {
  const int F = s.in, D = s.out;
  float* e = arena + s.src;
  work.resize(2 * static_cast<size_t>(F));  // grows once per scratch, then reused
  float* z = work.data();
  float* k = z + F;
  for (int f = 0; f < F; ++f) {
    float acc = 0.f;
    for (int d = 0; d < D; ++d) acc += e[f * D + d];
    z[f] = acc / D;
  }
  float top = -INFINITY;
  for (int j = 0; j < F; ++j) {
    float acc = s.b.empty() ? 0.f : s.b[j];
    for (int f = 0; f < F; ++f) acc += z[f] * s.w[f * F + j];
    k[j] = acc;
    top = std::max(top, acc);
  }
  float total = 0.f;
  for (int j = 0; j < F; ++j) total += (k[j] = std::exp(k[j] - top));
  for (int f = 0; f < F; ++f) {
    const float w = k[f] / total;
    for (int d = 0; d < D; ++d) e[f * D + d] = s.residual ? e[f * D + d] + e[f * D + d] * w : e[f * D + d] * w;
  }
}

void check_range(int arena, int off, long len, const std::string& what) {
  if (off < 0 || len < 0 || off + len > arena)
    throw std::invalid_argument(what + " [" + std::to_string(off) + ", " + std::to_string(off + len) + ") is outside the arena of " + std::to_string(arena) + " floats");
}

std::atomic<bool>& bf16_dot_flag() {
  static std::atomic<bool> on{[] {
    const char* e = std::getenv("PRERANK_BF16");
    return !(e && std::strcmp(e, "0") == 0);
  }()};
  return on;
}

}  // namespace

namespace serve_detail {
long piece_macs() { return piece_macs_flag().load(std::memory_order_relaxed); }

// A candidate row of a table larger than the caches is a DRAM miss and, past the TLB's reach, a page walk. How far
// ahead the dot and max-sim kernels prefetch rows: PRERANK_ROW_PREFETCH=<rows> at start-up (0: none), or
// set_row_prefetch(). At 1M items (AMD EPYC Zen 5, 2-vCPU VM, 2026-12-06) 4 rows ahead against none: IntTower 8 x 64
// rescoring 16,384 gathered candidates 7.3-7.7 -> 3.6-4.0 ms, its full scan 154-166 -> 117-120 ms, DSSM's full
// scan 24.5-26.7 -> 20.0-22.5 ms; 8 and 16 rows within noise of 4, a table in cache unchanged.
constexpr long kDefaultRowPrefetch = 4;
std::atomic<long>& row_prefetch_flag() {
  static std::atomic<long> v{env_count("PRERANK_ROW_PREFETCH", kDefaultRowPrefetch, kMaxRowPrefetch)};
  return v;
}
long row_prefetch() { return row_prefetch_flag().load(std::memory_order_relaxed); }
}  // namespace serve_detail

ServePlan::ServePlan(int arena, int input, int rep_offset, int rep_len, std::vector<ServeStep> steps, ServeScore score)
    : arena_(arena), input_(input), rep_offset_(rep_offset), rep_len_(rep_len), steps_(std::move(steps)), score_(std::move(score)) {
  if (!score_.kind) throw std::invalid_argument("the plan has no score kind");
  check_range(arena, 0, input, "the input");
  check_range(arena, rep_offset, rep_len, "the user rep");
  for (size_t i = 0; i < steps_.size(); ++i) {
    const ServeStep& s = steps_[i];
    const std::string name = "step " + std::to_string(i);
    const long in = s.in, out = s.out;
    if (in <= 0 || out <= 0) throw std::invalid_argument(name + ": sizes must be positive");
    switch (s.kind) {
      case ServeStep::kLinear:
        if (s.rows < 1) throw std::invalid_argument(name + ": rows must be >= 1");
        if (s.act < ServeStep::kNone || s.act > ServeStep::kSigmoid) throw std::invalid_argument(name + ": unknown activation");
        check_range(arena, s.src, in * s.rows, name + " input");
        check_range(arena, s.dst, out * s.rows, name + " output");
        if (s.src < s.dst + out * s.rows && s.dst < s.src + in * s.rows) throw std::invalid_argument(name + ": input and output overlap");
        if (static_cast<long>(s.w.size()) != in * out) throw std::invalid_argument(name + ": weight must have in*out floats");
        if (!s.b.empty() && static_cast<long>(s.b.size()) != out) throw std::invalid_argument(name + ": bias must have out floats");
        break;
      case ServeStep::kL2Norm: check_range(arena, s.src, in * out, name); break;
      case ServeStep::kLightSe:
        check_range(arena, s.src, in * out, name);
        if (static_cast<long>(s.w.size()) != in * in) throw std::invalid_argument(name + ": Light-SE weight must have F*F floats");
        if (!s.b.empty() && static_cast<long>(s.b.size()) != in) throw std::invalid_argument(name + ": Light-SE bias must have F floats");
        break;
      case ServeStep::kFieldGate: {
        const long width = in * out + s.tail;
        if (s.tail < 0) throw std::invalid_argument(name + ": tail must be >= 0");
        check_range(arena, s.src, width, name + " input");
        check_range(arena, s.dst, width, name + " output");
        if (s.src < s.dst + width && s.dst < s.src + width) throw std::invalid_argument(name + ": input and output overlap");
        if (s.aux >= 0) check_range(arena, s.aux, in, name + " gate");
        if (!s.b.empty() && static_cast<long>(s.b.size()) != in * out) throw std::invalid_argument(name + ": shift must have F*D floats");
        break;
      }
      case ServeStep::kGate:
        check_range(arena, s.src, out, name + " value");
        check_range(arena, s.aux, out, name + " gate");
        check_range(arena, s.dst, out, name + " output");
        break;
    }
  }
}

int ServePlan::item_dim() const { return score_.kind->item_dim(rep_len_); }

long ServePlan::macs_per_item() const { return score_.kind->macs_per_item(rep_len_); }

const float* ServePlan::encode(const float* input, ServeScratch& scratch, bool wide) const {
  scratch.arena.resize(arena_);
  float* a = scratch.arena.data();
  std::copy(input, input + input_, a);
  const ServeKernels& k = kernels();
  for (const ServeStep& s : steps_) {
    switch (s.kind) {
      case ServeStep::kLinear: linear(k, s, a, wide); break;
      case ServeStep::kL2Norm: l2norm(s, a); break;
      case ServeStep::kLightSe: light_se(s, a, scratch.se); break;
      case ServeStep::kGate: gate(s, a); break;
      case ServeStep::kFieldGate: field_gate(s, a); break;
    }
  }
  return a + rep_offset_;
}

void ServePlan::score(const float* rep, const serve_detail::ItemRows& items, long n, float* out, ServeScratch& s) const {
  score_.kind->score(kernels(), rep, rep_len_, items, n, out, s);
  for (long i = 0; i < n; ++i) out[i] = score_.scale * out[i] + score_.bias;
}

bool bf16_dot_available() { return serve_detail::bf16_kernels_avx512() != nullptr; }
bool bf16_dot_enabled() { return bf16_dot_flag().load() && bf16_dot_available(); }
bool set_bf16_dot(bool on) {
  if (on && !bf16_dot_available()) return false;
  bf16_dot_flag().store(on);
  return true;
}

long serve_piece_macs() { return piece_macs_flag().load(); }
void set_serve_piece_macs(long macs) { piece_macs_flag().store(std::max(0L, macs)); }
void set_row_prefetch(long rows) { serve_detail::row_prefetch_flag().store(std::min(kMaxRowPrefetch, std::max(0L, rows))); }

namespace {

// A total order on (score, index) as one integer: larger key = ranked first. The float's bits are mapped so that
// unsigned order is numeric order (-inf lowest, NaN mapped below it); the low half is ~index, so on equal scores the
// lower index wins.
inline uint64_t rank_key(float x, long i) {
  uint32_t b;
  std::memcpy(&b, &x, sizeof b);
  const uint32_t ord = std::isnan(x) ? 0u : (b & 0x80000000u) ? ~b : (b | 0x80000000u);
  return (static_cast<uint64_t>(ord) << 32) | (0xFFFFFFFFu - static_cast<uint32_t>(i));
}

}  // namespace

void centroid_maxsim(const serve_detail::CentroidMaxSimArgs& a, long m) {
  serve_detail::kernels_with(kernels(), serve_detail::kCentroidMaxSim).get(serve_detail::kCentroidMaxSim)(a, 0, m);
}

long top_n(const float* scores, long m, long n, int32_t* out, ServeScratch& s) {
  const long k = std::max(0L, std::min(n, m));
  if (k == 0) return 0;
  // Every candidate's key, a selection of the k best (introselect: linear time whatever the order of the scores),
  // then those k sorted best first. Keys are unique (the index is in them), so the result is a min-heap's exactly; a
  // heap costs an update for every candidate that beats the current k-th: few when scores come in random order, all
  // of them when scores rise along the candidate list. Keys alone, m = 1,000, k = 100 (AMD EPYC Zen 5, 2026-12-01):
  // heap 12.4 / 3.5 / 1.2 us for rising / random / falling scores, selection 1.1-1.3 us for all three.
  std::vector<uint64_t>& keys = s.keys;
  keys.resize(static_cast<size_t>(m));
  for (long i = 0; i < m; ++i) keys[i] = rank_key(scores[i], i);
  const auto better = std::greater<uint64_t>();
  if (k < m) std::nth_element(keys.begin(), keys.begin() + (k - 1), keys.end(), better);
  std::sort(keys.begin(), keys.begin() + k, better);
  for (long i = 0; i < k; ++i) out[i] = static_cast<int32_t>(0xFFFFFFFFu - static_cast<uint32_t>(keys[i]));
  return k;
}

long serve_request(const ServePlan& plan, const float* input, const serve_detail::ItemRows& items, long m, float* scores, long n,
                   int32_t* top, ServeScratch& s) {
  // Scoring that will split over the pool (at least kWakeMacs) wakes it now, so the tower's larger layers split too.
  const bool wide = m * plan.macs_per_item() >= kWakeMacs && ThreadPool::get().size() > 1;
  if (wide) ThreadPool::get().wake();
  plan.score(plan.encode(input, s, wide), items, m, scores, s);
  return n > 0 ? top_n(scores, m, n, top, s) : 0;
}

long serve_request_rep(const ServePlan& plan, const float* rep, const serve_detail::ItemRows& items, long m, float* scores, long n,
                       int32_t* top, ServeScratch& s) {
  plan.score(rep, items, m, scores, s);
  return n > 0 ? top_n(scores, m, n, top, s) : 0;
}

}  // namespace prerank
