// SPDX-License-Identifier: GPL-3.0-or-later
// Bad-channel features and labels of one window (ks25-algorithm.md §2.2), and Welch's PSD.
#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>
#include <stdexcept>
#include <string>
#include <vector>

#include "preprocess_fft.h"
#include "preprocess_internal.h"
#include "spikeshard/preprocess.h"
#include "spikeshard/threads.h"

namespace spikeshard {

namespace {

// Welch's method with scipy.signal.welch's defaults: periodic Hann window, half overlap,
// constant detrend per segment, one-sided density, mean over segments.
class Welch {
 public:
  Welch(std::size_t segment, double sample_rate_hz)
      : segment_(segment), step_(segment - segment / 2), plan_(segment), window_(segment) {
    double power = 0;
    for (std::size_t i = 0; i < segment; ++i) {
      window_[i] = 0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * static_cast<double>(i) / static_cast<double>(segment));
      power += window_[i] * window_[i];
    }
    scale_ = 1.0 / (sample_rate_hz * power);
  }

  std::size_t bins() const { return segment_ / 2 + 1; }

  // x[i·stride], i = 0..n−1 → psd (bins()).
  void run(const double* x, std::size_t stride, std::size_t n, double* psd) const {
    const std::size_t nb = bins();
    std::vector<double> seg(segment_);
    std::vector<std::complex<double>> spectrum(nb);
    std::fill(psd, psd + nb, 0.0);
    std::size_t count = 0;
    for (std::size_t start = 0; start + segment_ <= n; start += step_, ++count) {
      double mean = 0;
      for (std::size_t i = 0; i < segment_; ++i) mean += x[(start + i) * stride];
      mean /= static_cast<double>(segment_);
      for (std::size_t i = 0; i < segment_; ++i) seg[i] = (x[(start + i) * stride] - mean) * window_[i];
      plan_.forward(seg.data(), spectrum.data());
      for (std::size_t k = 0; k < nb; ++k) psd[k] += std::norm(spectrum[k]);
    }
    // Positive and negative frequencies folded onto one side, except DC and (even lengths) Nyquist.
    const std::size_t last_doubled = segment_ % 2 == 0 ? nb - 2 : nb - 1;
    for (std::size_t k = 0; k < nb; ++k) {
      double fold = (k >= 1 && k <= last_doubled) ? 2.0 : 1.0;
      psd[k] *= fold * scale_ / static_cast<double>(count);
    }
  }

 private:
  std::size_t segment_;
  std::size_t step_;
  RealFftPlan plan_;
  std::vector<double> window_;
  double scale_ = 0;
};

void check_welch(std::size_t n, double sample_rate_hz, std::size_t segment) {
  if (segment < 2) throw std::invalid_argument("welch: segment must be at least 2 samples, got " + std::to_string(segment));
  if (n < segment) {
    throw std::invalid_argument("welch: signal of " + std::to_string(n) + " samples is shorter than one segment (" +
                                std::to_string(segment) + ")");
  }
  if (!(sample_rate_hz > 0) || !std::isfinite(sample_rate_hz)) {
    throw std::invalid_argument("welch: sample rate must be a positive number of Hz, got " +
                                std::to_string(sample_rate_hz));
  }
}

// Per-channel means of a (n × nc) double block, summed in time order. Threads own channel
// ranges, so each mean's sum keeps the same order for any thread count.
std::vector<double> channel_means(const double* x, std::size_t n, std::size_t nc) {
  std::vector<double> mean(nc, 0.0);
  parallel_for(nc, [&](std::size_t c_begin, std::size_t c_end) {
    for (std::size_t t = 0; t < n; ++t) {
      const double* row = x + t * nc;
      for (std::size_t c = c_begin; c < c_end; ++c) mean[c] += row[c];
    }
  });
  for (double& m : mean) m /= static_cast<double>(n);
  return mean;
}

// Channels whose samples are gathered into one contiguous buffer for Welch's method: a strided
// read of one channel touches a cache line per sample, a group's read uses each line whole.
constexpr std::size_t kWelchGroup = 8;

// Similarity of each channel with the median trace of the block as given (see
// bad_channel_features): Σ_t (x_c − mean_c)·r / Σ_t r², r = median trace − its mean.
std::vector<double> median_similarity(const double* x, std::size_t n, std::size_t nc) {
  const std::vector<double> mean = channel_means(x, n, nc);
  std::vector<double> ref(n);
  parallel_for(n, [&](std::size_t t_begin, std::size_t t_end) {
    std::vector<double> scratch(nc);
    for (std::size_t t = t_begin; t < t_end; ++t) {
      std::copy(x + t * nc, x + (t + 1) * nc, scratch.begin());
      ref[t] = detail::median_in_place(scratch.data(), nc);
    }
  });
  double ref_mean = 0;
  for (double v : ref) ref_mean += v;
  ref_mean /= static_cast<double>(n);
  double ref_power = 0;
  for (double& v : ref) {
    v -= ref_mean;
    ref_power += v * v;
  }
  if (!(ref_power > 0)) {
    throw std::invalid_argument("bad_channel_features: the median trace across channels is constant, so the "
                                "similarity is undefined (a window without signal?)");
  }
  std::vector<double> xcor(nc, 0.0);
  parallel_for(nc, [&](std::size_t c_begin, std::size_t c_end) {
    for (std::size_t t = 0; t < n; ++t) {
      const double* row = x + t * nc;
      for (std::size_t c = c_begin; c < c_end; ++c) xcor[c] += (row[c] - mean[c]) * ref[t];
    }
  });
  for (double& v : xcor) v /= ref_power;
  return xcor;
}

template <typename In>
BadChannelFeatures features_impl(const In* in, std::size_t in_stride, const double* gains, std::size_t n,
                                 std::size_t nc, const BadChannelOptions& options) {
  detail::require_block("bad_channel_features", in, in_stride, n, nc);
  if (options.median_window_channels == 0 || options.median_window_channels % 2 == 0) {
    throw std::invalid_argument("bad_channel_features: median window must be an odd number of channels, got " +
                                std::to_string(options.median_window_channels));
  }
  if (!(options.psd_band_fraction >= 0 && options.psd_band_fraction < 1)) {
    throw std::invalid_argument("bad_channel_features: PSD band fraction must be in [0, 1), got " +
                                std::to_string(options.psd_band_fraction));
  }
  check_welch(n, options.sample_rate_hz, options.welch_segment_samples);

  BadChannelFeatures out;
  const std::size_t w = options.median_window_channels;

  // The block with each channel's mean removed: the input of the similarity and of the PSD.
  std::vector<double> raw(n * nc);
  parallel_for(n, [&](std::size_t t_begin, std::size_t t_end) {
    for (std::size_t t = t_begin; t < t_end; ++t) {
      for (std::size_t c = 0; c < nc; ++c) {
        raw[t * nc + c] = static_cast<double>(in[t * in_stride + c]) * (gains != nullptr ? gains[c] : 1.0);
      }
    }
  });
  {
    const std::vector<double> mean = channel_means(raw.data(), n, nc);
    parallel_for(n, [&](std::size_t t_begin, std::size_t t_end) {
      for (std::size_t t = t_begin; t < t_end; ++t) {
        for (std::size_t c = 0; c < nc; ++c) raw[t * nc + c] -= mean[c];
      }
    });
  }
  out.xcor = median_similarity(raw.data(), n, nc);
  std::vector<double> trend = median_filter(out.xcor.data(), nc, w);
  out.xcor_hf.resize(nc);
  for (std::size_t c = 0; c < nc; ++c) out.xcor_hf[c] = out.xcor[c] - trend[c];

  HighpassOptions highpass = options.highpass;
  highpass.sample_rate_hz = options.sample_rate_hz;
  {
    std::vector<double> filtered(n * nc);
    detail::highpass_block_impl(in, in_stride, gains, n, nc, highpass, filtered.data());
    std::vector<double> xcorf = median_similarity(filtered.data(), n, nc);
    std::vector<double> xcorf_trend = median_filter(xcorf.data(), nc, w);
    out.xcor_lf.resize(nc);
    for (std::size_t c = 0; c < nc; ++c) out.xcor_lf[c] = xcorf_trend[c] - 1.0;
  }

  const Welch welch(options.welch_segment_samples, options.sample_rate_hz);
  const std::size_t nb = welch.bins();
  const double band_start_hz = options.psd_band_fraction * options.sample_rate_hz / 2.0;
  const double bin_hz = options.sample_rate_hz / static_cast<double>(options.welch_segment_samples);
  std::size_t first_bin = 0;
  while (first_bin < nb && !(static_cast<double>(first_bin) * bin_hz > band_start_hz)) ++first_bin;
  if (first_bin == nb) throw std::invalid_argument("bad_channel_features: no PSD bin above the band start");
  out.psd_hf.assign(nc, 0.0);
  const std::size_t n_groups = (nc + kWelchGroup - 1) / kWelchGroup;
  parallel_for(n_groups, [&](std::size_t g_begin, std::size_t g_end) {
    std::vector<double> psd(nb);
    std::vector<double> lanes(kWelchGroup * n);
    for (std::size_t g = g_begin; g < g_end; ++g) {
      const std::size_t c0 = g * kWelchGroup;
      const std::size_t width = std::min(kWelchGroup, nc - c0);
      for (std::size_t t = 0; t < n; ++t) {
        const double* row = raw.data() + t * nc + c0;
        for (std::size_t k = 0; k < width; ++k) lanes[k * n + t] = row[k];
      }
      for (std::size_t k = 0; k < width; ++k) {
        welch.run(lanes.data() + k * n, 1, n, psd.data());
        double sum = 0;
        for (std::size_t b = first_bin; b < nb; ++b) sum += psd[b];
        out.psd_hf[c0 + k] = sum / static_cast<double>(nb - first_bin);
      }
    }
  });
  return out;
}

}  // namespace

std::vector<double> median_filter(const double* x, std::size_t n, std::size_t width) {
  if (width == 0 || width % 2 == 0) {
    throw std::invalid_argument("median_filter: width must be odd, got " + std::to_string(width));
  }
  if (n == 0) return {};
  const std::ptrdiff_t half = static_cast<std::ptrdiff_t>(width / 2);
  const std::ptrdiff_t last = static_cast<std::ptrdiff_t>(n) - 1;
  std::vector<double> out(n), window(width);
  for (std::ptrdiff_t i = 0; i <= last; ++i) {
    for (std::ptrdiff_t k = -half; k <= half; ++k) window[k + half] = x[std::clamp(i + k, std::ptrdiff_t{0}, last)];
    out[i] = detail::median_in_place(window.data(), width);
  }
  return out;
}

std::vector<double> welch_psd(const double* x, std::size_t n, double sample_rate_hz, std::size_t segment) {
  check_welch(n, sample_rate_hz, segment);
  const Welch welch(segment, sample_rate_hz);
  std::vector<double> psd(welch.bins());
  welch.run(x, 1, n, psd.data());
  return psd;
}

BadChannelFeatures bad_channel_features(const std::int16_t* in, std::size_t in_stride, const double* gains,
                                        std::size_t n_samples, std::size_t n_channels,
                                        const BadChannelOptions& options) {
  return features_impl(in, in_stride, gains, n_samples, n_channels, options);
}

BadChannelFeatures bad_channel_features(const float* in, std::size_t in_stride, const double* gains,
                                        std::size_t n_samples, std::size_t n_channels,
                                        const BadChannelOptions& options) {
  return features_impl(in, in_stride, gains, n_samples, n_channels, options);
}

std::vector<std::int32_t> label_bad_channels(const double* xcor_hf, const double* xcor_lf, const double* psd_hf,
                                             std::size_t n_channels, const BadChannelThresholds& thresholds) {
  if (xcor_hf == nullptr || xcor_lf == nullptr || psd_hf == nullptr) {
    throw std::invalid_argument("label_bad_channels: a feature pointer is null");
  }
  std::vector<std::int32_t> labels(n_channels, kChannelGood);
  if (n_channels == 0) return labels;
  // Outside the brain: the run of candidates that ends at the top channel, if there is one.
  for (std::size_t c = n_channels; c-- > 0;) {
    if (!(xcor_lf[c] < thresholds.outside_similarity_below)) break;
    labels[c] = kChannelOutside;
  }
  for (std::size_t c = 0; c < n_channels; ++c) {
    if (xcor_hf[c] < thresholds.dead_similarity_below) labels[c] = kChannelDead;
    if (psd_hf[c] > thresholds.noisy_psd_above_uv2_per_hz || xcor_hf[c] > thresholds.noisy_similarity_above) {
      labels[c] = kChannelNoisy;
    }
  }
  return labels;
}

std::vector<std::int32_t> channel_label_mode(const std::int32_t* labels, std::size_t n_windows,
                                             std::size_t n_channels) {
  if (n_windows == 0) throw std::invalid_argument("channel_label_mode: need at least one window");
  if (labels == nullptr) throw std::invalid_argument("channel_label_mode: labels pointer is null");
  std::vector<std::int32_t> mode(n_channels);
  for (std::size_t c = 0; c < n_channels; ++c) {
    std::array<std::size_t, 4> counts{};
    for (std::size_t w = 0; w < n_windows; ++w) {
      const std::int32_t label = labels[w * n_channels + c];
      if (label < 0 || label > 3) {
        throw std::invalid_argument("channel_label_mode: label " + std::to_string(label) + " at window " +
                                    std::to_string(w) + ", channel " + std::to_string(c) + " is not in 0..3");
      }
      ++counts[static_cast<std::size_t>(label)];
    }
    // max_element returns the first maximum, i.e. the smallest label among ties.
    mode[c] = static_cast<std::int32_t>(std::max_element(counts.begin(), counts.end()) - counts.begin());
  }
  return mode;
}

}  // namespace spikeshard
