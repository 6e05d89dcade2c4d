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
  const std::size_t n_j = grid.n_j();
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
      float* row = out + (term * grid.n_radii + ir) * grid.floats_per_row();
      const double r = grid.dr_um * static_cast<double>(ir);
      const double radial = std::pow(1.0 + (r / scale) * (r / scale), -0.5 * power) *
                            (1.0 - raised_cosine((r / r_max - kRadialTaperStart) / (1.0 - kRadialTaperStart)));
      const double extra_width = widen * r / 100.0;
      const double delay = r / speed;
      for (std::size_t p = 0; p < grid.upsample; ++p) {
        for (std::size_t j = 0; j < n_j; ++j) {
          const double tau_ms =
              window_start_ms + (static_cast<double>(j) + static_cast<double>(p) / grid.upsample) * ms_per_sample;
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
          row[p * n_j + j] = static_cast<float>(v * radial * edge);
        }
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
                 std::size_t n_spikes, double cx, double cy, float* buf, std::size_t n, double delay) {
  const std::size_t n_j = grid.n_j();
  const std::size_t per_row = grid.floats_per_row();
  const std::size_t per_table = grid.floats_per_table();
  const double r_max = grid.r_max_um();
  const double pre = static_cast<double>(grid.pre_samples);
  const double post = static_cast<double>(grid.post_samples);
  const double up = static_cast<double>(grid.upsample);
  for (std::size_t k = 0; k < n_spikes; ++k) {
    const double* s = spikes + k * kSpikeFields;
    const double dx = cx - s[kSpikeX], dy = cy - s[kSpikeY], dz = s[kSpikeZ];
    const double r2 = dx * dx + dy * dy + dz * dz;
    const double r_cut = std::min(r_max, s[kSpikeRadiusUm]);
    if (r2 >= r_cut * r_cut) continue;
    const double t = s[kSpikeTime] - delay;
    // Sample `start` is the first with τ = start − t ≥ −pre; it reads phase p0 (and the next
    // phase, or phase 0 one sample on) at j = 0.
    const double start = std::ceil(t - pre);
    const double first = std::max(0.0, start);
    const double last = std::min(static_cast<double>(n) - 1.0, std::floor(t + post));
    if (first > last) continue;
    const double r = std::sqrt(r2);
    const double cos_theta = r > 0.0 ? dy / r : 0.0;
    const double fr = r / grid.dr_um;
    const std::size_t ir = std::min(static_cast<std::size_t>(fr), grid.n_radii - 2);
    const double wr = fr - static_cast<double>(ir);
    const double phase = std::clamp((start - t + pre) * up, 0.0, up - 1e-9);
    const std::size_t p0 = static_cast<std::size_t>(phase);
    const double wp = phase - static_cast<double>(p0);
    const std::size_t off_b = (p0 + 1 < grid.upsample) ? (p0 + 1) * n_j : 1;  // next phase, or phase 0 at j + 1
    const double gain_a = s[kSpikeGain];
    const double gain_b = s[kSpikeGain] * (1.0 + s[kSpikeAlpha] * cos_theta);
    const float* a0 = tables + static_cast<std::size_t>(s[kSpikeTable]) * per_table + ir * per_row;
    const float* a1 = a0 + per_row;
    const float* b0 = a0 + grid.n_radii * per_row;
    const float* b1 = b0 + per_row;
    const float* __restrict ta0 = a0 + p0 * n_j;
    const float* __restrict ta0n = a0 + off_b;
    const float* __restrict ta1 = a1 + p0 * n_j;
    const float* __restrict ta1n = a1 + off_b;
    const float* __restrict tb0 = b0 + p0 * n_j;
    const float* __restrict tb0n = b0 + off_b;
    const float* __restrict tb1 = b1 + p0 * n_j;
    const float* __restrict tb1n = b1 + off_b;
    // Weights of the 8 taps: (A|B) × (row ir|ir+1) × (this phase|next).
    const auto w = [](double g, double x, double y) { return static_cast<float>(g * x * y); };
    const float wa00 = w(gain_a, 1 - wr, 1 - wp), wa01 = w(gain_a, 1 - wr, wp);
    const float wa10 = w(gain_a, wr, 1 - wp), wa11 = w(gain_a, wr, wp);
    const float wb00 = w(gain_b, 1 - wr, 1 - wp), wb01 = w(gain_b, 1 - wr, wp);
    const float wb10 = w(gain_b, wr, 1 - wp), wb11 = w(gain_b, wr, wp);
    const auto i_first = static_cast<std::size_t>(first);
    const auto j_first = static_cast<std::size_t>(first - start);
    const std::size_t count = std::min(static_cast<std::size_t>(last) - i_first + 1, n_j - 1 - j_first);
    float* __restrict out = buf + i_first;
    for (std::size_t m = 0; m < count; ++m) {
      const std::size_t j = j_first + m;
      out[m] += wa00 * ta0[j] + wa01 * ta0n[j] + wa10 * ta1[j] + wa11 * ta1n[j] + wb00 * tb0[j] + wb01 * tb0n[j] +
                wb10 * tb1[j] + wb11 * tb1n[j];
    }
  }
}

std::vector<double> sort_spikes_by_y(const double* spikes, std::size_t n_spikes) {
  std::vector<std::size_t> order(n_spikes);
  for (std::size_t k = 0; k < n_spikes; ++k) order[k] = k;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return spikes[a * kSpikeFields + kSpikeY] < spikes[b * kSpikeFields + kSpikeY];
  });
  std::vector<double> sorted(n_spikes * kSpikeFields);
  for (std::size_t k = 0; k < n_spikes; ++k) {
    std::copy(spikes + order[k] * kSpikeFields, spikes + (order[k] + 1) * kSpikeFields, sorted.begin() + k * kSpikeFields);
  }
  return sorted;
}

std::pair<std::size_t, std::size_t> spikes_near(const std::vector<double>& sorted, double cy, double r_max) {
  const std::size_t n = sorted.size() / kSpikeFields;
  const auto lower = [&](double y) {
    std::size_t lo = 0, hi = n;
    while (lo < hi) {
      const std::size_t mid = (lo + hi) / 2;
      if (sorted[mid * kSpikeFields + kSpikeY] < y) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  return {lower(cy - r_max), lower(std::nextafter(cy + r_max, 1e300))};
}

void render_spikes(const TableGrid& grid, const float* tables, std::size_t n_tables, const double* spikes,
                   std::size_t n_spikes, const double* site_xy, std::size_t n_channels, float* out, std::size_t n,
                   int threads) {
  grid.validate();
  validate_spikes(spikes, n_spikes, n_tables);
  const std::vector<double> sorted = sort_spikes_by_y(spikes, n_spikes);
  parallel_for(
      n_channels,
      [&](std::size_t begin, std::size_t end) {
        for (std::size_t c = begin; c < end; ++c) {
          const auto [first, last] = spikes_near(sorted, site_xy[2 * c + 1], grid.r_max_um());
          render_site(grid, tables, n_tables, sorted.data() + first * kSpikeFields, last - first, site_xy[2 * c],
                      site_xy[2 * c + 1], out + c * n, n);
        }
      },
      threads);
}

}  // namespace spikeshard::sim
