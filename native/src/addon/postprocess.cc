// SPDX-License-Identifier: GPL-3.0-or-later
// Bindings of the post-processing kernels (native/include/spikeshard/postprocess.h). Every
// argument is checked here; the core only sees plain pointers and sizes.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

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


// {inFirst, confidenceFirst, confidenceSecond} of a pursuit.
Napi::Object fit_object(Napi::Env env, const std::vector<std::uint8_t>& in_first, const BimodalFit& fit) {
  auto first = Napi::Uint8Array::New(env, in_first.size());
  if (!in_first.empty()) std::memcpy(first.Data(), in_first.data(), in_first.size());
  Napi::Object out = Napi::Object::New(env);
  out.Set("inFirst", first);
  out.Set("confidenceFirst", Napi::Number::New(env, fit.confidence_first));
  out.Set("confidenceSecond", Napi::Number::New(env, fit.confidence_second));
  return out;
}

// [sync] postprocessBimodalPursuit(x, n, dims, threads?): {inFirst, confidenceFirst, confidenceSecond}
Napi::Value BimodalPursuit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 3 && info.Length() != 4) {
    throw Napi::TypeError::New(env, "postprocessBimodalPursuit expects 3 or 4 arguments: (x, n, dims, threads?)");
  }
  const int threads = threads_arg(info, 3);
  const std::size_t n = count_arg(info, 1, "n");
  const std::size_t dims = count_arg(info, 2, "dims");
  check_dims(env, n, dims);
  const double* x = doubles_arg(info, 0, "x", n * dims, false);
  std::vector<std::uint8_t> in_first(n);
  BimodalFit fit{};
  guarded(env, [&] { fit = bimodal_pursuit(x, n, dims, in_first.data(), threads); });
  return fit_object(env, in_first, fit);
}

// A typed array argument of element type T (checked against `type`) and `expected` elements
// (any length when expected is kAnyLength); returns its data and sets *length.
constexpr std::size_t kAnyLength = static_cast<std::size_t>(-1);
template <typename T>
const T* typed_arg(const Napi::CallbackInfo& info, std::size_t k, const char* what, napi_typedarray_type type,
                   const char* type_name, std::size_t expected, std::size_t* length) {
  Napi::Env env = info.Env();
  if (!info[k].IsTypedArray() || info[k].As<Napi::TypedArray>().TypedArrayType() != type) {
    throw Napi::TypeError::New(env, std::string(what) + " must be a " + type_name);
  }
  auto a = info[k].As<Napi::TypedArrayOf<T>>();
  if (expected != kAnyLength && a.ElementLength() != expected) {
    throw Napi::RangeError::New(env, std::string(what) + " must have " + std::to_string(expected) +
                                         " elements, got " + std::to_string(a.ElementLength()));
  }
  if (length != nullptr) *length = a.ElementLength();
  return a.Data();
}

// One postprocessSplitPursuit call in flight: its arguments (their arrays held by references, so
// that the pointers stay valid), its promise and, once computed, its result or error.
struct SplitPursuitJob {
  Napi::Promise::Deferred deferred;
  std::vector<Napi::ObjectReference> held;
  const float* rows;
  std::size_t n_rows;
  const std::uint32_t* templates;
  const std::int32_t* members;
  std::size_t m;
  const std::uint32_t* pc_feature_ind;
  std::size_t n_templates;
  std::size_t n_pc;
  std::size_t k;
  std::size_t reference;
  std::size_t half;
  int threads;
  std::vector<std::uint8_t> in_first{};
  std::vector<double> mean_first{};
  std::vector<double> mean_second{};
  BimodalFit fit{};
  std::string error{};
  bool range_error = false;
};

// [async] postprocessSplitPursuit(rows, templates, members, pcFeatureInd, nPc, k, reference, half,
// threads?): Promise of {inFirst, confidenceFirst, confidenceSecond, meanFirst, meanSecond}: the
// features of `members` on the reference template's channels (split_features), their pursuit
// after the running-mean detrend (half width `half`), and the mean feature row of each half, on a
// thread of its own (not libuv's pool, which holds 4 threads unless UV_THREADPOOL_SIZE is set
// before Node starts), so that as many clusters as there are cores can be split at once. The
// arrays are read, never written; they must not be detached while the call runs.
Napi::Value SplitPursuit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 8 && info.Length() != 9) {
    throw Napi::TypeError::New(env,
                               "postprocessSplitPursuit expects 8 or 9 arguments: (rows, templates, members, "
                               "pcFeatureInd, nPc, k, reference, half, threads?)");
  }
  const int threads = threads_arg(info, 8);
  const std::size_t n_pc = count_arg(info, 4, "nPc");
  const std::size_t k = count_arg(info, 5, "k");
  const std::size_t reference = count_arg(info, 6, "reference");
  const std::size_t half = count_arg(info, 7, "half");
  if (n_pc == 0 || k == 0 || n_pc * k > 4096) {
    throw Napi::RangeError::New(env, "nPc and k must be at least 1 with nPc·k at most 4096, got " +
                                         std::to_string(n_pc) + " and " + std::to_string(k));
  }
  const std::size_t dims = n_pc * k;
  std::size_t n_rows = 0;
  std::size_t m = 0;
  std::size_t n_ind = 0;
  const std::uint32_t* templates =
      typed_arg<std::uint32_t>(info, 1, "templates", napi_uint32_array, "Uint32Array", kAnyLength, &n_rows);
  const float* rows =
      typed_arg<float>(info, 0, "rows", napi_float32_array, "Float32Array", n_rows * dims, nullptr);
  const std::int32_t* members =
      typed_arg<std::int32_t>(info, 2, "members", napi_int32_array, "Int32Array", kAnyLength, &m);
  const std::uint32_t* ind =
      typed_arg<std::uint32_t>(info, 3, "pcFeatureInd", napi_uint32_array, "Uint32Array", kAnyLength, &n_ind);
  if (n_ind % k != 0 || reference >= n_ind / k) {
    throw Napi::RangeError::New(env, "pcFeatureInd holds " + std::to_string(n_ind) + " values for k = " +
                                         std::to_string(k) + ", expected a whole number of templates above reference " +
                                         std::to_string(reference));
  }
  auto job = std::make_unique<SplitPursuitJob>(SplitPursuitJob{Napi::Promise::Deferred::New(env),
                                                               {},
                                                               rows,
                                                               n_rows,
                                                               templates,
                                                               members,
                                                               m,
                                                               ind,
                                                               n_ind / k,
                                                               n_pc,
                                                               k,
                                                               reference,
                                                               half,
                                                               threads});
  for (std::size_t i = 0; i < 4; ++i) job->held.push_back(Napi::Persistent(info[i].As<Napi::Object>()));
  Napi::Promise promise = job->deferred.Promise();
  auto tsfn = Napi::ThreadSafeFunction::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}),
                                            "postprocessSplitPursuit", 0, 1);
  std::thread([tsfn, job = job.release()]() mutable {
    try {
      const std::size_t dims = job->n_pc * job->k;
      std::vector<double> raw(job->m * dims);
      split_features(job->rows, job->n_rows, job->n_pc, job->k, job->templates, job->members, job->m,
                     job->pc_feature_ind, job->n_templates, job->reference, raw.data());
      job->in_first.resize(job->m);
      {
        std::vector<double> x(job->m * dims);
        detrend_rows(raw.data(), job->m, dims, job->half, x.data(), job->threads);
        job->fit = bimodal_pursuit(x.data(), job->m, dims, job->in_first.data(), job->threads);
      }
      job->mean_first.resize(dims);
      job->mean_second.resize(dims);
      half_means(raw.data(), job->m, dims, job->in_first.data(), job->mean_first.data(), job->mean_second.data());
    } catch (const std::invalid_argument& e) {
      job->error = e.what();
      job->range_error = true;
    } catch (const std::exception& e) {
      job->error = e.what();
    }
    // Settled on the JavaScript thread. Should the environment be closing, the job is left
    // behind: its references may not be released from this thread.
    tsfn.BlockingCall(job, [](Napi::Env env, Napi::Function, SplitPursuitJob* done) {
      std::unique_ptr<SplitPursuitJob> owned(done);
      if (done->error.empty()) {
        Napi::Object out = fit_object(env, done->in_first, done->fit);
        const auto copy = [&](const std::vector<double>& v) {
          auto a = Napi::Float64Array::New(env, v.size());
          if (!v.empty()) std::memcpy(a.Data(), v.data(), v.size() * sizeof(double));
          return a;
        };
        out.Set("meanFirst", copy(done->mean_first));
        out.Set("meanSecond", copy(done->mean_second));
        done->deferred.Resolve(out);
      } else if (done->range_error) {
        done->deferred.Reject(Napi::RangeError::New(env, done->error).Value());
      } else {
        done->deferred.Reject(Napi::Error::New(env, done->error).Value());
      }
    });
    tsfn.Release();
  }).detach();
  return promise;
}

}  // namespace

void register_postprocess(Napi::Env env, Napi::Object exports) {
  exports.Set("postprocessWeightedGram", Napi::Function::New(env, WeightedGram));
  exports.Set("postprocessRunningMean", Napi::Function::New(env, RunningMean));
  exports.Set("postprocessProject", Napi::Function::New(env, Project));
  exports.Set("postprocessSolveLinear", Napi::Function::New(env, SolveLinear));
  exports.Set("postprocessBimodalPursuit", Napi::Function::New(env, BimodalPursuit));
  exports.Set("postprocessSplitPursuit", Napi::Function::New(env, SplitPursuit));
}

}  // namespace spikeshard::addon
