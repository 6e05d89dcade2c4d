// SPDX-License-Identifier: GPL-3.0-or-later
// Bindings of the post-processing kernels (native/include/spikeshard/postprocess.h). Every
// argument is checked here; the core only sees plain pointers and sizes.
#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>

#include "addon.h"
#include "spikeshard/postprocess.h"

namespace spikeshard::addon {

namespace {

constexpr double kMaxSafeInteger = 9007199254740991.0;

std::size_t count_arg(const Napi::CallbackInfo& info, std::size_t k, const char* what) {
  Napi::Env env = info.Env();
  if (!info[k].IsNumber()) throw Napi::TypeError::New(env, std::string(what) + " must be a number");
  const double d = info[k].As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d != std::floor(d) || d > kMaxSafeInteger) {
    throw Napi::RangeError::New(env, std::string(what) + " must be a non-negative integer, got " + std::to_string(d));
  }
  return static_cast<std::size_t>(d);
}

// A Float64Array of `expected` elements, or null (returns nullptr) when `nullable`.
const double* doubles_arg(const Napi::CallbackInfo& info, std::size_t k, const char* what, std::size_t expected,
                          bool nullable) {
  Napi::Env env = info.Env();
  if (nullable && (info[k].IsNull() || info[k].IsUndefined())) return nullptr;
  if (!info[k].IsTypedArray() || info[k].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    throw Napi::TypeError::New(env, std::string(what) + " must be a Float64Array" + (nullable ? " or null" : ""));
  }
  auto a = info[k].As<Napi::Float64Array>();
  if (a.ElementLength() != expected) {
    throw Napi::RangeError::New(env, std::string(what) + " must have " + std::to_string(expected) +
                                         " elements, got " + std::to_string(a.ElementLength()));
  }
  return a.Data();
}

// The optional trailing threads argument at index k: 0 (the default thread count) when absent.
int threads_arg(const Napi::CallbackInfo& info, std::size_t k) {
  if (info.Length() <= k) return 0;
  const std::size_t threads = count_arg(info, k, "threads");
  if (threads > 4096) {
    throw Napi::RangeError::New(info.Env(), "threads must be at most 4096, got " + std::to_string(threads));
  }
  return static_cast<int>(threads);
}

// [sync] postprocessWeightedGram(x, n, dims, w | null, t | null, threads?): {gram, rhs | null}
Napi::Value WeightedGram(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 5 && info.Length() != 6) {
    throw Napi::TypeError::New(
        env, "postprocessWeightedGram expects 5 or 6 arguments: (x, n, dims, w | null, t | null, threads?)");
  }
  const int threads = threads_arg(info, 5);
  const std::size_t n = count_arg(info, 1, "n");
  const std::size_t dims = count_arg(info, 2, "dims");
  if (dims == 0 || dims > 4096) {
    throw Napi::RangeError::New(env, "dims must be in [1, 4096], got " + std::to_string(dims));
  }
  if (n > kMaxSafeInteger / static_cast<double>(dims)) throw Napi::RangeError::New(env, "n × dims is too large");
  const double* x = doubles_arg(info, 0, "x", n * dims, false);
  const double* w = doubles_arg(info, 3, "w", n, true);
  const double* t = doubles_arg(info, 4, "t", n, true);
  auto gram = Napi::Float64Array::New(env, dims * dims);
  Napi::Value rhs_value = env.Null();
  double* rhs = nullptr;
  if (t != nullptr) {
    auto r = Napi::Float64Array::New(env, dims);
    rhs = r.Data();
    rhs_value = r;
  }
  try {
    weighted_gram(x, n, dims, w, t, gram.Data(), rhs, threads);
  } catch (const std::invalid_argument& e) {
    throw Napi::RangeError::New(env, e.what());
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("gram", gram);
  out.Set("rhs", rhs_value);
  return out;
}

// Runs a core call, turning std::invalid_argument into RangeError and other failures into Error.
template <typename F>
void guarded(Napi::Env env, F&& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    throw Napi::RangeError::New(env, e.what());
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

// n and dims of a (n × dims) argument, dims in [1, 4096].
void check_dims(Napi::Env env, std::size_t n, std::size_t dims) {
  if (dims == 0 || dims > 4096) throw Napi::RangeError::New(env, "dims must be in [1, 4096], got " + std::to_string(dims));
  if (n > kMaxSafeInteger / static_cast<double>(dims)) throw Napi::RangeError::New(env, "n × dims is too large");
}

// [sync] postprocessRunningMean(x, n, dims, half, threads?): Float64Array (n × dims)
Napi::Value RunningMean(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 4 && info.Length() != 5) {
    throw Napi::TypeError::New(env, "postprocessRunningMean expects 4 or 5 arguments: (x, n, dims, half, threads?)");
  }
  const int threads = threads_arg(info, 4);
  const std::size_t n = count_arg(info, 1, "n");
  const std::size_t dims = count_arg(info, 2, "dims");
  const std::size_t half = count_arg(info, 3, "half");
  check_dims(env, n, dims);
  const double* x = doubles_arg(info, 0, "x", n * dims, false);
  auto out = Napi::Float64Array::New(env, n * dims);
  guarded(env, [&] { running_mean(x, n, dims, half, out.Data(), threads); });
  return out;
}

// [sync] postprocessProject(x, n, dims, w, threads?): Float64Array (n)
Napi::Value Project(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 4 && info.Length() != 5) {
    throw Napi::TypeError::New(env, "postprocessProject expects 4 or 5 arguments: (x, n, dims, w, threads?)");
  }
  const int threads = threads_arg(info, 4);
  const std::size_t n = count_arg(info, 1, "n");
  const std::size_t dims = count_arg(info, 2, "dims");
  check_dims(env, n, dims);
  const double* x = doubles_arg(info, 0, "x", n * dims, false);
  const double* w = doubles_arg(info, 3, "w", dims, false);
  auto out = Napi::Float64Array::New(env, n);
  guarded(env, [&] { project_rows(x, n, dims, w, out.Data(), threads); });
  return out;
}

// [sync] postprocessSolveLinear(a, b, n): Float64Array (n)
Napi::Value SolveLinear(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 3) throw Napi::TypeError::New(env, "postprocessSolveLinear expects 3 arguments: (a, b, n)");
  const std::size_t n = count_arg(info, 2, "n");
  check_dims(env, 1, n);
  const double* a = doubles_arg(info, 0, "a", n * n, false);
  const double* b = doubles_arg(info, 1, "b", n, false);
  auto out = Napi::Float64Array::New(env, n);
  guarded(env, [&] { solve_linear(a, b, n, out.Data()); });
  return out;
}

}  // namespace

void register_postprocess(Napi::Env env, Napi::Object exports) {
  exports.Set("postprocessWeightedGram", Napi::Function::New(env, WeightedGram));
  exports.Set("postprocessRunningMean", Napi::Function::New(env, RunningMean));
  exports.Set("postprocessProject", Napi::Function::New(env, Project));
  exports.Set("postprocessSolveLinear", Napi::Function::New(env, SolveLinear));
}

}  // namespace spikeshard::addon
