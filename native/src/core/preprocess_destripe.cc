// SPDX-License-Identifier: GPL-3.0-or-later
// IBL destriping kernels (spikeshard/destripe.h).
#include <algorithm>
#include <array>
#include <cmath>
#include <complex>
#include <cstddef>
#include <cstdint>
#include <map>
#include <numbers>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "destripe_internal.h"
#include "preprocess_internal.h"
#include "spikeshard/destripe.h"
#include "spikeshard/threads.h"

namespace spikeshard {

namespace {

// sosfilt_zi: each section's state for a unit step in steady state (direct form II transposed:
// z1 = H − b0, z2 = b2 − a2·H with H the section's DC gain), scaled by the DC gain of the sections
// before it.
std::vector<std::array<double, 2>> step_states(const std::vector<SosSection>& sos) {
  std::vector<std::array<double, 2>> zi(sos.size());
  double scale = 1.0;
  for (std::size_t k = 0; k < sos.size(); ++k) {
    const SosSection& q = sos[k];
    const double h = (q.b0 + q.b1 + q.b2) / (1.0 + q.a1 + q.a2);
    zi[k] = {scale * (h - q.b0), scale * (q.b2 - q.a2 * h)};
    scale *= h;
  }
  return zi;
}

// One pass of the cascade along the rows of a (rows × width) block, each column its own signal,
// backwards when `reverse`. As in scipy's sosfilt(sos, x, zi=zi·x0), every section starts from
// its zi times x0, the first value of the pass's *input* (the cumulative gain is in zi); the
// sections run one after the other over the whole block.
void sos_cascade_columns(const std::vector<SosSection>& sos, const std::vector<std::array<double, 2>>& zi, double* data,
                         std::size_t rows, std::size_t width, bool reverse, double* x0, double* z1, double* z2) {
  const double* first = data + (reverse ? (rows - 1) * width : 0);
  std::copy(first, first + width, x0);
  for (std::size_t k = 0; k < sos.size(); ++k) {
    const SosSection q = sos[k];
    for (std::size_t j = 0; j < width; ++j) {
      z1[j] = zi[k][0] * x0[j];
      z2[j] = zi[k][1] * x0[j];
    }
    for (std::size_t r = 0; r < rows; ++r) {
      double* row = data + (reverse ? rows - 1 - r : r) * width;
      for (std::size_t j = 0; j < width; ++j) row[j] = detail::section_step(q, row[j], z1[j], z2[j]);
    }
  }
}

// sosfiltfilt semantics (see spikeshard/preprocess.h) on every column of a (rows × width) block:
// odd extension by `edge` rows at both ends (`ext` holds (rows + 2·edge) × width), forward pass,
// backward pass, centre copied back.
void filtfilt_columns(const std::vector<SosSection>& sos, const std::vector<std::array<double, 2>>& zi,
                      std::size_t edge, double* data, std::size_t rows, std::size_t width, double* ext, double* x0,
                      double* z1, double* z2) {
  const std::size_t total = rows + 2 * edge;
  for (std::size_t r = 0; r < rows; ++r) std::copy(data + r * width, data + (r + 1) * width, ext + (edge + r) * width);
  for (std::size_t i = 1; i <= edge; ++i) {
    for (std::size_t j = 0; j < width; ++j) {
      ext[(edge - i) * width + j] = 2.0 * data[j] - data[i * width + j];
      ext[(edge + rows - 1 + i) * width + j] = 2.0 * data[(rows - 1) * width + j] - data[(rows - 1 - i) * width + j];
    }
  }
  sos_cascade_columns(sos, zi, ext, total, width, false, x0, z1, z2);
  sos_cascade_columns(sos, zi, ext, total, width, true, x0, z1, z2);
  for (std::size_t r = 0; r < rows; ++r) std::copy(ext + (edge + r) * width, ext + (edge + r + 1) * width, data + r * width);
}

}  // namespace

namespace {

using detail::Interpolated;

// Bad channels are written, only good ones are read: in place is safe.
void interpolate_row(float* row, const std::vector<Interpolated>& rows) {
  for (const Interpolated& r : rows) {
    double v = 0.0;
    for (const auto& [channel, weight] : r.terms) v += weight * row[channel];
    row[r.channel] = static_cast<float>(v);
  }
}

}  // namespace

void adc_shift(float* x, std::size_t n_samples, std::size_t n_channels, const double* shift_samples,
               const FractionalDelayOptions& options) {
  if (x == nullptr || shift_samples == nullptr || n_samples == 0 || n_channels == 0) {
    throw std::invalid_argument("adc_shift: empty block or no shifts");
  }
  const std::size_t k_half = options.half_width;
  const std::size_t n_taps = 2 * k_half + 1;
  const std::vector<float> taps = detail::shift_taps(shift_samples, n_channels, options);
  if (taps.empty()) return;
  const std::vector<float> in(x, x + n_samples * n_channels);
  parallel_for(n_samples, [&](std::size_t t_begin, std::size_t t_end) {
    std::vector<float> acc(n_channels);
    for (std::size_t t = t_begin; t < t_end; ++t) {
      std::fill(acc.begin(), acc.end(), 0.0f);
      // y[t] = Σ_i h[i]·x[t − (i − K)]: samples beyond the block count as zero.
      for (std::size_t i = 0; i < n_taps; ++i) {
        const std::ptrdiff_t u = static_cast<std::ptrdiff_t>(t) + static_cast<std::ptrdiff_t>(k_half) -
                                 static_cast<std::ptrdiff_t>(i);
        if (u < 0 || u >= static_cast<std::ptrdiff_t>(n_samples)) continue;
        const float* src = in.data() + static_cast<std::size_t>(u) * n_channels;
        const float* h = taps.data() + i * n_channels;
        for (std::size_t c = 0; c < n_channels; ++c) acc[c] += h[c] * src[c];
      }
      std::copy(acc.begin(), acc.end(), x + t * n_channels);
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


void interpolate_bad_channels(float* x, std::size_t n_samples, std::size_t n_channels, const double* x_um,
                              const double* y_um, const std::int32_t* labels, const InterpolationOptions& options) {
  const std::vector<Interpolated> rows = detail::interpolation_rows(x_um, y_um, labels, n_channels, options);
  if (rows.empty()) return;
  parallel_for(n_samples, [&](std::size_t t_begin, std::size_t t_end) {
    for (std::size_t t = t_begin; t < t_end; ++t) interpolate_row(x + t * n_channels, rows);
  });
}

std::vector<double> hann_smoothed_abs(const float* x, std::size_t stride, std::size_t n, std::size_t window) {
  if (window < 3 || window % 2 == 0) throw std::invalid_argument("hann_smoothed_abs: window must be odd and ≥ 3");
  const std::size_t period = window - 1;  // the Hann window's cosine has one full turn over window − 1 samples
  const std::size_t half = period / 2;
  const double theta = 2.0 * std::numbers::pi / static_cast<double>(period);
  // w[k] = ½ − ½·cos(θk), k = 0..window−1; so Σ_k w[k]·a[t + k − half] = ½·S0 − ½·Re(e^{−iθ(t−half)}·S1)
  // with S0 = Σ a[j] and S1 = Σ a[j]·e^{iθj} over the window, read off prefix sums.
  std::vector<std::complex<double>> turn(period);
  for (std::size_t j = 0; j < period; ++j) turn[j] = std::polar(1.0, theta * static_cast<double>(j));
  std::vector<double> p0(n + 1, 0.0);
  std::vector<std::complex<double>> p1(n + 1);
  for (std::size_t j = 0, phase = 0; j < n; ++j, phase = phase + 1 == period ? 0 : phase + 1) {
    const double a = std::fabs(static_cast<double>(x[j * stride]));
    p0[j + 1] = p0[j] + a;
    p1[j + 1] = p1[j] + a * turn[phase];
  }
  const double norm = 0.5 * static_cast<double>(period);
  std::vector<double> out(n);
  for (std::size_t t = 0; t < n; ++t) {
    const std::size_t lo = t >= half ? t - half : 0;
    const std::size_t hi = std::min(n, t + half + 1);
    const double s0 = p0[hi] - p0[lo];
    const std::complex<double> s1 = p1[hi] - p1[lo];
    const std::size_t phase = (t + period - half % period) % period;  // (t − half) mod period
    const double v = 0.5 * s0 - 0.5 * (s1 * std::conj(turn[phase])).real();
    out[t] = std::max(0.0, v / norm);
  }
  return out;
}

void kfilter(float* x, std::size_t n_samples, std::size_t n_channels, const std::int32_t* shank,
             const std::int32_t* labels, const KFilterOptions& options) {
  if (x == nullptr || labels == nullptr || n_samples == 0 || n_channels == 0) {
    throw std::invalid_argument("kfilter: empty block or no labels");
  }
  detail::check_channel_labels(labels, n_channels);
  const std::size_t window = options.agc_window_samples;
  const bool agc = window > 0;
  if (agc && (window < 3 || window % 2 == 0)) throw std::invalid_argument("kfilter: the AGC window must be odd and ≥ 3");
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

  // AGC set-up: which channels have a gain (not all zero), and each channel's floor, 1e-8 of its
  // group's mean |x| (the mean of the smoothed |x| up to edge effects).
  std::vector<std::uint8_t> has_gain(n_channels, 0);
  std::vector<double> floor(n_channels, 0.0);
  if (agc) {
    std::vector<double> sum_abs(n_channels, 0.0);
    for (std::size_t t = 0; t < n_samples; ++t) {
      const float* row = x + t * n_channels;
      for (std::size_t c = 0; c < n_channels; ++c) sum_abs[c] += std::fabs(static_cast<double>(row[c]));
    }
    for (const auto& g : groups) {
      double total = 0.0;
      for (std::size_t c : g) total += sum_abs[c];
      for (std::size_t c : g) {
        has_gain[c] = sum_abs[c] > 0.0;
        floor[c] = 1e-8 * total / static_cast<double>(g.size() * n_samples);
      }
    }
  }
  const std::size_t period = agc ? window - 1 : 1;
  const std::size_t half = period / 2;
  const double norm = 0.5 * static_cast<double>(period);
  std::vector<double> cos_turn(period), sin_turn(period);
  for (std::size_t j = 0; j < period; ++j) {
    const double angle = 2.0 * std::numbers::pi * static_cast<double>(j) / static_cast<double>(period);
    cos_turn[j] = std::cos(angle);
    sin_turn[j] = std::sin(angle);
  }

  const auto zi = step_states(sos);
  // The AGC's windows reach into neighbouring stretches, which other threads overwrite: with AGC
  // every read goes to a copy of the input.
  std::vector<float> input_copy;
  if (agc) input_copy.assign(x, x + n_samples * n_channels);
  const float* in = agc ? input_copy.data() : x;
  // Work runs over fixed stretches of kStretch samples (thread-independent). In each, the AGC's
  // windowed sums Σ|x[j]| and Σ|x[j]|·e^{iθj} (θ = 2π/period, j over the Hann window around t)
  // are computed directly at the stretch's start and then slid one sample at a time, so the gain
  // (½·S0 − ½·Re(S1·e^{−iθ(t−half)}))/norm is the Hann-smoothed |x| of hann_smoothed_abs. Within a
  // stretch, tiles of kTile samples are filtered along the channel axis with the tile's samples as
  // independent columns (vectorised).
  constexpr std::size_t kStretch = 4096;
  constexpr std::size_t kTile = 16;
  const std::size_t n_stretches = (n_samples + kStretch - 1) / kStretch;
  std::size_t longest = 0;
  for (const auto& g : groups) longest = std::max(longest, g.size() + 2 * std::min(options.pad_channels, g.size()));
  parallel_for(n_stretches, [&](std::size_t s_begin, std::size_t s_end) {
    std::vector<double> line(longest * kTile), ext((longest + 2 * edge) * kTile);
    std::vector<double> s0(n_channels), s1re(n_channels), s1im(n_channels), tile_gain(kTile * n_channels, 1.0);
    double x0[kTile], z1[kTile], z2[kTile];
    auto add = [&](std::size_t j, double sign) {
      const float* row = in + j * n_channels;
      const double cj = sign * cos_turn[j % period], sj = sign * sin_turn[j % period];
      for (std::size_t c = 0; c < n_channels; ++c) {
        const double a = std::fabs(static_cast<double>(row[c]));
        s0[c] += sign * a;
        s1re[c] += a * cj;
        s1im[c] += a * sj;
      }
    };
    for (std::size_t stretch = s_begin; stretch < s_end; ++stretch) {
      const std::size_t first = stretch * kStretch;
      const std::size_t last = std::min(n_samples, first + kStretch);
      if (agc) {
        std::fill(s0.begin(), s0.end(), 0.0);
        std::fill(s1re.begin(), s1re.end(), 0.0);
        std::fill(s1im.begin(), s1im.end(), 0.0);
        for (std::size_t j = first >= half ? first - half : 0; j < std::min(n_samples, first + half + 1); ++j) add(j, 1.0);
      }
      for (std::size_t t0 = first; t0 < last; t0 += kTile) {
        const std::size_t width = std::min(kTile, last - t0);
        if (agc) {
          for (std::size_t j = 0; j < width; ++j) {
            const std::size_t t = t0 + j;
            if (t > first) {  // slide the window from t − 1 to t
              if (t + half < n_samples) add(t + half, 1.0);
              if (t >= half + 1) add(t - half - 1, -1.0);
            }
            const std::size_t phase = (t + period - half) % period;  // (t − half) mod period
            const double c = cos_turn[phase], sn = sin_turn[phase];
            double* g = tile_gain.data() + j * n_channels;
            for (std::size_t ch = 0; ch < n_channels; ++ch) {
              // Re(S1·e^{−iφ}) = S1re·cos φ + S1im·sin φ
              const double v = (0.5 * s0[ch] - 0.5 * (s1re[ch] * c + s1im[ch] * sn)) / norm;
              g[ch] = has_gain[ch] ? std::max(0.0, v) + floor[ch] : 1.0;
            }
          }
        }
        for (const auto& grp : groups) {
          const std::size_t ng = grp.size();
          const std::size_t pad = std::min(options.pad_channels, ng);
          const std::size_t rows = ng + 2 * pad;
          for (std::size_t i = 0; i < ng; ++i) {
            const std::size_t c = grp[i];
            double* dst = line.data() + (pad + i) * width;
            for (std::size_t j = 0; j < width; ++j) {
              dst[j] = in[(t0 + j) * n_channels + c] / tile_gain[j * n_channels + c];
            }
          }
          // Mirror the edge channels (each edge channel repeated once).
          for (std::size_t i = 0; i < pad; ++i) {
            std::copy_n(line.data() + (pad + i) * width, width, line.data() + (pad - 1 - i) * width);
            std::copy_n(line.data() + (pad + ng - 1 - i) * width, width, line.data() + (pad + ng + i) * width);
          }
          filtfilt_columns(sos, zi, edge, line.data(), rows, width, ext.data(), x0, z1, z2);
          for (std::size_t i = 0; i < ng; ++i) {
            const std::size_t c = grp[i];
            const double* src = line.data() + (pad + i) * width;
            for (std::size_t j = 0; j < width; ++j) {
              x[(t0 + j) * n_channels + c] = static_cast<float>(src[j] * tile_gain[j * n_channels + c]);
            }
          }
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
  detail::check_channel_labels(in.labels, in.n_channels);
  const std::size_t n = in.n_samples, nc = in.n_channels;
  std::vector<float> mute;
  std::size_t saturated = 0;
  if (in.mute) mute = saturation_mute(in.raw, in.raw_stride, in.gains, n, nc, in.saturation, &saturated);
  const std::vector<Interpolated> bad = detail::interpolation_rows(in.x_um, in.y_um, in.labels, nc, in.interpolation);
  std::optional<detail::RowMedian> reference;
  if (in.reference != nullptr) reference.emplace(in.reference, nc);
  // High-pass and ADC shift in one pass per group of channels (highpass_block then adc_shift).
  const FractionalDelayOptions delay;
  const std::vector<float> taps =
      in.shift_samples != nullptr ? detail::shift_taps(in.shift_samples, nc, delay) : std::vector<float>();
  detail::highpass_block_impl(in.raw, in.raw_stride, in.gains, n, nc, in.highpass, out,
                              taps.empty() ? nullptr : taps.data(), delay.half_width);
  // Interpolation, then (without a k-filter or saturation in between) the reference, row by row.
  const bool fused = !in.kfilter && saturated == 0;
  if (!bad.empty() || (fused && reference)) {
    parallel_for(n, [&](std::size_t t_begin, std::size_t t_end) {
      std::optional<detail::RowMedian> median = fused ? reference : std::nullopt;
      for (std::size_t t = t_begin; t < t_end; ++t) {
        interpolate_row(out + t * nc, bad);
        if (median) detail::subtract_median(out + t * nc, nc, *median);
      }
    });
  }
  if (in.kfilter) kfilter(out, n, nc, in.shank, in.labels, in.k);
  if (saturated > 0) {
    parallel_for(n, [&](std::size_t t_begin, std::size_t t_end) {
      for (std::size_t t = t_begin; t < t_end; ++t) {
        if (mute[t] == 1.0f) continue;
        for (std::size_t c = 0; c < nc; ++c) out[t * nc + c] *= mute[t];
      }
    });
  }
  if (!fused && reference) {
    parallel_for(n, [&](std::size_t t_begin, std::size_t t_end) {
      detail::RowMedian median = *reference;
      for (std::size_t t = t_begin; t < t_end; ++t) detail::subtract_median(out + t * nc, nc, median);
    });
  }
  if (n_saturated != nullptr) *n_saturated = saturated;
}

}  // namespace spikeshard
