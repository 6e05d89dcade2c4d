// SPDX-License-Identifier: GPL-3.0-or-later
// A native call on the project's task pool (spikeshard/task_pool.h) that settles a promise: like
// queue_promise (promise_worker.h), but the work runs on the pool's threads, default_threads()
// wide (the CLI's --threads, or all cores), instead of libuv's pool of 4. The result comes back
// to the JavaScript thread through a thread-safe function, which also keeps the event loop alive
// until then. The argument objects are held by references until the promise settles.
#pragma once

#include <napi.h>

#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "spikeshard/task_pool.h"

namespace spikeshard::addon_common {

// Compute: Result(Args&) on a pool thread; ToJs: Napi::Value(Napi::Env, Result&&, Args&) on the
// JavaScript thread. An exception from Compute rejects the promise with an Error carrying its
// message as it is (the TypeScript caller adds the file and the chunk).
template <typename Args, typename Result, typename Compute, typename ToJs>
class PoolJob {
 public:
  PoolJob(const Napi::CallbackInfo& info, Args&& args, Compute compute, ToJs to_js)
      : deferred_(Napi::Promise::Deferred::New(info.Env())),
        args_(std::move(args)),
        compute_(std::move(compute)),
        to_js_(std::move(to_js)) {
    for (std::size_t i = 0; i < info.Length(); ++i) {
      if (info[i].IsObject()) held_.push_back(Napi::Persistent(info[i].As<Napi::Object>()));
    }
  }

  // Queues the job; from here on it deletes itself (on the JavaScript thread, once settled).
  static Napi::Promise queue(const Napi::CallbackInfo& info, const char* name, Args&& args, Compute compute,
                             ToJs to_js) {
    Napi::Env env = info.Env();
    auto* job = new PoolJob(info, std::move(args), std::move(compute), std::move(to_js));
    Napi::Promise promise = job->deferred_.Promise();
    const napi_status status = napi_create_threadsafe_function(
        env, nullptr, nullptr, Napi::String::New(env, name), 0, 1, job, &PoolJob::finalize, job, &PoolJob::settle,
        &job->tsfn_);
    if (status != napi_ok) {
      delete job;
      throw Napi::Error::New(env, std::string(name) + ": could not create a thread-safe function");
    }
    submit_task([job] { job->run(); });
    return promise;
  }

 private:
  void run() {
    try {
      result_ = compute_(args_);
    } catch (const std::exception& e) {
      failed_ = true;
      error_ = e.what();
    }
    napi_call_threadsafe_function(tsfn_, nullptr, napi_tsfn_nonblocking);
    napi_release_threadsafe_function(tsfn_, napi_tsfn_release);
  }

  // On the JavaScript thread; env is null when the environment is going away.
  static void settle(napi_env env, napi_value, void* context, void*) {
    if (env == nullptr) return;
    auto* job = static_cast<PoolJob*>(context);
    Napi::Env e(env);
    Napi::HandleScope scope(e);
    if (job->failed_) {
      job->deferred_.Reject(Napi::Error::New(e, job->error_).Value());
      return;
    }
    try {
      job->deferred_.Resolve(job->to_js_(e, std::move(job->result_), job->args_));
    } catch (const Napi::Error& err) {
      job->deferred_.Reject(err.Value());
    }
  }

  // After the last release and settle: the job and its references go.
  static void finalize(napi_env, void* data, void*) { delete static_cast<PoolJob*>(data); }

  Napi::Promise::Deferred deferred_;
  Args args_;
  Compute compute_;
  ToJs to_js_;
  std::vector<Napi::ObjectReference> held_;
  napi_threadsafe_function tsfn_ = nullptr;
  Result result_{};
  bool failed_ = false;
  std::string error_;
};

// Queues compute(args) on the task pool and returns the promise of to_js(its result).
template <typename Result, typename Args, typename Compute, typename ToJs>
Napi::Promise queue_on_pool(const Napi::CallbackInfo& info, const char* name, Args&& args, Compute compute,
                            ToJs to_js) {
  return PoolJob<Args, Result, Compute, ToJs>::queue(info, name, std::move(args), std::move(compute),
                                                     std::move(to_js));
}

}  // namespace spikeshard::addon_common
