// SPDX-License-Identifier: GPL-3.0-or-later
// Bindings of the preprocessing kernels (spikeshard/preprocess.h). Every function but
// finishIblWaveformsAsync (on the task pool) is [sync]; each takes one options object whose fields are checked here: a missing field or a wrong type gives a
// TypeError, a wrong size or value a RangeError, each naming the function and the field. Errors
// raised by the core (shapes it cannot use) become RangeError, other failures Error.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "addon.h"
#include "args.h"
#include "destripe_args.h"
#include "pool_promise.h"
#include "preprocess_args.h"
#include "spikeshard/destripe.h"
#include "spikeshard/preprocess.h"

namespace spikeshard::addon {

namespace {

using addon_common::checked_product;
using addon_common::destripe_input;
using addon_common::guarded;
using addon_common::highpass_options;
using addon_common::Options;
using addon_common::preprocess_batch_input;
using addon_common::to_typed;

// [sync] butterworthHighpassSos({order, cutoffHz, sampleRateHz}) → Float64Array (sections × 6,
// rows [b0 b1 b2 1 a1 a2] as scipy's sos). RangeError on an impossible design.
Napi::Value ButterworthHighpassSos(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Options o(info, "butterworthHighpassSos");
    const HighpassOptions h = highpass_options(o);
    const auto sos = butterworth_highpass_sos(h.order, h.cutoff_hz, h.sample_rate_hz);
    auto out = Napi::Float64Array::New(o.env(), sos.size() * 6);
    for (std::size_t s = 0; s < sos.size(); ++s) {
      const double row[6] = {sos[s].b0, sos[s].b1, sos[s].b2, 1.0, sos[s].a1, sos[s].a2};
      std::memcpy(out.Data() + s * 6, row, sizeof row);
    }
    return out;
  });
}

// [sync] highpassBlock({data: Int16Array | Float32Array, nSamples, nChannels, rowStride,
// gains: Float64Array | null, order, cutoffHz, sampleRateHz}) → Float32Array (nSamples × nChannels).
Napi::Value HighpassBlock(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Options o(info, "highpassBlock");
    const std::size_t n = o.count("nSamples", 1), nc = o.count("nChannels", 1), stride = o.count("rowStride", 1);
    if (stride < nc) o.range_error("rowStride", "must be ≥ nChannels (" + std::to_string(nc) + ")");
    const std::size_t length = checked_product(o, "nSamples", n, stride);
    const double* gains = o.optional_array<double>("gains", napi_float64_array, nc);
    const HighpassOptions h = highpass_options(o);
    auto out = Napi::Float32Array::New(o.env(), checked_product(o, "nSamples", n, nc));
    if (o.has_type("data", napi_int16_array)) {
      highpass_block(o.array<std::int16_t>("data", napi_int16_array, length).Data(), stride, gains, n, nc, h,
                     out.Data());
    } else {
      highpass_block(o.array<float>("data", napi_float32_array, length).Data(), stride, gains, n, nc, h, out.Data());
    }
    return out;
  });
}

// [sync] commonMedianReference({data: Float32Array, nSamples, nChannels, good: Uint8Array})
// → a new Float32Array; data is not modified.
Napi::Value CommonMedianReference(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Options o(info, "commonMedianReference");
    const std::size_t n = o.count("nSamples", 1), nc = o.count("nChannels", 1);
    auto data = o.array<float>("data", napi_float32_array, checked_product(o, "nSamples", n, nc));
    auto good = o.array<std::uint8_t>("good", napi_uint8_array, nc);
    auto out = Napi::Float32Array::New(o.env(), n * nc);
    std::memcpy(out.Data(), data.Data(), n * nc * sizeof(float));
    common_median_reference(out.Data(), n, nc, good.Data());
    return out;
  });
}

// [sync] badChannelFeatures({data: Int16Array | Float32Array, nSamples, nChannels, rowStride,
// gains: Float64Array | null, sampleRateHz, order, cutoffHz, medianWindowChannels,
// welchSegmentSamples, psdBandFraction}) → {xcor, xcorHf, xcorLf, psdHf} (Float64Array each).
Napi::Value BadChannelFeaturesBinding(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Options o(info, "badChannelFeatures");
    const std::size_t n = o.count("nSamples", 1), nc = o.count("nChannels", 1), stride = o.count("rowStride", 1);
    if (stride < nc) o.range_error("rowStride", "must be ≥ nChannels (" + std::to_string(nc) + ")");
    const std::size_t length = checked_product(o, "nSamples", n, stride);
    const double* gains = o.optional_array<double>("gains", napi_float64_array, nc);
    BadChannelOptions options;
    options.sample_rate_hz = o.number("sampleRateHz");
    options.highpass.order = o.integer("order");
    options.highpass.cutoff_hz = o.number("cutoffHz");
    options.median_window_channels = o.count("medianWindowChannels", 1);
    options.welch_segment_samples = o.count("welchSegmentSamples", 2);
    options.psd_band_fraction = o.number("psdBandFraction");
    BadChannelFeatures f;
    if (o.has_type("data", napi_int16_array)) {
      f = bad_channel_features(o.array<std::int16_t>("data", napi_int16_array, length).Data(), stride, gains, n, nc,
                               options);
    } else {
      f = bad_channel_features(o.array<float>("data", napi_float32_array, length).Data(), stride, gains, n, nc,
                               options);
    }
    Napi::Object out = Napi::Object::New(o.env());
    out.Set("xcor", to_typed<double>(o.env(), f.xcor));
    out.Set("xcorHf", to_typed<double>(o.env(), f.xcor_hf));
    out.Set("xcorLf", to_typed<double>(o.env(), f.xcor_lf));
    out.Set("psdHf", to_typed<double>(o.env(), f.psd_hf));
    return out;
  });
}

// [sync] labelBadChannels({xcorHf, xcorLf, psdHf: Float64Array (nChannels each),
// deadSimilarityBelow, noisySimilarityAbove, noisyPsdAboveUv2PerHz, outsideSimilarityBelow})
// → Int32Array of labels 0..3.
Napi::Value LabelBadChannels(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Options o(info, "labelBadChannels");
    auto xcor_hf = o.array<double>("xcorHf", napi_float64_array);
    const std::size_t nc = xcor_hf.ElementLength();
    auto xcor_lf = o.array<double>("xcorLf", napi_float64_array, nc);
    auto psd_hf = o.array<double>("psdHf", napi_float64_array, nc);
    BadChannelThresholds t;
    t.dead_similarity_below = o.number("deadSimilarityBelow");
    t.noisy_similarity_above = o.number("noisySimilarityAbove");
    t.noisy_psd_above_uv2_per_hz = o.number("noisyPsdAboveUv2PerHz");
    t.outside_similarity_below = o.number("outsideSimilarityBelow");
    return to_typed<std::int32_t>(o.env(), label_bad_channels(xcor_hf.Data(), xcor_lf.Data(), psd_hf.Data(), nc, t));
  });
}

// [sync] channelLabelMode({labels: Int32Array (nWindows × nChannels), nWindows, nChannels})
// → Int32Array (nChannels): per channel the most frequent label, ties to the smaller.
Napi::Value ChannelLabelMode(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Options o(info, "channelLabelMode");
    const std::size_t nw = o.count("nWindows", 1), nc = o.count("nChannels", 1);
    auto labels = o.array<std::int32_t>("labels", napi_int32_array, checked_product(o, "nWindows", nw, nc));
    return to_typed<std::int32_t>(o.env(), channel_label_mode(labels.Data(), nw, nc));
  });
}

// [sync] channelCovariance({data: Float32Array, nSamples, nChannels}) → Float64Array
// (nChannels², XᵀX / nSamples).
Napi::Value ChannelCovariance(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Options o(info, "channelCovariance");
    const std::size_t n = o.count("nSamples", 1), nc = o.count("nChannels", 1);
    auto data = o.array<float>("data", napi_float32_array, checked_product(o, "nSamples", n, nc));
    return to_typed<double>(o.env(), channel_covariance(data.Data(), n, nc));
  });
}

// [sync] whiteningCovariance({covariances: Float64Array (nWindows × nChannels²), nWindows,
// nChannels, labels: Int32Array (nChannels)}) → Float64Array (nChannels²): each window stabilised,
// then the element-wise median.
Napi::Value WhiteningCovariance(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Options o(info, "whiteningCovariance");
    const std::size_t nw = o.count("nWindows", 1), nc = o.count("nChannels", 1);
    const std::size_t size = checked_product(o, "nChannels", nc, nc);
    auto covs = o.array<double>("covariances", napi_float64_array, checked_product(o, "nWindows", nw, size));
    auto labels = o.array<std::int32_t>("labels", napi_int32_array, nc);
    return to_typed<double>(o.env(), whitening_covariance(covs.Data(), nw, nc, labels.Data()));
  });
}

// [sync] localWhitening({covariance: Float64Array (nChannels²), nChannels, xUm, yUm: Float64Array
// (nChannels), labels: Int32Array (nChannels), nNearest, epsilonFraction}) → {nNearest, epsilon,
// indices: Int32Array, weights: Float32Array (nChannels × nNearest), dense: Float64Array (nChannels²)}.
Napi::Value LocalWhiteningBinding(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Options o(info, "localWhitening");
    const std::size_t nc = o.count("nChannels", 1);
    auto cov = o.array<double>("covariance", napi_float64_array, checked_product(o, "nChannels", nc, nc));
    auto x = o.array<double>("xUm", napi_float64_array, nc);
    auto y = o.array<double>("yUm", napi_float64_array, nc);
    auto labels = o.array<std::int32_t>("labels", napi_int32_array, nc);
    const std::size_t k = o.count("nNearest", 1);
    const double epsilon_fraction = o.number("epsilonFraction");
    const LocalWhitening w = local_whitening(cov.Data(), nc, x.Data(), y.Data(), labels.Data(), k, epsilon_fraction);
    Napi::Object out = Napi::Object::New(o.env());
    out.Set("nNearest", static_cast<double>(w.n_nearest));
    out.Set("epsilon", w.epsilon);
    out.Set("indices", to_typed<std::int32_t>(o.env(), w.indices));
    out.Set("weights", to_typed<float>(o.env(), w.weights));
    out.Set("dense", to_typed<double>(o.env(), w.dense));
    return out;
  });
}

// [sync] invertMatrix({matrix: Float64Array (n²), n}) → Float64Array (n²). Error if singular.
Napi::Value InvertMatrix(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Options o(info, "invertMatrix");
    const std::size_t n = o.count("n", 1);
    auto m = o.array<double>("matrix", napi_float64_array, checked_product(o, "n", n, n));
    return to_typed<double>(o.env(), invert_matrix(m.Data(), n));
  });
}

// [sync] applyWhitening({data: Float32Array, nSamples, nChannels, indices: Int32Array,
// weights: Float32Array (nChannels × nNearest), nNearest, scale}) → Float32Array.
Napi::Value ApplyWhitening(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Options o(info, "applyWhitening");
    const std::size_t n = o.count("nSamples", 1), nc = o.count("nChannels", 1), k = o.count("nNearest", 1);
    auto data = o.array<float>("data", napi_float32_array, checked_product(o, "nSamples", n, nc));
    auto indices = o.array<std::int32_t>("indices", napi_int32_array, checked_product(o, "nChannels", nc, k));
    auto weights = o.array<float>("weights", napi_float32_array, nc * k);
    const double scale = o.number("scale");
    auto out = Napi::Float32Array::New(o.env(), n * nc);
    apply_whitening(data.Data(), n, nc, indices.Data(), weights.Data(), k, scale, out.Data());
    return out;
  });
}

// [sync] preprocessBatch({raw: Int16Array (nSamples × rowStride), nSamples, nChannels, rowStride,
// gains: Float64Array | null, good: Uint8Array, indices, weights, nNearest, order, cutoffHz,
// sampleRateHz, scale}) → Float32Array (nSamples × nChannels), whitened.
Napi::Value PreprocessBatch(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Options o(info, "preprocessBatch");
    const PreprocessBatchInput in = preprocess_batch_input(o);
    auto out = Napi::Float32Array::New(o.env(), in.n_samples * in.n_channels);
    preprocess_batch(in, out.Data());
    return out;
  });
}

// [sync] destripeBatch({raw: Int16Array, nSamples, nChannels, rowStride, gains: Float64Array | null,
// shiftSamples: Float64Array | null, xUm, yUm: Float64Array, shank: Int32Array | null, labels:
// Int32Array, order, cutoffHz, sampleRateHz, interpLengthUm, interpPower, interpMinWeight,
// kfilter: boolean, kOrder, kCutoff, kPadChannels, agcWindowSamples, mute: boolean,
// saturationMaxCount, saturationLevelFraction, saturationStepUv, saturationChannelFraction,
// reference: Uint8Array | null, out?: Float32Array (nSamples × nChannels) | null})
// → {data: Float32Array (nSamples × nChannels, µV; out when given), nSaturated}. See
// spikeshard/destripe.h.
Napi::Value DestripeBatch(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Options o(info, "destripeBatch");
    const DestripeInput in = destripe_input(o);
    const std::size_t nc = in.n_channels;
    const std::size_t n_values = checked_product(o, "nSamples", in.n_samples, nc);
    // Every value of the block is written, so a buffer reused across batches needs no clearing.
    const bool given = !o.get("out").IsUndefined() && !o.is_null("out");
    auto out = given ? o.array<float>("out", napi_float32_array, n_values) : Napi::Float32Array::New(o.env(), n_values);
    std::size_t n_saturated = 0;
    destripe_block(in, out.Data(), &n_saturated);
    Napi::Object result = Napi::Object::New(o.env());
    result.Set("data", out);
    result.Set("nSaturated", static_cast<double>(n_saturated));
    return result;
  });
}

// [sync] adcSampleShift({nChannels, perAdc, cycles}) → Float64Array of per-channel shifts (samples).
Napi::Value AdcSampleShift(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Options o(info, "adcSampleShift");
    const auto shift = adc_sample_shift(o.count("nChannels", 1), o.count("perAdc", 1), o.count("cycles", 1));
    return to_typed<double>(o.env(), shift);
  });
}

// [sync] cutWaveforms({block: Float32Array (nSamples × nChannels), nSamples, nChannels, starts:
// Int32Array (nWaves), channels: Int32Array (nWaves × nRows; nChannels pads), nWaves, nRows,
// length, scale, out: Float32Array (nWaves × nRows × length)}) → undefined; writes out.
Napi::Value CutWaveforms(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Options o(info, "cutWaveforms");
    const std::size_t n = o.count("nSamples", 1), nc = o.count("nChannels", 1);
    const std::size_t n_waves = o.count("nWaves"), n_rows = o.count("nRows", 1), length = o.count("length", 1);
    const float* block = o.array<float>("block", napi_float32_array, checked_product(o, "nSamples", n, nc)).Data();
    const std::int32_t* starts = o.array<std::int32_t>("starts", napi_int32_array, n_waves).Data();
    const std::size_t rows = checked_product(o, "nRows", n_waves, n_rows);
    const std::int32_t* channels = o.array<std::int32_t>("channels", napi_int32_array, rows).Data();
    const double scale = o.number("scale");
    float* out = o.array<float>("out", napi_float32_array, checked_product(o, "length", rows, length)).Data();
    cut_waveforms(block, n, nc, starts, channels, n_waves, n_rows, length, scale, out);
    return o.env().Undefined();
  });
}

// [sync] waveformMedians({traces: Float32Array (nWaves × nValues), nWaves, nValues, out:
// Float32Array (nValues)}) → undefined; writes the NaN-skipping medians over waveforms into out.
Napi::Value WaveformMedians(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Options o(info, "waveformMedians");
    const std::size_t n_waves = o.count("nWaves"), n_values = o.count("nValues");
    const float* traces =
        o.array<float>("traces", napi_float32_array, checked_product(o, "nWaves", n_waves, n_values)).Data();
    float* out = o.array<float>("out", napi_float32_array, n_values).Data();
    waveform_medians(traces, n_waves, n_values, out);
    return o.env().Undefined();
  });
}

// [sync] float16FromFloat32({values: Float32Array, out: Uint16Array (same length)}) → undefined;
// writes the binary16 bit patterns into out.
Napi::Value Float16FromFloat32(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Options o(info, "float16FromFloat32");
    auto values = o.array<float>("values", napi_float32_array);
    auto out = o.array<std::uint16_t>("out", napi_uint16_array, values.ElementLength());
    float16_from_float32(values.Data(), values.ElementLength(), out.Data());
    return o.env().Undefined();
  });
}

struct FinishArgs {
  int scratch_fd = -1;
  int traces_fd = -1;
  std::uint64_t traces_offset = 0;
  const std::uint32_t* rows = nullptr;
  std::vector<std::uint64_t> first;
  std::size_t max_per_cluster = 0;
  std::size_t n_values = 0;
  float* templates = nullptr;
};

// [async] finishIblWaveformsAsync({scratchFd, tracesFd, tracesOffset, rows: Uint32Array (scratch
// row of each waveform, by cluster), firstRow: Float64Array (U + 1: cluster u's waveforms are rows
// [firstRow[u], firstRow[u + 1])), maxPerCluster, nValues, templates: Float32Array (U × nValues)})
// → Promise<void> on the task pool: the medians into templates and the float16 traces written at
// tracesOffset (spikeshard/destripe.h, finish_ibl_waveforms). The caller keeps both files open
// until it settles; the arrays stay referenced until then.
Napi::Value FinishIblWaveformsAsync(const Napi::CallbackInfo& info) {
  const char* fn = "finishIblWaveformsAsync";
  return guarded(info, [&]() -> Napi::Value {
    Options o(info, fn);
    FinishArgs f;
    constexpr std::size_t kMaxFd = 0x7fffffff;
    const std::size_t scratch_fd = o.count("scratchFd"), traces_fd = o.count("tracesFd");
    if (scratch_fd > kMaxFd) o.range_error("scratchFd", "must be a file descriptor, got " + std::to_string(scratch_fd));
    if (traces_fd > kMaxFd) o.range_error("tracesFd", "must be a file descriptor, got " + std::to_string(traces_fd));
    f.scratch_fd = static_cast<int>(scratch_fd);
    f.traces_fd = static_cast<int>(traces_fd);
    f.traces_offset = o.count("tracesOffset");
    f.max_per_cluster = o.count("maxPerCluster", 1);
    f.n_values = o.count("nValues", 1);
    auto rows = o.array<std::uint32_t>("rows", napi_uint32_array);
    auto first = o.array<double>("firstRow", napi_float64_array);
    if (first.ElementLength() == 0) o.range_error("firstRow", "must hold U + 1 ≥ 1 elements, got 0");
    const std::size_t n_clusters = first.ElementLength() - 1;
    f.first.resize(first.ElementLength());
    for (std::size_t u = 0; u <= n_clusters; ++u) {
      const double x = first[u];
      const double before = u == 0 ? 0.0 : first[u - 1];
      if (!(x == std::floor(x)) || x < before || x > static_cast<double>(rows.ElementLength()) ||
          (u > 0 && x - before > static_cast<double>(f.max_per_cluster))) {
        o.range_error("firstRow", "must rise by 0.." + std::to_string(f.max_per_cluster) + " per cluster within rows (" +
                                      std::to_string(rows.ElementLength()) + "), got " + std::to_string(x) +
                                      " at " + std::to_string(u));
      }
      f.first[u] = static_cast<std::uint64_t>(x);
    }
    f.rows = rows.Data();
    f.templates = o.array<float>("templates", napi_float32_array,
                                 checked_product(o, "templates", n_clusters, f.n_values))
                      .Data();
    checked_product(o, "maxPerCluster", f.max_per_cluster, f.n_values);
    return addon_common::queue_on_pool<bool>(
        info, fn, std::move(f),
        [](FinishArgs& a) {
          finish_ibl_waveforms(a.scratch_fd, a.traces_fd, a.traces_offset, a.rows, a.first.data(), a.first.size() - 1,
                               a.max_per_cluster, a.n_values, a.templates);
          return true;
        },
        [](Napi::Env env, bool&&, FinishArgs&) -> Napi::Value { return env.Undefined(); });
  });
}

}  // namespace

void register_preprocess(Napi::Env env, Napi::Object exports) {
  exports.Set("destripeBatch", Napi::Function::New(env, DestripeBatch));
  exports.Set("adcSampleShift", Napi::Function::New(env, AdcSampleShift));
  exports.Set("cutWaveforms", Napi::Function::New(env, CutWaveforms));
  exports.Set("waveformMedians", Napi::Function::New(env, WaveformMedians));
  exports.Set("float16FromFloat32", Napi::Function::New(env, Float16FromFloat32));
  exports.Set("finishIblWaveformsAsync", Napi::Function::New(env, FinishIblWaveformsAsync));
  exports.Set("butterworthHighpassSos", Napi::Function::New(env, ButterworthHighpassSos));
  exports.Set("highpassBlock", Napi::Function::New(env, HighpassBlock));
  exports.Set("commonMedianReference", Napi::Function::New(env, CommonMedianReference));
  exports.Set("badChannelFeatures", Napi::Function::New(env, BadChannelFeaturesBinding));
  exports.Set("labelBadChannels", Napi::Function::New(env, LabelBadChannels));
  exports.Set("channelLabelMode", Napi::Function::New(env, ChannelLabelMode));
  exports.Set("channelCovariance", Napi::Function::New(env, ChannelCovariance));
  exports.Set("whiteningCovariance", Napi::Function::New(env, WhiteningCovariance));
  exports.Set("localWhitening", Napi::Function::New(env, LocalWhiteningBinding));
  exports.Set("invertMatrix", Napi::Function::New(env, InvertMatrix));
  exports.Set("applyWhitening", Napi::Function::New(env, ApplyWhitening));
  exports.Set("preprocessBatch", Napi::Function::New(env, PreprocessBatch));
}

}  // namespace spikeshard::addon
