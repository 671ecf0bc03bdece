// Fused element-wise, normalisation, loss and optimizer kernels (float32), threaded over rows on the ThreadPool.
// Semantics match src/core/kernels/reference.ts exactly; the N-API layer validates sizes before calling these.
#pragma once
#include <cstdint>

namespace prerank {

enum ActCode : int { kNone = 0, kRelu = 1, kPrelu = 2, kSigmoid = 3, kTanh = 4, kSilu = 5 };

void act_forward(int act, long rows, long cols, const float* x, float* y, const float* slope, long slope_len);
void act_backward(int act, long rows, long cols, const float* x, const float* y, const float* dy, float* dx,
                  const float* slope, float* dslope, long slope_len);
void col_sum(long rows, long cols, const float* x, float* out, bool accumulate);
void l2norm(long rows, long cols, const float* x, float* y, float* norms, float eps);
void l2norm_backward(long rows, long cols, const float* y, const float* norms, const float* dy, float* dx, float eps);
void softmax(long rows, long cols, const float* x, float* y, bool log);
void softmax_backward(long rows, long cols, const float* y, const float* dy, float* dx, bool log);
// Softmax cross-entropy of scale * x [rows, cols] with one label per row (in [0, cols), checked by the caller):
// lse[r] = log sum_c exp(scale x[r, c]); returns sum_r (lse[r] - scale x[r, labels[r]]).
double cross_entropy(long rows, long cols, const float* x, const int32_t* labels, float scale, float* lse);
// dx[r, c] = gscale * scale * (exp(scale x[r, c] - lse[r]) - [c == labels[r]]).
void cross_entropy_backward(long rows, long cols, const float* x, const int32_t* labels, float scale, const float* lse,
                            float gscale, float* dx);
double bce_logits(long n, const float* z, const float* t, const float* w, float* grad, float scale);
// Returns -1 on success, else the position of the first id outside [0, V) (nothing written past it is guaranteed).
long gather_rows(long V, long D, const float* table, const int32_t* ids, long n, float* out);
long scatter_add_rows(long V, long D, float* dst, const int32_t* ids, long n, const float* src);
void dropout(long n, float p, uint32_t seed, const float* x, float* y, float* mask);
void mul(long n, const float* a, const float* b, float* out);
void batch_norm_forward(long rows, long cols, const float* x, const float* gamma, const float* beta, float* run_mean,
                        float* run_var, bool training, float momentum, float eps, float* xhat, float* inv_std, float* y);
void batch_norm_backward(long rows, long cols, const float* g, const float* xhat, const float* gamma,
                         const float* inv_std, bool training, float* dx, float* dgamma, float* dbeta);
// Layer norm over each row: xhat = (x - row mean) * inv_std[r] (biased variance), y = xhat * gamma + beta.
void layer_norm_forward(long rows, long cols, const float* x, const float* gamma, const float* beta, float eps, float* xhat,
                        float* inv_std, float* y);
// dgamma, dbeta overwritten; dx (may be null) from g = dy.
void layer_norm_backward(long rows, long cols, const float* g, const float* xhat, const float* gamma, const float* inv_std,
                         float* dx, float* dgamma, float* dbeta);
void group_max_sum(long A, long N, long G, const float* x, float* out, int32_t* arg);
// Per-pair max-sim: U [N, A, P], V [N, G, P]; out[n] = sum_a max_g <U[n, a], V[n, g]>, arg[n*A + a] = the winning g
// (the first on ties).
void pair_max_sim(long N, long A, long G, long P, const float* U, const float* V, float* out, int32_t* arg);
// dU[n, a] = gout[n] V[n, arg[n*A + a]]; dV[n, g] = gout[n] * (sum of U[n, a] over the a whose arg is g). Both are
// overwritten; either may be null.
void pair_max_sim_backward(long N, long A, long G, long P, const float* U, const float* V, const int32_t* arg,
                           const float* gout, float* dU, float* dV);
// RankTower's per-pair score (src/core/kernels/types.ts gauMaxSim has the formula): Hu / Hi heads, sub-space size K,
// query/key width D, value width V, LayerNorm eps.
struct GauShape {
  int Hu, Hi, K, D, V;
  float eps;
};
// Values of the packed per-pair weights: per branch [W_o (V x K) | b_o | gamma | beta], user->item first.
long gau_weights_size(const GauShape& s);
// out[n] = the score of (row users[n] of UR, row items[n] of IR).
void gau_max_sim(const GauShape& s, long N, const int32_t* users, const int32_t* items, const float* UR, const float* IR,
                 const float* W, float* out);
// Gradients of sum_n gout[n] out[n] into dUR [P, Ru], dIR [C, Ri], dW (overwritten).
void gau_max_sim_backward(const GauShape& s, long P, long C, long N, const int32_t* users, const int32_t* items,
                          const float* UR, const float* IR, const float* W, const float* gout, float* dUR, float* dIR,
                          float* dW);
// Max-sim of every user against every item (src/core/kernels/types.ts maxSimCross): heads [B*A, P] (user b's head a
// in row b*A + a), items [C*G, P]; out [B, C] and arg [A*B*C] (each pair's first winning item head) overwritten.
void max_sim_cross(long A, long B, long C, long G, long P, const float* heads, const float* items, float* out,
                   int32_t* arg);
// Backward of max-sim over every (user, item) pair from the forward's winners (src/core/kernels/types.ts
// maxSimCrossBackward): heads [B*A, P] as above, items [C*G, P], arg [A*B*C], gout [B, C]; dheads and ditems
// overwritten.
void max_sim_cross_backward(long A, long B, long C, long G, long P, const float* heads, const float* items,
                            const int32_t* arg, const float* gout, float* dheads, float* ditems);
void row_dot(long rows, long cols, const float* a, const float* b, float* out);
void row_scale(long rows, long cols, const float* s, const float* x, float* out);
void axpy(long n, float alpha, const float* src, float* dst);
void adam(long n, float* p, const float* g, float* m, float* v, float lr, float b1, float b2, float eps, float wd,
          double step, bool decoupled);
long adam_rows(long V, long D, const int32_t* ids, long n_ids, float* p, const float* g, float* m, float* v, float lr,
               float b1, float b2, float eps, float wd, double step, bool decoupled);
void sgd(long n, float* p, const float* g, float* buf, float lr, float momentum, float wd);
void adagrad(long n, float* p, const float* g, float* sum, float lr, float eps, float wd);

}  // namespace prerank
