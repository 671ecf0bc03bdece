// Standalone check of the serving score registry (no Node): build with native/test/build.sh, run
// native/test/serve_check (exit status 1 on any failure). Checks that:
//   - every score kind of score_kinds() has a portable kernel entry, and each ISA this CPU runs has an entry of the
//     same name for the kinds it compiles;
//   - a kernel table finds entries by name, a name added twice keeps the last, and a kind missing from a table runs
//     the portable build's kernel set (kernels_with);
//   - each kind, parsed from a spec, scores the same candidates alike on every ISA (within float rounding) and as a
//     scalar reference for dot and max-sim.
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "../cpu.h"
#include "../serve.h"

using namespace prerank;
using namespace prerank::serve_detail;

static int failures = 0;
static void check(bool ok, const std::string& what) {
  if (!ok) {
    ++failures;
    std::printf("FAIL %s\n", what.c_str());
  }
}

// A spec's score fields from plain maps (the binding reads them from a JS object instead).
struct MapFields final : SpecFields {
  std::map<std::string, double> nums;
  std::map<std::string, std::vector<float>> arrays;
  std::map<std::string, MapFields> objects;
  int integer(const char* k) const override { return static_cast<int>(nums.at(k)); }
  float number(const char* k) const override { return static_cast<float>(nums.at(k)); }
  bool boolean(const char* k) const override { return nums.count(k) && nums.at(k) != 0; }
  std::vector<float> floats(const char* k) const override { return arrays.at(k); }
  std::unique_ptr<SpecFields> object(const char* k) const override { return std::make_unique<MapFields>(objects.at(k)); }
};

static void dot_ref(int, const float*, const ItemRows&, long n0, long n1, float* out) {
  for (long n = n0; n < n1; ++n) out[n] = -1.f;
}
static void dot_ref2(int, const float*, const ItemRows&, long n0, long n1, float* out) {
  for (long n = n0; n < n1; ++n) out[n] = -2.f;
}

static void check_table() {
  ServeKernels k{1, nullptr, nullptr, nullptr, nullptr};
  check(k.get(kDot) == nullptr, "an empty table has no dot kernel");
  check(&kernels_with(k, kDot) == serve_kernels_portable(), "a kind missing from a table runs the portable set");
  k.add(kDot, dot_ref);
  check(k.get(kDot) == dot_ref, "a kernel is found by its kind's name");
  check(k.get(KernelKey<DotKernel>{"dot"}) == dot_ref, "a key with the same name finds the same kernel");
  k.add(kDot, dot_ref2);
  check(k.get(kDot) == dot_ref2, "a name added twice keeps the last");
  check(k.get(kMaxSim) == nullptr && &kernels_with(k, kDot) == &k, "other kinds stay missing; dot runs this table");
  for (const ScoreKindEntry& e : score_kinds()) {
    const std::string name = e.name;
    const bool portable = name == "dot" ? serve_kernels_portable()->get(kDot) != nullptr
                          : name == "maxsim" ? serve_kernels_portable()->get(kMaxSim) != nullptr
                          : name == "rankTower" ? serve_kernels_portable()->get(kRankTower) != nullptr
                                                : false;
    check(portable, "score kind '" + name + "' has a portable kernel (and this check knows its key)");
  }
}

// A NaN in any head of an item gives that item a NaN max-sim score on every ISA (the model's max keeps it), whichever
// head holds it: first, middle or last of the item, so every position of the lane-wise max sees one.
static void check_maxsim_nan(std::mt19937& rng) {
  const int P = 16, H = 5, R = 3;
  const long n = 40;
  MapFields f;
  f.nums = {{"heads", H}, {"headSize", P}};
  std::unique_ptr<const ScoreKind> kind;
  for (const ScoreKindEntry& e : score_kinds())
    if (std::string(e.name) == "maxsim") kind = e.parse(f, R * P);
  check(kind != nullptr, "score kind 'maxsim' is registered");
  if (!kind) return;
  std::normal_distribution<float> g(0.f, 1.f);
  std::vector<float> rep(R * P), table(n * H * P);
  for (float& x : rep) x = g(rng);
  for (float& x : table) x = g(rng);
  for (long j = 0; j < n; j += 3) table[(j * H + (j / 3) % H) * P + j % P] = NAN;
  const ItemRows items{table.data(), H * P, nullptr};
  ServeScratch s;
  for (Isa isa : {Isa::portable, Isa::avx2, Isa::avx512}) {
    const ServeKernels* ks = isa == Isa::portable ? serve_kernels_portable() : isa == Isa::avx2 ? serve_kernels_avx2() : serve_kernels_avx512();
    if (!ks || (isa != Isa::portable && !isa_supported(isa))) continue;
    std::vector<float> got(n);
    kind->score(*ks, rep.data(), R * P, items, n, got.data(), s);
    int wrong = 0;
    for (long j = 0; j < n; ++j) wrong += std::isnan(got[j]) != (j % 3 == 0);
    check(wrong == 0, std::string("maxsim on ") + isa_name(isa) + " gives NaN exactly where an item head holds one (" + std::to_string(wrong) + " wrong)");
  }
}

// The score of every kind on a few candidates, on each ISA this CPU runs.
static void check_kinds() {
  std::mt19937 rng(3);
  std::normal_distribution<float> g(0.f, 1.f);
  const int P = 8, H = 3, R = 4;
  MapFields dot, maxsim, rank;
  maxsim.nums = {{"heads", H}, {"headSize", P}};
  const int hu = 2, hi = 3, k = 4, d = 3, v = 5;
  rank.nums = {{"userHeads", hu}, {"itemHeads", hi}, {"headSize", k}, {"attnDim", d}, {"valueDim", v}, {"crossAttention", 1}, {"lnEps", 1e-5}};
  for (const char* dir : {"userToItem", "itemToUser"}) {
    MapFields b;
    for (auto [key, n] : {std::pair{"wo", v * k}, std::pair{"bo", k}, std::pair{"gamma", k}, std::pair{"beta", k}}) {
      std::vector<float> w(n);
      for (float& x : w) x = g(rng);
      b.arrays[key] = w;
    }
    rank.objects[dir] = b;
  }
  struct Case {
    const char* name;
    const MapFields* f;
    int rep_len;
  } cases[] = {{"dot", &dot, 24}, {"maxsim", &maxsim, R * P}, {"rankTower", &rank, hu * (k + 2 * d + 2 * v)}};
  const long n = 70;  // more than one RankTower block
  for (const Case& c : cases) {
    std::unique_ptr<const ScoreKind> kind;
    for (const ScoreKindEntry& e : score_kinds())
      if (std::string(e.name) == c.name) kind = e.parse(*c.f, c.rep_len);
    check(kind != nullptr, std::string("score kind '") + c.name + "' is registered");
    if (!kind) continue;
    const int dim = kind->item_dim(c.rep_len);
    std::vector<float> rep(c.rep_len), table(n * dim);
    for (float& x : rep) x = g(rng);
    for (float& x : table) x = g(rng);
    const ItemRows items{table.data(), dim, nullptr};
    std::vector<float> want(n);
    ServeScratch s;
    kind->score(*serve_kernels_portable(), rep.data(), c.rep_len, items, n, want.data(), s);
    const std::string name = c.name;
    if (name != "rankTower") {
      // dot: one "head" of rep_len floats against one item head; maxsim: R heads of P against H item heads.
      const int heads = name == "dot" ? 1 : R, size = name == "dot" ? c.rep_len : P, item_heads = name == "dot" ? 1 : H;
      for (long j = 0; j < n; ++j) {
        double ref = 0;
        for (int r = 0; r < heads; ++r) {
          double best = -INFINITY;
          for (int h = 0; h < item_heads; ++h) {
            double acc = 0;
            for (int p = 0; p < size; ++p) acc += static_cast<double>(rep[r * size + p]) * table[j * dim + h * size + p];
            best = std::max(best, acc);
          }
          ref += best;
        }
        check(std::fabs(want[j] - ref) < 1e-4 * (1 + std::fabs(ref)), name + " on portable equals the scalar reference");
      }
    }
    for (Isa isa : {Isa::avx2, Isa::avx512}) {
      const ServeKernels* ks = isa == Isa::avx2 ? serve_kernels_avx2() : serve_kernels_avx512();
      if (!ks || !isa_supported(isa)) continue;
      std::vector<float> got(n);
      kind->score(*ks, rep.data(), c.rep_len, items, n, got.data(), s);
      double worst = 0;
      for (long j = 0; j < n; ++j) worst = std::max(worst, std::fabs(static_cast<double>(got[j]) - want[j]) / (1 + std::fabs(want[j])));
      check(worst < 1e-4, std::string(c.name) + " on " + isa_name(isa) + " equals portable (worst " + std::to_string(worst) + ")");
    }
  }
  check_maxsim_nan(rng);
}

int main() {
  try {
    check_table();
    check_kinds();
  } catch (const std::exception& e) {
    std::printf("FAIL exception: %s\n", e.what());
    return 1;
  }
  std::printf("serve checks: %s (score kinds: %s)\n", failures ? "FAILED" : "ok", score_kind_names().c_str());
  return failures ? 1 : 0;
}
