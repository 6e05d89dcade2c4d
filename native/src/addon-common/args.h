// SPDX-License-Identifier: GPL-3.0-or-later
// Argument checking shared by the CPU addon (src/addon) and the CUDA addon (src/addon-cuda), so that
// both give the same TypeError / RangeError messages for the same mistakes and native/lib sees the
// same errors from either backend. Two styles, as the bindings take their arguments:
//  - Options: one options object ("<fn>: options.<key> must be <what>, got <found>");
//  - Args: positional arguments ("<fn>: <name>: expected <what>, got <found>").
// guarded() turns core and CUDA exceptions into JS errors (invalid_argument → RangeError).
#ifndef SPIKESHARD_ADDON_COMMON_ARGS_H_
#define SPIKESHARD_ADDON_COMMON_ARGS_H_

#include <napi.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace spikeshard::addon_common {

// Largest integer a JS number holds exactly.
constexpr double kMaxSafeInteger = 9007199254740991.0;

inline const char* typed_array_name(napi_typedarray_type type) {
  switch (type) {
    case napi_int8_array:
      return "Int8Array";
    case napi_uint8_array:
      return "Uint8Array";
    case napi_uint8_clamped_array:
      return "Uint8ClampedArray";
    case napi_int16_array:
      return "Int16Array";
    case napi_uint16_array:
      return "Uint16Array";
    case napi_int32_array:
      return "Int32Array";
    case napi_uint32_array:
      return "Uint32Array";
    case napi_float32_array:
      return "Float32Array";
    case napi_float64_array:
      return "Float64Array";
    case napi_bigint64_array:
      return "BigInt64Array";
    case napi_biguint64_array:
      return "BigUint64Array";
    default:
      return "TypedArray";
  }
}

inline std::string describe(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsTypedArray()) return typed_array_name(v.As<Napi::TypedArray>().TypedArrayType());
  if (v.IsArray()) return "an Array";
  if (v.IsNumber()) return "the number " + v.ToString().Utf8Value();
  if (v.IsString()) return "a string";
  if (v.IsBoolean()) return "a boolean";
  if (v.IsFunction()) return "a function";
  return "an object";
}

// The single options argument of a binding and typed accessors for its fields.
class Options {
 public:
  Options(const Napi::CallbackInfo& info, const char* function) : env_(info.Env()), function_(function) {
    if (info.Length() != 1 || !info[0].IsObject() || info[0].IsArray() || info[0].IsTypedArray()) {
      throw Napi::TypeError::New(env_, std::string(function) + ": expected one options object");
    }
    object_ = info[0].As<Napi::Object>();
  }
  // An options object passed among other arguments (checked by the caller).
  Options(Napi::Object object, Napi::Env env, const char* function) : env_(env), function_(function), object_(object) {}

  Napi::Env env() const { return env_; }
  Napi::Value get(const char* key) const { return object_.Get(key); }

  [[noreturn]] void type_error(const char* key, const std::string& what, const Napi::Value& got) const {
    throw Napi::TypeError::New(env_, std::string(function_) + ": options." + key + " must be " + what + ", got " +
                                         describe(got));
  }
  [[noreturn]] void range_error(const char* key, const std::string& problem) const {
    throw Napi::RangeError::New(env_, std::string(function_) + ": options." + key + " " + problem);
  }

  double number(const char* key) const {
    Napi::Value v = object_.Get(key);
    if (!v.IsNumber()) type_error(key, "a number", v);
    double x = v.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(x)) range_error(key, "must be finite, got " + std::to_string(x));
    return x;
  }

  // A non-negative integer count ≥ min.
  std::size_t count(const char* key, std::size_t min = 0) const {
    Napi::Value v = object_.Get(key);
    if (!v.IsNumber()) type_error(key, "an integer", v);
    double x = v.As<Napi::Number>().DoubleValue();
    if (!(x == std::floor(x)) || x < static_cast<double>(min) || x > kMaxSafeInteger) {
      range_error(key, "must be an integer ≥ " + std::to_string(min) + ", got " + v.ToString().Utf8Value());
    }
    return static_cast<std::size_t>(x);
  }

  int integer(const char* key) const {
    Napi::Value v = object_.Get(key);
    if (!v.IsNumber()) type_error(key, "an integer", v);
    double x = v.As<Napi::Number>().DoubleValue();
    if (!(x == std::floor(x)) || std::fabs(x) > 1e9) {
      range_error(key, "must be an integer, got " + v.ToString().Utf8Value());
    }
    return static_cast<int>(x);
  }

  bool boolean(const char* key) const {
    Napi::Value v = object_.Get(key);
    if (!v.IsBoolean()) type_error(key, "a boolean", v);
    return v.As<Napi::Boolean>().Value();
  }

  bool is_null(const char* key) const { return object_.Get(key).IsNull(); }

  bool has_type(const char* key, napi_typedarray_type type) const {
    Napi::Value v = object_.Get(key);
    return v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == type;
  }

  // A typed array of element type T (napi type `type`), any length.
  template <typename T>
  Napi::TypedArrayOf<T> array(const char* key, napi_typedarray_type type) const {
    Napi::Value v = object_.Get(key);
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type) {
      const std::string name = typed_array_name(type);
      type_error(key, (std::string("AEIOU").find(name[0]) != std::string::npos ? "an " : "a ") + name, v);
    }
    return v.As<Napi::TypedArrayOf<T>>();
  }

  // The same with exactly `length` elements.
  template <typename T>
  Napi::TypedArrayOf<T> array(const char* key, napi_typedarray_type type, std::size_t length) const {
    auto a = array<T>(key, type);
    if (a.ElementLength() != length) {
      range_error(key, "must hold " + std::to_string(length) + " elements, got " + std::to_string(a.ElementLength()));
    }
    return a;
  }

  // The same, or nullptr when the field is null.
  template <typename T>
  const T* optional_array(const char* key, napi_typedarray_type type, std::size_t length) const {
    if (is_null(key)) return nullptr;
    return array<T>(key, type, length).Data();
  }

 private:
  Napi::Env env_;
  const char* function_;
  Napi::Object object_;
};

// Core errors → JS errors; Napi errors pass through.
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

template <typename T, typename Vector>
Napi::TypedArrayOf<T> to_typed(Napi::Env env, const Vector& v) {
  auto out = Napi::TypedArrayOf<T>::New(env, v.size());
  if (!v.empty()) std::memcpy(out.Data(), v.data(), v.size() * sizeof(T));
  return out;
}

inline std::size_t checked_product(const Options& o, const char* key, std::size_t a, std::size_t b) {
  if (b != 0 && a > static_cast<std::size_t>(kMaxSafeInteger) / b) o.range_error(key, "makes the block too large");
  return a * b;
}

inline std::string kind_of(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsBoolean()) return "boolean";
  if (v.IsNumber()) return "number " + std::to_string(v.As<Napi::Number>().DoubleValue());
  if (v.IsString()) return "string";
  if (v.IsTypedArray()) {
    switch (v.As<Napi::TypedArray>().TypedArrayType()) {
      case napi_float32_array:
        return "Float32Array";
      case napi_float64_array:
        return "Float64Array";
      case napi_int32_array:
        return "Int32Array";
      case napi_int16_array:
        return "Int16Array";
      case napi_uint32_array:
        return "Uint32Array";
      default:
        return "another typed array";
    }
  }
  if (v.IsArray()) return "Array";
  if (v.IsFunction()) return "function";
  return "object";
}

// Argument access with messages of the form "<fn>: <name>: expected <what>, got <found>".
class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* fn, std::size_t count) : env_(info.Env()), fn_(fn) {
    if (info.Length() != count) {
      throw Napi::TypeError::New(env_, std::string(fn) + ": expected " + std::to_string(count) + " arguments, got " +
                                           std::to_string(info.Length()));
    }
  }
  // Fields of an object already checked by the caller.
  Args(Napi::Env env, const char* fn) : env_(env), fn_(fn) {}

  Napi::Env env() const { return env_; }

  [[noreturn]] void type_error(const std::string& name, const std::string& what, const Napi::Value& v) const {
    throw Napi::TypeError::New(env_, std::string(fn_) + ": " + name + ": expected " + what + ", got " + kind_of(v));
  }
  [[noreturn]] void range_error(const std::string& name, const std::string& what, const std::string& got) const {
    throw Napi::RangeError::New(env_, std::string(fn_) + ": " + name + ": expected " + what + ", got " + got);
  }

  Napi::Object object(const Napi::Value& v, const std::string& name) const {
    if (!v.IsObject() || v.IsArray() || v.IsTypedArray() || v.IsFunction()) type_error(name, "an object", v);
    return v.As<Napi::Object>();
  }

  std::int64_t integer(const Napi::Value& v, const std::string& name, std::int64_t lo, std::int64_t hi) const {
    if (!v.IsNumber()) type_error(name, "an integer", v);
    double d = v.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d) || d != std::floor(d)) type_error(name, "an integer", v);
    if (d < static_cast<double>(lo) || d > static_cast<double>(hi)) {
      range_error(name, "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]", kind_of(v));
    }
    return static_cast<std::int64_t>(d);
  }

  double number(const Napi::Value& v, const std::string& name, double lo, double hi) const {
    if (!v.IsNumber()) type_error(name, "a number", v);
    double d = v.As<Napi::Number>().DoubleValue();
    if (!(d >= lo && d <= hi)) {
      range_error(name, "a number in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]", kind_of(v));
    }
    return d;
  }

  bool boolean(const Napi::Value& v, const std::string& name) const {
    if (!v.IsBoolean()) type_error(name, "a boolean", v);
    return v.As<Napi::Boolean>().Value();
  }

  // A typed array of element type T and exactly `length` elements (`shape` explains the length).
  // With nullable, null gives nullptr.
  template <typename T>
  T* typed(const Napi::Value& v, const std::string& name, std::size_t length, const std::string& shape,
           bool nullable = false) const {
    if (nullable && v.IsNull()) return nullptr;
    const std::string wanted = std::string(array_name<T>()) + (nullable ? " or null" : "");
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != array_type<T>()) {
      type_error(name, wanted, v);
    }
    auto a = v.As<Napi::TypedArrayOf<T>>();
    if (a.ElementLength() != length) {
      range_error(name, std::to_string(length) + " elements (" + shape + ")", std::to_string(a.ElementLength()));
    }
    return a.Data();
  }

  // A typed array of element type T of any length; the length is returned in `length`.
  template <typename T>
  T* typed_any(const Napi::Value& v, const std::string& name, std::size_t& length) const {
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != array_type<T>()) {
      type_error(name, array_name<T>(), v);
    }
    auto a = v.As<Napi::TypedArrayOf<T>>();
    length = a.ElementLength();
    return a.Data();
  }

 private:
  template <typename T>
  static napi_typedarray_type array_type() {
    if constexpr (std::is_same_v<T, float>) return napi_float32_array;
    if constexpr (std::is_same_v<T, double>) return napi_float64_array;
    if constexpr (std::is_same_v<T, std::int32_t>) return napi_int32_array;
    if constexpr (std::is_same_v<T, std::int16_t>) return napi_int16_array;
  }
  template <typename T>
  static const char* array_name() {
    if constexpr (std::is_same_v<T, float>) return "a Float32Array";
    if constexpr (std::is_same_v<T, double>) return "a Float64Array";
    if constexpr (std::is_same_v<T, std::int32_t>) return "an Int32Array";
    if constexpr (std::is_same_v<T, std::int16_t>) return "an Int16Array";
  }

  Napi::Env env_;
  const char* fn_;
};

}  // namespace spikeshard::addon_common

#endif  // SPIKESHARD_ADDON_COMMON_ARGS_H_
