// SPDX-License-Identifier: GPL-3.0-or-later
// Bindings of the export kernels (native/include/spikeshard/export.h) and of the pseudo-inverse
// (spikeshard/linalg.h) the export uses for the whitening matrix. Every argument is checked here;
// the core only sees plain pointers and sizes.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include "addon.h"
#include "args.h"
#include "spikeshard/export.h"
#include "spikeshard/linalg.h"

namespace spikeshard::addon {

namespace {

using addon_common::Args;
using addon_common::guarded;
using addon_common::kMaxSafeInteger;
using addon_common::to_typed;

constexpr std::int64_t kMaxSide = 1 << 20;

std::size_t side(const Args& a, const Napi::Value& v, const char* name) {
  return static_cast<std::size_t>(a.integer(v, name, 0, kMaxSide));
}

int threads_arg(const Args& a, const Napi::Value& v) {
  return v.IsUndefined() ? 0 : static_cast<int>(a.integer(v, "threads", 0, 4096));
}

// [sync] exportPseudoInverse(a, rows, cols, rcond | null, threads): {inverse, singularValues, rank, tolerance}
Napi::Value PseudoInverseJs(const Napi::CallbackInfo& info) {
  const Args a(info, "exportPseudoInverse", 5);
  const std::size_t rows = side(a, info[1], "rows");
  const std::size_t cols = side(a, info[2], "cols");
  if (static_cast<double>(rows) * static_cast<double>(cols) > static_cast<double>(1ULL << 32)) {
    a.range_error("rows × cols", "at most 2^32 values", std::to_string(rows) + " × " + std::to_string(cols));
  }
  const double* m = a.typed<double>(info[0], "a", rows * cols, "rows × cols");
  std::optional<double> rcond;
  if (!info[3].IsNull()) rcond = a.number(info[3], "rcond", 0, std::numeric_limits<double>::max());
  const int threads = threads_arg(a, info[4]);
  return guarded(info, [&]() -> Napi::Value {
    const PseudoInverse p = pseudo_inverse(m, rows, cols, rcond, threads);
    Napi::Object out = Napi::Object::New(info.Env());
    out.Set("inverse", to_typed<double>(info.Env(), p.inverse));
    out.Set("singularValues", to_typed<double>(info.Env(), p.singular_values));
    out.Set("rank", static_cast<double>(p.rank));
    out.Set("tolerance", p.tolerance);
    return out;
  });
}

// [sync] exportMultiplyRows(a, b, rows, n, threads): Float64Array (rows × n)
Napi::Value MultiplyRows(const Napi::CallbackInfo& info) {
  const Args a(info, "exportMultiplyRows", 5);
  const std::size_t n = side(a, info[3], "n");
  const auto rows_d = static_cast<double>(a.integer(info[2], "rows", 0, static_cast<std::int64_t>(kMaxSafeInteger)));
  if (n > 0 && rows_d * static_cast<double>(n) > static_cast<double>(1ULL << 32)) {
    a.range_error("rows × n", "at most 2^32 values", std::to_string(rows_d * static_cast<double>(n)));
  }
  const std::size_t rows = static_cast<std::size_t>(rows_d);
  const float* x = a.typed<float>(info[0], "a", rows * n, "rows × n");
  const double* b = a.typed<double>(info[1], "b", n * n, "n × n");
  const int threads = threads_arg(a, info[4]);
  auto out = Napi::Float64Array::New(info.Env(), rows * n);
  return guarded(info, [&]() -> Napi::Value {
    multiply_rows(x, b, rows, n, out.Data(), threads);
    return out;
  });
}

// [sync] exportTemplatePeakToPeak(whitened, unwhitened, uvPerCount, templates, nt0, channels,
// threads): {p2pCounts, p2pVolts, peakChannels}
Napi::Value TemplatePeakToPeak(const Napi::CallbackInfo& info) {
  const Args a(info, "exportTemplatePeakToPeak", 7);
  const std::size_t templates = side(a, info[3], "templates");
  const std::size_t nt0 = side(a, info[4], "nt0");
  const std::size_t channels = side(a, info[5], "channels");
  const double total = static_cast<double>(templates) * static_cast<double>(nt0) * static_cast<double>(channels);
  if (total > static_cast<double>(1ULL << 32)) {
    a.range_error("templates × nt0 × channels", "at most 2^32 values", std::to_string(total));
  }
  const std::size_t size = templates * nt0 * channels;
  const float* whitened = a.typed<float>(info[0], "whitened", size, "templates × nt0 × channels");
  const double* unwhitened = a.typed<double>(info[1], "unwhitened", size, "templates × nt0 × channels");
  const double* uv = a.typed<double>(info[2], "uvPerCount", channels, "channels");
  const int threads = threads_arg(a, info[6]);
  Napi::Env env = info.Env();
  auto counts = Napi::Float64Array::New(env, templates);
  auto volts = Napi::Float64Array::New(env, templates);
  auto peaks = Napi::Int32Array::New(env, templates);
  return guarded(info, [&]() -> Napi::Value {
    template_peak_to_peak(whitened, unwhitened, uv, templates, nt0, channels, counts.Data(), volts.Data(),
                          peaks.Data(), threads);
    Napi::Object out = Napi::Object::New(env);
    out.Set("p2pCounts", counts);
    out.Set("p2pVolts", volts);
    out.Set("peakChannels", peaks);
    return out;
  });
}

}  // namespace

void register_export(Napi::Env env, Napi::Object exports) {
  exports.Set("exportPseudoInverse", Napi::Function::New(env, PseudoInverseJs));
  exports.Set("exportMultiplyRows", Napi::Function::New(env, MultiplyRows));
  exports.Set("exportTemplatePeakToPeak", Napi::Function::New(env, TemplatePeakToPeak));
}

}  // namespace spikeshard::addon
