// SPDX-License-Identifier: GPL-3.0-or-later
// Bindings of the simulator core (native/src/core/simulate*.h). Every argument is checked here;
// the core only sees plain pointers and sizes.
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "../core/simulate.h"
#include "../core/simulate_filter.h"
#include "../core/simulate_waveform.h"
#include "addon.h"

namespace spikeshard::addon {

namespace {

using sim::ChunkSetup;
using sim::TableGrid;

constexpr double kMaxSafeInteger = 9007199254740991.0;

[[noreturn]] void type_error(Napi::Env env, const std::string& message) { throw Napi::TypeError::New(env, message); }
[[noreturn]] void range_error(Napi::Env env, const std::string& message) {
  throw Napi::RangeError::New(env, message);
}

double number_at(Napi::Env env, const Napi::Value& v, const std::string& what) {
  if (!v.IsNumber()) type_error(env, what + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) range_error(env, what + " must be finite, got " + std::to_string(d));
  return d;
}

double number_field(Napi::Env env, const Napi::Object& o, const char* key, const std::string& ctx) {
  return number_at(env, o.Get(key), ctx + "." + key);
}

std::size_t count_at(Napi::Env env, const Napi::Value& v, const std::string& what, double max = kMaxSafeInteger) {
  const double d = number_at(env, v, what);
  if (d < 0 || d != std::floor(d) || d > max) {
    range_error(env, what + " must be an integer in [0, " + std::to_string(static_cast<std::uint64_t>(max)) +
                         "], got " + std::to_string(d));
  }
  return static_cast<std::size_t>(d);
}

int int_at(Napi::Env env, const Napi::Value& v, const std::string& what, int lo, int hi) {
  const double d = number_at(env, v, what);
  if (d != std::floor(d) || d < lo || d > hi) {
    range_error(env, what + " must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " +
                         std::to_string(d));
  }
  return static_cast<int>(d);
}

template <typename T>
napi_typedarray_type typed_kind();
template <>
napi_typedarray_type typed_kind<float>() {
  return napi_float32_array;
}
template <>
napi_typedarray_type typed_kind<double>() {
  return napi_float64_array;
}
template <>
napi_typedarray_type typed_kind<std::int16_t>() {
  return napi_int16_array;
}

template <typename T>
const char* typed_name() {
  if constexpr (std::is_same_v<T, float>) return "Float32Array";
  if constexpr (std::is_same_v<T, double>) return "Float64Array";
  return "Int16Array";
}

// A typed array of element type T whose length is `expected` (or a multiple of `multiple_of`
// when expected is SIZE_MAX).
template <typename T>
Napi::TypedArrayOf<T> typed_at(Napi::Env env, const Napi::Value& v, const std::string& what, std::size_t expected,
                               std::size_t multiple_of = 1) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != typed_kind<T>()) {
    type_error(env, what + " must be a " + typed_name<T>());
  }
  auto a = v.As<Napi::TypedArrayOf<T>>();
  if (expected != SIZE_MAX && a.ElementLength() != expected) {
    range_error(env, what + " must have " + std::to_string(expected) + " elements, got " +
                         std::to_string(a.ElementLength()));
  }
  if (expected == SIZE_MAX && a.ElementLength() % multiple_of != 0) {
    range_error(env, what + " length " + std::to_string(a.ElementLength()) + " is not a multiple of " +
                         std::to_string(multiple_of));
  }
  return a;
}

Napi::Object object_at(Napi::Env env, const Napi::Value& v, const std::string& what) {
  if (!v.IsObject() || v.IsTypedArray() || v.IsArray()) type_error(env, what + " must be an object");
  return v.As<Napi::Object>();
}

TableGrid grid_from(Napi::Env env, const Napi::Value& v) {
  const Napi::Object o = object_at(env, v, "grid");
  TableGrid g;
  g.sample_rate_hz = number_field(env, o, "sampleRateHz", "grid");
  g.pre_samples = count_at(env, o.Get("preSamples"), "grid.preSamples", 4096);
  g.post_samples = count_at(env, o.Get("postSamples"), "grid.postSamples", 4096);
  g.upsample = count_at(env, o.Get("upsample"), "grid.upsample", 64);
  g.dr_um = number_field(env, o, "drUm", "grid");
  g.n_radii = count_at(env, o.Get("nRadii"), "grid.nRadii", 100000);
  try {
    g.validate();
  } catch (const std::invalid_argument& e) {
    range_error(env, e.what());
  }
  return g;
}

// Runs a core call, turning std::invalid_argument into RangeError and other failures into Error.
template <typename F>
void guarded(Napi::Env env, F&& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    range_error(env, e.what());
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

void expect_args(const Napi::CallbackInfo& info, std::size_t n, const char* signature) {
  if (info.Length() != n) {
    throw Napi::TypeError::New(info.Env(), std::string("expected ") + std::to_string(n) + " arguments: " + signature);
  }
}

// [sync] simulateLayout(): the flat-array layouts, for the TS side to check against its own.
Napi::Value Layout(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("shapeFields", static_cast<double>(sim::kShapeFields));
  o.Set("componentFields", static_cast<double>(sim::kComponentFields));
  o.Set("maxComponents", static_cast<double>(sim::kMaxComponents));
  o.Set("spikeFields", static_cast<double>(sim::kSpikeFields));
  o.Set("channelFields", static_cast<double>(sim::kChannelFields));
  o.Set("pinkPoles", static_cast<double>(sim::kPinkPoles));
  o.Set("lfpFields", static_cast<double>(sim::kLfpFields));
  o.Set("maxLfpSources", static_cast<double>(sim::kMaxLfpSources));
  return o;
}

// [sync] simulateBuildTables(grid, shapes: Float64Array, threads): Float32Array
Napi::Value BuildTables(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  expect_args(info, 3, "(grid, shapes, threads)");
  const TableGrid g = grid_from(env, info[0]);
  auto shapes = typed_at<double>(env, info[1], "shapes", SIZE_MAX, sim::kShapeFields);
  const int threads = int_at(env, info[2], "threads", 0, 4096);
  const std::size_t n_tables = shapes.ElementLength() / sim::kShapeFields;
  auto out = Napi::Float32Array::New(env, n_tables * g.floats_per_table());
  guarded(env, [&] { sim::build_waveform_tables(g, shapes.Data(), n_tables, out.Data(), threads); });
  return out;
}

std::size_t tables_count(Napi::Env env, const TableGrid& g, const Napi::Float32Array& tables) {
  if (tables.ElementLength() % g.floats_per_table() != 0) {
    range_error(env, "tables length " + std::to_string(tables.ElementLength()) + " is not a multiple of " +
                         std::to_string(g.floats_per_table()) + " (one table for this grid)");
  }
  return tables.ElementLength() / g.floats_per_table();
}

// [sync] simulateRenderSpikes(grid, tables, spikes, siteXy: Float64Array, nSamples, threads): Float32Array
Napi::Value RenderSpikes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  expect_args(info, 6, "(grid, tables, spikes, siteXy, nSamples, threads)");
  const TableGrid g = grid_from(env, info[0]);
  auto tables = typed_at<float>(env, info[1], "tables", SIZE_MAX);
  const std::size_t n_tables = tables_count(env, g, tables);
  auto spikes = typed_at<double>(env, info[2], "spikes", SIZE_MAX, sim::kSpikeFields);
  auto sites = typed_at<double>(env, info[3], "siteXy", SIZE_MAX, 2);
  const std::size_t n = count_at(env, info[4], "nSamples", 1 << 26);
  const int threads = int_at(env, info[5], "threads", 0, 4096);
  const std::size_t n_channels = sites.ElementLength() / 2;
  if (n_channels * n > (std::size_t{1} << 31)) range_error(env, "renderSpikes: output too large");
  auto out = Napi::Float32Array::New(env, n_channels * n);
  guarded(env, [&] {
    sim::render_spikes(g, tables.Data(), n_tables, spikes.Data(), spikes.ElementLength() / sim::kSpikeFields,
                       sites.Data(), n_channels, out.Data(), n, threads);
  });
  return out;
}

// [sync] simulateHighpass(data: Float32Array, nChannels, nSamples, sampleRateHz, cutoffHz, threads): void
Napi::Value Highpass(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  expect_args(info, 6, "(data, nChannels, nSamples, sampleRateHz, cutoffHz, threads)");
  const std::size_t n_channels = count_at(env, info[1], "nChannels", 1 << 20);
  const std::size_t n = count_at(env, info[2], "nSamples", kMaxSafeInteger);
  auto data = typed_at<float>(env, info[0], "data", n_channels * n);
  const double fs = number_at(env, info[3], "sampleRateHz");
  const double cutoff = number_at(env, info[4], "cutoffHz");
  const int threads = int_at(env, info[5], "threads", 0, 4096);
  guarded(env, [&] { sim::highpass_zero_phase(data.Data(), n_channels, n, fs, cutoff, threads); });
  return env.Undefined();
}

// [sync] simulateSpikeBandRms(data: Int16Array, nSaved, nNeural, sampleRateHz, uvPerCount, cutoffHz, threads): Float32Array
Napi::Value SpikeBandRms(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  expect_args(info, 7, "(data, nSaved, nNeural, sampleRateHz, uvPerCount, cutoffHz, threads)");
  const std::size_t n_saved = count_at(env, info[1], "nSaved", 1 << 16);
  const std::size_t n_neural = count_at(env, info[2], "nNeural", 1 << 16);
  if (n_saved == 0 || n_neural > n_saved) range_error(env, "need 0 < nNeural ≤ nSaved");
  auto data = typed_at<std::int16_t>(env, info[0], "data", SIZE_MAX, n_saved);
  const double fs = number_at(env, info[3], "sampleRateHz");
  const double uvpc = number_at(env, info[4], "uvPerCount");
  const double cutoff = number_at(env, info[5], "cutoffHz");
  const int threads = int_at(env, info[6], "threads", 0, 4096);
  auto out = Napi::Float32Array::New(env, n_neural);
  guarded(env, [&] {
    sim::spike_band_rms(data.Data(), data.ElementLength() / n_saved, n_saved, n_neural, fs, uvpc, cutoff, out.Data(),
                        threads);
  });
  return out;
}

// The setup's typed arrays stay alive for the call: the setup object, an argument, holds them.
ChunkSetup setup_from(Napi::Env env, const Napi::Value& v) {
  const Napi::Object o = object_at(env, v, "setup");
  ChunkSetup s;
  s.seed = static_cast<std::uint64_t>(count_at(env, o.Get("seed"), "setup.seed"));
  s.n_channels = count_at(env, o.Get("nChannels"), "setup.nChannels", 4096);
  s.sample_rate_hz = number_field(env, o, "sampleRateHz", "setup");
  auto channels = typed_at<double>(env, o.Get("channels"), "setup.channels", s.n_channels * sim::kChannelFields);
  s.channels = channels.Data();
  auto poles = typed_at<double>(env, o.Get("pinkPoles"), "setup.pinkPoles", sim::kPinkPoles);
  auto weights = typed_at<double>(env, o.Get("pinkWeights"), "setup.pinkWeights", sim::kPinkPoles);
  for (std::size_t k = 0; k < sim::kPinkPoles; ++k) {
    s.noise.pink_poles[k] = poles[k];
    s.noise.pink_weights[k] = weights[k];
  }
  s.noise.antialias_pole = number_field(env, o, "antialiasPole", "setup");
  s.noise.common_white_uv = number_field(env, o, "commonWhiteUv", "setup");
  s.noise.common_pink_uv = number_field(env, o, "commonPinkUv", "setup");
  auto lfp = typed_at<double>(env, o.Get("lfpSources"), "setup.lfpSources", SIZE_MAX, sim::kLfpFields);
  s.n_lfp = lfp.ElementLength() / sim::kLfpFields;
  s.lfp_sources = lfp.Data();
  auto profiles = typed_at<float>(env, o.Get("lfpProfiles"), "setup.lfpProfiles", s.n_lfp * s.n_channels);
  s.lfp_profiles = profiles.Data();
  s.uv_per_count = number_field(env, o, "uvPerCount", "setup");
  s.adc_min = int_at(env, o.Get("adcMin"), "setup.adcMin", -32768, 32767);
  s.adc_max = int_at(env, o.Get("adcMax"), "setup.adcMax", -32768, 32767);
  s.sync_bit = int_at(env, o.Get("syncBit"), "setup.syncBit", 0, 15);
  s.grid = grid_from(env, o.Get("grid"));
  auto tables = typed_at<float>(env, o.Get("tables"), "setup.tables", SIZE_MAX);
  s.n_tables = tables_count(env, s.grid, tables);
  s.tables = tables.Data();
  s.threads = int_at(env, o.Get("threads"), "setup.threads", 0, 4096);
  try {
    s.validate();
  } catch (const std::invalid_argument& e) {
    range_error(env, e.what());
  }
  return s;
}

// [sync] simulateStateLength(nChannels, nLfp): number
Napi::Value StateLength(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  expect_args(info, 2, "(nChannels, nLfp)");
  const std::size_t n_channels = count_at(env, info[0], "nChannels", 4096);
  const std::size_t n_lfp = count_at(env, info[1], "nLfp", sim::kMaxLfpSources);
  return Napi::Number::New(env, static_cast<double>(sim::state_length(n_channels, n_lfp)));
}

// [sync] simulateInitState(setup): Float64Array
Napi::Value InitState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  expect_args(info, 1, "(setup)");
  const ChunkSetup setup = setup_from(env, info[0]);
  auto out = Napi::Float64Array::New(env, sim::state_length(setup.n_channels, setup.n_lfp));
  guarded(env, [&] { sim::init_state(setup, out.Data()); });
  return out;
}

// [sync] simulateChunk(setup, chunkIndex, startSample, nSamples, spikes, state, out): void
Napi::Value Chunk(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  expect_args(info, 7, "(setup, chunkIndex, startSample, nSamples, spikes, state, out)");
  const ChunkSetup setup = setup_from(env, info[0]);
  const std::uint64_t chunk_index = count_at(env, info[1], "chunkIndex");
  const std::uint64_t start = count_at(env, info[2], "startSample");
  const std::size_t n = count_at(env, info[3], "nSamples", 1 << 24);
  auto spikes = typed_at<double>(env, info[4], "spikes", SIZE_MAX, sim::kSpikeFields);
  auto state = typed_at<double>(env, info[5], "state", sim::state_length(setup.n_channels, setup.n_lfp));
  auto out = typed_at<std::int16_t>(env, info[6], "out", SIZE_MAX);
  if (out.ElementLength() < n * (setup.n_channels + 1)) {
    range_error(env, "out has " + std::to_string(out.ElementLength()) + " elements, need at least " +
                         std::to_string(n * (setup.n_channels + 1)));
  }
  guarded(env, [&] {
    sim::synthesize_chunk(setup, chunk_index, start, n, spikes.Data(), spikes.ElementLength() / sim::kSpikeFields,
                          state.Data(), out.Data());
  });
  return env.Undefined();
}

}  // namespace

void register_simulate(Napi::Env env, Napi::Object exports) {
  exports.Set("simulateLayout", Napi::Function::New(env, Layout));
  exports.Set("simulateBuildTables", Napi::Function::New(env, BuildTables));
  exports.Set("simulateRenderSpikes", Napi::Function::New(env, RenderSpikes));
  exports.Set("simulateHighpass", Napi::Function::New(env, Highpass));
  exports.Set("simulateSpikeBandRms", Napi::Function::New(env, SpikeBandRms));
  exports.Set("simulateStateLength", Napi::Function::New(env, StateLength));
  exports.Set("simulateInitState", Napi::Function::New(env, InitState));
  exports.Set("simulateChunk", Napi::Function::New(env, Chunk));
}

}  // namespace spikeshard::addon
