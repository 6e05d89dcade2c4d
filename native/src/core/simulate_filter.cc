// SPDX-License-Identifier: GPL-3.0-or-later
#include "simulate_filter.h"

#include <algorithm>
#include <cmath>
#include <complex>
#include <numbers>
#include <stdexcept>
#include <string>

#include "spikeshard/threads.h"

namespace spikeshard::sim {

std::vector<Biquad> butterworth_highpass(int order, double cutoff_hz, double sample_rate_hz) {
  if (order < 1 || order > 8) {
    throw std::invalid_argument("butterworth_highpass: order must be 1..8, got " + std::to_string(order));
  }
  if (!(cutoff_hz > 0.0) || !(cutoff_hz < sample_rate_hz / 2.0)) {
    throw std::invalid_argument("butterworth_highpass: cutoff " + std::to_string(cutoff_hz) +
                                " Hz must lie in (0, fs/2) for fs = " + std::to_string(sample_rate_hz));
  }
  using cplx = std::complex<double>;
  const double pi = std::numbers::pi;
  const double fs2 = 2.0 * sample_rate_hz;
  const double warped = fs2 * std::tan(pi * cutoff_hz / sample_rate_hz);
  std::vector<Biquad> out;
  // Analog low-pass prototype poles in the upper half plane (and the real one for odd orders);
  // the high-pass poles are warped/p, mapped to z by the bilinear transform. Zeros sit at z = 1.
  for (int k = 0; k < order / 2; ++k) {
    const cplx p = std::polar(1.0, pi * (2.0 * k + order + 1.0) / (2.0 * order));
    const cplx s = warped / p;
    const cplx z = (fs2 + s) / (fs2 - s);
    Biquad q{1.0, -2.0, 1.0, -2.0 * z.real(), std::norm(z)};
    const double nyquist_gain = 4.0 / (1.0 - q.a1 + q.a2);
    q.b0 /= nyquist_gain;
    q.b1 /= nyquist_gain;
    q.b2 /= nyquist_gain;
    out.push_back(q);
  }
  if (order % 2 == 1) {
    const double s = -warped;  // prototype pole -1
    const double z = (fs2 + s) / (fs2 - s);
    Biquad q{1.0, -1.0, 0.0, -z, 0.0};
    const double nyquist_gain = 2.0 / (1.0 + z);
    q.b0 /= nyquist_gain;
    q.b1 /= nyquist_gain;
    out.push_back(q);
  }
  return out;
}

double cascade_gain(const std::vector<Biquad>& sections, double frequency_hz, double sample_rate_hz) {
  using cplx = std::complex<double>;
  const cplx zi = std::polar(1.0, -2.0 * std::numbers::pi * frequency_hz / sample_rate_hz);  // z⁻¹
  cplx h = 1.0;
  for (const Biquad& q : sections) {
    h *= (q.b0 + q.b1 * zi + q.b2 * zi * zi) / (1.0 + q.a1 * zi + q.a2 * zi * zi);
  }
  return std::abs(h);
}

namespace {

void run_section(const Biquad& q, double* x, std::size_t n, bool backward) {
  double s1 = 0.0, s2 = 0.0;  // transposed direct form II
  for (std::size_t k = 0; k < n; ++k) {
    double& v = x[backward ? n - 1 - k : k];
    const double in = v;
    const double y = q.b0 * in + s1;
    s1 = q.b1 * in - q.a1 * y + s2;
    s2 = q.b2 * in - q.a2 * y;
    v = y;
  }
}

}  // namespace

void filtfilt(const std::vector<Biquad>& sections, double* x, std::size_t n) {
  for (const Biquad& q : sections) run_section(q, x, n, false);
  for (const Biquad& q : sections) run_section(q, x, n, true);
}

void highpass_zero_phase(float* data, std::size_t n_channels, std::size_t n_samples, double sample_rate_hz,
                         double cutoff_hz, int threads) {
  const auto sections = butterworth_highpass(3, cutoff_hz, sample_rate_hz);
  parallel_for(
      n_channels,
      [&](std::size_t begin, std::size_t end) {
        std::vector<double> buf(n_samples);
        for (std::size_t c = begin; c < end; ++c) {
          float* row = data + c * n_samples;
          // A silent row stays silent (templates are zero far from their unit).
          if (std::all_of(row, row + n_samples, [](float v) { return v == 0.0f; })) continue;
          std::copy(row, row + n_samples, buf.begin());
          filtfilt(sections, buf.data(), n_samples);
          for (std::size_t i = 0; i < n_samples; ++i) row[i] = static_cast<float>(buf[i]);
        }
      },
      threads);
}

void spike_band_rms(const std::int16_t* data, std::size_t n_samples, std::size_t n_saved, std::size_t n_neural,
                    double sample_rate_hz, double uv_per_count, double cutoff_hz, float* out, int threads) {
  if (n_neural > n_saved) throw std::invalid_argument("spike_band_rms: more neural channels than saved channels");
  if (n_samples < 8) throw std::invalid_argument("spike_band_rms: need at least 8 samples");
  const auto sections = butterworth_highpass(3, cutoff_hz, sample_rate_hz);
  const std::size_t skip = std::min(static_cast<std::size_t>(0.02 * sample_rate_hz), n_samples / 4);
  parallel_for(
      n_neural,
      [&](std::size_t begin, std::size_t end) {
        std::vector<double> buf(n_samples);
        for (std::size_t c = begin; c < end; ++c) {
          double mean = 0.0;
          for (std::size_t i = 0; i < n_samples; ++i) {
            buf[i] = data[i * n_saved + c] * uv_per_count;
            mean += buf[i];
          }
          mean /= static_cast<double>(n_samples);
          for (double& v : buf) v -= mean;
          filtfilt(sections, buf.data(), n_samples);
          double sum2 = 0.0;
          for (std::size_t i = skip; i < n_samples - skip; ++i) sum2 += buf[i] * buf[i];
          out[c] = static_cast<float>(std::sqrt(sum2 / static_cast<double>(n_samples - 2 * skip)));
        }
      },
      threads);
}

Resonator make_resonator(double centre_hz, double bandwidth_hz, double rms, double sample_rate_hz) {
  if (!(bandwidth_hz > 0.0) || !(centre_hz >= 0.0) || !(centre_hz < sample_rate_hz / 2.0) || !(rms >= 0.0)) {
    throw std::invalid_argument("make_resonator: need 0 ≤ centre < fs/2, bandwidth > 0 and rms ≥ 0");
  }
  const double rho = std::exp(-std::numbers::pi * bandwidth_hz / sample_rate_hz);
  const double omega = 2.0 * std::numbers::pi * centre_hz / sample_rate_hz;
  Resonator r{};
  r.a1 = 2.0 * rho * std::cos(omega);
  r.a2 = -rho * rho;
  // Stationary AR(2) moments for unit innovation variance.
  r.var_unit = (1.0 - r.a2) / ((1.0 + r.a2) * ((1.0 - r.a2) * (1.0 - r.a2) - r.a1 * r.a1));
  r.cov1_unit = r.a1 * r.var_unit / (1.0 - r.a2);
  r.gain = rms / std::sqrt(r.var_unit);
  return r;
}

}  // namespace spikeshard::sim
