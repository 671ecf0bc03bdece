// Score kinds: how a serving plan scores its user rep against the candidates' cached item reps (dot product,
// FE-Block max-sim, RankTower's per-pair attention...). A kind is a ScoreKind — its parameters, the item width and
// cost they imply, and its driver (which per-ISA kernel runs over which candidates, on which threads) — plus a
// parser registered under the name a plan's spec gives (`spec.score.kind`) in score_kinds() (serve_scores.cc).
// Adding a kind: its ScoreKind and parser with one named line in score_kinds(), its kernel in serve_kernels.inc
// with a KernelKey in serve_kernels.h, and one `k.add(key, isa::kernel)` line in serve_portable.cc (and in each
// SIMD file that should run its own build: a kind an ISA file leaves out runs the portable kernel there).
#pragma once
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "pool.h"
#include "serve_kernels.h"

namespace prerank {

struct ServeScratch;

// A score's own fields in a plan spec (the N-API binding reads them from the JS object); each accessor throws,
// naming the field, when it is missing or of the wrong type.
class SpecFields {
 public:
  virtual ~SpecFields() = default;
  virtual int integer(const char* key) const = 0;  // a non-negative integer
  virtual float number(const char* key) const = 0;
  virtual bool boolean(const char* key) const = 0;  // JS truthiness
  virtual std::vector<float> floats(const char* key) const = 0;  // a Float32Array
  virtual std::unique_ptr<SpecFields> object(const char* key) const = 0;
};

class ScoreKind {
 public:
  virtual ~ScoreKind() = default;
  // Width of one cached item rep, for a user rep of rep_len floats.
  virtual int item_dim(int rep_len) const = 0;
  // Multiply-adds of scoring one candidate (the caller's sync-or-async and wake-the-pool choices).
  virtual long macs_per_item(int rep_len) const = 0;
  // out[j] = the raw score of rep against candidate j < n; the plan then applies its scale and bias. `k` is the
  // active ISA's kernel set.
  virtual void score(const serve_detail::ServeKernels& k, const float* rep, int rep_len, const serve_detail::ItemRows& items, long n,
                     float* out, ServeScratch& s) const = 0;
};

// Reads a kind's fields and checks them against the user rep width; throws std::invalid_argument saying what is wrong.
using ScoreParser = std::unique_ptr<const ScoreKind> (*)(const SpecFields& f, int rep_len);

struct ScoreKindEntry {
  const char* name;
  ScoreParser parse;
};

// Every score kind by name (serve_scores.cc), and their names joined by ", " for error messages.
const std::vector<ScoreKindEntry>& score_kinds();
std::string score_kind_names();

namespace serve_detail {

// The kernel set to run `key` with: the active ISA's when it has an entry for it, else the portable build's.
template <class Fn>
const ServeKernels& kernels_with(const ServeKernels& k, KernelKey<Fn> key) {
  return k.get(key) ? k : *serve_kernels_portable();
}

// A step of at least this many multiply-adds is split over the pool threads (when smaller ones are too: split).
constexpr long kParallelMacs = 1L << 20;
// A step of at least this many is always split: waking sleeping helpers, and waiting for them, costs more than it
// saves below it (serve.cc says so with the measurements).
constexpr long kWakeMacs = 1L << 23;
// The most pieces a large step is cut into (serve_piece_macs(), serve.h).
constexpr long kMaxPieces = 64;

long piece_macs();  // serve_piece_macs() without the declaration of serve.h

// Runs fn(begin, end) over [0, n) in one piece or in pieces on the pool threads (each at least min_macs), by the
// work per item: split when the work is at least kWakeMacs (then in pieces of about serve_piece_macs()), or when
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
  const long piece = piece_macs();
  if (work >= kWakeMacs && piece > 0) tasks = std::min(std::max(tasks, work / std::max(piece, kParallelMacs)), std::min(kMaxPieces, n));
  pool.run(static_cast<int>(tasks), [&](int t) {
    const long b = n * t / tasks, e = n * (t + 1) / tasks;
    if (b < e) fn(b, e);
  });
}

// The per-thread buffer quantized rows are widened into (one per thread, whichever score kind uses it).
inline std::vector<float>& widen_buffer() {
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
  constexpr long B = kRankTowerBlock;
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

}  // namespace serve_detail
}  // namespace prerank
