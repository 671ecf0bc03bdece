// Portable build of the serving kernels (serve_kernels.inc) with one float as the "vector": any CPU, and the
// reference the SIMD builds are tested against.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cmath>
#include <vector>

#include "gemm.h"
#include "serve_kernels.h"

namespace prerank {
namespace serve_detail {
namespace portable {

using V = float;
constexpr int VW = 1;
inline V vzero() { return 0.f; }
inline V vload(const float* p) { return *p; }
inline void vstore(float* p, V v) { *p = v; }
inline V vbcast(float x) { return x; }
inline V vfma(V a, V b, V c) { return a * b + c; }
inline V vmax(V a, V b) { return a > b ? a : b; }
inline V vadd(V a, V b) { return a + b; }
inline float hsum(V v) { return v; }
#define SERVE_TILES(X) X(4, 1) X(4, 2) X(4, 3) X(4, 4) X(8, 1) X(8, 2)

#include "serve_kernels.inc"

}  // namespace portable

const ServeKernels* serve_kernels_portable() {
  static const ServeKernels k{portable::VW, portable::gemv, portable::dot, portable::maxsim, portable::ranktower};
  return &k;
}

}  // namespace serve_detail
}  // namespace prerank
