// SPDX-License-Identifier: GPL-3.0-or-later
// A native call off the JavaScript thread that settles a promise: the addons' async entries
// (the CUDA backend's fused calls) read and check their arguments on the JavaScript thread, then
// queue the work here. The argument objects are held by references until the call completes, so
// the typed arrays that the parsed pointers point into stay alive.
#pragma once

#include <napi.h>

#include <exception>
#include <string>
#include <utility>
#include <vector>

namespace spikeshard::addon_common {

// Compute: Result(Args&) on a libuv worker thread; ToJs: Napi::Value(Napi::Env, Result&&, Args&)
// on the JavaScript thread. An exception from either rejects the promise with its message,
// prefixed by `name`.
template <typename Args, typename Result, typename Compute, typename ToJs>
class PromiseWorker : public Napi::AsyncWorker {
 public:
  PromiseWorker(const Napi::CallbackInfo& info, const char* name, Args&& args, Compute compute, ToJs to_js)
      : Napi::AsyncWorker(info.Env(), name),
        name_(name),
        deferred_(Napi::Promise::Deferred::New(info.Env())),
        args_(std::move(args)),
        compute_(std::move(compute)),
        to_js_(std::move(to_js)) {
    for (std::size_t i = 0; i < info.Length(); ++i) {
      if (info[i].IsObject()) held_.push_back(Napi::Persistent(info[i].As<Napi::Object>()));
    }
  }
  Napi::Promise promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      result_ = compute_(args_);
    } catch (const std::exception& e) {
      SetError(name_ + ": " + e.what());
    }
  }
  void OnOK() override {
    try {
      deferred_.Resolve(to_js_(Env(), std::move(result_), args_));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  std::string name_;
  Napi::Promise::Deferred deferred_;
  Args args_;
  Compute compute_;
  ToJs to_js_;
  std::vector<Napi::ObjectReference> held_;
  Result result_;
};

// Queues compute(args) and returns the promise of to_js(its result); the worker deletes itself.
template <typename Result, typename Args, typename Compute, typename ToJs>
Napi::Promise queue_promise(const Napi::CallbackInfo& info, const char* name, Args&& args, Compute compute,
                            ToJs to_js) {
  auto* worker = new PromiseWorker<Args, Result, Compute, ToJs>(info, name, std::move(args), std::move(compute),
                                                                std::move(to_js));
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

}  // namespace spikeshard::addon_common
