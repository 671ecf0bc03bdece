// The backward of max-sim over every (user, item) pair (kernels.h max_sim_cross_backward): for each head and item
// only the winning item head gets a gradient, so the work is 1/G of the dense products' that the composed backward
// (a zero-filled [A*B, C*G] gradient and two GEMMs) did. Rows of heads are spread over the pool; their items'
// gradients add up across tasks (run_accumulating).
#include <algorithm>
#include <cstdint>

#include "cpu.h"
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

// The loops once per instruction set (portable, AVX2, AVX-512).
#define PRERANK_ISA_NS prerank::msc
#define PRERANK_ISA_FILE "max_sim_cross.inc"
#include "isa_copies.inc"

namespace prerank {

void max_sim_cross_backward(long A, long B, long C, long G, long P, const float* heads, const float* items,
                            const int32_t* arg, const float* gout, float* dheads, float* ditems) {
  const auto range = msc::active_range();
  const msc::Args x{A, B, C, G, P, heads, items, arg, gout, dheads};
  const long rows = A * B;
  std::fill(dheads, dheads + rows * P, 0.f);  // each head's row belongs to one task
  const int tasks = static_cast<int>(std::max<long>(1, std::min<long>(ThreadPool::get().size(), rows / 8)));
  run_accumulating(tasks, {{ditems, C * G * P}}, [&](int t, const FloatSpan* di) {
    range(x, rows * t / tasks, rows * (t + 1) / tasks, di[0].data);
  });
}

}  // namespace prerank
