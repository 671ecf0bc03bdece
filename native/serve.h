// The serving path of a two-tower model as one native call per request: a compiled user tower (a fixed list of
// steps over one float arena: linear layers with batch norm folded in, Light-SE, per-head L2 normalisation), the
// score of that one user against every candidate's cached item rep (a score kind by name, serve_score.h: dot
// product, FE-Block max-sim read in place from the item table, RankTower's attention), and the top-n cut. Built once
// per loaded bundle (serve_binding.cc binds it to JS as ServePlan).
// Shape letters: R user heads, H item heads, P head size, N candidates, F fields, D embedding dim.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "serve_kernels.h"
#include "serve_score.h"

namespace prerank {

struct ServeStep {
  enum Kind { kLinear, kL2Norm, kLightSe, kGate, kFieldGate } kind;
  enum Act { kNone = 0, kRelu = 1, kSilu = 2, kSigmoid = 3 };
  // kLinear: `rows` rows: arena[dst + r*out, +out) = act(arena[src + r*in, +in) W + b), W row-major [in, out], b
  //          empty or [out].
  // kL2Norm: `in` rows of `out` floats at src, each scaled to unit length (divided by max(norm, eps)), in place.
  // kLightSe: the F = `in` fields of D = `out` floats at src reweighted in place by softmax(mean_D(e) W + b)
  //           (W [F, F], b empty or [F]); residual: e + e * k instead of e * k.
  // kGate: arena[dst + i] = arena[src + i] * sigmoid(arena[aux + i]) for i < out.
  // kFieldGate: F = `in` fields of D = `out` floats: arena[dst + f*D + d] = arena[src + f*D + d] * g_f + b[f*D + d]
  //             (g_f = scale * sigmoid(arena[aux + f]), or 1 when aux < 0; b empty: 0), then `tail` floats copied
  //             (CS3's field gates and sync shift, this project's interpretation).
  int src = 0, dst = 0, aux = 0, in = 0, out = 0, rows = 1, tail = 0;
  int act = kNone;
  bool residual = false;
  float eps = 0.f, scale = 1.f;
  std::vector<float> w, b;
};

// logit = scale * raw + bias, raw from the plan's score kind (serve_score.h).
struct ServeScore {
  std::shared_ptr<const ScoreKind> kind;
  float scale = 1.f, bias = 0.f;
};

// Per-call working memory: a plan is immutable after construction, so calls on different threads (each with its
// own scratch) may share it.
struct ServeScratch {
  std::vector<float> arena, ut, se;  // se: Light-SE's per-field means and weights
  std::vector<float> rep16;          // the user rep rounded to bfloat16 (scoring a bf16 table)
  std::vector<uint16_t> u16;         // the same as bf16 bits (the bf16 dot product)
  std::vector<uint64_t> keys;  // top_n's (score, index) keys
};

class ServePlan {
 public:
  // Throws std::invalid_argument naming the step when a step reads or writes outside the arena (score.kind: non-null).
  ServePlan(int arena, int input, int rep_offset, int rep_len, std::vector<ServeStep> steps, ServeScore score);

  int input_len() const { return input_; }
  int rep_len() const { return rep_len_; }
  // Width of one cached item rep the score expects.
  int item_dim() const;

  // Multiply-adds of scoring one candidate (for the caller's sync-or-async choice).
  long macs_per_item() const;

  // Runs the user tower on `input` (input_len floats); returns the rep (rep_len floats inside s.arena). Large steps
  // run on the pool (serve.cc, split); wide (the request's scoring splits and the pool was woken for it): smaller
  // layers too.
  const float* encode(const float* input, ServeScratch& s, bool wide = false) const;
  // Logits of the rep against n candidates.
  void score(const float* rep, const serve_detail::ItemRows& items, long n, float* out, ServeScratch& s) const;

 private:
  int arena_, input_, rep_offset_, rep_len_;
  std::vector<ServeStep> steps_;
  ServeScore score_;
};

// Dot product and max-sim over a bfloat16 item table with the CPU's bf16 dot-product instruction (AVX512_BF16) when the AVX-512
// path is active: available() says whether this CPU and build have it; enabled() whether requests use it (default
// on, PRERANK_BF16=0 at start-up turns it off); set_bf16_dot(true) fails (returns false) when it is not available.
// Off, a bf16 table is widened to float32 block by block and scored by the float32 kernels, with the same rounding
// of the user heads (scores agree to float32 summation order).
bool bf16_dot_available();
bool bf16_dot_enabled();
bool set_bf16_dot(bool on);

// The size, in multiply-adds, of the pieces a large scoring step is cut into for the pool threads (serve.cc, split);
// 0 = one equal share per thread. PRERANK_SERVE_PIECE at start-up sets it too.
long serve_piece_macs();
void set_serve_piece_macs(long macs);
// Candidate rows the dot and max-sim kernels prefetch ahead (0: none; at most kMaxRowPrefetch); PRERANK_ROW_PREFETCH at start-up.
constexpr long kMaxRowPrefetch = 256;
void set_row_prefetch(long rows);

// Centroid max-sim (serve_kernels.h, CentroidMaxSimArgs) of candidates [0, m) with the active ISA's kernel, on the
// calling thread (a few nanoseconds per candidate).
void centroid_maxsim(const serve_detail::CentroidMaxSimArgs& a, long m);

// Indices of the n largest of scores[0, m), best first; equal scores keep the lower index first; NaN ranks below
// every number (-inf included). Writes min(n, m) indices and returns that count. Its buffers live in `s` (reused between calls).
long top_n(const float* scores, long m, long n, int32_t* out, ServeScratch& s);

// encode + score + top_n (n = 0: no cut): one request. Returns the number of indices written to top.
long serve_request(const ServePlan& plan, const float* input, const serve_detail::ItemRows& items, long m, float* scores,
                   long n, int32_t* top, ServeScratch& s);

// score + top_n from a given user rep (rep_len floats; e.g. a training strategy's stored user encoding): the tower is
// skipped. Returns the number of indices written to top.
long serve_request_rep(const ServePlan& plan, const float* rep, const serve_detail::ItemRows& items, long m, float* scores,
                       long n, int32_t* top, ServeScratch& s);

}  // namespace prerank
