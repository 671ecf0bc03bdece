// Private interface between the serving driver (serve.cc) and its per-ISA kernels (serve_avx512.cc,
// serve_avx2.cc, serve_portable.cc, all generated from serve_kernels.inc). One user against many items: the
// kernels read item rows in place from the item table (through a row-index list) and never materialise a
// [user heads, item heads] similarity matrix. Shape letters: R user heads (L*H), H item heads, P head size,
// N items, I item rep width (row stride of the table).
#pragma once
#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace prerank {
namespace serve_detail {

// How the item reps are stored: float32, 16-bit bfloat16 / IEEE half bits, or int8 with a float32 scale per row
// (x = q * scale): a bundle's float32 / bfloat16 / float16 / int8 table.
enum class ItemFormat : int { f32 = 0, bf16 = 1, f16 = 2, i8 = 3 };

// Where the candidates' item reps are: row rows[n] (or n when rows is null) of a row-major table with stride ld,
// `table` for float32 storage, `table16` for 16-bit storage, `table8` + `scales` (one per table row) for int8. A bf16 table may also come as float32 values that are
// exactly bfloat16 (decoded by a store): fmt says bf16 while table16 is null; dot and max-sim then round the user
// rep to bfloat16 just the same, so a request scores alike from either storage.
struct ItemRows {
  const float* table;
  long ld;
  const int32_t* rows;
  const uint16_t* table16 = nullptr;
  const int8_t* table8 = nullptr;
  const float* scales = nullptr;
  ItemFormat fmt = ItemFormat::f32;
  long index(long n) const { return rows ? static_cast<long>(rows[n]) : n; }
  const float* row(long n) const { return table + index(n) * ld; }
  const uint16_t* row16(long n) const { return table16 + index(n) * ld; }
  const int8_t* row8(long n) const { return table8 + index(n) * ld; }
  float scale(long n) const { return scales[index(n)]; }
};

// FE-Block max-sim for one user: out[n] = sum over user heads r of max over item heads h of <u_r, v_{n,h}>.
struct MaxSimArgs {
  // the user heads packed transposed and zero-padded: (p, r) at ut[p * rpad + r]; for max-sim over a bfloat16 table
  // with dot-product instructions (Bf16Kernels::maxsim), 32-bit words holding the bf16 pair (p = 2q, 2q + 1) at q * rpad + r
  const float* ut;
  int rpad;         // R rounded up to a whole number of vectors (padded heads are zero: max 0, adds nothing)
  int R;            // user heads (rows of the user rep)
  int P, H;
  ItemRows items;
  float* out;
};

// RankTower's per-pair part for one user: out[n] = sum over user sub-spaces of the max cosine over item sub-spaces
// of the attended sub-spaces (LN(E_q + (U * softmax(Q K^T / sqrt d) V) W_o + b_o), one GAU per direction), or of
// the raw sub-spaces when cross is false. Reps: user [E_u | Q_u | U_u | K'_u | V'_u], item [E_i | K_i | V_i | Q'_i |
// U'_i] (widths H*k, H*d, H*v, H*d, H*v; only E without cross).
struct GauBranch {
  const float* wo;  // [v, k]
  const float* bo;  // [k]
  const float* gamma;
  const float* beta;
};

// RankTower scores items in blocks of this many (one W_o GEMM per block). A GEMM's rounding can depend on where a row
// falls in its tiles, so callers split the item range on whole blocks: a candidate's score then does not depend on
// how a request was split over threads (the same request gives the same scores on or off the event loop).
constexpr long kRankTowerBlock = 64;

struct RankTowerArgs {
  int hu, hi, k, d, v;
  bool cross;
  float eps;  // LayerNorm
  const float* user;
  GauBranch u2i, i2u;
  ItemRows items;
  float* out;
};

// Centroid max-sim for one user (PLAID's centroid interaction): out[n] = sum over user heads r of max over item heads
// h of st[codes[rows[n] * H + h] * rpad + r], the max-sim score with every item head replaced by its centroid, from the
// user heads' scores against every centroid (st [C, rpad], centroid-major; columns R..rpad-1 zero). Codes and rows are
// checked by the caller.
struct CentroidMaxSimArgs {
  const float* st;
  int rpad;  // a multiple of 16 (the widest vector)
  int H;
  const uint16_t* codes;  // [items, H]
  const int32_t* rows;
  float* out;
};

// The score kernels of one ISA by name: each ISA file adds one named entry per score kind it compiles
// (`k.add(kDot, avx2::dot)`), and a score kind looks its kernel up with the same key. The key carries the kernel's
// function type, so an entry of the wrong type does not compile. A kind with no entry for the active ISA runs the
// portable build's (kernels_with in serve_score.h).
template <class Fn>
struct KernelKey {
  const char* name;
};

// out[n] = <u, item n> for n in [n0, n1) (u and the item reps have `dim` floats).
using DotKernel = void (*)(int dim, const float* u, const ItemRows& items, long n0, long n1, float* out);
// MaxSimArgs::out[n] for n in [n0, n1).
using MaxSimKernel = void (*)(const MaxSimArgs& a, long n0, long n1);
// RankTowerArgs::out[n] for n in [n0, n1); n0 a multiple of kRankTowerBlock.
using RankTowerKernel = void (*)(const RankTowerArgs& a, long n0, long n1);
// CentroidMaxSimArgs::out[n] for n in [n0, n1).
using CentroidMaxSimKernel = void (*)(const CentroidMaxSimArgs& a, long n0, long n1);
inline constexpr KernelKey<DotKernel> kDot{"dot"};
inline constexpr KernelKey<CentroidMaxSimKernel> kCentroidMaxSim{"centroidMaxSim"};
inline constexpr KernelKey<MaxSimKernel> kMaxSim{"maxsim"};
inline constexpr KernelKey<RankTowerKernel> kRankTower{"rankTower"};

struct ServeKernels {
  using Gemv = void (*)(int in, int out, const float* x, const float* w, const float* b, bool relu, float* y, int c0, int c1);
  using Widen = void (*)(ItemFormat fmt, const uint16_t* src, float* dst, long n);
  using Widen8 = void (*)(const int8_t* src, float scale, float* dst, long n);
  ServeKernels(int vw, Gemv gemv, Widen widen, Widen8 widen8, const struct Bf16Kernels* bf16)
      : vw(vw), gemv(gemv), widen(widen), widen8(widen8), bf16(bf16) {}

  int vw;  // floats per vector (user heads are padded to a multiple of this)
  // y[c] = act(sum_i x[i] W[i, c] + b[c]) for columns c in [c0, c1); W row-major [in, out]; b may be null.
  Gemv gemv;
  // dst[i] = the float32 value of the 16-bit src[i] (fmt bf16 or f16), i < n.
  Widen widen;
  // dst[i] = src[i] * scale (an int8 row), i < n.
  Widen8 widen8;
  // Kernels over bfloat16 tables with the CPU's bf16 dot-product instruction; null when this build or CPU has none
  // (the table is then widened block by block and scored by the float32 kernels).
  const struct Bf16Kernels* bf16;

  // Registers the kernel of the score kind `key` names (a name registered twice keeps the last).
  template <class Fn>
  void add(KernelKey<Fn> key, Fn fn) {
    for (int i = 0; i < count; ++i)
      if (std::strcmp(named[i].name, key.name) == 0) {
        named[i].fn = reinterpret_cast<void (*)()>(fn);
        return;
      }
    if (count == kMaxKinds) throw std::length_error("serve kernels: more score kinds than kMaxKinds");
    named[count++] = Named{key.name, reinterpret_cast<void (*)()>(fn)};
  }
  // The kernel registered under key's name, or null.
  template <class Fn>
  Fn get(KernelKey<Fn> key) const {
    for (int i = 0; i < count; ++i)
      if (std::strcmp(named[i].name, key.name) == 0) return reinterpret_cast<Fn>(named[i].fn);
    return nullptr;
  }

 private:
  static constexpr int kMaxKinds = 16;
  struct Named {
    const char* name = "";
    void (*fn)() = nullptr;
  };
  Named named[kMaxKinds];
  int count = 0;
};

// Round to nearest even float32 -> bfloat16 bits (NaN stays NaN).
inline uint16_t to_bf16(float x) {
  uint32_t b;
  __builtin_memcpy(&b, &x, sizeof b);
  if ((b & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((b >> 16) | 0x40);
  return static_cast<uint16_t>((b + 0x7fffu + ((b >> 16) & 1u)) >> 16);
}
inline float from_bf16(uint16_t h) {
  const uint32_t b = static_cast<uint32_t>(h) << 16;
  float x;
  __builtin_memcpy(&x, &b, sizeof x);
  return x;
}

// nullptr when the path is not compiled in (non-x86 builds have only the portable one).
const ServeKernels* serve_kernels_avx512();
const ServeKernels* serve_kernels_avx2();
const ServeKernels* serve_kernels_portable();
// The WebAssembly SIMD128 build (serve_wasm128.cc): the kernels of a wasm build unless set_wasm128(false) turned
// them off (then the portable ones run); nullptr in every other build.
const ServeKernels* serve_kernels_wasm128();
void set_wasm128(bool on);
// Scoring straight from a bfloat16 table (items.table16) with bf16 user values, float32 sums.
struct Bf16Kernels {
  // MaxSimArgs::out[n] for n in [n0, n1); ut holds the user heads as bf16 pairs (MaxSimArgs); P even.
  void (*maxsim)(const MaxSimArgs& a, long n0, long n1);
  // out[n] = <u, item n> for n in [n0, n1); u is `dim` bf16 values.
  void (*dot)(int dim, const uint16_t* u, const ItemRows& items, long n0, long n1, float* out);
};

// The AVX512_BF16 kernels, or null when not compiled in or not supported by this CPU.
const Bf16Kernels* bf16_kernels_avx512();

// How many candidate rows ahead of the one it scores a kernel prefetches (serve.cc: set_row_prefetch).
long row_prefetch();

// Asks for the cache lines of [p, p + bytes). An asm statement on x86, not __builtin_prefetch: GCC 12 removed the
// builtin's loops from the serving kernels as dead code (no prefetch instruction was emitted at all).
inline void prefetch_bytes(const void* p, long bytes) {
  const char* c = static_cast<const char*>(p);
  for (long b = 0; b < bytes; b += 64) {
#if defined(__x86_64__) || defined(__i386__)
    __asm__ volatile("prefetcht0 %0" : : "m"(c[b]));
#else
    __builtin_prefetch(c + b);
#endif
  }
}

}  // namespace serve_detail
}  // namespace prerank
