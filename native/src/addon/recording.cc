// SPDX-License-Identifier: GPL-3.0-or-later
// Bindings of the recording readers' numeric work (spikeshard/mtscomp.h): undoing mtscomp's time
// differences, synchronously or on libuv's thread pool (the reader decodes chunks ahead while the
// JavaScript thread hands out the current one).
#include <napi.h>

#include <cstdint>
#include <limits>

#include "addon.h"
#include "args.h"
#include "promise_worker.h"
#include "spikeshard/mtscomp.h"

namespace spikeshard::addon {

namespace {

using addon_common::Args;

struct UndoArgs {
  const std::int16_t* diff = nullptr;
  std::int16_t* rows = nullptr;
  std::size_t n_samples = 0;
  std::size_t n_channels = 0;
};

// (diff: Int16Array, nSamples, nChannels, rows: Int16Array); both arrays hold nSamples × nChannels values.
UndoArgs parse_undo(const Napi::CallbackInfo& info, const char* fn) {
  Args a(info, fn, 4);
  UndoArgs u;
  constexpr std::int64_t kMax = std::numeric_limits<std::int32_t>::max();
  u.n_samples = static_cast<std::size_t>(a.integer(info[1], "nSamples", 0, kMax));
  u.n_channels = static_cast<std::size_t>(a.integer(info[2], "nChannels", 1, 65535));
  const std::size_t n = u.n_samples * u.n_channels;
  const std::string shape = "nSamples × nChannels";
  u.diff = a.typed<std::int16_t>(info[0], "diff", n, shape);
  u.rows = a.typed<std::int16_t>(info[3], "rows", n, shape);
  if (n > 0 && u.diff == u.rows) a.range_error("rows", "an array other than diff", "the same array");
  return u;
}

// [sync] undoTimeDiff(diff, nSamples, nChannels, rows): rows ← the wrapping cumulative sum of the
// channel-major diff, sample-major.
Napi::Value UndoTimeDiff(const Napi::CallbackInfo& info) {
  const UndoArgs u = parse_undo(info, "undoTimeDiff");
  mtscomp_undo_time_diff(u.diff, u.n_samples, u.n_channels, u.rows);
  return info.Env().Undefined();
}

// [async] undoTimeDiffAsync(diff, nSamples, nChannels, rows): Promise<void>, the same off the
// JavaScript thread; both arrays stay referenced until it settles.
Napi::Value UndoTimeDiffAsync(const Napi::CallbackInfo& info) {
  UndoArgs u = parse_undo(info, "undoTimeDiffAsync");
  return addon_common::queue_promise<bool>(
      info, "undoTimeDiffAsync", std::move(u),
      [](UndoArgs& a) {
        mtscomp_undo_time_diff(a.diff, a.n_samples, a.n_channels, a.rows);
        return true;
      },
      [](Napi::Env env, bool&&, UndoArgs&) -> Napi::Value { return env.Undefined(); });
}

}  // namespace

void register_recording(Napi::Env env, Napi::Object exports) {
  exports.Set("undoTimeDiff", Napi::Function::New(env, UndoTimeDiff));
  exports.Set("undoTimeDiffAsync", Napi::Function::New(env, UndoTimeDiffAsync));
}

}  // namespace spikeshard::addon
