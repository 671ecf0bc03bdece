// The score kinds (serve_score.h), each a ScoreKind and a parser, listed by name in score_kinds(): dot (<u, v>),
// maxsim (FE-Block: sum over user heads of the max over item heads), rankTower (per-pair gated cross-attention
// both ways, then max cosine). The drivers choose the per-ISA kernel, split the candidates over the pool and read
// quantized tables through float32 blocks, or straight from bfloat16 with the bf16 dot-product kernels.
// Shape letters: R user heads, H item heads, P head size, N candidates.
#include <cstring>
#include <stdexcept>
#include <string>

#include "serve.h"

namespace prerank {
namespace {

using serve_detail::Bf16Kernels;
using serve_detail::ItemFormat;
using serve_detail::ItemRows;
using serve_detail::kernels_with;
using serve_detail::over_f32_rows;
using serve_detail::ServeKernels;
using serve_detail::split;

// A bf16 table: dot and max-sim take the user rep in bfloat16 too (products exact in float32, float32 sums): what
// the bf16 dot-product instruction computes, and the same whichever path runs.
const float* rounded_for(const ItemRows& items, const float* rep, int rep_len, ServeScratch& s) {
  if (items.fmt != ItemFormat::bf16) return rep;
  s.rep16.resize(static_cast<size_t>(rep_len));
  for (int i = 0; i < rep_len; ++i) s.rep16[i] = serve_detail::from_bf16(serve_detail::to_bf16(rep[i]));
  return s.rep16.data();
}

// The bf16 dot-product kernels, when they read this table directly (a bf16 table as 16-bit bits, AVX-512 path, the
// CPU has them, not turned off).
const Bf16Kernels* bf16_for(const ServeKernels& k, const ItemRows& items) {
  return items.table16 && items.fmt == ItemFormat::bf16 && bf16_dot_enabled() ? k.bf16 : nullptr;
}

class Dot final : public ScoreKind {
 public:
  int item_dim(int rep_len) const override { return rep_len; }
  long macs_per_item(int rep_len) const override { return rep_len; }
  void score(const ServeKernels& active, const float* rep, int rep_len, const ItemRows& items, long n, float* out, ServeScratch& s) const override {
    const ServeKernels& k = kernels_with(active, serve_detail::kDot);
    rep = rounded_for(items, rep, rep_len, s);
    if (const Bf16Kernels* b16 = bf16_for(k, items)) {
      std::vector<uint16_t>& u16 = s.u16;
      u16.resize(static_cast<size_t>(rep_len));
      for (int i = 0; i < rep_len; ++i) u16[i] = serve_detail::to_bf16(rep[i]);
      split(n, rep_len / 2, [&](long n0, long n1) { b16->dot(rep_len, u16.data(), items, n0, n1, out); });
      return;
    }
    const auto dot = k.get(serve_detail::kDot);
    split(n, rep_len, [&](long n0, long n1) {
      over_f32_rows(k, items, n0, n1, out, [&](const ItemRows& it, long b0, long b1, float* o) { dot(rep_len, rep, it, b0, b1, o); });
    });
  }
  static std::unique_ptr<const ScoreKind> parse(const SpecFields&, int) { return std::make_unique<Dot>(); }
};

class MaxSim final : public ScoreKind {
 public:
  MaxSim(int heads, int head_size) : heads_(heads), head_size_(head_size) {}
  int item_dim(int) const override { return heads_ * head_size_; }
  long macs_per_item(int rep_len) const override { return static_cast<long>(rep_len) * heads_; }
  void score(const ServeKernels& active, const float* rep, int rep_len, const ItemRows& items, long n, float* out, ServeScratch& s) const override {
    const ServeKernels& k = kernels_with(active, serve_detail::kMaxSim);
    rep = rounded_for(items, rep, rep_len, s);
    const int P = head_size_, R = rep_len / P;
    const int rpad = (R + k.vw - 1) / k.vw * k.vw;
    std::vector<float>& ut = s.ut;
    const long macs = static_cast<long>(rpad) * heads_ * P;
    const Bf16Kernels* b16 = bf16_for(k, items);
    if (b16 && P % 2 == 0) {
      // User heads as bf16 pairs: word (q, r) = u_r[2q] | u_r[2q + 1] << 16 (rep already holds bf16 values).
      ut.assign(static_cast<size_t>(rpad) * (P / 2), 0.f);
      auto* words = reinterpret_cast<uint32_t*>(ut.data());
      for (int r = 0; r < R; ++r)
        for (int q = 0; q < P / 2; ++q)
          words[static_cast<size_t>(q) * rpad + r] = serve_detail::to_bf16(rep[r * P + 2 * q]) | static_cast<uint32_t>(serve_detail::to_bf16(rep[r * P + 2 * q + 1])) << 16;
      const serve_detail::MaxSimArgs args{ut.data(), rpad, R, P, heads_, items, out};
      split(n, macs / 2, [&](long n0, long n1) { b16->maxsim(args, n0, n1); });
      return;
    }
    ut.assign(static_cast<size_t>(rpad) * P, 0.f);
    for (int r = 0; r < R; ++r)
      for (int p = 0; p < P; ++p) ut[static_cast<size_t>(p) * rpad + r] = rep[r * P + p];
    const auto maxsim = k.get(serve_detail::kMaxSim);
    split(n, macs, [&](long n0, long n1) {
      over_f32_rows(k, items, n0, n1, out, [&](const ItemRows& it, long b0, long b1, float* o) {
        maxsim(serve_detail::MaxSimArgs{ut.data(), rpad, R, P, heads_, it, o}, b0, b1);
      });
    });
  }
  static std::unique_ptr<const ScoreKind> parse(const SpecFields& f, int rep_len) {
    const int heads = f.integer("heads"), head_size = f.integer("headSize");
    if (heads < 1 || head_size < 1 || rep_len % head_size != 0)
      throw std::invalid_argument("max-sim: the user rep width must be a multiple of the head size, heads >= 1");
    return std::make_unique<MaxSim>(heads, head_size);
  }

 private:
  int heads_, head_size_;
};

// RankTower: sub-spaces per side, k = head size, d = query/key width, v = value width; cross = false scores the
// raw sub-spaces. One GAU's per-pair weights per direction.
class RankTower final : public ScoreKind {
 public:
  struct Branch {
    std::vector<float> wo, bo, gamma, beta;
  };
  int hu = 0, hi = 0, k = 0, d = 0, v = 0;
  bool cross = true;
  float ln_eps = 1e-5f;
  Branch u2i, i2u;

  int item_dim(int) const override { return hi * (cross ? k + 2 * d + 2 * v : k); }
  long macs_per_item(int) const override {
    // Both attentions (scores, weighted values, W_o) and the cosine max-sim.
    const long Hu = hu, Hi = hi, K = k, D = d, V = v;
    return 2 * Hu * Hi * (D + V) + (Hu + Hi) * V * K + Hu * Hi * K;
  }
  void score(const ServeKernels& active, const float* rep, int rep_len, const ItemRows& items, long n, float* out, ServeScratch&) const override {
    const ServeKernels& kk = kernels_with(active, serve_detail::kRankTower);
    const auto ranktower = kk.get(serve_detail::kRankTower);
    auto branch = [](const Branch& b) { return serve_detail::GauBranch{b.wo.data(), b.bo.data(), b.gamma.data(), b.beta.data()}; };
    const serve_detail::RankTowerArgs args{hu, hi, k, d, v, cross, ln_eps, rep, branch(u2i), branch(i2u), items, out};
    constexpr long B = serve_detail::kRankTowerBlock;
    split((n + B - 1) / B, macs_per_item(rep_len) * B, [&](long b0, long b1) {
      over_f32_rows(kk, items, b0 * B, std::min(n, b1 * B), out, [&](const ItemRows& it, long j0, long j1, float* o) {
        serve_detail::RankTowerArgs piece = args;
        piece.items = it;
        piece.out = o;
        ranktower(piece, j0, j1);
      });
    });
  }
  static std::unique_ptr<const ScoreKind> parse(const SpecFields& f, int rep_len) {
    auto c = std::make_unique<RankTower>();
    c->hu = f.integer("userHeads");
    c->hi = f.integer("itemHeads");
    c->k = f.integer("headSize");
    c->d = f.integer("attnDim");
    c->v = f.integer("valueDim");
    c->cross = f.boolean("crossAttention");
    c->ln_eps = f.number("lnEps");
    const long k = c->k, d = c->d, v = c->v;
    if (c->hu < 1 || c->hi < 1 || k < 1 || d < 1 || v < 1) throw std::invalid_argument("rank-tower: heads and sizes must be >= 1");
    if (rep_len != c->hu * (c->cross ? k + 2 * d + 2 * v : k)) throw std::invalid_argument("rank-tower: the user rep width does not match heads x (k + 2d + 2v)");
    if (!c->cross) return c;
    for (auto [key, b] : {std::pair{"userToItem", &c->u2i}, std::pair{"itemToUser", &c->i2u}}) {
      const std::unique_ptr<SpecFields> o = f.object(key);
      *b = Branch{o->floats("wo"), o->floats("bo"), o->floats("gamma"), o->floats("beta")};
      if (static_cast<long>(b->wo.size()) != v * k) throw std::invalid_argument("rank-tower: W_o must have v*k floats");
      for (const auto* w : {&b->bo, &b->gamma, &b->beta})
        if (static_cast<long>(w->size()) != k) throw std::invalid_argument("rank-tower: b_o, gamma and beta must have k floats");
    }
    return c;
  }
};

}  // namespace

const std::vector<ScoreKindEntry>& score_kinds() {
  static const std::vector<ScoreKindEntry> kinds{
      {"dot", Dot::parse},
      {"maxsim", MaxSim::parse},
      {"rankTower", RankTower::parse},
  };
  return kinds;
}

std::string score_kind_names() {
  std::string out;
  for (const ScoreKindEntry& e : score_kinds()) out += (out.empty() ? "" : ", ") + std::string(e.name);
  return out;
}

}  // namespace prerank
