// SPDX-License-Identifier: GPL-3.0-or-later
// The destriping's tables: fractional-delay taps and bad-channel interpolation weights
// (spikeshard/destripe.h, destripe_internal.h). Separate from the kernels so that the CUDA addon
// links them without the CPU kernels.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numbers>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "destripe_internal.h"
#include "spikeshard/destripe.h"

namespace spikeshard {

namespace detail {

bool is_bad_label(std::int32_t label) { return label == kChannelDead || label == kChannelNoisy; }

void check_channel_labels(const std::int32_t* labels, std::size_t n_channels) {
  for (std::size_t c = 0; c < n_channels; ++c) {
    if (labels[c] < 0 || labels[c] > 3) {
      throw std::invalid_argument("destripe: label " + std::to_string(labels[c]) + " of channel " + std::to_string(c) +
                                  " is not 0..3");
    }
  }
}

std::vector<float> shift_taps(const double* shift_samples, std::size_t n_channels,
                              const FractionalDelayOptions& options) {
  const std::size_t k_half = options.half_width;
  const std::size_t n_taps = 2 * k_half + 1;
  std::vector<float> taps(n_taps * n_channels, 0.0f);
  bool any = false;
  for (std::size_t c = 0; c < n_channels; ++c) {
    if (shift_samples[c] == 0.0) {
      taps[k_half * n_channels + c] = 1.0f;
      continue;
    }
    any = true;
    const auto h = fractional_delay_taps(shift_samples[c], k_half, options.kaiser_beta);
    for (std::size_t i = 0; i < n_taps; ++i) taps[i * n_channels + c] = static_cast<float>(h[i]);
  }
  if (!any) taps.clear();
  return taps;
}

std::vector<Interpolated> interpolation_rows(const double* x_um, const double* y_um, const std::int32_t* labels,
                                             std::size_t n_channels, const InterpolationOptions& options) {
  const std::vector<double> w = bad_channel_interpolation(x_um, y_um, labels, n_channels, options);
  std::vector<Interpolated> rows;
  for (std::size_t b = 0; b < n_channels; ++b) {
    if (!is_bad_label(labels[b])) continue;
    Interpolated r{b, {}};
    for (std::size_t j = 0; j < n_channels; ++j) {
      if (w[b * n_channels + j] != 0.0) r.terms.emplace_back(j, w[b * n_channels + j]);
    }
    rows.push_back(std::move(r));
  }
  return rows;
}

}  // namespace detail

std::vector<double> fractional_delay_taps(double shift_samples, std::size_t half_width, double kaiser_beta) {
  if (!std::isfinite(shift_samples) || half_width == 0 || !(kaiser_beta >= 0.0)) {
    throw std::invalid_argument("fractional_delay_taps: need a finite shift, half_width ≥ 1 and beta ≥ 0");
  }
  const std::size_t n = 2 * half_width + 1;
  std::vector<double> h(n);
  const double edge = static_cast<double>(half_width + 1);
  const double norm = std::cyl_bessel_i(0.0, kaiser_beta);
  double sum = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const double u = static_cast<double>(i) - static_cast<double>(half_width) - shift_samples;
    const double sinc = u == 0.0 ? 1.0 : std::sin(std::numbers::pi * u) / (std::numbers::pi * u);
    const double r = u / edge;
    const double window = r * r < 1.0 ? std::cyl_bessel_i(0.0, kaiser_beta * std::sqrt(1.0 - r * r)) / norm : 0.0;
    h[i] = sinc * window;
    sum += h[i];
  }
  for (double& v : h) v /= sum;  // unit gain at DC
  return h;
}

std::vector<double> bad_channel_interpolation(const double* x_um, const double* y_um, const std::int32_t* labels,
                                              std::size_t n_channels, const InterpolationOptions& options) {
  if (!(options.length_um > 0.0) || !(options.power > 0.0) || !(options.min_weight >= 0.0)) {
    throw std::invalid_argument("bad_channel_interpolation: need length > 0, power > 0, min_weight ≥ 0");
  }
  detail::check_channel_labels(labels, n_channels);
  std::vector<double> w(n_channels * n_channels, 0.0);
  for (std::size_t b = 0; b < n_channels; ++b) {
    if (!detail::is_bad_label(labels[b])) continue;
    double* row = w.data() + b * n_channels;
    double sum = 0.0;
    for (std::size_t j = 0; j < n_channels; ++j) {
      if (labels[j] != kChannelGood) continue;
      const double d = std::hypot(x_um[j] - x_um[b], y_um[j] - y_um[b]);
      const double weight = std::exp(-std::pow(d / options.length_um, options.power));
      if (weight < options.min_weight) continue;
      row[j] = weight;
      sum += weight;
    }
    if (sum > 0.0) {
      for (std::size_t j = 0; j < n_channels; ++j) row[j] /= sum;
    }
  }
  return w;
}

}  // namespace spikeshard
