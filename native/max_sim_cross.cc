// The backward of max-sim over every (user, item) pair (kernels.h max_sim_cross_backward): for each head and item
// only the winning item head gets a gradient, so the work is 1/G of the dense products' that the composed backward
// (a zero-filled [A*B, C*G] gradient and two GEMMs) did. Rows of heads are spread over the pool; each task adds
// into dItems rows of its own, summed at the end.
#include <algorithm>
#include <cstdint>
#include <vector>

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
  auto range = msc::portable::range;
#if defined(__x86_64__)
  if (active_isa() == Isa::avx512) range = msc::avx512::range;
  else if (active_isa() == Isa::avx2) range = msc::avx2::range;
#endif
  const msc::Args x{A, B, C, G, P, heads, items, arg, gout, dheads};
  const long rows = A * B, ni = C * G * P;
  std::fill(dheads, dheads + rows * P, 0.f);
  std::fill(ditems, ditems + ni, 0.f);
  const int tasks = static_cast<int>(std::max<long>(1, std::min<long>(ThreadPool::get().size(), rows / 8)));
  std::vector<std::vector<float>> own(tasks - 1);  // task 0 adds into ditems itself
  ThreadPool::get().run(tasks, [&](int t) {
    float* di = ditems;
    if (t > 0) {
      own[t - 1].assign(ni, 0.f);
      di = own[t - 1].data();
    }
    range(x, rows * t / tasks, rows * (t + 1) / tasks, di);
  });
  for (const std::vector<float>& b : own)
    for (long j = 0; j < ni; j++) ditems[j] += b[j];
}

}  // namespace prerank
