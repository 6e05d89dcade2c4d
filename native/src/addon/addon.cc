// SPDX-License-Identifier: GPL-3.0-or-later
// Module init: the only place that registers exports. Each binding lives in its own file and
// adds itself through register_*(env, exports).
#include <napi.h>

#include <string>
#include <thread>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "addon.h"
#include "spikeshard/threads.h"
#include "spikeshard/version.h"

namespace spikeshard::addon {

namespace {

// [sync] describe(): {backend, coreVersion, hardwareThreads, defaultThreads}
Napi::Value Describe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("backend", "cpu");
  out.Set("coreVersion", kCoreVersion);
  out.Set("hardwareThreads", static_cast<double>(std::thread::hardware_concurrency()));
  out.Set("defaultThreads", default_threads());
  return out;
}

// [sync] setThreads(n): threads used by parallel kernels; 0 restores hardware concurrency.
Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsNumber()) {
    throw Napi::TypeError::New(env, "setThreads expects one number (threads, 0 = all cores)");
  }
  set_default_threads(info[0].As<Napi::Number>().Int32Value());
  return env.Undefined();
}

// [sync] trimMemory(): hands the heap's free pages back to the system (glibc's malloc_trim, every
// arena); true if any were released, false if none were or the C library has no such call.
// glibc keeps freed blocks for reuse: after a step that allocated and freed hundreds of MB (the
// splits' worker threads, each with its own arena) they would stay in the process's RSS until exit.
Napi::Value TrimMemory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 0) throw Napi::TypeError::New(env, "trimMemory expects no arguments");
#if defined(__GLIBC__)
  return Napi::Boolean::New(env, malloc_trim(0) != 0);
#else
  return Napi::Boolean::New(env, false);
#endif
}

// [sync] setMmapThreshold(bytes): glibc's mallopt(M_MMAP_THRESHOLD, bytes), which also stops glibc
// from raising the threshold by itself; true if applied, false off glibc. See native/lib/memory.ts
// for why the engine fixes it.
Napi::Value SetMmapThreshold(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsNumber()) {
    throw Napi::TypeError::New(env, "setMmapThreshold expects one number (bytes)");
  }
  const double bytes = info[0].As<Napi::Number>().DoubleValue();
  // glibc caps the threshold at HEAP_MAX/2 (32 MiB on 64-bit) and refuses larger values.
  if (!(bytes >= 0 && bytes <= 32.0 * 1024 * 1024) || bytes != static_cast<double>(static_cast<int>(bytes))) {
    throw Napi::RangeError::New(env, "setMmapThreshold: bytes must be an integer in [0, 33554432], got " +
                                         std::to_string(bytes));
  }
#if defined(__GLIBC__)
  return Napi::Boolean::New(env, mallopt(M_MMAP_THRESHOLD, static_cast<int>(bytes)) == 1);
#else
  return Napi::Boolean::New(env, false);
#endif
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("describe", Napi::Function::New(env, Describe));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  exports.Set("trimMemory", Napi::Function::New(env, TrimMemory));
  exports.Set("setMmapThreshold", Napi::Function::New(env, SetMmapThreshold));
  register_preprocess(env, exports);
  register_drift(env, exports);
  register_matching(env, exports);
  register_simulate(env, exports);
  register_postprocess(env, exports);
  register_recording(env, exports);
  register_export(env, exports);
  return exports;
}

}  // namespace spikeshard::addon

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return spikeshard::addon::Init(env, exports); }

NODE_API_MODULE(spikeshard_cpu, InitModule)
