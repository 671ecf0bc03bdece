// A plan spec's fields read from its JS object for the serving binding (serve_binding.cc): the SpecFields a score
// kind parses itself from (serve_score.h), plus what the binding's own step parser needs. Every error names the
// field's path in the spec (`spec.score.userToItem.gamma must be a Float32Array`).
#pragma once
#include <napi.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "napi_args.h"
#include "serve_score.h"

namespace prerank {
namespace napi {

// A spec object's fields, each read with its path (`spec.score.heads`) in the error when it is missing or wrong.
class JsFields final : public SpecFields {
 public:
  JsFields(const Args& a, Napi::Object o, std::string where) : a_(a), o_(o), where_(std::move(where)) {}

  int integer(const char* key) const override {
    const double d = number_of(key);
    if (d != std::floor(d) || d < 0 || d > 1e9) a_.fail(where_ + "." + key + " must be a non-negative integer");
    return static_cast<int>(d);
  }
  float number(const char* key) const override { return static_cast<float>(number_of(key)); }
  bool boolean(const char* key) const override { return o_.Get(key).ToBoolean(); }
  std::vector<float> floats(const char* key) const override { return floats_of(key, false); }
  // A Float32Array, or empty when the field is null or absent.
  std::vector<float> floats_or_none(const char* key) const { return floats_of(key, true); }
  std::unique_ptr<SpecFields> object(const char* key) const override {
    const Napi::Value v = o_.Get(key);
    if (!v.IsObject()) a_.fail(where_ + "." + key + " must be an object");
    return std::make_unique<JsFields>(a_, v.As<Napi::Object>(), where_ + "." + key);
  }
  bool has(const char* key) const { return !o_.Get(key).IsUndefined(); }
  bool absent(const char* key) const { return o_.Get(key).IsNull() || o_.Get(key).IsUndefined(); }
  std::string string(const char* key) const { return o_.Get(key).ToString(); }

 private:
  const Args& a_;
  Napi::Object o_;
  std::string where_;

  double number_of(const char* key) const {
    const Napi::Value v = o_.Get(key);
    if (!v.IsNumber()) a_.fail(where_ + "." + key + " must be a number");
    return v.As<Napi::Number>().DoubleValue();
  }
  std::vector<float> floats_of(const char* key, bool nullable) const {
    const Napi::Value v = o_.Get(key);
    if (nullable && (v.IsNull() || v.IsUndefined())) return {};
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) a_.fail(where_ + "." + key + " must be a Float32Array");
    const auto arr = v.As<Napi::Float32Array>();
    return std::vector<float>(arr.Data(), arr.Data() + arr.ElementLength());
  }
};

}  // namespace napi
}  // namespace prerank
