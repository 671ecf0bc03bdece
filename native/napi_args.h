// Argument checking shared by the N-API entry points (addon.cc, serve.cc): every binding validates types, sizes and
// ranges and throws a JS Error naming the kernel and the argument, so bad input never reaches the raw loops.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>

namespace prerank {
namespace napi {

struct Args {
  const Napi::CallbackInfo& info;
  const char* op;

  [[noreturn]] void fail(const std::string& msg) const {
    throw Napi::Error::New(info.Env(), std::string("prerank native ") + op + ": " + msg);
  }
  void need(size_t n) const {
    if (info.Length() < n) fail("expected " + std::to_string(n) + " arguments, got " + std::to_string(info.Length()));
  }
  long num_long(size_t i, const char* name, long min = 0) const {
    if (!info[i].IsNumber()) fail(std::string("argument ") + name + " must be a number");
    const double d = info[i].As<Napi::Number>().DoubleValue();
    if (d != static_cast<double>(static_cast<long>(d)) || d < min)
      fail(std::string("argument ") + name + " must be an integer >= " + std::to_string(min) + ", got " + std::to_string(d));
    return static_cast<long>(d);
  }
  float num(size_t i, const char* name) const {
    if (!info[i].IsNumber()) fail(std::string("argument ") + name + " must be a number");
    return info[i].As<Napi::Number>().FloatValue();
  }
  double num_d(size_t i, const char* name) const {
    if (!info[i].IsNumber()) fail(std::string("argument ") + name + " must be a number");
    return info[i].As<Napi::Number>().DoubleValue();
  }
  bool flag(size_t i) const { return info[i].ToBoolean().Value(); }

  template <class T, napi_typedarray_type Type>
  T* array(size_t i, const char* name, long min_len, bool nullable, const char* tname) const {
    const Napi::Value v = info[i];
    if (nullable && (v.IsNull() || v.IsUndefined())) return nullptr;
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != Type)
      fail(std::string("argument ") + name + " must be a " + tname);
    auto arr = v.As<Napi::TypedArrayOf<T>>();
    if (static_cast<long>(arr.ElementLength()) < min_len)
      fail(std::string("argument ") + name + " has " + std::to_string(arr.ElementLength()) + " elements, needs " +
           std::to_string(min_len));
    return arr.Data();
  }
  float* f32(size_t i, const char* name, long min_len, bool nullable = false) const {
    return array<float, napi_float32_array>(i, name, min_len, nullable, "Float32Array");
  }
  int32_t* i32(size_t i, const char* name, long min_len) const {
    return array<int32_t, napi_int32_array>(i, name, min_len, false, "Int32Array");
  }
  long length(size_t i) const { return static_cast<long>(info[i].As<Napi::TypedArray>().ElementLength()); }
};

}  // namespace napi
}  // namespace prerank
