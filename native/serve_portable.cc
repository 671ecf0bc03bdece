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
inline V vmaxn(V a, V b) { return a > b || a != a ? a : b; }
inline V vadd(V a, V b) { return a + b; }
inline float hsum(V v) { return v; }
#define SERVE_TILES(X) X(4, 1) X(4, 2) X(4, 3) X(4, 4) X(8, 1) X(8, 2)

#include "serve_kernels.inc"

// IEEE half bits -> float (subnormals, infinities and NaN included).
float from_half(uint16_t h) {
  const int e = (h >> 10) & 0x1f, m = h & 0x3ff;
  const float sign = (h & 0x8000) ? -1.f : 1.f;
  if (e == 0) return sign * std::ldexp(static_cast<float>(m), -24);
  if (e == 0x1f) return m ? NAN : sign * INFINITY;
  return sign * std::ldexp(static_cast<float>(m | 0x400), e - 25);
}

void widen(ItemFormat fmt, const uint16_t* src, float* dst, long n) {
  for (long i = 0; i < n; ++i) dst[i] = fmt == ItemFormat::bf16 ? from_bf16(src[i]) : from_half(src[i]);
}

}  // namespace portable

const ServeKernels* serve_kernels_portable() {
  // Every score kind has an entry here: a kind an ISA file leaves out runs this build's kernel there.
  static const ServeKernels k = [] {
    ServeKernels k{portable::VW, portable::gemv, portable::widen, portable::widen8, nullptr};
    k.add(kDot, portable::dot);
    k.add(kMaxSim, portable::maxsim);
    k.add(kCentroidMaxSim, portable::centroid_maxsim);
    k.add(kRankTower, portable::ranktower);
    return k;
  }();
  return &k;
}

}  // namespace serve_detail
}  // namespace prerank
