// ServePlan (serve.h) and its JS binding. The per-ISA kernels come from serve_kernels.inc; this file picks the
// active ISA's set per call, splits large scoring work over the thread pool and keeps small requests on the
// calling thread (waking the pool costs more than a 1,000-candidate dot product).
#include "serve.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include "cpu.h"
#include "napi_args.h"

#include "pool.h"

namespace prerank {
namespace {

using serve_detail::ItemFormat;
using serve_detail::ItemRows;
using serve_detail::ServeKernels;

const ServeKernels& kernels() {
  const ServeKernels* k = nullptr;
  switch (active_isa()) {
    case Isa::avx512: k = serve_detail::serve_kernels_avx512(); break;
    case Isa::avx2: k = serve_detail::serve_kernels_avx2(); break;
    default: break;
  }
  return k ? *k : *serve_detail::serve_kernels_portable();
}

// When steps run on the pool. A step of at least kWakeMacs multiply-adds is always split. A step of at least
// kParallelMacs (serve.h) is split only when the pool's helpers are awake (spinning after a recent job): waking a
// sleeping thread, and waiting for it, cost more than it saves — `prerank serve` at 500 req/s with IntTower 2 x 64
// (2M multiply-adds of max-sim per request) answered at p50 0.64 ms splitting and 0.37 ms on one thread (AMD EPYC
// Zen 5, 2026-11-23). Smaller steps never split: splitting every step of >= 8K multiply-adds when the helpers are
// awake takes DSSM 300-300-128 at 1,000 candidates back to back from 15-17 to 10.5 us on that machine, but on an
// Intel Xeon (Emerald Rapids VM, 2026-12-01) it buys nothing at p50 and doubles p99 (k = 1,000, p50 / p99 us: DSSM
// 23-36 / 81-85 split vs 24 / 58-63 not, IntTower 2 x 64 52-88 / 122-203 vs 53 / 95-101), and p99 is what a
// pre-ranker's budget is set by.
constexpr long kWakeMacs = 1L << 23;

// A step that splits because it is at least kWakeMacs is cut into pieces of about serve_piece_macs() multiply-adds
// (at most kMaxPieces), which the pool's threads take one at a time, instead of one equal share per thread: a thread
// the VM deschedules mid-request then holds up only the piece it is on, while the others take the rest. 0 = one
// share per thread. PRERANK_SERVE_PIECE=<multiply-adds> at start-up, or set_serve_piece_macs().
constexpr long kMaxPieces = 64;
constexpr long kDefaultPieceMacs = 1L << 22;

std::atomic<long>& piece_macs_flag() {
  static std::atomic<long> v{[] {
    const char* e = std::getenv("PRERANK_SERVE_PIECE");
    if (!e || !*e) return kDefaultPieceMacs;
    char* end = nullptr;
    const long x = std::strtol(e, &end, 10);
    return end != e && *end == '\0' && x >= 0 ? x : kDefaultPieceMacs;
  }()};
  return v;
}

// Runs fn(begin, end) over [0, n) in one piece or in pieces on the pool threads (each at least kParallelMacs), by
// the work per item: split when the work is at least kWakeMacs (then in pieces of about serve_piece_macs()), or when
// the helpers are awake (then one equal share per thread).
template <class Fn>
void split(long n, long macs_per_item, Fn&& fn, long min_macs = kParallelMacs) {
  ThreadPool& pool = ThreadPool::get();
  const long work = n * macs_per_item;
  long tasks = std::min<long>(pool.size(), work / min_macs);
  if (tasks < 2 || (work < kWakeMacs && !pool.helpers_awake())) {
    fn(0L, n);
    return;
  }
  const long piece = piece_macs_flag().load(std::memory_order_relaxed);
  if (work >= kWakeMacs && piece > 0) tasks = std::min(std::max(tasks, work / std::max(piece, kParallelMacs)), std::min(kMaxPieces, n));
  pool.run(static_cast<int>(tasks), [&](int t) {
    const long b = n * t / tasks, e = n * (t + 1) / tasks;
    if (b < e) fn(b, e);
  });
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

}  // namespace

ServePlan::ServePlan(int arena, int input, int rep_offset, int rep_len, std::vector<ServeStep> steps, ServeScore score)
    : arena_(arena), input_(input), rep_offset_(rep_offset), rep_len_(rep_len), steps_(std::move(steps)), score_(score) {
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
  const ServeScore& c = score_;
  if (c.kind == ServeScore::kMaxSim) {
    if (c.heads < 1 || c.head_size < 1 || rep_len % c.head_size != 0)
      throw std::invalid_argument("max-sim: the user rep width must be a multiple of the head size, heads >= 1");
  }
  if (c.kind == ServeScore::kRankTower) {
    const long k = c.head_size, d = c.attn_dim, v = c.value_dim;
    if (c.user_heads < 1 || c.item_heads < 1 || k < 1 || d < 1 || v < 1) throw std::invalid_argument("rank-tower: heads and sizes must be >= 1");
    if (rep_len != c.user_heads * (c.cross ? k + 2 * d + 2 * v : k)) throw std::invalid_argument("rank-tower: the user rep width does not match heads x (k + 2d + 2v)");
    if (c.cross) {
      for (const auto* w : {&c.u2i_wo, &c.i2u_wo})
        if (static_cast<long>(w->size()) != v * k) throw std::invalid_argument("rank-tower: W_o must have v*k floats");
      for (const auto* w : {&c.u2i_bo, &c.u2i_gamma, &c.u2i_beta, &c.i2u_bo, &c.i2u_gamma, &c.i2u_beta})
        if (static_cast<long>(w->size()) != k) throw std::invalid_argument("rank-tower: b_o, gamma and beta must have k floats");
    }
  }
}

int ServePlan::item_dim() const {
  const ServeScore& c = score_;
  switch (c.kind) {
    case ServeScore::kDot: return rep_len_;
    case ServeScore::kMaxSim: return c.heads * c.head_size;
    case ServeScore::kRankTower: return c.item_heads * (c.cross ? c.head_size + 2 * c.attn_dim + 2 * c.value_dim : c.head_size);
  }
  return 0;
}

long ServePlan::macs_per_item() const {
  const ServeScore& c = score_;
  switch (c.kind) {
    case ServeScore::kDot: return rep_len_;
    case ServeScore::kMaxSim: return static_cast<long>(rep_len_) * c.heads;
    case ServeScore::kRankTower: {
      // Both attentions (scores, weighted values, W_o) and the cosine max-sim.
      const long hu = c.user_heads, hi = c.item_heads, k = c.head_size, d = c.attn_dim, v = c.value_dim;
      return 2 * hu * hi * (d + v) + (hu + hi) * v * k + hu * hi * k;
    }
  }
  return 0;
}

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

namespace {

std::atomic<bool>& bf16_dot_flag() {
  static std::atomic<bool> on{[] {
    const char* e = std::getenv("PRERANK_BF16");
    return !(e && std::strcmp(e, "0") == 0);
  }()};
  return on;
}

// The per-thread buffer quantized rows are widened into (one per thread, whichever score kind uses it).
std::vector<float>& widen_buffer() {
  static thread_local std::vector<float> buf;
  return buf;
}

// fn(rows, b0, b1, out) over [n0, n1), where rows.row(j) is candidate j's float32 rep and the scores go to out[j]:
// directly for a float32 table; for a 16-bit or int8 one in blocks widened into the thread's buffer (about 256 KB, a
// whole number of RankTower blocks), with rows and out then relative to the block.
template <class Fn>
void over_f32_rows(const ServeKernels& k, const ItemRows& items, long n0, long n1, float* out, Fn&& fn) {
  if (!items.table16 && !items.table8) {
    fn(items, n0, n1, out);
    return;
  }
  constexpr long B = serve_detail::kRankTowerBlock;
  const long block = std::max<long>(1, (256L << 10) / (items.ld * 4 * B)) * B;
  std::vector<float>& buf = widen_buffer();
  buf.resize(static_cast<size_t>(block * items.ld));
  for (long b0 = n0; b0 < n1; b0 += block) {
    const long b1 = std::min(n1, b0 + block);
    for (long j = b0; j < b1; ++j) {
      float* dst = buf.data() + (j - b0) * items.ld;
      if (items.table8) k.widen8(items.row8(j), items.scale(j), dst, items.ld);
      else k.widen(items.fmt, items.row16(j), dst, items.ld);
    }
    fn(ItemRows{buf.data(), items.ld, nullptr}, 0L, b1 - b0, out + b0);
  }
}

}  // namespace

bool bf16_dot_available() { return serve_detail::bf16_kernels_avx512() != nullptr; }
bool bf16_dot_enabled() { return bf16_dot_flag().load() && bf16_dot_available(); }
bool set_bf16_dot(bool on) {
  if (on && !bf16_dot_available()) return false;
  bf16_dot_flag().store(on);
  return true;
}

long serve_piece_macs() { return piece_macs_flag().load(); }
void set_serve_piece_macs(long macs) { piece_macs_flag().store(std::max(0L, macs)); }

void ServePlan::score(const float* rep, const ItemRows& items, long n, float* out, ServeScratch& scratch) const {
  const ServeKernels& k = kernels();
  // A bf16 table: dot and max-sim take the user heads in bfloat16 too (products exact in float32, float32 sums):
  // what the bf16 dot-product instruction computes, and the same whichever path runs.
  if (items.fmt == ItemFormat::bf16 && score_.kind != ServeScore::kRankTower) {
    scratch.rep16.resize(static_cast<size_t>(rep_len_));
    for (int i = 0; i < rep_len_; ++i) scratch.rep16[i] = serve_detail::from_bf16(serve_detail::to_bf16(rep[i]));
    rep = scratch.rep16.data();
  }
  // The bf16 dot-product kernels read a bf16 table directly (AVX-512 path, the CPU has them, not turned off).
  const serve_detail::Bf16Kernels* b16 = items.table16 && items.fmt == ItemFormat::bf16 && bf16_dot_flag().load() ? k.bf16 : nullptr;
  if (score_.kind == ServeScore::kDot && b16) {
    std::vector<uint16_t>& u16 = scratch.u16;
    u16.resize(static_cast<size_t>(rep_len_));
    for (int i = 0; i < rep_len_; ++i) u16[i] = serve_detail::to_bf16(rep[i]);
    split(n, rep_len_ / 2, [&](long n0, long n1) { b16->dot(rep_len_, u16.data(), items, n0, n1, out); });
  } else if (score_.kind == ServeScore::kDot) {
    split(n, rep_len_, [&](long n0, long n1) {
      over_f32_rows(k, items, n0, n1, out, [&](const ItemRows& it, long b0, long b1, float* o) { k.dot(rep_len_, rep, it, b0, b1, o); });
    });
  } else if (score_.kind == ServeScore::kRankTower) {
    const ServeScore& c = score_;
    auto branch = [](const std::vector<float>& wo, const std::vector<float>& bo, const std::vector<float>& g, const std::vector<float>& b) {
      return serve_detail::GauBranch{wo.data(), bo.data(), g.data(), b.data()};
    };
    const serve_detail::RankTowerArgs args{c.user_heads, c.item_heads, c.head_size, c.attn_dim, c.value_dim, c.cross, c.ln_eps, rep,
                                           branch(c.u2i_wo, c.u2i_bo, c.u2i_gamma, c.u2i_beta),
                                           branch(c.i2u_wo, c.i2u_bo, c.i2u_gamma, c.i2u_beta), items, out};
    constexpr long B = serve_detail::kRankTowerBlock;
    split((n + B - 1) / B, macs_per_item() * B, [&](long b0, long b1) {
      over_f32_rows(k, items, b0 * B, std::min(n, b1 * B), out, [&](const ItemRows& it, long j0, long j1, float* o) {
        serve_detail::RankTowerArgs piece = args;
        piece.items = it;
        piece.out = o;
        k.ranktower(piece, j0, j1);
      });
    });
  } else {
    const int P = score_.head_size, R = rep_len_ / P;
    const int rpad = (R + k.vw - 1) / k.vw * k.vw;
    std::vector<float>& ut = scratch.ut;
    const long macs = static_cast<long>(rpad) * score_.heads * P;
    if (b16 && P % 2 == 0) {
      // User heads as bf16 pairs: word (q, r) = u_r[2q] | u_r[2q + 1] << 16 (rep already holds bf16 values).
      ut.assign(static_cast<size_t>(rpad) * (P / 2), 0.f);
      auto* words = reinterpret_cast<uint32_t*>(ut.data());
      for (int r = 0; r < R; ++r)
        for (int q = 0; q < P / 2; ++q)
          words[static_cast<size_t>(q) * rpad + r] = serve_detail::to_bf16(rep[r * P + 2 * q]) | static_cast<uint32_t>(serve_detail::to_bf16(rep[r * P + 2 * q + 1])) << 16;
      const serve_detail::MaxSimArgs args{ut.data(), rpad, R, P, score_.heads, items, out};
      split(n, macs / 2, [&](long n0, long n1) { b16->maxsim(args, n0, n1); });
    } else {
      ut.assign(static_cast<size_t>(rpad) * P, 0.f);
      for (int r = 0; r < R; ++r)
        for (int p = 0; p < P; ++p) ut[static_cast<size_t>(p) * rpad + r] = rep[r * P + p];
      split(n, macs, [&](long n0, long n1) {
        over_f32_rows(k, items, n0, n1, out, [&](const ItemRows& it, long b0, long b1, float* o) {
          k.maxsim(serve_detail::MaxSimArgs{ut.data(), rpad, R, P, score_.heads, it, o}, b0, b1);
        });
      });
    }
  }
  for (long i = 0; i < n; ++i) out[i] = score_.scale * out[i] + score_.bias;
}

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

long serve_request(const ServePlan& plan, const float* input, const ItemRows& items, long m, float* scores, long n,
                   int32_t* top, ServeScratch& s) {
  // Scoring that will split over the pool (at least kWakeMacs) wakes it now, so the tower's larger layers split too.
  const bool wide = m * plan.macs_per_item() >= kWakeMacs && ThreadPool::get().size() > 1;
  if (wide) ThreadPool::get().wake();
  plan.score(plan.encode(input, s, wide), items, m, scores, s);
  return n > 0 ? top_n(scores, m, n, top, s) : 0;
}

long serve_request_rep(const ServePlan& plan, const float* rep, const ItemRows& items, long m, float* scores, long n,
                       int32_t* top, ServeScratch& s) {
  plan.score(rep, items, m, scores, s);
  return n > 0 ? top_n(scores, m, n, top, s) : 0;
}

// ---- JS binding ----
// new ServePlan(spec); plan.encode(input, rep); plan.score(input, table, rows, m, scores, n, top) (sync);
// plan.scoreAsync(input, table, rows, m, n) -> Promise<{scores, top}> (on a libuv worker thread).
// plan.scoreRep(rep, table, rows, m, scores, n, top): the same from a given user rep (no tower).

namespace {

using napi::Args;

// The candidates of one call, validated: candidate k is table row rows[k] (or k when rows is null).
struct Candidates {
  const float* input;
  ItemRows items;
  long m;
};

// The candidates of a call; argument 0 is the tower input (input_len floats) or, for scoreRep, a given user rep
// (rep_len floats) in its place. Argument `fmt_at` (optional) names the table's format: 'float32' (the default),
// 'bfloat16' (a Uint16Array of bf16 bits, or a Float32Array of values that are exactly bf16), 'float16' (a
// Uint16Array of IEEE half bits) or 'int8' (an Int8Array, with argument fmt_at + 1 its Float32Array of row scales).
Candidates candidates(const Args& a, const ServePlan& plan, size_t fmt_at, bool rep = false) {
  const float* input = rep ? a.f32(0, "rep", plan.rep_len()) : a.f32(0, "input", plan.input_len());
  const long dim = plan.item_dim();
  ItemFormat fmt = ItemFormat::f32;
  if (a.info.Length() > fmt_at && !a.info[fmt_at].IsUndefined()) {
    const std::string f = a.info[fmt_at].ToString();
    if (f == "bfloat16") fmt = ItemFormat::bf16;
    else if (f == "float16") fmt = ItemFormat::f16;
    else if (f == "int8") fmt = ItemFormat::i8;
    else if (f != "float32") a.fail("argument dtype '" + f + "' is not one of float32, bfloat16, float16, int8");
  }
  const napi_typedarray_type type = a.info[1].IsTypedArray() ? a.info[1].As<Napi::TypedArray>().TypedArrayType() : napi_float32_array;
  const bool bits16 = type == napi_uint16_array;
  if (bits16 && (fmt == ItemFormat::f32 || fmt == ItemFormat::i8)) a.fail("argument table is a Uint16Array: give its dtype (bfloat16 or float16)");
  if (!bits16 && fmt == ItemFormat::f16) a.fail("argument table must be a Uint16Array of float16 bits");
  if ((type == napi_int8_array) != (fmt == ItemFormat::i8)) a.fail("argument table: an int8 table is an Int8Array given with dtype int8 and its row scales");
  ItemRows items{nullptr, dim, nullptr};
  items.fmt = fmt;
  if (bits16) items.table16 = a.array<uint16_t, napi_uint16_array>(1, "table", 0, false, "Uint16Array");
  else if (fmt == ItemFormat::i8) items.table8 = a.array<int8_t, napi_int8_array>(1, "table", 0, false, "Int8Array");
  else items.table = a.f32(1, "table", 0);
  const long table_rows = a.length(1) / dim;
  if (fmt == ItemFormat::i8) items.scales = a.f32(fmt_at + 1, "scales", table_rows);
  const long m = a.num_long(3, "m");
  const bool indexed = !(a.info[2].IsNull() || a.info[2].IsUndefined());
  const int32_t* rows = indexed ? a.i32(2, "rows", m) : nullptr;
  if (indexed) {
    for (long k = 0; k < m; ++k)
      if (rows[k] < 0 || rows[k] >= table_rows)
        a.fail("rows[" + std::to_string(k) + "] = " + std::to_string(rows[k]) + " is outside the table's " + std::to_string(table_rows) + " rows");
  } else if (m > table_rows) {
    a.fail("m = " + std::to_string(m) + " candidates but the table has " + std::to_string(table_rows) + " rows of " + std::to_string(dim));
  }
  items.rows = rows;
  return {input, items, m};
}

// One scoreAsync call: inputs copied or pinned (the table and row list stay referenced until it settles).
class ScoreWorker : public Napi::AsyncWorker {
 public:
  ScoreWorker(Napi::Env env, std::shared_ptr<const ServePlan> plan, const Candidates& c, long n, Napi::Value table, Napi::Value rows,
              Napi::Value scales)
      : Napi::AsyncWorker(env), plan_(std::move(plan)), input_(c.input, c.input + plan_->input_len()), items_(c.items), m_(c.m),
        n_(n), deferred_(Napi::Promise::Deferred::New(env)), scores_(c.m), top_(std::min(n, c.m)) {
    table_ = Napi::Persistent(table.As<Napi::Object>());
    if (items_.rows) rows_ = Napi::Persistent(rows.As<Napi::Object>());
    if (items_.scales) scales_ = Napi::Persistent(scales.As<Napi::Object>());
  }
  Napi::Promise promise() const { return deferred_.Promise(); }

  void Execute() override {
    ServeScratch s;
    written_ = serve_request(*plan_, input_.data(), items_, m_, scores_.data(), n_, top_.data(), s);
  }
  void OnOK() override {
    Napi::Env env = Env();
    auto scores = Napi::Float32Array::New(env, m_);
    std::copy(scores_.begin(), scores_.end(), scores.Data());
    auto top = Napi::Int32Array::New(env, written_);
    std::copy(top_.begin(), top_.begin() + written_, top.Data());
    Napi::Object out = Napi::Object::New(env);
    out.Set("scores", scores);
    out.Set("top", top);
    deferred_.Resolve(out);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  std::shared_ptr<const ServePlan> plan_;
  std::vector<float> input_;
  ItemRows items_;
  long m_, n_, written_ = 0;
  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference table_, rows_, scales_;
  std::vector<float> scores_;
  std::vector<int32_t> top_;
};

class ServePlanWrap : public Napi::ObjectWrap<ServePlanWrap> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "ServePlan", {
      InstanceMethod<&ServePlanWrap::Encode>("encode"),
      InstanceMethod<&ServePlanWrap::Score>("score"),
      InstanceMethod<&ServePlanWrap::ScoreAsync>("scoreAsync"),
      InstanceMethod<&ServePlanWrap::ScoreRep>("scoreRep"),
      InstanceAccessor<&ServePlanWrap::RepLen>("repLength"),
      InstanceAccessor<&ServePlanWrap::ItemDim>("itemDim"),
      InstanceAccessor<&ServePlanWrap::InputLen>("inputLength"),
      InstanceAccessor<&ServePlanWrap::MacsPerItem>("macsPerItem"),
    });
  }

  explicit ServePlanWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ServePlanWrap>(info) {
    Args a{info, "ServePlan"};
    a.need(1);
    if (!info[0].IsObject()) a.fail("argument spec must be an object");
    try {
      plan_ = std::make_shared<const ServePlan>(parse_plan(a, info[0].As<Napi::Object>()));
    } catch (const std::invalid_argument& e) {
      a.fail(e.what());
    }
  }

 private:
  std::shared_ptr<const ServePlan> plan_;
  ServeScratch scratch_;  // for the synchronous calls (JS runs them one at a time)

  static ServePlan parse_plan(const Args& a, const Napi::Object& spec) {
    auto integer = [&](const Napi::Object& o, const char* key, const std::string& where) {
      const Napi::Value v = o.Get(key);
      if (!v.IsNumber()) a.fail(where + "." + key + " must be a number");
      const double d = v.As<Napi::Number>().DoubleValue();
      if (d != std::floor(d) || d < 0 || d > 1e9) a.fail(where + "." + key + " must be a non-negative integer");
      return static_cast<int>(d);
    };
    auto number = [&](const Napi::Object& o, const char* key, const std::string& where) {
      const Napi::Value v = o.Get(key);
      if (!v.IsNumber()) a.fail(where + "." + key + " must be a number");
      return v.As<Napi::Number>().FloatValue();
    };
    auto floats = [&](const Napi::Object& o, const char* key, const std::string& where, bool nullable) {
      const Napi::Value v = o.Get(key);
      if (nullable && (v.IsNull() || v.IsUndefined())) return std::vector<float>();
      if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
        a.fail(where + "." + key + " must be a Float32Array");
      const auto arr = v.As<Napi::Float32Array>();
      return std::vector<float>(arr.Data(), arr.Data() + arr.ElementLength());
    };
    const Napi::Value steps_v = spec.Get("steps");
    if (!steps_v.IsArray()) a.fail("spec.steps must be an array");
    const Napi::Array steps_js = steps_v.As<Napi::Array>();
    std::vector<ServeStep> steps;
    for (uint32_t i = 0; i < steps_js.Length(); ++i) {
      const std::string where = "spec.steps[" + std::to_string(i) + "]";
      if (!steps_js.Get(i).IsObject()) a.fail(where + " must be an object");
      const Napi::Object o = steps_js.Get(i).As<Napi::Object>();
      const std::string op = o.Get("op").ToString();
      ServeStep s{};
      if (op == "linear") {
        s.kind = ServeStep::kLinear;
        s.src = integer(o, "src", where);
        s.dst = integer(o, "dst", where);
        s.in = integer(o, "in", where);
        s.out = integer(o, "out", where);
        s.rows = o.Get("rows").IsUndefined() ? 1 : integer(o, "rows", where);
        const std::string act = o.Get("act").IsUndefined() ? "none" : o.Get("act").ToString().Utf8Value();
        const char* acts[] = {"none", "relu", "silu", "sigmoid"};
        s.act = -1;
        for (int i = 0; i < 4; ++i)
          if (act == acts[i]) s.act = i;
        if (s.act < 0) a.fail(where + ".act '" + act + "' is not one of none, relu, silu, sigmoid");
        s.w = floats(o, "weight", where, false);
        s.b = floats(o, "bias", where, true);
      } else if (op == "gate") {
        s.kind = ServeStep::kGate;
        s.src = integer(o, "value", where);
        s.aux = integer(o, "gate", where);
        s.dst = integer(o, "dst", where);
        s.in = s.out = integer(o, "size", where);
      } else if (op == "l2norm") {
        s.kind = ServeStep::kL2Norm;
        s.src = integer(o, "offset", where);
        s.in = integer(o, "rows", where);
        s.out = integer(o, "cols", where);
        s.eps = number(o, "eps", where);
      } else if (op == "lightSe") {
        s.kind = ServeStep::kLightSe;
        s.src = integer(o, "offset", where);
        s.in = integer(o, "fields", where);
        s.out = integer(o, "dim", where);
        s.residual = o.Get("residual").ToBoolean();
        s.w = floats(o, "weight", where, false);
        s.b = floats(o, "bias", where, true);
      } else if (op == "fieldGate") {
        s.kind = ServeStep::kFieldGate;
        s.src = integer(o, "src", where);
        s.dst = integer(o, "dst", where);
        s.aux = o.Get("gate").IsNull() || o.Get("gate").IsUndefined() ? -1 : integer(o, "gate", where);
        s.in = integer(o, "fields", where);
        s.out = integer(o, "dim", where);
        s.tail = integer(o, "tail", where);
        s.scale = number(o, "scale", where);
        s.b = floats(o, "shift", where, true);
      } else {
        a.fail(where + ".op '" + op + "' is not one of linear, gate, l2norm, lightSe, fieldGate");
      }
      steps.push_back(std::move(s));
    }
    if (!spec.Get("score").IsObject()) a.fail("spec.score must be an object");
    const Napi::Object sc = spec.Get("score").As<Napi::Object>();
    ServeScore score;
    const std::string kind = sc.Get("kind").ToString();
    if (kind == "maxsim") {
      score.kind = ServeScore::kMaxSim;
      score.heads = integer(sc, "heads", "spec.score");
      score.head_size = integer(sc, "headSize", "spec.score");
    } else if (kind == "rankTower") {
      score.kind = ServeScore::kRankTower;
      score.user_heads = integer(sc, "userHeads", "spec.score");
      score.item_heads = integer(sc, "itemHeads", "spec.score");
      score.head_size = integer(sc, "headSize", "spec.score");
      score.attn_dim = integer(sc, "attnDim", "spec.score");
      score.value_dim = integer(sc, "valueDim", "spec.score");
      score.cross = sc.Get("crossAttention").ToBoolean();
      score.ln_eps = number(sc, "lnEps", "spec.score");
      if (score.cross) {
        for (const char* dir : {"userToItem", "itemToUser"}) {
          const std::string where = std::string("spec.score.") + dir;
          if (!sc.Get(dir).IsObject()) a.fail(where + " must be an object");
          const Napi::Object br = sc.Get(dir).As<Napi::Object>();
          const bool u2i = dir[0] == 'u';
          (u2i ? score.u2i_wo : score.i2u_wo) = floats(br, "wo", where, false);
          (u2i ? score.u2i_bo : score.i2u_bo) = floats(br, "bo", where, false);
          (u2i ? score.u2i_gamma : score.i2u_gamma) = floats(br, "gamma", where, false);
          (u2i ? score.u2i_beta : score.i2u_beta) = floats(br, "beta", where, false);
        }
      }
    } else if (kind != "dot") {
      a.fail("spec.score.kind '" + kind + "' is not one of dot, maxsim, rankTower");
    }
    score.scale = number(sc, "scale", "spec.score");
    score.bias = number(sc, "bias", "spec.score");
    return ServePlan(integer(spec, "arena", "spec"), integer(spec, "input", "spec"), integer(spec, "repOffset", "spec"),
                     integer(spec, "repLength", "spec"), std::move(steps), score);
  }

  Napi::Value RepLen(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), plan_->rep_len()); }
  Napi::Value ItemDim(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), plan_->item_dim()); }
  Napi::Value InputLen(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), plan_->input_len()); }
  Napi::Value MacsPerItem(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(plan_->macs_per_item())); }

  // encode(input: Float32Array, rep: Float32Array)
  Napi::Value Encode(const Napi::CallbackInfo& info) {
    Args a{info, "ServePlan.encode"};
    a.need(2);
    const float* rep = plan_->encode(a.f32(0, "input", plan_->input_len()), scratch_);
    std::copy(rep, rep + plan_->rep_len(), a.f32(1, "rep", plan_->rep_len()));
    return info.Env().Undefined();
  }

  // score(input, table, rows, m, scores: Float32Array(m), n, top: Int32Array(min(n, m)) | null, dtype?, scales?) ->
  // indices written
  Napi::Value Score(const Napi::CallbackInfo& info) {
    Args a{info, "ServePlan.score"};
    a.need(7);
    const Candidates c = candidates(a, *plan_, 7);
    float* scores = a.f32(4, "scores", c.m);
    const long n = a.num_long(5, "n");
    int32_t* top = n > 0 ? a.i32(6, "top", std::min(n, c.m)) : nullptr;
    const long written = serve_request(*plan_, c.input, c.items, c.m, scores, n, top, scratch_);
    return Napi::Number::New(info.Env(), static_cast<double>(written));
  }

  // scoreAsync(input, table, rows, m, n, dtype?, scales?) -> Promise<{scores: Float32Array, top: Int32Array}>
  Napi::Value ScoreAsync(const Napi::CallbackInfo& info) {
    Args a{info, "ServePlan.scoreAsync"};
    a.need(5);
    const Candidates c = candidates(a, *plan_, 5);
    auto* w = new ScoreWorker(info.Env(), plan_, c, a.num_long(4, "n"), info[1], info[2], info[6]);
    const Napi::Promise p = w->promise();
    w->Queue();  // the worker deletes itself once settled
    return p;
  }

  // scoreRep(rep, table, rows, m, scores: Float32Array(m), n, top | null, dtype?, scales?) -> indices written: score + top-n
  // from a given user rep (e.g. a training strategy's stored encoding), skipping the user tower.
  Napi::Value ScoreRep(const Napi::CallbackInfo& info) {
    Args a{info, "ServePlan.scoreRep"};
    a.need(7);
    const Candidates c = candidates(a, *plan_, 7, true);
    float* scores = a.f32(4, "scores", c.m);
    const long n = a.num_long(5, "n");
    int32_t* top = n > 0 ? a.i32(6, "top", std::min(n, c.m)) : nullptr;
    const long written = serve_request_rep(*plan_, c.input, c.items, c.m, scores, n, top, scratch_);
    return Napi::Number::New(info.Env(), static_cast<double>(written));
  }
};

}  // namespace

void register_serve(Napi::Env env, Napi::Object exports) {
  exports.Set("ServePlan", ServePlanWrap::define(env));
}

}  // namespace prerank
