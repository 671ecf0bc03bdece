// Single-precision GEMM for row-major matrices, blocked and packed, with per-ISA micro-kernels
// (AVX-512, AVX2/FMA, portable) chosen by active_isa(), multi-threaded on the ThreadPool.
#pragma once

namespace prerank {

enum class Act : int { none = 0, relu = 1 };

// Applied once per element of C after the full K reduction: C = act(C + bias[col]).
struct Epilogue {
  const float* bias = nullptr;  // length N, or nullptr
  Act act = Act::none;
};

// C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C, all row-major.
// op(A) = A stored [M,K] with lda >= K, or (transA) A stored [K,M] with lda >= M.
// op(B) = B stored [K,N] with ldb >= N, or (transB) B stored [N,K] with ldb >= K.
// beta == 0 means C is write-only (its old contents, even NaN, are ignored). K == 0 gives C = beta*C (+ epilogue).
void sgemm(bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
           int ldb, float beta, float* C, int ldc, const Epilogue& ep = Epilogue{});

// Batched: for b in [0, batch): C_b = alpha * op(A_b) op(B_b) + beta * C_b with element strides between batches.
// Meant for many small products (attention over heads): batches are spread over the threads.
void sgemm_batched(bool transA, bool transB, int batch, int M, int N, int K, float alpha, const float* A, int lda,
                   long strideA, const float* B, int ldb, long strideB, float beta, float* C, int ldc, long strideC);

// Peak FMA throughput of `isa` in GFLOP/s on `threads` threads, from a register-only kernel with 12 independent
// accumulator chains, run for about `seconds`.
double fma_peak_gflops(int isa, int threads, double seconds);

}  // namespace prerank
