// SPDX-License-Identifier: GPL-3.0-or-later
// Argument checking for the CUDA addon: the same messages as the CPU addon's (a missing field or
// wrong type gives TypeError, a wrong size or value RangeError, each naming the function and the
// field), so that native/lib sees the same errors from either backend.
#ifndef SPIKESHARD_ADDON_CUDA_OPTIONS_H_
#define SPIKESHARD_ADDON_CUDA_OPTIONS_H_

#include <napi.h>

#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>

namespace spikeshard::addon_cuda {

constexpr double kMaxSafeInteger = 9007199254740991.0;

inline const char* typed_array_name(napi_typedarray_type type) {
  switch (type) {
    case napi_uint8_array:
      return "Uint8Array";
    case napi_int16_array:
      return "Int16Array";
    case napi_int32_array:
      return "Int32Array";
    case napi_float32_array:
      return "Float32Array";
    case napi_float64_array:
      return "Float64Array";
    default:
      return "another TypedArray";
  }
}

inline std::string describe_value(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsTypedArray()) return typed_array_name(v.As<Napi::TypedArray>().TypedArrayType());
  if (v.IsArray()) return "an Array";
  if (v.IsNumber()) return "the number " + v.ToString().Utf8Value();
  if (v.IsString()) return "a string";
  if (v.IsBoolean()) return "a boolean";
  return "an object";
}

// Typed access to a value `key` that is a field of an options object or a positional argument.
class Fields {
 public:
  // One options object.
  Fields(const Napi::CallbackInfo& info, const char* function) : env_(info.Env()), function_(function) {
    if (info.Length() != 1 || !info[0].IsObject() || info[0].IsArray() || info[0].IsTypedArray()) {
      throw Napi::TypeError::New(env_, std::string(function) + ": expected one options object");
    }
    object_ = info[0].As<Napi::Object>();
  }
  // An options object passed among other arguments.
  Fields(Napi::Object object, Napi::Env env, const char* function) : env_(env), function_(function), object_(object) {}

  Napi::Env env() const { return env_; }
  Napi::Value get(const char* key) const { return object_.Get(key); }

  [[noreturn]] void type_error(const char* key, const std::string& what, const Napi::Value& got) const {
    throw Napi::TypeError::New(env_, std::string(function_) + ": options." + key + " must be " + what + ", got " +
                                         describe_value(got));
  }
  [[noreturn]] void range_error(const char* key, const std::string& problem) const {
    throw Napi::RangeError::New(env_, std::string(function_) + ": options." + key + " " + problem);
  }

  double number(const char* key) const {
    Napi::Value v = get(key);
    if (!v.IsNumber()) type_error(key, "a number", v);
    const double x = v.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(x)) range_error(key, "must be finite, got " + std::to_string(x));
    return x;
  }

  std::size_t count(const char* key, std::size_t min = 0) const {
    Napi::Value v = get(key);
    if (!v.IsNumber()) type_error(key, "an integer", v);
    const double x = v.As<Napi::Number>().DoubleValue();
    if (!(x == std::floor(x)) || x < static_cast<double>(min) || x > kMaxSafeInteger) {
      range_error(key, "must be an integer ≥ " + std::to_string(min) + ", got " + v.ToString().Utf8Value());
    }
    return static_cast<std::size_t>(x);
  }

  int integer(const char* key) const {
    Napi::Value v = get(key);
    if (!v.IsNumber()) type_error(key, "an integer", v);
    const double x = v.As<Napi::Number>().DoubleValue();
    if (!(x == std::floor(x)) || std::fabs(x) > 1e9) range_error(key, "must be an integer, got " + v.ToString().Utf8Value());
    return static_cast<int>(x);
  }

  bool boolean(const char* key) const {
    Napi::Value v = get(key);
    if (!v.IsBoolean()) type_error(key, "a boolean", v);
    return v.As<Napi::Boolean>().Value();
  }

  bool is_null(const char* key) const { return get(key).IsNull(); }

  bool has_type(const char* key, napi_typedarray_type type) const {
    Napi::Value v = get(key);
    return v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == type;
  }

  template <typename T>
  Napi::TypedArrayOf<T> array(const char* key, napi_typedarray_type type) const {
    Napi::Value v = get(key);
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type) {
      const std::string name = typed_array_name(type);
      type_error(key, (std::string("AEIOU").find(name[0]) != std::string::npos ? "an " : "a ") + name, v);
    }
    return v.As<Napi::TypedArrayOf<T>>();
  }

  template <typename T>
  Napi::TypedArrayOf<T> array(const char* key, napi_typedarray_type type, std::size_t length) const {
    auto a = array<T>(key, type);
    if (a.ElementLength() != length) {
      range_error(key, "must hold " + std::to_string(length) + " elements, got " + std::to_string(a.ElementLength()));
    }
    return a;
  }

  template <typename T>
  const T* optional_array(const char* key, napi_typedarray_type type, std::size_t length) const {
    if (is_null(key)) return nullptr;
    return array<T>(key, type, length).Data();
  }

  std::size_t product(const char* key, std::size_t a, std::size_t b) const {
    if (b != 0 && a > static_cast<std::size_t>(kMaxSafeInteger) / b) range_error(key, "makes the block too large");
    return a * b;
  }

 private:
  Napi::Env env_;
  const char* function_;
  Napi::Object object_;
};

// Core and CUDA errors → JS errors (invalid_argument → RangeError, others → Error); Napi errors
// pass through.
template <typename Body>
Napi::Value guarded(const Napi::CallbackInfo& info, Body body) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::invalid_argument& e) {
    throw Napi::RangeError::New(info.Env(), e.what());
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), e.what());
  }
}

}  // namespace spikeshard::addon_cuda

#endif  // SPIKESHARD_ADDON_CUDA_OPTIONS_H_
