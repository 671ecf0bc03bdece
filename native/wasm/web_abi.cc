// The C ABI of the WebAssembly scorer (scripts/build-wasm.mjs builds it; src/web/wasm-scorer.ts is its one caller).
// A plan is built in three kinds of call: prerank_plan_new, one prerank_plan_step per step, the score kind's own
// fields one by one (prerank_plan_number / prerank_plan_floats, keyed by name; an object's fields as
// "object.field"), then prerank_plan_finish with the kind's name. Requests run on the plan's own scratch (the module
// has one thread). Pointers are offsets into the module's memory, from prerank_alloc.
//
// This build has no exception handling: a throw (a spec the TS side let through, serve.cc's own checks) reaches
// __cxa_throw below, which hands the message to the imported env.prerank_throw; that function throws a JS Error,
// which unwinds the wasm frames to the caller (no destructors run: the objects of that call leak, a few bytes).
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <vector>

#include "../serve.h"

#define WEB_EXPORT(name) extern "C" __attribute__((export_name(#name))) __attribute__((used))

__attribute__((import_module("env"), import_name("prerank_throw"))) extern "C" void prerank_throw(const char* msg, int len);

extern "C" void* __cxa_allocate_exception(size_t n) noexcept { return std::malloc(n); }

// Every exception the serving code throws derives from std::exception alone, so the object starts with it.
extern "C" [[noreturn]] void __cxa_throw(void* obj, std::type_info*, void (*)(void*)) {
  const char* what = static_cast<std::exception*>(obj)->what();
  prerank_throw(what, static_cast<int>(std::strlen(what)));
  __builtin_trap();
}

// thread_local objects (the widening buffers) live as long as the module, which has one thread that never exits.
extern "C" int __cxa_thread_atexit(void (*)(void*), void*, void*) { return 0; }

namespace prerank {
namespace {

// A score kind's fields as the JS side set them: numbers (integers and booleans too) and float arrays by key.
class MapFields final : public SpecFields {
 public:
  std::map<std::string, double> numbers;
  std::map<std::string, std::vector<float>> arrays;
  std::string prefix;

  int integer(const char* key) const override {
    const double v = number_of(key);
    if (!(v >= 0 && v <= 2147483647.0) || v != static_cast<int>(v)) fail(key, "must be a non-negative integer");
    return static_cast<int>(v);
  }
  float number(const char* key) const override { return static_cast<float>(number_of(key)); }
  bool boolean(const char* key) const override { return number_of(key) != 0; }
  std::vector<float> floats(const char* key) const override {
    const auto it = arrays.find(prefix + key);
    if (it == arrays.end()) fail(key, "must be a Float32Array");
    return it->second;
  }
  std::unique_ptr<SpecFields> object(const char* key) const override {
    auto sub = std::make_unique<MapFields>(*this);
    sub->prefix = prefix + key + ".";
    return sub;
  }

 private:
  double number_of(const char* key) const {
    const auto it = numbers.find(prefix + key);
    if (it == numbers.end()) fail(key, "must be a number");
    return it->second;
  }
  [[noreturn]] void fail(const char* key, const char* what) const {
    throw std::invalid_argument("spec.score." + prefix + key + " " + what);
  }
};

struct Builder {
  int arena, input, rep_offset, rep_len;
  std::vector<ServeStep> steps;
  MapFields fields;
};

struct Plan {
  ServePlan plan;
  ServeScratch scratch;
};

}  // namespace
}  // namespace prerank

using prerank::Builder;
using prerank::Plan;
using prerank::serve_detail::ItemFormat;
using prerank::serve_detail::ItemRows;

WEB_EXPORT(prerank_alloc) void* prerank_alloc(size_t n) { return std::aligned_alloc(16, (n + 15) / 16 * 16); }
WEB_EXPORT(prerank_free) void prerank_free(void* p) { std::free(p); }

WEB_EXPORT(prerank_plan_new) Builder* prerank_plan_new(int arena, int input, int rep_offset, int rep_len) {
  return new Builder{arena, input, rep_offset, rep_len, {}, {}};
}

// kind: ServeStep::Kind; w and b are copied (b_len 0: no bias / shift).
WEB_EXPORT(prerank_plan_step) void prerank_plan_step(Builder* b, int kind, int src, int dst, int aux, int in, int out, int rows,
                                                     int tail, int act, int residual, float eps, float scale, const float* w,
                                                     int w_len, const float* bias, int b_len) {
  prerank::ServeStep s{};
  if (kind < prerank::ServeStep::kLinear || kind > prerank::ServeStep::kFieldGate) throw std::invalid_argument("unknown step kind");
  s.kind = static_cast<prerank::ServeStep::Kind>(kind);
  s.src = src, s.dst = dst, s.aux = aux, s.in = in, s.out = out, s.rows = rows, s.tail = tail, s.act = act;
  s.residual = residual != 0, s.eps = eps, s.scale = scale;
  s.w.assign(w, w + w_len);
  s.b.assign(bias, bias + b_len);
  b->steps.push_back(std::move(s));
}

WEB_EXPORT(prerank_builder_free) void prerank_builder_free(Builder* b) { delete b; }

WEB_EXPORT(prerank_plan_number) void prerank_plan_number(Builder* b, const char* key, double v) { b->fields.numbers[key] = v; }
WEB_EXPORT(prerank_plan_floats) void prerank_plan_floats(Builder* b, const char* key, const float* p, int n) {
  b->fields.arrays[key].assign(p, p + n);
}

// The plan (the builder's steps move into it: free the builder after); throws (through env.prerank_throw) when the
// spec is inconsistent.
WEB_EXPORT(prerank_plan_finish) Plan* prerank_plan_finish(Builder* b, const char* kind, float scale, float bias) {
  prerank::ServeScore score;
  for (const prerank::ScoreKindEntry& e : prerank::score_kinds())
    if (std::strcmp(kind, e.name) == 0) score.kind = e.parse(b->fields, b->rep_len);
  if (!score.kind) throw std::invalid_argument("spec.score.kind '" + std::string(kind) + "' is not one of " + prerank::score_kind_names());
  score.scale = scale, score.bias = bias;
  return new Plan{prerank::ServePlan(b->arena, b->input, b->rep_offset, b->rep_len, std::move(b->steps), std::move(score)), {}};
}

WEB_EXPORT(prerank_plan_delete) void prerank_plan_delete(Plan* p) { delete p; }
WEB_EXPORT(prerank_plan_input_len) int prerank_plan_input_len(const Plan* p) { return p->plan.input_len(); }
WEB_EXPORT(prerank_plan_rep_len) int prerank_plan_rep_len(const Plan* p) { return p->plan.rep_len(); }
WEB_EXPORT(prerank_plan_item_dim) int prerank_plan_item_dim(const Plan* p) { return p->plan.item_dim(); }
WEB_EXPORT(prerank_plan_macs) double prerank_plan_macs(const Plan* p) { return static_cast<double>(p->plan.macs_per_item()); }

// rep[0, rep_len) = the user tower on input[0, input_len).
WEB_EXPORT(prerank_encode) void prerank_encode(Plan* p, const float* input, float* rep) {
  const float* r = p->plan.encode(input, p->scratch);
  std::memcpy(rep, r, sizeof(float) * p->plan.rep_len());
}

// Scores of m candidates (table row rows[k], or k when rows is null) into scores, and the best n of them into top
// (best first; returns how many). from_rep: `user` is the user rep instead of the tower input. fmt: ItemFormat
// (0 float32, 1 bfloat16 bits, 2 float16 bits, 3 int8 with one float32 scale per table row). The caller has checked
// the row indices and lengths.
WEB_EXPORT(prerank_score) long prerank_score(Plan* p, int from_rep, const float* user, int fmt, const void* table, const float* scales,
                                             const int32_t* rows, long m, float* scores, long n, int32_t* top) {
  ItemRows items{nullptr, p->plan.item_dim(), rows};
  items.fmt = static_cast<ItemFormat>(fmt);
  if (items.fmt == ItemFormat::f32) items.table = static_cast<const float*>(table);
  else if (items.fmt == ItemFormat::i8) items.table8 = static_cast<const int8_t*>(table), items.scales = scales;
  else items.table16 = static_cast<const uint16_t*>(table);
  return from_rep ? prerank::serve_request_rep(p->plan, user, items, m, scores, n, top, p->scratch)
                  : prerank::serve_request(p->plan, user, items, m, scores, n, top, p->scratch);
}

// The SIMD128 kernels on (the default) or off (the portable ones); returns whether they are on.
WEB_EXPORT(prerank_set_simd) int prerank_set_simd(int on) {
  prerank::serve_detail::set_wasm128(on != 0);
  return prerank::serve_detail::serve_kernels_wasm128() != nullptr;
}

// What this module was compiled for (scripts/build-wasm.mjs): 2 SIMD128 with relaxed SIMD's multiply-add, 1 SIMD128,
// 0 scalar code only (prerank_set_simd then keeps the portable kernels).
WEB_EXPORT(prerank_build_isa) int prerank_build_isa() {
#if defined(__wasm_relaxed_simd__)
  return 2;
#elif defined(__wasm_simd128__)
  return 1;
#else
  return 0;
#endif
}
