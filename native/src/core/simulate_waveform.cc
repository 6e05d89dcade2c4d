// SPDX-License-Identifier: GPL-3.0-or-later
#include "simulate_waveform.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>
#include <string>

#include "spikeshard/threads.h"

namespace spikeshard::sim {

void TableGrid::validate() const {
  if (!(sample_rate_hz > 0.0) || upsample < 1 || upsample > 64 || !(dr_um > 0.0) || n_radii < 2 ||
      pre_samples + post_samples < 2 || pre_samples + post_samples > 4096) {
    throw std::invalid_argument("waveform table grid: need fs > 0, 1 ≤ upsample ≤ 64, dr > 0, n_radii ≥ 2 and " +
                                std::string("2 ≤ pre + post ≤ 4096 samples"));
  }
}

namespace {

double raised_cosine(double x) { return 0.5 * (1.0 - std::cos(std::numbers::pi * std::clamp(x, 0.0, 1.0))); }

void build_one(const TableGrid& grid, const double* shape, float* out) {
  const std::size_t n_taus = grid.n_taus();
  const double ms_per_sample = 1000.0 / grid.sample_rate_hz;
  const double window_start_ms = -static_cast<double>(grid.pre_samples) * ms_per_sample;
  const double window_end_ms = static_cast<double>(grid.post_samples) * ms_per_sample;
  const double r_max = grid.r_max_um();
  const auto count = static_cast<std::size_t>(shape[kComponentCount]);
  if (count > kMaxComponents) throw std::invalid_argument("waveform shape: more than 6 components");
  for (std::size_t term = 0; term < 2; ++term) {  // 0: somatic A, 1: dendritic B
    const double scale = shape[term == 0 ? kSomaScaleUm : kDendScaleUm];
    const double power = shape[term == 0 ? kSomaPower : kDendPower];
    const double widen = shape[term == 0 ? kSomaWidenMs : kDendWidenMs];
    const double speed = shape[term == 0 ? kSomaSpeedUmPerMs : kDendSpeedUmPerMs];
    if (!(scale > 0.0) || !(power >= 0.0) || !(widen >= 0.0) || !(speed > 0.0)) {
      throw std::invalid_argument("waveform shape: spatial scale and speed must be > 0, power and widening ≥ 0");
    }
    for (std::size_t ir = 0; ir < grid.n_radii; ++ir) {
      float* row = out + (term * grid.n_radii + ir) * n_taus;
      const double r = grid.dr_um * static_cast<double>(ir);
      const double radial = std::pow(1.0 + (r / scale) * (r / scale), -0.5 * power) *
                            (1.0 - raised_cosine((r / r_max - kRadialTaperStart) / (1.0 - kRadialTaperStart)));
      const double extra_width = widen * r / 100.0;
      const double delay = r / speed;
      for (std::size_t j = 0; j < n_taus; ++j) {
        const double tau_ms = window_start_ms + static_cast<double>(j) * ms_per_sample / grid.upsample;
        double v = 0.0;
        for (std::size_t k = 0; k < count; ++k) {
          const double* c = shape + kFirstComponent + k * kComponentFields;
          if (static_cast<std::size_t>(c[3]) != term) continue;
          const double sigma = c[2];
          if (!(sigma > 0.0)) throw std::invalid_argument("waveform shape: component sigma must be > 0");
          const double s = std::sqrt(sigma * sigma + extra_width * extra_width);
          const double d = tau_ms - c[1] - delay;
          v += c[0] * (sigma / s) * std::exp(-0.5 * d * d / (s * s));
        }
        const double edge = raised_cosine((tau_ms - window_start_ms) / kTaperPreMs) *
                            raised_cosine((window_end_ms - tau_ms) / kTaperPostMs);
        row[j] = static_cast<float>(v * radial * edge);
      }
    }
  }
}

}  // namespace

void build_waveform_tables(const TableGrid& grid, const double* shapes, std::size_t n_tables, float* out,
                           int threads) {
  grid.validate();
  parallel_for(
      n_tables,
      [&](std::size_t begin, std::size_t end) {
        for (std::size_t t = begin; t < end; ++t) {
          build_one(grid, shapes + t * kShapeFields, out + t * grid.floats_per_table());
        }
      },
      threads);
}

void validate_spikes(const double* spikes, std::size_t n_spikes, std::size_t n_tables) {
  for (std::size_t k = 0; k < n_spikes; ++k) {
    const double* s = spikes + k * kSpikeFields;
    for (std::size_t f = 0; f < kSpikeFields; ++f) {
      if (!std::isfinite(s[f])) {
        throw std::invalid_argument("spike " + std::to_string(k) + ": field " + std::to_string(f) + " is not finite");
      }
    }
    if (s[kSpikeTable] < 0.0 || s[kSpikeTable] >= static_cast<double>(n_tables) ||
        s[kSpikeTable] != std::floor(s[kSpikeTable])) {
      throw std::invalid_argument("spike " + std::to_string(k) + ": table index " + std::to_string(s[kSpikeTable]) +
                                  " is not an integer in [0, " + std::to_string(n_tables) + ")");
    }
  }
}

void render_site(const TableGrid& grid, const float* tables, std::size_t /*n_tables*/, const double* spikes,
                 std::size_t n_spikes, double cx, double cy, float* buf, std::size_t n, std::size_t stride) {
  const std::size_t n_taus = grid.n_taus();
  const std::size_t per_table = grid.floats_per_table();
  const double r_max = grid.r_max_um();
  const double pre = static_cast<double>(grid.pre_samples);
  const double post = static_cast<double>(grid.post_samples);
  const double up = static_cast<double>(grid.upsample);
  const std::size_t step = grid.upsample;
  for (std::size_t k = 0; k < n_spikes; ++k) {
    const double* s = spikes + k * kSpikeFields;
    const double dx = cx - s[kSpikeX], dy = cy - s[kSpikeY], dz = s[kSpikeZ];
    const double r2 = dx * dx + dy * dy + dz * dz;
    if (r2 >= r_max * r_max) continue;
    const double t = s[kSpikeTime];
    const double first = std::max(0.0, std::ceil(t - pre));
    const double last = std::min(static_cast<double>(n) - 1.0, std::floor(t + post));
    if (first > last) continue;
    const double r = std::sqrt(r2);
    const double cos_theta = r > 0.0 ? dy / r : 0.0;
    const double fr = r / grid.dr_um;
    const std::size_t ir = std::min(static_cast<std::size_t>(fr), grid.n_radii - 2);
    const double wr = fr - static_cast<double>(ir);
    const double p0 = std::max(0.0, (first - t + pre) * up);  // ≥ 0 up to rounding
    std::size_t ip = static_cast<std::size_t>(p0);
    const double wp = p0 - static_cast<double>(ip);
    const double gain_a = s[kSpikeGain];
    const double gain_b = s[kSpikeGain] * (1.0 + s[kSpikeAlpha] * cos_theta);
    const float* a0 = tables + static_cast<std::size_t>(s[kSpikeTable]) * per_table + ir * n_taus;
    const float* a1 = a0 + n_taus;
    const float* b0 = a0 + grid.n_radii * n_taus;
    const float* b1 = b0 + n_taus;
    // Weights of the 8 table taps: (A|B) × (row ir|ir+1) × (tau ip|ip+1).
    const float wa00 = static_cast<float>(gain_a * (1 - wr) * (1 - wp)), wa01 = static_cast<float>(gain_a * (1 - wr) * wp);
    const float wa10 = static_cast<float>(gain_a * wr * (1 - wp)), wa11 = static_cast<float>(gain_a * wr * wp);
    const float wb00 = static_cast<float>(gain_b * (1 - wr) * (1 - wp)), wb01 = static_cast<float>(gain_b * (1 - wr) * wp);
    const float wb10 = static_cast<float>(gain_b * wr * (1 - wp)), wb11 = static_cast<float>(gain_b * wr * wp);
    const auto i_first = static_cast<std::size_t>(first), i_last = static_cast<std::size_t>(last);
    for (std::size_t i = i_first; i <= i_last && ip + 1 < n_taus; ++i, ip += step) {
      buf[i * stride] += wa00 * a0[ip] + wa01 * a0[ip + 1] + wa10 * a1[ip] + wa11 * a1[ip + 1] + wb00 * b0[ip] +
                wb01 * b0[ip + 1] + wb10 * b1[ip] + wb11 * b1[ip + 1];
    }
  }
}

void render_spikes(const TableGrid& grid, const float* tables, std::size_t n_tables, const double* spikes,
                   std::size_t n_spikes, const double* site_xy, std::size_t n_channels, float* out, std::size_t n,
                   int threads) {
  grid.validate();
  validate_spikes(spikes, n_spikes, n_tables);
  parallel_for(
      n_channels,
      [&](std::size_t begin, std::size_t end) {
        for (std::size_t c = begin; c < end; ++c) {
          render_site(grid, tables, n_tables, spikes, n_spikes, site_xy[2 * c], site_xy[2 * c + 1], out + c * n, n);
        }
      },
      threads);
}

}  // namespace spikeshard::sim
