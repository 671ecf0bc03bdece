// N-API bindings. Every entry point validates its arguments (types, sizes against the stated dimensions, index
// bounds) and throws a JS Error naming the kernel and the argument, so bad input never reaches the raw loops.
#include <napi.h>

#include <cstdint>
#include <string>

#include "cpu.h"
#include "gemm.h"
#include "kernels.h"
#include "napi_args.h"
#include "pool.h"
#include "serve.h"

namespace prerank {
void register_serve(Napi::Env env, Napi::Object exports);  // serve_binding.cc: the ServePlan class
void register_mmap(Napi::Env env, Napi::Object exports);   // mmap.cc: read-only file mappings
void register_key_lookup(Napi::Env env, Napi::Object exports);  // key_lookup.cc: batch string-table lookups
void register_id_lookup(Napi::Env env, Napi::Object exports);   // id_lookup.cc: batch inline id-table lookups
}

namespace {

using prerank::Isa;
using prerank::napi::Args;

// Elements needed for a row-major matrix view of `rows` x `cols` with row stride ld.
long span(const Args& a, long rows, long cols, long ld, const char* name) {
  if (ld < cols) a.fail(std::string("leading dimension of ") + name + " (" + std::to_string(ld) + ") < " + std::to_string(cols));
  return rows == 0 || cols == 0 ? 0 : (rows - 1) * ld + cols;
}

Napi::Value Gemm(const Napi::CallbackInfo& info) {
  Args a{info, "gemm"};
  a.need(15);
  const bool tA = a.flag(0), tB = a.flag(1);
  const long M = a.num_long(2, "M"), N = a.num_long(3, "N"), K = a.num_long(4, "K");
  const float alpha = a.num(5, "alpha");
  const long lda = a.num_long(7, "lda", 1), ldb = a.num_long(9, "ldb", 1), ldc = a.num_long(12, "ldc", 1);
  const float* A = a.f32(6, "A", tA ? span(a, K, M, lda, "A") : span(a, M, K, lda, "A"));
  const float* B = a.f32(8, "B", tB ? span(a, N, K, ldb, "B") : span(a, K, N, ldb, "B"));
  const float beta = a.num(10, "beta");
  float* C = a.f32(11, "C", span(a, M, N, ldc, "C"));
  prerank::Epilogue ep;
  ep.bias = a.f32(13, "bias", N, true);
  ep.act = a.flag(14) ? prerank::Act::relu : prerank::Act::none;
  prerank::sgemm(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, ep);
  return info.Env().Undefined();
}

Napi::Value GemmBatched(const Napi::CallbackInfo& info) {
  Args a{info, "gemmBatched"};
  a.need(17);
  const bool tA = a.flag(0), tB = a.flag(1);
  const long batch = a.num_long(2, "batch"), M = a.num_long(3, "M"), N = a.num_long(4, "N"), K = a.num_long(5, "K");
  const float alpha = a.num(6, "alpha");
  const long lda = a.num_long(8, "lda", 1), sA = a.num_long(9, "strideA");
  const long ldb = a.num_long(11, "ldb", 1), sB = a.num_long(12, "strideB");
  const long ldc = a.num_long(15, "ldc", 1), sC = a.num_long(16, "strideC");
  const float beta = a.num(13, "beta");
  const long last = batch > 0 ? batch - 1 : 0;
  const long needA = batch ? last * sA + (tA ? span(a, K, M, lda, "A") : span(a, M, K, lda, "A")) : 0;
  const long needB = batch ? last * sB + (tB ? span(a, N, K, ldb, "B") : span(a, K, N, ldb, "B")) : 0;
  const long needC = batch ? last * sC + span(a, M, N, ldc, "C") : 0;
  const float* A = a.f32(7, "A", needA);
  const float* B = a.f32(10, "B", needB);
  float* C = a.f32(14, "C", needC);
  prerank::sgemm_batched(tA, tB, batch, M, N, K, alpha, A, lda, sA, B, ldb, sB, beta, C, ldc, sC);
  return info.Env().Undefined();
}

long slope_len(const Args& a, size_t i, long cols) {
  if (a.info[i].IsNull() || a.info[i].IsUndefined()) return 0;
  const long n = a.length(i);
  if (n != 1 && n != cols) a.fail("slope must have 1 or cols (" + std::to_string(cols) + ") elements");
  return n;
}

Napi::Value ActForward(const Napi::CallbackInfo& info) {
  Args a{info, "actForward"};
  a.need(6);
  const int act = static_cast<int>(a.num_long(0, "act"));
  if (act > 5) a.fail("unknown activation code " + std::to_string(act));
  const long rows = a.num_long(1, "rows"), cols = a.num_long(2, "cols"), n = rows * cols;
  const float* slope = a.f32(5, "slope", 1, act != prerank::kPrelu);
  prerank::act_forward(act, rows, cols, a.f32(3, "X", n), a.f32(4, "Y", n), slope, slope_len(a, 5, cols));
  return info.Env().Undefined();
}

Napi::Value ActBackward(const Napi::CallbackInfo& info) {
  Args a{info, "actBackward"};
  a.need(9);
  const int act = static_cast<int>(a.num_long(0, "act"));
  if (act > 5) a.fail("unknown activation code " + std::to_string(act));
  const long rows = a.num_long(1, "rows"), cols = a.num_long(2, "cols"), n = rows * cols;
  const float* slope = a.f32(7, "slope", 1, act != prerank::kPrelu);
  const long sl = slope_len(a, 7, cols);
  float* dslope = a.f32(8, "dSlope", sl, true);
  prerank::act_backward(act, rows, cols, a.f32(3, "X", n), a.f32(4, "Y", n), a.f32(5, "dY", n), a.f32(6, "dX", n),
                        slope, dslope, sl);
  return info.Env().Undefined();
}

Napi::Value ColSum(const Napi::CallbackInfo& info) {
  Args a{info, "colSum"};
  a.need(5);
  const long rows = a.num_long(0, "rows"), cols = a.num_long(1, "cols");
  prerank::col_sum(rows, cols, a.f32(2, "X", rows * cols), a.f32(3, "out", cols), a.flag(4));
  return info.Env().Undefined();
}

Napi::Value L2norm(const Napi::CallbackInfo& info) {
  Args a{info, "l2norm"};
  a.need(6);
  const long rows = a.num_long(0, "rows"), cols = a.num_long(1, "cols"), n = rows * cols;
  prerank::l2norm(rows, cols, a.f32(2, "X", n), a.f32(3, "Y", n), a.f32(4, "norms", rows), a.num(5, "eps"));
  return info.Env().Undefined();
}

Napi::Value L2normBackward(const Napi::CallbackInfo& info) {
  Args a{info, "l2normBackward"};
  a.need(7);
  const long rows = a.num_long(0, "rows"), cols = a.num_long(1, "cols"), n = rows * cols;
  prerank::l2norm_backward(rows, cols, a.f32(2, "Y", n), a.f32(3, "norms", rows), a.f32(4, "dY", n), a.f32(5, "dX", n),
                           a.num(6, "eps"));
  return info.Env().Undefined();
}

Napi::Value Softmax(const Napi::CallbackInfo& info) {
  Args a{info, "softmax"};
  a.need(5);
  const long rows = a.num_long(0, "rows"), cols = a.num_long(1, "cols"), n = rows * cols;
  prerank::softmax(rows, cols, a.f32(2, "X", n), a.f32(3, "Y", n), a.flag(4));
  return info.Env().Undefined();
}

Napi::Value SoftmaxBackward(const Napi::CallbackInfo& info) {
  Args a{info, "softmaxBackward"};
  a.need(6);
  const long rows = a.num_long(0, "rows"), cols = a.num_long(1, "cols"), n = rows * cols;
  prerank::softmax_backward(rows, cols, a.f32(2, "Y", n), a.f32(3, "dY", n), a.f32(4, "dX", n), a.flag(5));
  return info.Env().Undefined();
}

Napi::Value BceLogits(const Napi::CallbackInfo& info) {
  Args a{info, "bceLogits"};
  a.need(6);
  const long n = a.num_long(0, "n");
  const double loss = prerank::bce_logits(n, a.f32(1, "z", n), a.f32(2, "t", n), a.f32(3, "w", n, true),
                                          a.f32(4, "grad", n, true), a.num(5, "scale"));
  return Napi::Number::New(info.Env(), loss);
}

// labels: Int32Array of rows entries in [0, cols).
const int32_t* ce_labels(const Args& a, size_t i, long rows, long cols) {
  const int32_t* labels = a.i32(i, "labels", rows);
  for (long r = 0; r < rows; r++)
    if (labels[r] < 0 || labels[r] >= cols)
      a.fail("label " + std::to_string(labels[r]) + " at row " + std::to_string(r) + " is outside [0, " + std::to_string(cols) + ")");
  return labels;
}

Napi::Value CrossEntropy(const Napi::CallbackInfo& info) {
  Args a{info, "crossEntropy"};
  a.need(6);
  const long rows = a.num_long(0, "rows"), cols = a.num_long(1, "cols", 1);
  const double loss = prerank::cross_entropy(rows, cols, a.f32(2, "X", rows * cols), ce_labels(a, 3, rows, cols),
                                             a.num(4, "scale"), a.f32(5, "lse", rows));
  return Napi::Number::New(info.Env(), loss);
}

Napi::Value CrossEntropyBackward(const Napi::CallbackInfo& info) {
  Args a{info, "crossEntropyBackward"};
  a.need(8);
  const long rows = a.num_long(0, "rows"), cols = a.num_long(1, "cols", 1);
  prerank::cross_entropy_backward(rows, cols, a.f32(2, "X", rows * cols), ce_labels(a, 3, rows, cols), a.num(4, "scale"),
                                  a.f32(5, "lse", rows), a.num(6, "gscale"), a.f32(7, "dX", rows * cols));
  return info.Env().Undefined();
}

// The pair list of a gauMaxSim call: N user and item indices inside [0, P) and [0, C).
struct GauCall {
  prerank::GauShape s;
  long P, C, N, Ru, Ri;
  const int32_t* users;
  const int32_t* items;
};

GauCall gau_call(const Args& a) {
  GauCall g;
  g.s = prerank::GauShape{static_cast<int>(a.num_long(0, "Hu", 1)), static_cast<int>(a.num_long(1, "Hi", 1)),
                          static_cast<int>(a.num_long(2, "K", 1)), static_cast<int>(a.num_long(3, "D", 1)),
                          static_cast<int>(a.num_long(4, "Vw", 1)), a.num(5, "eps")};
  g.P = a.num_long(6, "P");
  g.C = a.num_long(7, "C");
  g.N = a.num_long(8, "N");
  g.users = a.i32(9, "users", g.N);
  g.items = a.i32(10, "items", g.N);
  for (long n = 0; n < g.N; n++)
    if (g.users[n] < 0 || g.users[n] >= g.P || g.items[n] < 0 || g.items[n] >= g.C)
      a.fail("pair " + std::to_string(n) + " is (" + std::to_string(g.users[n]) + ", " + std::to_string(g.items[n]) +
             "), outside [0, " + std::to_string(g.P) + ") x [0, " + std::to_string(g.C) + ")");
  const long per_head = g.s.K + 2L * g.s.D + 2L * g.s.V;
  g.Ru = g.s.Hu * per_head;
  g.Ri = g.s.Hi * per_head;
  return g;
}

Napi::Value GauMaxSim(const Napi::CallbackInfo& info) {
  Args a{info, "gauMaxSim"};
  a.need(15);
  const GauCall g = gau_call(a);
  prerank::gau_max_sim(g.s, g.N, g.users, g.items, a.f32(11, "UR", g.P * g.Ru), a.f32(12, "IR", g.C * g.Ri),
                       a.f32(13, "W", prerank::gau_weights_size(g.s)), a.f32(14, "out", g.N));
  return info.Env().Undefined();
}

Napi::Value GauMaxSimBackward(const Napi::CallbackInfo& info) {
  Args a{info, "gauMaxSimBackward"};
  a.need(18);
  const GauCall g = gau_call(a);
  const long nw = prerank::gau_weights_size(g.s);
  prerank::gau_max_sim_backward(g.s, g.P, g.C, g.N, g.users, g.items, a.f32(11, "UR", g.P * g.Ru), a.f32(12, "IR", g.C * g.Ri),
                                a.f32(13, "W", nw), a.f32(14, "gOut", g.N), a.f32(15, "dUR", g.P * g.Ru),
                                a.f32(16, "dIR", g.C * g.Ri), a.f32(17, "dW", nw));
  return info.Env().Undefined();
}

Napi::Value PairMaxSim(const Napi::CallbackInfo& info) {
  Args a{info, "pairMaxSim"};
  a.need(8);
  const long N = a.num_long(0, "N"), A = a.num_long(1, "A"), G = a.num_long(2, "G", 1), P = a.num_long(3, "P");
  prerank::pair_max_sim(N, A, G, P, a.f32(4, "U", N * A * P), a.f32(5, "V", N * G * P), a.f32(6, "out", N),
                        a.i32(7, "arg", N * A));
  return info.Env().Undefined();
}

Napi::Value PairMaxSimBackward(const Napi::CallbackInfo& info) {
  Args a{info, "pairMaxSimBackward"};
  a.need(10);
  const long N = a.num_long(0, "N"), A = a.num_long(1, "A"), G = a.num_long(2, "G", 1), P = a.num_long(3, "P");
  const int32_t* arg = a.i32(6, "arg", N * A);
  for (long i = 0; i < N * A; i++)
    if (arg[i] < 0 || arg[i] >= G) a.fail("arg " + std::to_string(arg[i]) + " at position " + std::to_string(i) + " is outside [0, " + std::to_string(G) + ")");
  prerank::pair_max_sim_backward(N, A, G, P, a.f32(4, "U", N * A * P), a.f32(5, "V", N * G * P), arg, a.f32(7, "gOut", N),
                                 a.f32(8, "dU", N * A * P, true), a.f32(9, "dV", N * G * P, true));
  return info.Env().Undefined();
}

void check_index(const Args& a, long bad, const int32_t* ids, long V) {
  if (bad >= 0)
    a.fail("index " + std::to_string(ids[bad]) + " at position " + std::to_string(bad) + " is outside [0, " +
           std::to_string(V) + ")");
}

Napi::Value GatherRows(const Napi::CallbackInfo& info) {
  Args a{info, "gatherRows"};
  a.need(5);
  const long V = a.num_long(0, "V"), D = a.num_long(1, "D");
  const int32_t* ids = a.i32(3, "ids", 0);
  const long n = a.length(3);
  check_index(a, prerank::gather_rows(V, D, a.f32(2, "table", V * D), ids, n, a.f32(4, "out", n * D)), ids, V);
  return info.Env().Undefined();
}

Napi::Value ScatterAddRows(const Napi::CallbackInfo& info) {
  Args a{info, "scatterAddRows"};
  a.need(5);
  const long V = a.num_long(0, "V"), D = a.num_long(1, "D");
  const int32_t* ids = a.i32(3, "ids", 0);
  const long n = a.length(3);
  check_index(a, prerank::scatter_add_rows(V, D, a.f32(2, "dst", V * D), ids, n, a.f32(4, "src", n * D)), ids, V);
  return info.Env().Undefined();
}

Napi::Value Axpy(const Napi::CallbackInfo& info) {
  Args a{info, "axpy"};
  a.need(4);
  const long n = a.num_long(0, "n");
  prerank::axpy(n, a.num(1, "alpha"), a.f32(2, "src", n), a.f32(3, "dst", n));
  return info.Env().Undefined();
}

Napi::Value Dropout(const Napi::CallbackInfo& info) {
  Args a{info, "dropout"};
  a.need(6);
  const long n = a.num_long(0, "n");
  const float p = a.num(1, "p");
  if (!(p >= 0.f && p < 1.f)) a.fail("p must be in [0, 1)");
  const uint32_t seed = static_cast<uint32_t>(a.num_long(2, "seed"));
  prerank::dropout(n, p, seed, a.f32(3, "X", n), a.f32(4, "Y", n), a.f32(5, "mask", n));
  return info.Env().Undefined();
}

Napi::Value Mul(const Napi::CallbackInfo& info) {
  Args a{info, "mul"};
  a.need(4);
  const long n = a.num_long(0, "n");
  prerank::mul(n, a.f32(1, "a", n), a.f32(2, "b", n), a.f32(3, "out", n));
  return info.Env().Undefined();
}

Napi::Value BatchNormForward(const Napi::CallbackInfo& info) {
  Args a{info, "batchNormForward"};
  a.need(13);
  const long rows = a.num_long(0, "rows"), cols = a.num_long(1, "cols"), n = rows * cols;
  const bool training = a.flag(7);
  if (training && rows < 2) a.fail("training mode needs at least 2 rows");
  prerank::batch_norm_forward(rows, cols, a.f32(2, "X", n), a.f32(3, "gamma", cols), a.f32(4, "beta", cols),
                              a.f32(5, "runMean", cols), a.f32(6, "runVar", cols), training, a.num(8, "momentum"),
                              a.num(9, "eps"), a.f32(10, "xhat", n), a.f32(11, "invStd", cols), a.f32(12, "Y", n));
  return info.Env().Undefined();
}

Napi::Value BatchNormBackward(const Napi::CallbackInfo& info) {
  Args a{info, "batchNormBackward"};
  a.need(10);
  const long rows = a.num_long(0, "rows"), cols = a.num_long(1, "cols"), n = rows * cols;
  prerank::batch_norm_backward(rows, cols, a.f32(2, "G", n), a.f32(3, "xhat", n), a.f32(4, "gamma", cols),
                               a.f32(5, "invStd", cols), a.flag(6), a.f32(7, "dX", n, true), a.f32(8, "dGamma", cols),
                               a.f32(9, "dBeta", cols));
  return info.Env().Undefined();
}

Napi::Value LayerNormForward(const Napi::CallbackInfo& info) {
  Args a{info, "layerNormForward"};
  a.need(9);
  const long rows = a.num_long(0, "rows"), cols = a.num_long(1, "cols"), n = rows * cols;
  prerank::layer_norm_forward(rows, cols, a.f32(2, "X", n), a.f32(3, "gamma", cols), a.f32(4, "beta", cols), a.num(5, "eps"),
                              a.f32(6, "xhat", n), a.f32(7, "invStd", rows), a.f32(8, "Y", n));
  return info.Env().Undefined();
}

Napi::Value LayerNormBackward(const Napi::CallbackInfo& info) {
  Args a{info, "layerNormBackward"};
  a.need(9);
  const long rows = a.num_long(0, "rows"), cols = a.num_long(1, "cols"), n = rows * cols;
  prerank::layer_norm_backward(rows, cols, a.f32(2, "G", n), a.f32(3, "xhat", n), a.f32(4, "gamma", cols),
                               a.f32(5, "invStd", rows), a.f32(6, "dX", n, true), a.f32(7, "dGamma", cols), a.f32(8, "dBeta", cols));
  return info.Env().Undefined();
}

Napi::Value GroupMaxSum(const Napi::CallbackInfo& info) {
  Args a{info, "groupMaxSum"};
  a.need(6);
  const long A = a.num_long(0, "A"), N = a.num_long(1, "N"), G = a.num_long(2, "G", 1);
  prerank::group_max_sum(A, N, G, a.f32(3, "X", A * N * G), a.f32(4, "out", N), a.i32(5, "arg", A * N));
  return info.Env().Undefined();
}

Napi::Value MaxSimCross(const Napi::CallbackInfo& info) {
  Args a{info, "maxSimCross"};
  a.need(9);
  const long A = a.num_long(0, "A"), B = a.num_long(1, "B"), C = a.num_long(2, "C"), G = a.num_long(3, "G", 1),
             P = a.num_long(4, "P");
  prerank::max_sim_cross(A, B, C, G, P, a.f32(5, "heads", A * B * P), a.f32(6, "items", C * G * P),
                         a.f32(7, "out", B * C), a.i32(8, "arg", A * B * C));
  return info.Env().Undefined();
}

Napi::Value MaxSimCrossBackward(const Napi::CallbackInfo& info) {
  Args a{info, "maxSimCrossBackward"};
  a.need(11);
  const long A = a.num_long(0, "A"), B = a.num_long(1, "B"), C = a.num_long(2, "C"), G = a.num_long(3, "G", 1),
             P = a.num_long(4, "P");
  const int32_t* arg = a.i32(7, "arg", A * B * C);
  for (long i = 0; i < A * B * C; i++)
    if (arg[i] < 0 || arg[i] >= G) a.fail("arg " + std::to_string(arg[i]) + " at position " + std::to_string(i) + " is outside [0, " + std::to_string(G) + ")");
  prerank::max_sim_cross_backward(A, B, C, G, P, a.f32(5, "heads", A * B * P), a.f32(6, "items", C * G * P), arg,
                                  a.f32(8, "gOut", B * C), a.f32(9, "dHeads", A * B * P), a.f32(10, "dItems", C * G * P));
  return info.Env().Undefined();
}

Napi::Value RowDot(const Napi::CallbackInfo& info) {
  Args a{info, "rowDot"};
  a.need(5);
  const long rows = a.num_long(0, "rows"), cols = a.num_long(1, "cols"), n = rows * cols;
  prerank::row_dot(rows, cols, a.f32(2, "A", n), a.f32(3, "B", n), a.f32(4, "out", rows));
  return info.Env().Undefined();
}

Napi::Value RowScale(const Napi::CallbackInfo& info) {
  Args a{info, "rowScale"};
  a.need(5);
  const long rows = a.num_long(0, "rows"), cols = a.num_long(1, "cols"), n = rows * cols;
  prerank::row_scale(rows, cols, a.f32(2, "s", rows), a.f32(3, "X", n), a.f32(4, "out", n));
  return info.Env().Undefined();
}

Napi::Value Adam(const Napi::CallbackInfo& info) {
  Args a{info, "adam"};
  a.need(12);
  const long n = a.num_long(0, "n");
  prerank::adam(n, a.f32(1, "p", n), a.f32(2, "g", n), a.f32(3, "m", n), a.f32(4, "v", n), a.num(5, "lr"),
                a.num(6, "b1"), a.num(7, "b2"), a.num(8, "eps"), a.num(9, "wd"), a.num_d(10, "step"), a.flag(11));
  return info.Env().Undefined();
}

Napi::Value AdamRows(const Napi::CallbackInfo& info) {
  Args a{info, "adamRows"};
  a.need(13);
  const long D = a.num_long(0, "D", 1);
  const int32_t* ids = a.i32(1, "ids", 0);
  const long n_ids = a.length(1);
  if (a.length(2) % D != 0) a.fail("p length is not a multiple of D");
  const long V = a.length(2) / D;
  const long bad = prerank::adam_rows(V, D, ids, n_ids, a.f32(2, "p", V * D), a.f32(3, "g", n_ids * D),
                                      a.f32(4, "m", V * D), a.f32(5, "v", V * D), a.num(6, "lr"), a.num(7, "b1"),
                                      a.num(8, "b2"), a.num(9, "eps"), a.num(10, "wd"), a.num_d(11, "step"), a.flag(12));
  check_index(a, bad, ids, V);
  return info.Env().Undefined();
}

Napi::Value Sgd(const Napi::CallbackInfo& info) {
  Args a{info, "sgd"};
  a.need(7);
  const long n = a.num_long(0, "n");
  prerank::sgd(n, a.f32(1, "p", n), a.f32(2, "g", n), a.f32(3, "buf", n, true), a.num(4, "lr"), a.num(5, "momentum"),
               a.num(6, "wd"));
  return info.Env().Undefined();
}

Napi::Value Adagrad(const Napi::CallbackInfo& info) {
  Args a{info, "adagrad"};
  a.need(7);
  const long n = a.num_long(0, "n");
  prerank::adagrad(n, a.f32(1, "p", n), a.f32(2, "g", n), a.f32(3, "sum", n), a.num(4, "lr"), a.num(5, "eps"),
                   a.num(6, "wd"));
  return info.Env().Undefined();
}

// --- engine info and control ---

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("cpu", prerank::cpu_model());
  o.Set("isa", prerank::isa_name(prerank::active_isa()));
  o.Set("detectedIsa", prerank::isa_name(prerank::detect_isa()));
  Napi::Array supported = Napi::Array::New(info.Env());
  uint32_t k = 0;
  for (Isa isa : {Isa::avx512, Isa::avx2, Isa::portable})
    if (prerank::isa_supported(isa)) supported.Set(k++, prerank::isa_name(isa));
  o.Set("supportedIsas", supported);
  o.Set("threads", prerank::ThreadPool::get().size());
  o.Set("bf16Dot", prerank::bf16_dot_enabled());
  o.Set("bf16DotAvailable", prerank::bf16_dot_available());
  o.Set("servePieceMacs", static_cast<double>(prerank::serve_piece_macs()));
  return o;
}

Napi::Value SetBf16Dot(const Napi::CallbackInfo& info) {
  Args a{info, "setBf16Dot"};
  a.need(1);
  if (!prerank::set_bf16_dot(a.flag(0))) a.fail("this CPU or build has no bf16 dot-product instruction (AVX512_BF16)");
  return info.Env().Undefined();
}

Napi::Value SetServePiece(const Napi::CallbackInfo& info) {
  Args a{info, "setServePiece"};
  a.need(1);
  prerank::set_serve_piece_macs(a.num_long(0, "macs"));
  return info.Env().Undefined();
}

Napi::Value SetRowPrefetch(const Napi::CallbackInfo& info) {
  Args a{info, "setRowPrefetch"};
  a.need(1);
  const long rows = a.num_long(0, "rows");
  if (rows > prerank::kMaxRowPrefetch) a.fail("rows must be at most " + std::to_string(prerank::kMaxRowPrefetch) + ", got " + std::to_string(rows));
  prerank::set_row_prefetch(rows);
  return info.Env().Undefined();
}

Napi::Value SetIsa(const Napi::CallbackInfo& info) {
  Args a{info, "setIsa"};
  a.need(1);
  const std::string name = info[0].ToString();
  for (Isa isa : {Isa::avx512, Isa::avx2, Isa::portable})
    if (name == prerank::isa_name(isa)) {
      if (!prerank::set_isa(isa)) a.fail("this CPU cannot run the " + name + " path");
      return info.Env().Undefined();
    }
  a.fail("unknown ISA '" + name + "' (expected avx512, avx2 or portable)");
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  Args a{info, "setThreads"};
  a.need(1);
  const long n = a.num_long(0, "threads", 1);
  if (n > 1024) a.fail("threads must be <= 1024");
  prerank::ThreadPool::get().resize(static_cast<int>(n));
  return info.Env().Undefined();
}

Napi::Value FmaPeak(const Napi::CallbackInfo& info) {
  Args a{info, "fmaPeak"};
  a.need(3);
  const std::string name = info[0].ToString();
  int isa = -1;
  for (Isa i : {Isa::avx512, Isa::avx2, Isa::portable})
    if (name == prerank::isa_name(i)) isa = static_cast<int>(i);
  if (isa < 0 || !prerank::isa_supported(static_cast<Isa>(isa))) a.fail("ISA '" + name + "' is not available here");
  return Napi::Number::New(info.Env(), prerank::fma_peak_gflops(isa, static_cast<int>(a.num_long(1, "threads", 1)),
                                                                a.num_d(2, "seconds")));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  const std::pair<const char*, Napi::Function::Callback> fns[] = {
      {"gemm", Gemm}, {"gemmBatched", GemmBatched}, {"actForward", ActForward}, {"actBackward", ActBackward},
      {"colSum", ColSum}, {"l2norm", L2norm}, {"l2normBackward", L2normBackward}, {"softmax", Softmax},
      {"softmaxBackward", SoftmaxBackward}, {"bceLogits", BceLogits}, {"gatherRows", GatherRows},
      {"crossEntropy", CrossEntropy}, {"crossEntropyBackward", CrossEntropyBackward},
      {"pairMaxSim", PairMaxSim}, {"pairMaxSimBackward", PairMaxSimBackward},
      {"gauMaxSim", GauMaxSim}, {"gauMaxSimBackward", GauMaxSimBackward},
      {"scatterAddRows", ScatterAddRows}, {"axpy", Axpy}, {"dropout", Dropout}, {"mul", Mul},
      {"batchNormForward", BatchNormForward}, {"batchNormBackward", BatchNormBackward},
      {"layerNormForward", LayerNormForward}, {"layerNormBackward", LayerNormBackward},
      {"groupMaxSum", GroupMaxSum}, {"maxSimCross", MaxSimCross}, {"maxSimCrossBackward", MaxSimCrossBackward}, {"rowDot", RowDot}, {"rowScale", RowScale}, {"adam", Adam}, {"adamRows", AdamRows}, {"sgd", Sgd},
      {"adagrad", Adagrad}, {"info", Info}, {"setIsa", SetIsa}, {"setThreads", SetThreads}, {"setBf16Dot", SetBf16Dot}, {"setServePiece", SetServePiece}, {"setRowPrefetch", SetRowPrefetch}, {"fmaPeak", FmaPeak},
  };
  for (const auto& [name, fn] : fns) exports.Set(name, Napi::Function::New(env, fn, name));
  prerank::register_serve(env, exports);
  prerank::register_mmap(env, exports);
  prerank::register_key_lookup(env, exports);
  prerank::register_id_lookup(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(prerank_native, Init)
