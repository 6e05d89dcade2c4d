// SPDX-License-Identifier: GPL-3.0-or-later
// Drift histograms and their registration (classic datashift, docs/ks25-algorithm.md §3.2).
//
// Choices where KS2.5 is ambiguous or buggy (each also stated in drift.h):
//  - target batch: MATLAB's, 0-based min(300, floor(N/2)) - 1 (pykilosort's min(299, floor(N/2))
//    - 1 picks one batch earlier when N >= 600, §11 item 11), clamped to 0 so N = 1 works;
//  - non-rigid blocks are floor(ny / n_blocks) bins long (MATLAB's "yl = floor(ny/nblocks) - 1" is
//    the last offset inside a block, first + yl inclusive), first bins round(linspace(0, ny - len,
//    2·n_blocks - 1)) with rounding half away from zero;
//  - Gaussian smoothing truncates the kernel at 4σ and renormalises by the weights inside the
//    array at the edges;
//  - argmax ties go to the first candidate (most negative shift).
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "spikeshard/drift.h"
#include "spikeshard/threads.h"

namespace spikeshard {

namespace {

constexpr std::size_t kMaxAmpBins = 64;

void require(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument(what);
}

// Gaussian smoothing of a strided 1-D line of length n in place (edge-renormalised).
void smooth_line(double* v, std::size_t n, std::size_t stride, double sigma, std::vector<double>& scratch) {
  if (!(sigma > 0) || n < 2) return;
  const auto radius = static_cast<std::ptrdiff_t>(std::ceil(4 * sigma));
  scratch.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    double acc = 0, norm = 0;
    for (std::ptrdiff_t d = -radius; d <= radius; ++d) {
      const std::ptrdiff_t q = static_cast<std::ptrdiff_t>(i) + d;
      if (q < 0 || q >= static_cast<std::ptrdiff_t>(n)) continue;
      const double wgt = std::exp(-static_cast<double>(d * d) / (2 * sigma * sigma));
      acc += wgt * v[static_cast<std::size_t>(q) * stride];
      norm += wgt;
    }
    scratch[i] = acc / norm;
  }
  for (std::size_t i = 0; i < n; ++i) v[i * stride] = scratch[i];
}

std::size_t wrap(std::ptrdiff_t i, std::size_t n) {
  const auto m = static_cast<std::ptrdiff_t>(n);
  return static_cast<std::size_t>(((i % m) + m) % m);
}

}  // namespace

DriftHistogramGrid make_drift_histogram_grid(const double* y_um, std::size_t n_channels,
                                             const DriftHistogramParams& p) {
  require(n_channels > 0, "make_drift_histogram_grid: n_channels must be > 0");
  require(p.bin_um > 0 && p.n_amp_bins > 0 && p.n_amp_bins <= kMaxAmpBins,
          "make_drift_histogram_grid: need bin_um > 0 and 1 <= n_amp_bins <= 64");
  require(p.amp_min > 0 && p.amp_max > p.amp_min && p.amp_clip > 0,
          "make_drift_histogram_grid: need 0 < amp_min < amp_max and amp_clip > 0");
  double ymin = std::numeric_limits<double>::infinity(), ymax = -ymin;
  for (std::size_t c = 0; c < n_channels; ++c) {
    require(std::isfinite(y_um[c]), "make_drift_histogram_grid: y of channel " + std::to_string(c) + " is not finite");
    ymin = std::min(ymin, y_um[c]);
    ymax = std::max(ymax, y_um[c]);
  }
  DriftHistogramGrid g;
  g.params = p;
  g.bin_um = p.bin_um;
  g.origin_um = ymin - 1.0;
  g.n_depth_bins = static_cast<std::size_t>(std::ceil((ymax - g.origin_um) / p.bin_um));
  return g;
}

std::ptrdiff_t drift_depth_bin(const DriftHistogramGrid& g, double depth_um) {
  if (!std::isfinite(depth_um)) return -1;
  const double b = std::ceil((depth_um - g.origin_um) / g.bin_um) - 1;
  if (b < 0 || b >= static_cast<double>(g.n_depth_bins)) return -1;
  return static_cast<std::ptrdiff_t>(b);
}

std::size_t drift_amp_bin(const DriftHistogramGrid& g, double amplitude) {
  const DriftHistogramParams& p = g.params;
  const double lo = std::log10(p.amp_min), hi = std::log10(p.amp_max);
  const double a = std::max(std::min(amplitude, p.amp_clip), p.amp_min);  // clamp keeps log10 finite
  const double b = std::ceil(1e-5 + static_cast<double>(p.n_amp_bins) * (std::log10(a) - lo) / (hi - lo)) - 1;
  return static_cast<std::size_t>(std::clamp(b, 0.0, static_cast<double>(p.n_amp_bins - 1)));
}

std::size_t drift_histogram(const float* depth_um, const float* amplitude, std::size_t n_spikes,
                            const DriftHistogramGrid& g, float* out) {
  const std::size_t na = g.params.n_amp_bins;
  std::vector<std::uint32_t> counts(g.n_depth_bins * na, 0);
  std::size_t used = 0;
  for (std::size_t i = 0; i < n_spikes; ++i) {
    const std::ptrdiff_t d = drift_depth_bin(g, depth_um[i]);
    if (d < 0 || !std::isfinite(amplitude[i])) continue;
    counts[static_cast<std::size_t>(d) * na + drift_amp_bin(g, amplitude[i])] += 1;
    ++used;
  }
  for (std::size_t q = 0; q < counts.size(); ++q) out[q] = static_cast<float>(std::log2(1.0 + counts[q]));
  return used;
}

DriftRegistration register_drift(const float* histograms, std::size_t n_batches, const DriftHistogramGrid& grid,
                                 const DriftRegistrationParams& p, int threads) {
  const std::size_t ny = grid.n_depth_bins, na = grid.params.n_amp_bins, cell = ny * na;
  require(n_batches > 0, "register_drift: need at least one batch");
  require(ny > 0 && na > 0 && na <= kMaxAmpBins, "register_drift: need 1..64 amplitude bins and a non-empty grid");
  require(p.rigid_iterations >= 1 && p.rigid_max_shift >= 0 && p.block_max_shift >= 0,
          "register_drift: need rigid_iterations >= 1 and non-negative maximum shifts");
  require(p.n_blocks >= 1 && ny / p.n_blocks >= 1,
          "register_drift: n_blocks must lie in [1, " + std::to_string(ny) + "] (depth bins), got " +
              std::to_string(p.n_blocks));
  require(p.upsample_step > 0 && p.upsample_sigma > 0 && p.smooth_sigma >= 0,
          "register_drift: need upsample_step > 0, upsample_sigma > 0 and smooth_sigma >= 0");

  DriftRegistration out;
  out.n_batches = n_batches;
  out.target_batch = std::max<std::size_t>(1, std::min<std::size_t>(300, n_batches / 2)) - 1;

  // Depth-mean removal per (batch, amplitude bin).
  std::vector<double> f(n_batches * cell);
  parallel_for(n_batches, [&](std::size_t b, std::size_t e) {
    for (std::size_t k = b; k < e; ++k) {
      double* fk = f.data() + k * cell;
      const float* hk = histograms + k * cell;
      for (std::size_t q = 0; q < cell; ++q) fk[q] = hk[q];
      for (std::size_t a = 0; a < na; ++a) {
        double mean = 0;
        for (std::size_t y = 0; y < ny; ++y) mean += fk[y * na + a];
        mean /= static_cast<double>(ny);
        for (std::size_t y = 0; y < ny; ++y) fk[y * na + a] -= mean;
      }
    }
  }, threads);

  // Σ_{y in [y0, y0+len), a} f_k[(y - s) mod ny, a] · target[y, a]. One accumulator per
  // amplitude bin (vectorisable, fixed order), summed in bin order at the end.
  auto correlate = [&](const double* fk, const double* target, std::ptrdiff_t s, std::size_t y0, std::size_t len) {
    double acc[kMaxAmpBins] = {};
    std::size_t y = y0;
    while (y < y0 + len) {
      const std::size_t src_y = wrap(static_cast<std::ptrdiff_t>(y) - s, ny);
      const std::size_t run = std::min(y0 + len - y, ny - src_y);  // rows until the source wraps
      const double* src = fk + src_y * na;
      const double* t = target + y * na;
      for (std::size_t q = 0; q < run * na; q += na) {
        for (std::size_t a = 0; a < na; ++a) acc[a] += src[q + a] * t[q + a];
      }
      y += run;
    }
    double total = 0;
    for (std::size_t a = 0; a < na; ++a) total += acc[a];
    return total;
  };

  // Rigid: integer shifts, target refined as the mean of the aligned histograms.
  std::vector<double> target(f.begin() + static_cast<std::ptrdiff_t>(out.target_batch * cell),
                             f.begin() + static_cast<std::ptrdiff_t>((out.target_batch + 1) * cell));
  out.rigid_shift_bins.assign(n_batches, 0);
  const std::ptrdiff_t smax = p.rigid_max_shift;
  std::vector<int> best(n_batches, 0);
  for (int it = 0; it < p.rigid_iterations; ++it) {
    const bool shift_now = it + 1 < p.rigid_iterations;
    parallel_for(n_batches, [&](std::size_t b, std::size_t e) {
      std::vector<double> tmp(cell);
      for (std::size_t k = b; k < e; ++k) {
        double* fk = f.data() + k * cell;
        double best_c = -std::numeric_limits<double>::infinity();
        std::ptrdiff_t best_s = 0;
        for (std::ptrdiff_t s = -smax; s <= smax; ++s) {
          const double c = correlate(fk, target.data(), s, 0, ny);
          if (c > best_c) {
            best_c = c;
            best_s = s;
          }
        }
        best[k] = static_cast<int>(best_s);
        if (shift_now && best_s != 0) {
          for (std::size_t y = 0; y < ny; ++y) {
            const double* src = fk + wrap(static_cast<std::ptrdiff_t>(y) - best_s, ny) * na;
            std::copy(src, src + na, tmp.data() + y * na);
          }
          std::copy(tmp.begin(), tmp.end(), fk);
        }
      }
    }, threads);
    if (shift_now) {
      for (std::size_t k = 0; k < n_batches; ++k) out.rigid_shift_bins[k] += best[k];
    }
    parallel_for(cell, [&](std::size_t b, std::size_t e) {
      for (std::size_t q = b; q < e; ++q) {
        double acc = 0;
        for (std::size_t k = 0; k < n_batches; ++k) acc += f[k * cell + q];
        target[q] = acc / static_cast<double>(n_batches);
      }
    }, threads);
  }

  // Non-rigid: overlapping blocks, small shifts, smoothing, sub-bin upsampling.
  const std::size_t nb = 2 * p.n_blocks - 1, len = ny / p.n_blocks;
  out.n_blocks = nb;
  out.block_bins = len;
  out.block_first_bin.resize(nb);
  out.yblk_um.resize(nb);
  for (std::size_t j = 0; j < nb; ++j) {
    const double first = nb == 1 ? 0.0 : std::round(static_cast<double>(j) * static_cast<double>(ny - len) /
                                                    static_cast<double>(nb - 1));
    out.block_first_bin[j] = static_cast<std::size_t>(first);
    out.yblk_um[j] = grid.origin_um + grid.bin_um * (first + static_cast<double>(len) / 2);
  }
  const std::ptrdiff_t bmax = p.block_max_shift;
  const auto ns = static_cast<std::size_t>(2 * bmax + 1);
  std::vector<double> xc(n_batches * nb * ns);  // [k][j][s]
  parallel_for(n_batches, [&](std::size_t b, std::size_t e) {
    for (std::size_t k = b; k < e; ++k) {
      for (std::size_t j = 0; j < nb; ++j) {
        for (std::size_t si = 0; si < ns; ++si) {
          const std::ptrdiff_t s = static_cast<std::ptrdiff_t>(si) - bmax;
          xc[(k * nb + j) * ns + si] =
              correlate(f.data() + k * cell, target.data(), s, out.block_first_bin[j], len) /
              static_cast<double>(len * na);
        }
      }
    }
  }, threads);
  {
    std::vector<double> scratch;
    for (std::size_t j = 0; j < nb; ++j) {  // across batches
      for (std::size_t si = 0; si < ns; ++si) {
        smooth_line(xc.data() + j * ns + si, n_batches, nb * ns, p.smooth_sigma, scratch);
      }
    }
    for (std::size_t k = 0; k < n_batches; ++k) {  // across blocks
      for (std::size_t si = 0; si < ns; ++si) {
        smooth_line(xc.data() + k * nb * ns + si, nb, ns, p.smooth_sigma, scratch);
      }
    }
    for (std::size_t q = 0; q < n_batches * nb; ++q) smooth_line(xc.data() + q * ns, ns, 1, p.smooth_sigma, scratch);
  }
  const auto half_up = static_cast<std::ptrdiff_t>(std::llround(static_cast<double>(bmax) / p.upsample_step));
  const auto nup = static_cast<std::size_t>(2 * half_up + 1);
  std::vector<double> kernel(nup * ns);  // exp(-(s - s')² / 2σ²), plain smoothing (no inverse)
  std::vector<double> s_up(nup);
  for (std::size_t m = 0; m < nup; ++m) {
    s_up[m] = static_cast<double>(static_cast<std::ptrdiff_t>(m) - half_up) * p.upsample_step;
    for (std::size_t si = 0; si < ns; ++si) {
      const double d = static_cast<double>(static_cast<std::ptrdiff_t>(si) - bmax) - s_up[m];
      kernel[m * ns + si] = std::exp(-d * d / (2 * p.upsample_sigma * p.upsample_sigma));
    }
  }
  out.dshift_um.resize(n_batches * nb);
  for (std::size_t k = 0; k < n_batches; ++k) {
    for (std::size_t j = 0; j < nb; ++j) {
      const double* c = xc.data() + (k * nb + j) * ns;
      double best_v = -std::numeric_limits<double>::infinity();
      std::size_t best_m = 0;
      for (std::size_t m = 0; m < nup; ++m) {
        double v = 0;
        for (std::size_t si = 0; si < ns; ++si) v += kernel[m * ns + si] * c[si];
        if (v > best_v) {
          best_v = v;
          best_m = m;
        }
      }
      out.dshift_um[k * nb + j] = grid.bin_um * (out.rigid_shift_bins[k] + s_up[best_m]);
    }
  }
  return out;
}

}  // namespace spikeshard
