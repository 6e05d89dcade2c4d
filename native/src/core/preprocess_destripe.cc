// SPDX-License-Identifier: GPL-3.0-or-later
// IBL destriping kernels (spikeshard/destripe.h).
#include <algorithm>
#include <cmath>
#include <complex>
#include <cstddef>
#include <cstdint>
#include <map>
#include <numbers>
#include <stdexcept>
#include <string>
#include <vector>

#include "preprocess_fft.h"
#include "preprocess_internal.h"
#include "spikeshard/destripe.h"
#include "spikeshard/threads.h"

namespace spikeshard {

namespace {

// Smallest 2^a·3^b ≥ n: the FFT has dedicated butterflies for these factors.
std::size_t smooth_length(std::size_t n) {
  std::size_t best = 1;
  while (best < n) best *= 2;
  for (std::size_t p3 = 1; p3 < best; p3 *= 3) {
    std::size_t m = p3;
    while (m < n) m *= 2;
    best = std::min(best, m);
  }
  return best;
}

bool is_bad(std::int32_t label) { return label == kChannelDead || label == kChannelNoisy; }

void check_labels(const std::int32_t* labels, std::size_t n_channels) {
  for (std::size_t c = 0; c < n_channels; ++c) {
    if (labels[c] < 0 || labels[c] > 3) {
      throw std::invalid_argument("destripe: label " + std::to_string(labels[c]) + " of channel " + std::to_string(c) +
                                  " is not 0..3");
    }
  }
}

}  // namespace

void adc_shift(float* x, std::size_t n_samples, std::size_t n_channels, const double* shift_samples) {
  if (x == nullptr || shift_samples == nullptr || n_samples == 0 || n_channels == 0) {
    throw std::invalid_argument("adc_shift: empty block or no shifts");
  }
  for (std::size_t c = 0; c < n_channels; ++c) {
    if (!std::isfinite(shift_samples[c])) throw std::invalid_argument("adc_shift: shifts must be finite");
  }
  const std::size_t m = smooth_length(n_samples + 128);
  const RealFftPlan plan(m);
  const std::size_t bins = m / 2 + 1;
  parallel_for(n_channels, [&](std::size_t c_begin, std::size_t c_end) {
    std::vector<double> signal(m);
    std::vector<std::complex<double>> spectrum(bins);
    for (std::size_t c = c_begin; c < c_end; ++c) {
      const double s = shift_samples[c];
      if (s == 0.0) continue;
      for (std::size_t t = 0; t < n_samples; ++t) signal[t] = x[t * n_channels + c];
      std::fill(signal.begin() + static_cast<std::ptrdiff_t>(n_samples), signal.end(), 0.0);
      plan.forward(signal.data(), spectrum.data());
      for (std::size_t k = 0; k < bins; ++k) {
        // The phase is reduced modulo one turn before the trigonometry, so it stays exact for long blocks.
        const double turns = std::fmod(static_cast<double>(k) * s, static_cast<double>(m)) / static_cast<double>(m);
        spectrum[k] *= std::polar(1.0, -2.0 * std::numbers::pi * turns);
      }
      plan.inverse(spectrum.data(), signal.data());
      for (std::size_t t = 0; t < n_samples; ++t) x[t * n_channels + c] = static_cast<float>(signal[t]);
    }
  });
}

std::vector<double> adc_sample_shift(std::size_t n_channels, std::size_t per_adc, std::size_t cycles) {
  if (per_adc == 0 || cycles < per_adc) throw std::invalid_argument("adc_sample_shift: need 0 < per_adc ≤ cycles");
  std::vector<double> shift(n_channels);
  for (std::size_t c = 0; c < n_channels; ++c) {
    shift[c] = static_cast<double>((c % (2 * per_adc)) / 2) / static_cast<double>(cycles);
  }
  return shift;
}

std::vector<double> bad_channel_interpolation(const double* x_um, const double* y_um, const std::int32_t* labels,
                                              std::size_t n_channels, const InterpolationOptions& options) {
  if (!(options.length_um > 0.0) || !(options.power > 0.0) || !(options.min_weight >= 0.0)) {
    throw std::invalid_argument("bad_channel_interpolation: need length > 0, power > 0, min_weight ≥ 0");
  }
  check_labels(labels, n_channels);
  std::vector<double> w(n_channels * n_channels, 0.0);
  for (std::size_t b = 0; b < n_channels; ++b) {
    if (!is_bad(labels[b])) continue;
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

void interpolate_bad_channels(float* x, std::size_t n_samples, std::size_t n_channels, const double* x_um,
                              const double* y_um, const std::int32_t* labels, const InterpolationOptions& options) {
  const std::vector<double> w = bad_channel_interpolation(x_um, y_um, labels, n_channels, options);
  struct Term {
    std::size_t channel;
    double weight;
  };
  std::vector<std::pair<std::size_t, std::vector<Term>>> rows;
  for (std::size_t b = 0; b < n_channels; ++b) {
    if (!is_bad(labels[b])) continue;
    std::vector<Term> terms;
    for (std::size_t j = 0; j < n_channels; ++j) {
      if (w[b * n_channels + j] != 0.0) terms.push_back({j, w[b * n_channels + j]});
    }
    rows.emplace_back(b, std::move(terms));
  }
  if (rows.empty()) return;
  // Bad channels are written, only good ones are read: in place is safe.
  parallel_for(n_samples, [&](std::size_t t_begin, std::size_t t_end) {
    for (std::size_t t = t_begin; t < t_end; ++t) {
      float* row = x + t * n_channels;
      for (const auto& [b, terms] : rows) {
        double v = 0.0;
        for (const Term& term : terms) v += term.weight * row[term.channel];
        row[b] = static_cast<float>(v);
      }
    }
  });
}

std::vector<double> hann_smoothed_abs(const float* x, std::size_t stride, std::size_t n, std::size_t window) {
  if (window < 3 || window % 2 == 0) throw std::invalid_argument("hann_smoothed_abs: window must be odd and ≥ 3");
  const std::size_t period = window - 1;  // the Hann window's cosine has one full turn over window − 1 samples
  const std::size_t half = period / 2;
  const double theta = 2.0 * std::numbers::pi / static_cast<double>(period);
  // w[k] = ½ − ½·cos(θk), k = 0..window−1; so Σ_k w[k]·a[t + k − half] = ½·S0 − ½·Re(e^{−iθ(t−half)}·S1)
  // with S0 = Σ a[j] and S1 = Σ a[j]·e^{iθj} over the window, read off prefix sums.
  std::vector<double> p0(n + 1, 0.0);
  std::vector<std::complex<double>> p1(n + 1);
  for (std::size_t j = 0; j < n; ++j) {
    const double a = std::fabs(static_cast<double>(x[j * stride]));
    p0[j + 1] = p0[j] + a;
    p1[j + 1] = p1[j] + a * std::polar(1.0, theta * static_cast<double>(j % period));
  }
  const double norm = 0.5 * static_cast<double>(period);
  std::vector<double> out(n);
  for (std::size_t t = 0; t < n; ++t) {
    const std::size_t lo = t >= half ? t - half : 0;
    const std::size_t hi = std::min(n, t + half + 1);
    const double s0 = p0[hi] - p0[lo];
    const std::complex<double> s1 = p1[hi] - p1[lo];
    const std::size_t phase = (t + period - half % period) % period;  // (t − half) mod period
    const double v = 0.5 * s0 - 0.5 * (s1 * std::polar(1.0, -theta * static_cast<double>(phase))).real();
    out[t] = std::max(0.0, v / norm);
  }
  return out;
}

void kfilter(float* x, std::size_t n_samples, std::size_t n_channels, const std::int32_t* shank,
             const std::int32_t* labels, const KFilterOptions& options) {
  if (x == nullptr || labels == nullptr || n_samples == 0 || n_channels == 0) {
    throw std::invalid_argument("kfilter: empty block or no labels");
  }
  check_labels(labels, n_channels);
  const std::vector<SosSection> sos = butterworth_highpass_sos(options.order, options.cutoff, 2.0);
  const std::size_t edge = filtfilt_pad_samples(sos);
  std::map<std::int32_t, std::vector<std::size_t>> by_shank;
  for (std::size_t c = 0; c < n_channels; ++c) {
    if (labels[c] != kChannelOutside) by_shank[shank == nullptr ? 0 : shank[c]].push_back(c);
  }
  std::vector<std::vector<std::size_t>> groups;
  for (auto& [s, channels] : by_shank) {
    const std::size_t pad = std::min(options.pad_channels, channels.size());
    if (channels.size() + 2 * pad > edge) groups.push_back(std::move(channels));
  }
  if (groups.empty()) return;

  // Gain of each filtered channel along time (1 without AGC, or where a channel is all zero).
  std::vector<std::vector<double>> gain(n_channels);
  if (options.agc_window_samples > 0) {
    std::vector<std::size_t> members;
    for (const auto& g : groups) members.insert(members.end(), g.begin(), g.end());
    parallel_for(members.size(), [&](std::size_t begin, std::size_t end) {
      for (std::size_t i = begin; i < end; ++i) {
        const std::size_t c = members[i];
        gain[c] = hann_smoothed_abs(x + c, n_channels, n_samples, options.agc_window_samples);
      }
    });
    for (const auto& g : groups) {
      double total = 0.0;
      for (std::size_t c : g)
        for (double v : gain[c]) total += v;
      const double floor = 1e-8 * total / static_cast<double>(g.size() * n_samples);
      for (std::size_t c : g) {
        if (std::all_of(gain[c].begin(), gain[c].end(), [](double v) { return v == 0.0; })) {
          gain[c].clear();
          continue;
        }
        for (double& v : gain[c]) v += floor;
      }
    }
  }

  parallel_for(n_samples, [&](std::size_t t_begin, std::size_t t_end) {
    std::vector<double> line;
    for (std::size_t t = t_begin; t < t_end; ++t) {
      float* row = x + t * n_channels;
      for (const auto& g : groups) {
        const std::size_t ng = g.size();
        const std::size_t pad = std::min(options.pad_channels, ng);
        line.assign(ng + 2 * pad, 0.0);
        for (std::size_t i = 0; i < ng; ++i) {
          const std::size_t c = g[i];
          line[pad + i] = gain[c].empty() ? row[c] : row[c] / gain[c][t];
        }
        for (std::size_t i = 0; i < pad; ++i) {
          line[pad - 1 - i] = line[pad + i];
          line[pad + ng + i] = line[pad + ng - 1 - i];
        }
        sosfiltfilt(sos, line.data(), line.size());
        for (std::size_t i = 0; i < ng; ++i) {
          const std::size_t c = g[i];
          row[c] = static_cast<float>(gain[c].empty() ? line[pad + i] : line[pad + i] * gain[c][t]);
        }
      }
    }
  });
}

std::vector<float> saturation_mute(const std::int16_t* raw, std::size_t stride, const double* gains,
                                   std::size_t n_samples, std::size_t n_channels, const SaturationOptions& options,
                                   std::size_t* n_saturated) {
  detail::require_block("saturation_mute", raw, stride, n_samples, n_channels);
  if (!(options.max_count > 0.0) || !(options.channel_fraction >= 0.0)) {
    throw std::invalid_argument("saturation_mute: need max_count > 0 and channel_fraction ≥ 0");
  }
  const double level = options.level_fraction * options.max_count;
  const double needed = options.channel_fraction * static_cast<double>(n_channels);
  std::vector<std::uint8_t> saturated(n_samples, 0);
  parallel_for(n_samples, [&](std::size_t t_begin, std::size_t t_end) {
    for (std::size_t t = t_begin; t < t_end; ++t) {
      const std::int16_t* row = raw + t * stride;
      std::size_t at_rail = 0, stepped = 0;
      for (std::size_t c = 0; c < n_channels; ++c) {
        const double g = gains == nullptr ? 1.0 : gains[c];
        if (std::fabs(static_cast<double>(row[c])) >= level) ++at_rail;
        if (t > 0 && std::fabs((static_cast<double>(row[c]) - raw[(t - 1) * stride + c]) * g) >= options.step_uv) {
          ++stepped;
        }
      }
      saturated[t] = static_cast<double>(at_rail) > needed || static_cast<double>(stepped) > needed;
    }
  });
  double bump[7];
  for (int k = 0; k < 7; ++k) {
    const double s = std::sin(std::numbers::pi * (k + 1) / 8.0);
    bump[k] = s * s;
  }
  std::vector<float> mute(n_samples, 1.0f);
  std::size_t count = 0;
  for (std::size_t t = 0; t < n_samples; ++t) {
    if (!saturated[t]) continue;
    ++count;
    for (int k = 0; k < 7; ++k) {
      const std::ptrdiff_t u = static_cast<std::ptrdiff_t>(t) + k - 3;
      if (u < 0 || u >= static_cast<std::ptrdiff_t>(n_samples)) continue;
      mute[u] = static_cast<float>(std::max(0.0, static_cast<double>(mute[u]) - bump[k]));
    }
  }
  if (n_saturated != nullptr) *n_saturated = count;
  return mute;
}

void destripe_block(const DestripeInput& in, float* out, std::size_t* n_saturated) {
  detail::require_block("destripe_block", in.raw, in.raw_stride, in.n_samples, in.n_channels);
  if (in.labels == nullptr || in.x_um == nullptr || in.y_um == nullptr) {
    throw std::invalid_argument("destripe_block: labels and positions are required");
  }
  check_labels(in.labels, in.n_channels);
  std::vector<float> mute;
  std::size_t saturated = 0;
  if (in.mute) {
    mute = saturation_mute(in.raw, in.raw_stride, in.gains, in.n_samples, in.n_channels, in.saturation, &saturated);
  }
  highpass_block(in.raw, in.raw_stride, in.gains, in.n_samples, in.n_channels, in.highpass, out);
  if (in.shift_samples != nullptr) adc_shift(out, in.n_samples, in.n_channels, in.shift_samples);
  interpolate_bad_channels(out, in.n_samples, in.n_channels, in.x_um, in.y_um, in.labels, in.interpolation);
  if (in.kfilter) kfilter(out, in.n_samples, in.n_channels, in.shank, in.labels, in.k);
  if (saturated > 0) {
    parallel_for(in.n_samples, [&](std::size_t t_begin, std::size_t t_end) {
      for (std::size_t t = t_begin; t < t_end; ++t) {
        if (mute[t] == 1.0f) continue;
        for (std::size_t c = 0; c < in.n_channels; ++c) out[t * in.n_channels + c] *= mute[t];
      }
    });
  }
  if (n_saturated != nullptr) *n_saturated = saturated;
}

}  // namespace spikeshard
