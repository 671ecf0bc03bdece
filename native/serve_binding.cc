// The JS binding of serving (serve.h): new ServePlan(spec); plan.encode(input, rep); plan.score(input, table, rows, m,
// scores, n, top) (sync); plan.scoreAsync(input, table, rows, m, n) -> Promise<{scores, top}> (on a libuv worker
// thread); plan.scoreRep(rep, table, rows, m, scores, n, top): the same from a given user rep (no tower). Every
// argument is checked here (napi_args.h) and a plan spec is read field by field, each error naming its field; the
// score's own fields go to the score kind its spec names (serve_score.h).
#include <napi.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "napi_args.h"
#include "napi_spec.h"
#include "serve.h"

namespace prerank {
namespace {

using napi::Args;
using napi::JsFields;
using serve_detail::ItemFormat;
using serve_detail::ItemRows;

// The candidates of one call, validated: candidate k is table row rows[k] (or k when rows is null).
struct Candidates {
  const float* input;
  ItemRows items;
  long m;
};

// The candidates of a call; argument 0 is the tower input (input_len floats) or, for scoreRep, a given user rep
// (rep_len floats) in its place. Argument `fmt_at` (optional) names the table's format: 'float32' (the default),
// 'bfloat16' (a Uint16Array of bf16 bits, or a Float32Array of values that are exactly bf16), 'float16' (a
// Uint16Array of IEEE half bits) or 'int8' (an Int8Array, with argument fmt_at + 1 its Float32Array of row scales).
Candidates candidates(const Args& a, const ServePlan& plan, size_t fmt_at, bool rep = false) {
  const float* input = rep ? a.f32(0, "rep", plan.rep_len()) : a.f32(0, "input", plan.input_len());
  const long dim = plan.item_dim();
  ItemFormat fmt = ItemFormat::f32;
  if (a.info.Length() > fmt_at && !a.info[fmt_at].IsUndefined()) {
    const std::string f = a.info[fmt_at].ToString();
    if (f == "bfloat16") fmt = ItemFormat::bf16;
    else if (f == "float16") fmt = ItemFormat::f16;
    else if (f == "int8") fmt = ItemFormat::i8;
    else if (f != "float32") a.fail("argument dtype '" + f + "' is not one of float32, bfloat16, float16, int8");
  }
  const napi_typedarray_type type = a.info[1].IsTypedArray() ? a.info[1].As<Napi::TypedArray>().TypedArrayType() : napi_float32_array;
  const bool bits16 = type == napi_uint16_array;
  if (bits16 && (fmt == ItemFormat::f32 || fmt == ItemFormat::i8)) a.fail("argument table is a Uint16Array: give its dtype (bfloat16 or float16)");
  if (!bits16 && fmt == ItemFormat::f16) a.fail("argument table must be a Uint16Array of float16 bits");
  if ((type == napi_int8_array) != (fmt == ItemFormat::i8)) a.fail("argument table: an int8 table is an Int8Array given with dtype int8 and its row scales");
  ItemRows items{nullptr, dim, nullptr};
  items.fmt = fmt;
  if (bits16) items.table16 = a.array<uint16_t, napi_uint16_array>(1, "table", 0, false, "Uint16Array");
  else if (fmt == ItemFormat::i8) items.table8 = a.array<int8_t, napi_int8_array>(1, "table", 0, false, "Int8Array");
  else items.table = a.f32(1, "table", 0);
  const long table_rows = a.length(1) / dim;
  if (fmt == ItemFormat::i8) items.scales = a.f32(fmt_at + 1, "scales", table_rows);
  const long m = a.num_long(3, "m");
  const bool indexed = !(a.info[2].IsNull() || a.info[2].IsUndefined());
  const int32_t* rows = indexed ? a.i32(2, "rows", m) : nullptr;
  if (indexed) {
    for (long k = 0; k < m; ++k)
      if (rows[k] < 0 || rows[k] >= table_rows)
        a.fail("rows[" + std::to_string(k) + "] = " + std::to_string(rows[k]) + " is outside the table's " + std::to_string(table_rows) + " rows");
  } else if (m > table_rows) {
    a.fail("m = " + std::to_string(m) + " candidates but the table has " + std::to_string(table_rows) + " rows of " + std::to_string(dim));
  }
  items.rows = rows;
  return {input, items, m};
}

// One scoreAsync call: inputs copied or pinned (the table and row list stay referenced until it settles).
class ScoreWorker : public Napi::AsyncWorker {
 public:
  ScoreWorker(Napi::Env env, std::shared_ptr<const ServePlan> plan, const Candidates& c, long n, Napi::Value table, Napi::Value rows,
              Napi::Value scales)
      : Napi::AsyncWorker(env), plan_(std::move(plan)), input_(c.input, c.input + plan_->input_len()), items_(c.items), m_(c.m),
        n_(n), deferred_(Napi::Promise::Deferred::New(env)), scores_(c.m), top_(std::min(n, c.m)) {
    table_ = Napi::Persistent(table.As<Napi::Object>());
    if (items_.rows) rows_ = Napi::Persistent(rows.As<Napi::Object>());
    if (items_.scales) scales_ = Napi::Persistent(scales.As<Napi::Object>());
  }
  Napi::Promise promise() const { return deferred_.Promise(); }

  void Execute() override {
    ServeScratch s;
    written_ = serve_request(*plan_, input_.data(), items_, m_, scores_.data(), n_, top_.data(), s);
  }
  void OnOK() override {
    Napi::Env env = Env();
    auto scores = Napi::Float32Array::New(env, m_);
    std::copy(scores_.begin(), scores_.end(), scores.Data());
    auto top = Napi::Int32Array::New(env, written_);
    std::copy(top_.begin(), top_.begin() + written_, top.Data());
    Napi::Object out = Napi::Object::New(env);
    out.Set("scores", scores);
    out.Set("top", top);
    deferred_.Resolve(out);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  std::shared_ptr<const ServePlan> plan_;
  std::vector<float> input_;
  ItemRows items_;
  long m_, n_, written_ = 0;
  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference table_, rows_, scales_;
  std::vector<float> scores_;
  std::vector<int32_t> top_;
};

class ServePlanWrap : public Napi::ObjectWrap<ServePlanWrap> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "ServePlan", {
      InstanceMethod<&ServePlanWrap::Encode>("encode"),
      InstanceMethod<&ServePlanWrap::Score>("score"),
      InstanceMethod<&ServePlanWrap::ScoreAsync>("scoreAsync"),
      InstanceMethod<&ServePlanWrap::ScoreRep>("scoreRep"),
      InstanceAccessor<&ServePlanWrap::RepLen>("repLength"),
      InstanceAccessor<&ServePlanWrap::ItemDim>("itemDim"),
      InstanceAccessor<&ServePlanWrap::InputLen>("inputLength"),
      InstanceAccessor<&ServePlanWrap::MacsPerItem>("macsPerItem"),
    });
  }

  explicit ServePlanWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ServePlanWrap>(info) {
    Args a{info, "ServePlan"};
    a.need(1);
    if (!info[0].IsObject()) a.fail("argument spec must be an object");
    try {
      plan_ = std::make_shared<const ServePlan>(parse_plan(a, info[0].As<Napi::Object>()));
    } catch (const std::invalid_argument& e) {
      a.fail(e.what());
    }
  }

 private:
  std::shared_ptr<const ServePlan> plan_;
  ServeScratch scratch_;  // for the synchronous calls (JS runs them one at a time)

  static ServePlan parse_plan(const Args& a, const Napi::Object& spec_js) {
    const JsFields spec(a, spec_js, "spec");
    const Napi::Value steps_v = spec_js.Get("steps");
    if (!steps_v.IsArray()) a.fail("spec.steps must be an array");
    const Napi::Array steps_js = steps_v.As<Napi::Array>();
    std::vector<ServeStep> steps;
    for (uint32_t i = 0; i < steps_js.Length(); ++i) {
      const std::string where = "spec.steps[" + std::to_string(i) + "]";
      if (!steps_js.Get(i).IsObject()) a.fail(where + " must be an object");
      steps.push_back(parse_step(a, JsFields(a, steps_js.Get(i).As<Napi::Object>(), where), where));
    }
    const int rep_len = spec.integer("repLength");
    const std::unique_ptr<SpecFields> sc = spec.object("score");
    const std::string kind = static_cast<const JsFields&>(*sc).string("kind");
    ServeScore score;
    for (const ScoreKindEntry& e : score_kinds())
      if (kind == e.name) score.kind = e.parse(*sc, rep_len);
    if (!score.kind) a.fail("spec.score.kind '" + kind + "' is not one of " + score_kind_names());
    score.scale = sc->number("scale");
    score.bias = sc->number("bias");
    return ServePlan(spec.integer("arena"), spec.integer("input"), spec.integer("repOffset"), rep_len, std::move(steps), std::move(score));
  }

  static ServeStep parse_step(const Args& a, const JsFields& o, const std::string& where) {
    const std::string op = o.string("op");
    ServeStep s{};
    if (op == "linear") {
      s.kind = ServeStep::kLinear;
      s.src = o.integer("src");
      s.dst = o.integer("dst");
      s.in = o.integer("in");
      s.out = o.integer("out");
      s.rows = o.has("rows") ? o.integer("rows") : 1;
      const std::string act = o.has("act") ? o.string("act") : "none";
      const char* acts[] = {"none", "relu", "silu", "sigmoid"};
      s.act = -1;
      for (int i = 0; i < 4; ++i)
        if (act == acts[i]) s.act = i;
      if (s.act < 0) a.fail(where + ".act '" + act + "' is not one of none, relu, silu, sigmoid");
      s.w = o.floats("weight");
      s.b = o.floats_or_none("bias");
    } else if (op == "gate") {
      s.kind = ServeStep::kGate;
      s.src = o.integer("value");
      s.aux = o.integer("gate");
      s.dst = o.integer("dst");
      s.in = s.out = o.integer("size");
    } else if (op == "l2norm") {
      s.kind = ServeStep::kL2Norm;
      s.src = o.integer("offset");
      s.in = o.integer("rows");
      s.out = o.integer("cols");
      s.eps = o.number("eps");
    } else if (op == "lightSe") {
      s.kind = ServeStep::kLightSe;
      s.src = o.integer("offset");
      s.in = o.integer("fields");
      s.out = o.integer("dim");
      s.residual = o.boolean("residual");
      s.w = o.floats("weight");
      s.b = o.floats_or_none("bias");
    } else if (op == "fieldGate") {
      s.kind = ServeStep::kFieldGate;
      s.src = o.integer("src");
      s.dst = o.integer("dst");
      s.aux = o.absent("gate") ? -1 : o.integer("gate");
      s.in = o.integer("fields");
      s.out = o.integer("dim");
      s.tail = o.integer("tail");
      s.scale = o.number("scale");
      s.b = o.floats_or_none("shift");
    } else {
      a.fail(where + ".op '" + op + "' is not one of linear, gate, l2norm, lightSe, fieldGate");
    }
    return s;
  }

  Napi::Value RepLen(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), plan_->rep_len()); }
  Napi::Value ItemDim(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), plan_->item_dim()); }
  Napi::Value InputLen(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), plan_->input_len()); }
  Napi::Value MacsPerItem(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(plan_->macs_per_item())); }

  // encode(input: Float32Array, rep: Float32Array)
  Napi::Value Encode(const Napi::CallbackInfo& info) {
    Args a{info, "ServePlan.encode"};
    a.need(2);
    const float* rep = plan_->encode(a.f32(0, "input", plan_->input_len()), scratch_);
    std::copy(rep, rep + plan_->rep_len(), a.f32(1, "rep", plan_->rep_len()));
    return info.Env().Undefined();
  }

  // score(input, table, rows, m, scores: Float32Array(m), n, top: Int32Array(min(n, m)) | null, dtype?, scales?) ->
  // indices written
  Napi::Value Score(const Napi::CallbackInfo& info) {
    Args a{info, "ServePlan.score"};
    a.need(7);
    const Candidates c = candidates(a, *plan_, 7);
    float* scores = a.f32(4, "scores", c.m);
    const long n = a.num_long(5, "n");
    int32_t* top = n > 0 ? a.i32(6, "top", std::min(n, c.m)) : nullptr;
    const long written = serve_request(*plan_, c.input, c.items, c.m, scores, n, top, scratch_);
    return Napi::Number::New(info.Env(), static_cast<double>(written));
  }

  // scoreAsync(input, table, rows, m, n, dtype?, scales?) -> Promise<{scores: Float32Array, top: Int32Array}>
  Napi::Value ScoreAsync(const Napi::CallbackInfo& info) {
    Args a{info, "ServePlan.scoreAsync"};
    a.need(5);
    const Candidates c = candidates(a, *plan_, 5);
    auto* w = new ScoreWorker(info.Env(), plan_, c, a.num_long(4, "n"), info[1], info[2], info[6]);
    const Napi::Promise p = w->promise();
    w->Queue();  // the worker deletes itself once settled
    return p;
  }

  // scoreRep(rep, table, rows, m, scores: Float32Array(m), n, top | null, dtype?, scales?) -> indices written: score + top-n
  // from a given user rep (e.g. a training strategy's stored encoding), skipping the user tower.
  Napi::Value ScoreRep(const Napi::CallbackInfo& info) {
    Args a{info, "ServePlan.scoreRep"};
    a.need(7);
    const Candidates c = candidates(a, *plan_, 7, true);
    float* scores = a.f32(4, "scores", c.m);
    const long n = a.num_long(5, "n");
    int32_t* top = n > 0 ? a.i32(6, "top", std::min(n, c.m)) : nullptr;
    const long written = serve_request_rep(*plan_, c.input, c.items, c.m, scores, n, top, scratch_);
    return Napi::Number::New(info.Env(), static_cast<double>(written));
  }
};

// The first four arguments of centroidMaxSim and centroidCandidates: st [C, rpad], rpad, codes [items, H], heads.
struct CentroidTables {
  long rpad;
  const float* st;
  long centroids;
  long heads;
  const uint16_t* codes;
  long items;
};

CentroidTables centroid_tables(Args& a) {
  CentroidTables t{};
  t.rpad = a.num_long(1, "rpad", 16);
  if (t.rpad % 16 != 0) a.fail("rpad must be a multiple of 16, got " + std::to_string(t.rpad));
  t.st = a.f32(0, "st", t.rpad);
  t.centroids = a.length(0) / t.rpad;
  t.heads = a.num_long(3, "heads", 1);
  t.codes = a.array<uint16_t, napi_uint16_array>(2, "codes", t.heads, false, "Uint16Array");
  t.items = a.length(2) / t.heads;
  return t;
}

// centroidMaxSim(st: Float32Array [C, rpad], rpad, codes: Uint16Array [items, H], heads, rows: Int32Array, m,
// out: Float32Array(m)): out[k] = sum over the rpad columns r of max over h of st[codes[rows[k] * H + h], r]
// (serve_kernels.h, CentroidMaxSimArgs). Every row and every code it reads is checked first.
Napi::Value CentroidMaxSim(const Napi::CallbackInfo& info) {
  Args a{info, "centroidMaxSim"};
  a.need(7);
  const auto [rpad, st, centroids, heads, codes, items] = centroid_tables(a);
  const long m = a.num_long(5, "m");
  const int32_t* rows = a.i32(4, "rows", m);
  float* out = a.f32(6, "out", m);
  for (long k = 0; k < m; ++k) {
    if (rows[k] < 0 || rows[k] >= items)
      a.fail("rows[" + std::to_string(k) + "] = " + std::to_string(rows[k]) + " is outside the codes' " + std::to_string(items) + " items");
    for (long h = 0; h < heads; ++h)
      if (codes[rows[k] * heads + h] >= centroids)
        a.fail("codes[" + std::to_string(rows[k] * heads + h) + "] = " + std::to_string(codes[rows[k] * heads + h]) + " is not below the " +
               std::to_string(centroids) + " centroids of st");
  }
  centroid_maxsim({st, static_cast<int>(rpad), static_cast<int>(heads), codes, rows, out}, m);
  return info.Env().Undefined();
}

// How many list entries ahead centroidCandidates prefetches an item's stamp and codes.
constexpr long kLookahead = 16;

// centroidCandidates(st, rpad, codes, heads, offsets: Int32Array [C + 1], lists: Int32Array, probes: Int32Array,
// stamp: Int32Array [items], tag, cap, out: Int32Array(cap)) -> count: the items of the probed lists (each once:
// stamp[row] = tag marks a row taken), cut to the `cap` best by centroid max-sim (ties: the lower row) when there
// are more, written to out ascending. Every probe, list entry and code it reads is checked as it goes.
Napi::Value CentroidCandidates(const Napi::CallbackInfo& info) {
  Args a{info, "centroidCandidates"};
  a.need(11);
  const auto [rpad, st, centroids, heads, codes, items] = centroid_tables(a);
  const int32_t* offsets = a.i32(4, "offsets", centroids + 1);
  const int32_t* lists = a.array<int32_t, napi_int32_array>(5, "lists", 0, false, "Int32Array");
  const long entries = a.length(5);
  const int32_t* probes = a.array<int32_t, napi_int32_array>(6, "probes", 0, false, "Int32Array");
  const long np = a.length(6);
  int32_t* stamp = a.i32(7, "stamp", items);
  const long tag = a.num_long(8, "tag", 1);
  const long cap = a.num_long(9, "cap", 1);
  int32_t* out = a.i32(10, "out", cap);
  thread_local std::vector<int32_t> rows;
  rows.clear();
  for (long i = 0; i < np; ++i) {
    const long c = probes[i];
    if (c < 0 || c >= centroids) a.fail("probes[" + std::to_string(i) + "] = " + std::to_string(c) + " is not one of the " + std::to_string(centroids) + " centroids");
    const long e0 = offsets[c], e1 = offsets[c + 1];
    if (e0 < 0 || e1 < e0 || e1 > entries) a.fail("offsets[" + std::to_string(c) + "..+1] = " + std::to_string(e0) + ", " + std::to_string(e1) + " do not lie in the lists' " + std::to_string(entries) + " entries");
    for (long e = e0; e < e1; ++e) {
      // a list's items are spread over the whole corpus: fetch the stamp and codes of the item kLookahead entries on
      // while this one is checked (each is a cache miss otherwise, and the next depends on this one's branch)
      if (e + kLookahead < e1) {
        const int32_t ahead = lists[e + kLookahead];
        if (ahead >= 0 && ahead < items) {
          __builtin_prefetch(stamp + ahead, 1);
          __builtin_prefetch(codes + static_cast<long>(ahead) * heads, 0);
        }
      }
      const int32_t r = lists[e];
      if (r < 0 || r >= items) a.fail("lists[" + std::to_string(e) + "] = " + std::to_string(r) + " is outside the codes' " + std::to_string(items) + " items");
      if (stamp[r] == tag) continue;
      stamp[r] = static_cast<int32_t>(tag);
      for (long h = 0; h < heads; ++h)
        if (codes[r * heads + h] >= centroids)
          a.fail("codes[" + std::to_string(r * heads + h) + "] = " + std::to_string(codes[r * heads + h]) + " is not below the " + std::to_string(centroids) + " centroids of st");
      rows.push_back(r);
    }
  }
  const long m = static_cast<long>(rows.size());
  if (m > cap) {
    thread_local std::vector<float> scores;
    thread_local std::vector<int32_t> order;
    scores.resize(m);
    order.resize(m);
    centroid_maxsim({st, static_cast<int>(rpad), static_cast<int>(heads), codes, rows.data(), scores.data()}, m);
    for (long k = 0; k < m; ++k) order[k] = static_cast<int32_t>(k);
    const auto better = [&](int32_t x, int32_t y) { return scores[x] > scores[y] || (scores[x] == scores[y] && rows[x] < rows[y]); };
    std::nth_element(order.begin(), order.begin() + cap, order.end(), better);
    for (long k = 0; k < cap; ++k) out[k] = rows[order[k]];
  } else {
    std::copy(rows.begin(), rows.end(), out);
  }
  const long n = std::min(m, cap);
  std::sort(out, out + n);
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

}  // namespace

void register_serve(Napi::Env env, Napi::Object exports) {
  exports.Set("ServePlan", ServePlanWrap::define(env));
  exports.Set("centroidMaxSim", Napi::Function::New(env, CentroidMaxSim, "centroidMaxSim"));
  exports.Set("centroidCandidates", Napi::Function::New(env, CentroidCandidates, "centroidCandidates"));
}

}  // namespace prerank
