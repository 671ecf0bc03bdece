// Max-sim over every (user, item) pair (kernels.h max_sim_cross, max_sim_cross_backward).
// Forward: the similarities of a block of users' heads against a block of items' heads are a GEMM into a tile that
// stays in L2, reduced to each (head, item) pair's max before the next tile; the [B*A, C*G] similarities a GEMM over
// the whole batch would write (430 MB for 700 users x 800 items x 24 x 8 heads) never reach memory.
// Backward: for each head and item only the winning item head gets a gradient, so the work is 1/G of the dense
// products' that the composed backward (a zero-filled [B*A, C*G] gradient and two GEMMs) did. Rows of heads are
// spread over the pool; their items' gradients add up across tasks (run_accumulating).
#include <algorithm>
#include <cstdint>
#include <vector>

#include "cpu.h"
#include "gemm.h"
#include "kernels.h"
#include "pool.h"

namespace prerank {
namespace msc {

struct Args {
  long A, B, C, G, P;
  const float* heads;
  const float* items;
  const int32_t* arg;
  const float* gout;
  float* dheads;
};

}  // namespace msc
}  // namespace prerank

// The loops once per instruction set (portable, AVX2, AVX-512): the forward's tile reduction, the backward.
#define PRERANK_ISA_NS prerank::mscmax
#define PRERANK_ISA_FILE "max_sim_cross_max.inc"
#include "isa_copies.inc"
#define PRERANK_ISA_NS prerank::msc
#define PRERANK_ISA_FILE "max_sim_cross.inc"
#include "isa_copies.inc"

namespace prerank {

namespace {

// Tile sizes: 128 users' heads against 64 items' G = 8 heads is a 256 KB similarity tile beside a 128 KB block of
// item heads, both within a 1 MB L2.
constexpr long kUsersPerTile = 128;
constexpr long kTileFloats = 1L << 16;

}  // namespace

void max_sim_cross(long A, long B, long C, long G, long P, const float* heads, const float* items, float* out,
                   int32_t* arg) {
  const auto reduce = mscmax::active_range();
  const long n_max = std::max<long>(1, kTileFloats / (kUsersPerTile * G));
  const long blocks = (B + kUsersPerTile - 1) / kUsersPerTile;
  const int tasks = static_cast<int>(std::max<long>(1, std::min<long>(ThreadPool::get().size(), blocks)));
  ThreadPool::get().run(tasks, [&](int t) {
    const long b0 = std::min(B, blocks * t / tasks * kUsersPerTile), b1 = std::min(B, blocks * (t + 1) / tasks * kUsersPerTile);
    std::fill(out + b0 * C, out + b1 * C, 0.f);
    std::vector<float> tile(kUsersPerTile * G * n_max), block(G * n_max * P);
    for (long c0 = 0; c0 < C; c0 += n_max) {
      const long n = std::min(C, c0 + n_max) - c0;
      // The block's item heads g-major (row g*n + j = item c0+j's head g), so each tile row is [G][n].
      for (long j = 0; j < n; j++)
        for (long g = 0; g < G; g++)
          std::copy_n(items + ((c0 + j) * G + g) * P, P, block.data() + (g * n + j) * P);
      for (long u0 = b0; u0 < b1; u0 += kUsersPerTile) {
        const long users = std::min(b1, u0 + kUsersPerTile) - u0;
        for (long a = 0; a < A; a++) {  // in order: out[b, c] sums the heads as a plain loop over a would
          sgemm(false, true, static_cast<int>(users), static_cast<int>(G * n), static_cast<int>(P), 1.f,
                heads + (u0 * A + a) * P, static_cast<int>(A * P), block.data(), static_cast<int>(P), 0.f, tile.data(),
                static_cast<int>(G * n));
          reduce(tile.data(), users, n, G, out + u0 * C + c0, arg + a * B * C + u0 * C + c0, C);
        }
      }
    }
  });
}

void max_sim_cross_backward(long A, long B, long C, long G, long P, const float* heads, const float* items,
                            const int32_t* arg, const float* gout, float* dheads, float* ditems) {
  const auto range = msc::active_range();
  const msc::Args x{A, B, C, G, P, heads, items, arg, gout, dheads};
  const long rows = A * B;
  std::fill(dheads, dheads + rows * P, 0.f);  // each (head, user) row belongs to one task
  const int tasks = static_cast<int>(std::max<long>(1, std::min<long>(ThreadPool::get().size(), rows / 8)));
  run_accumulating(tasks, {{ditems, C * G * P}}, [&](int t, const FloatSpan* di) {
    range(x, rows * t / tasks, rows * (t + 1) / tasks, di[0].data);
  });
}

}  // namespace prerank
