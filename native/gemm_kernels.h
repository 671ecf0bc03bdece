// Private interface between the GEMM driver (gemm.cc) and the per-ISA kernel files (gemm_avx512.cc,
// gemm_avx2.cc, gemm_portable.cc): micro-kernel, packing routines, blocking sizes and the FMA peak probe.
#pragma once

namespace prerank {
namespace gemm_detail {

// One micro-tile: C[m,n] = act(alpha * A_panel * B_panel + beta * C + bias), with m <= mr, n <= nr.
struct TileArgs {
  int k;
  const float* a;    // A micro-panel, packed (see Kernel::pack_a) or read in place
  bool a_rows;       // layout: true = rows, (i, p) at a[i * a_rs + p]; false = columns, (i, p) at a[p * a_ks + i]
  long a_rs;         // row layout: kcs when packed, lda when read in place from a row-major A
  long a_ks;         // column layout: mr when packed, lda when read in place from a transposed A
  const float* b;    // B: element (p, j) at b[p * ldb + j]
  long ldb;          // nr for a packed (zero-padded) panel, else the row stride of a row-major B
  bool b_packed;     // false: columns >= n must not be read
  float* c;
  long ldc;
  int m, n;
  float alpha, beta;  // beta == 0: C is not read
  const float* bias;  // nullptr, or bias for column 0 of the tile (only on the last K block)
  bool relu;          // only on the last K block
};

struct Kernel {
  int mr, nr;          // micro-tile
  int kc, mc, nc;      // cache blocking: K block (at most kc + 7 after balancing), rows of A packed at a time,
                       // columns of B packed at a time
  int kcs;             // row stride of the row layout of packed A (>= kc + 7); 0: the kernel only takes the
                       // column layout and needs A packed (portable). Non-zero also means the tile can read
                       // A in place in either layout (runtime a_rs / a_ks).
  void (*tile)(const TileArgs& t);
  // Packs rows [0,m) x cols [0,k) of op(A) (A stored [M,K], or [K,M] when trans) into ceil(m/mr) panels.
  // Row layout (when kcs != 0 and !trans: a plain copy of the rows): panel stride mr*kcs, (i,p) at i*kcs+p.
  // Column layout (otherwise): panel stride mr*k, (i,p) at p*mr+i. Rows >= m of the last panel are
  // unspecified (the tile never uses them).
  void (*pack_a)(bool trans, const float* A, long lda, int m, int k, float* dst);
  // Packs rows [0,k) x cols [0,n) of op(B) (B stored [K,N], or [N,K] when trans) into ceil(n/nr) panels of
  // k*nr floats; columns >= n are zero.
  void (*pack_b)(bool trans, const float* B, long ldb, int k, int n, float* dst);
  // Optional (nullptr: generic loops): C[M,N] = alpha * A B^T + beta * C (beta == 0: C not read) for
  // row-major A [M,K] and B [N,K] (dot products of contiguous rows), for tiny batched products.
  void (*dot_nt)(int M, int N, int K, float alpha, const float* A, long lda, const float* B, long ldb, float beta,
                 float* C, long ldc);
  // Single-thread FMA throughput in GFLOP/s over about `seconds` (12 register accumulator chains).
  double (*peak)(double seconds);
};

// nullptr when the path is not compiled in (non-x86 builds).
const Kernel* kernel_avx512();
const Kernel* kernel_avx2();
const Kernel* kernel_portable();

#if defined(__x86_64__)
// AVX2 helpers shared by the AVX-512 path (pack: mr >= 4, nr a multiple of 8, kcs > 0 as in Kernel).
void pack_a_avx2(int mr, int kcs, bool trans, const float* A, long lda, int m, int k, float* dst);
void pack_b_avx2(int nr, bool trans, const float* B, long ldb, int k, int n, float* dst);
void dot_nt_avx2(int M, int N, int K, float alpha, const float* A, long lda, const float* B, long ldb, float beta,
                 float* C, long ldc);
#endif

}  // namespace gemm_detail
}  // namespace prerank
