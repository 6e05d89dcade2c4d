// SPDX-License-Identifier: GPL-3.0-or-later
// Template model checks, channel neighbourhoods, peak channels and the low-rank factorisation of
// mean waveforms (layouts and the algorithm are described in include/spikeshard/templates.h).
#include "spikeshard/templates.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

#include "matching_simd.h"
#include "spikeshard/linalg.h"
#include "spikeshard/threads.h"

namespace spikeshard {

namespace {

[[noreturn]] void bad(const std::string& what) { throw std::invalid_argument(what); }

}  // namespace

void TemplateSet::validate() const {
  if (n_channels == 0) bad("template model: n_channels must be ≥ 1");
  if (nt0 < 1) bad("template model: nt0 must be ≥ 1, got " + std::to_string(nt0));
  if (nt0min < 0 || nt0min >= nt0) {
    bad("template model: nt0min must be in [0, nt0), got " + std::to_string(nt0min) + " with nt0 " +
        std::to_string(nt0));
  }
  if (rank < 1) bad("template model: rank must be ≥ 1, got " + std::to_string(rank));
  if (n_neighbours < 1 || static_cast<std::size_t>(n_neighbours) > n_channels) {
    bad("template model: n_neighbours must be in [1, n_channels = " + std::to_string(n_channels) + "], got " +
        std::to_string(n_neighbours));
  }
  if (iC == nullptr) bad("template model: iC is missing");
  std::vector<std::size_t> seen_in_row(n_channels, SIZE_MAX);
  for (std::size_t c = 0; c < n_channels; ++c) {
    for (int i = 0; i < n_neighbours; ++i) {
      std::int32_t ch = iC[c * n_neighbours + i];
      if (ch < 0 || static_cast<std::size_t>(ch) >= n_channels) {
        bad("template model: iC[" + std::to_string(c) + ", " + std::to_string(i) + "] = " + std::to_string(ch) +
            " is not a channel index");
      }
      if (seen_in_row[ch] == c) {
        bad("template model: channel " + std::to_string(ch) + " appears twice in the neighbourhood of channel " +
            std::to_string(c));
      }
      seen_in_row[ch] = c;
    }
  }
  if (n_templates == 0) return;
  if (W == nullptr || U == nullptr || mu == nullptr || iW == nullptr) bad("template model: W, U, mu or iW is missing");
  for (std::size_t j = 0; j < n_templates; ++j) {
    if (iW[j] < 0 || static_cast<std::size_t>(iW[j]) >= n_channels) {
      bad("template model: iW[" + std::to_string(j) + "] = " + std::to_string(iW[j]) + " is not a channel index");
    }
    if (!std::isfinite(mu[j])) bad("template model: mu[" + std::to_string(j) + "] is not finite");
  }
  std::size_t nw = n_templates * nt0 * rank;
  for (std::size_t i = 0; i < nw; ++i) {
    if (!std::isfinite(W[i])) bad("template model: W contains a non-finite value at " + std::to_string(i));
  }
  std::vector<std::size_t> member(n_channels, SIZE_MAX);
  for (std::size_t j = 0; j < n_templates; ++j) {
    const std::int32_t* ch = channels_of(j);
    for (int i = 0; i < n_neighbours; ++i) member[ch[i]] = j;
    for (std::size_t c = 0; c < n_channels; ++c) {
      for (int k = 0; k < rank; ++k) {
        float u = U[(j * n_channels + c) * rank + k];
        if (!std::isfinite(u)) bad("template model: U of template " + std::to_string(j) + " is not finite");
        if (u != 0.0f && member[c] != j) {
          bad("template model: U of template " + std::to_string(j) + " is non-zero on channel " + std::to_string(c) +
              ", outside the neighbourhood of its peak channel " + std::to_string(iW[j]));
        }
      }
    }
  }
}

TemplateSet TemplateModel::view() const {
  TemplateSet s;
  s.n_templates = n_templates;
  s.n_channels = n_channels;
  s.nt0 = nt0;
  s.nt0min = nt0min;
  s.rank = rank;
  s.n_neighbours = n_neighbours;
  s.W = W.data();
  s.U = U.data();
  s.mu = mu.data();
  s.iW = iW.data();
  s.iC = iC.data();
  return s;
}

std::vector<std::int32_t> nearest_channels(const float* x_um, const float* y_um, std::size_t n_channels,
                                           int n_neighbours) {
  if (n_channels == 0) bad("nearest_channels: no channels");
  if (n_neighbours < 1 || static_cast<std::size_t>(n_neighbours) > n_channels) {
    bad("nearest_channels: n_neighbours must be in [1, " + std::to_string(n_channels) + "], got " +
        std::to_string(n_neighbours));
  }
  std::vector<std::int32_t> out(n_channels * n_neighbours);
  std::vector<std::size_t> order(n_channels);
  std::vector<double> d2(n_channels);
  for (std::size_t c = 0; c < n_channels; ++c) {
    for (std::size_t o = 0; o < n_channels; ++o) {
      double dx = static_cast<double>(x_um[o]) - x_um[c];
      double dy = static_cast<double>(y_um[o]) - y_um[c];
      d2[o] = dx * dx + dy * dy;
    }
    std::iota(order.begin(), order.end(), 0);
    // Self first even when two sites share a position; then by distance, then by index.
    std::partial_sort(order.begin(), order.begin() + n_neighbours, order.end(), [&](std::size_t a, std::size_t b) {
      if ((a == c) != (b == c)) return a == c;
      if (d2[a] != d2[b]) return d2[a] < d2[b];
      return a < b;
    });
    for (int i = 0; i < n_neighbours; ++i) out[c * n_neighbours + i] = static_cast<std::int32_t>(order[i]);
  }
  return out;
}

std::vector<std::int32_t> peak_channels(const double* dWU, std::size_t n_templates, int nt0, std::size_t n_channels,
                                        int nt0min, int threads) {
  if (nt0min < 0 || nt0min >= nt0) bad("peak_channels: nt0min must be in [0, nt0)");
  if (n_channels == 0) bad("peak_channels: no channels");
  std::vector<std::int32_t> out(n_templates);
  parallel_for(
      n_templates,
      [&](std::size_t begin, std::size_t end) {
        for (std::size_t j = begin; j < end; ++j) {
          const double* row = dWU + (j * nt0 + nt0min) * n_channels;
          std::size_t best = 0;
          for (std::size_t c = 1; c < n_channels; ++c) {
            if (std::fabs(row[c]) > std::fabs(row[best])) best = c;
          }
          out[j] = static_cast<std::int32_t>(best);
        }
      },
      threads);
  return out;
}

namespace {

// Kernel interpolation of a periodic sequence of n samples with a squared-exponential kernel
// (distance measured around the circle, matching the circular integer shift). A tiny ridge keeps
// the Cholesky factorisation safe for wide kernels without visibly smoothing: the fitted function
// passes through the samples, so a zero shift reproduces the input.
class CircularInterpolator {
 public:
  CircularInterpolator(int n, double sigma) : n_(n), sigma_(sigma), l_(static_cast<std::size_t>(n) * n, 0.0) {
    std::vector<double> k(static_cast<std::size_t>(n) * n);
    for (int a = 0; a < n; ++a) {
      for (int b = 0; b < n; ++b) k[a * n + b] = kernel(a, b) + (a == b ? 1e-10 : 0.0);
    }
    for (int i = 0; i < n; ++i) {
      for (int j = 0; j <= i; ++j) {
        double s = k[i * n + j];
        for (int p = 0; p < j; ++p) s -= l_[i * n + p] * l_[j * n + p];
        if (i == j) {
          if (!(s > 0.0)) throw std::invalid_argument("factorize_templates: kernel_sigma too large for interpolation");
          l_[i * n + i] = std::sqrt(s);
        } else {
          l_[i * n + j] = s / l_[j * n + j];
        }
      }
    }
  }

  // Interpolation weights a with f(p) = Σ_m kernel(p, m)·a[m] and f(m) = w[m].
  void fit(const double* w, double* a) const {
    for (int i = 0; i < n_; ++i) {
      double s = w[i];
      for (int p = 0; p < i; ++p) s -= l_[i * n_ + p] * a[p];
      a[i] = s / l_[i * n_ + i];
    }
    for (int i = n_ - 1; i >= 0; --i) {
      double s = a[i];
      for (int p = i + 1; p < n_; ++p) s -= l_[p * n_ + i] * a[p];
      a[i] = s / l_[i * n_ + i];
    }
  }

  double eval(const double* a, double p) const {
    double s = 0.0;
    for (int m = 0; m < n_; ++m) s += kernel(p, m) * a[m];
    return s;
  }

 private:
  double kernel(double p, double m) const {
    double d = std::fmod(std::fabs(p - m), static_cast<double>(n_));
    d = std::min(d, n_ - d);
    return std::exp(-d * d / (2.0 * sigma_ * sigma_));
  }

  int n_;
  double sigma_;
  std::vector<double> l_;  // lower Cholesky factor, row-major
};

double dot(const double* a, const double* b, int n) {
  double s = 0.0;
  for (int i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

// Removes from v its components along the first `count` orthonormal vectors of basis (n each).
void orthogonalise(double* v, const double* basis, int count, int n) {
  for (int l = 0; l < count; ++l) {
    double p = dot(basis + static_cast<std::size_t>(l) * n, v, n);
    for (int i = 0; i < n; ++i) v[i] -= p * basis[static_cast<std::size_t>(l) * n + i];
  }
}

// u = G·w for a symmetric G (both halves holding the same bits), accumulated column by column:
// each u[a] gets exactly dot(G[a], w)'s terms in dot's order, but the n sums are independent and
// vectorise (no FMA, lanes never mix) instead of each waiting on one add chain.
SPIKESHARD_CLONES void symmetric_matvec(const double* G, const double* w, double* u, int n) {
  std::fill(u, u + n, 0.0);
  for (int b = 0; b < n; ++b) {
    const double wb = w[b];
    const double* g = G + static_cast<std::size_t>(b) * n;
    for (int a = 0; a < n; ++a) u[a] += g[a] * wb;
  }
}

struct FactorScratch {
  std::vector<double> D, G, w, u, U, a, shifted;
};

void factorize_one(std::size_t j, const double* const* dWU, std::size_t n_channels, const std::int32_t* iC, int n_near,
                   const std::int32_t* iW, const float* W_prev, const FactorizeOptions& o,
                   const CircularInterpolator& interp, FactorScratch& s, TemplateModel& out) {
  const int nt0 = o.nt0, rank = o.rank;
  const std::int32_t* ch = iC + static_cast<std::size_t>(iW[j]) * n_near;
  s.D.assign(static_cast<std::size_t>(nt0) * n_near, 0.0);
  for (int t = 0; t < nt0; ++t) {
    const double* row = dWU[j] + static_cast<std::size_t>(t) * n_channels;
    for (int i = 0; i < n_near; ++i) s.D[t * n_near + i] = row[ch[i]];
  }
  s.G.assign(static_cast<std::size_t>(nt0) * nt0, 0.0);
  for (int a = 0; a < nt0; ++a) {
    for (int b = a; b < nt0; ++b) {
      double g = dot(&s.D[a * n_near], &s.D[b * n_near], n_near);
      s.G[a * nt0 + b] = g;
      s.G[b * nt0 + a] = g;
    }
  }

  // Start vectors, component k at s.w[k*nt0 ...].
  s.w.assign(static_cast<std::size_t>(rank) * nt0, 0.0);
  if (W_prev != nullptr) {
    for (int t = 0; t < nt0; ++t) {
      for (int k = 0; k < rank; ++k) s.w[k * nt0 + t] = W_prev[(j * nt0 + t) * rank + k];
    }
  } else {
    std::vector<double> m(static_cast<std::size_t>(n_near) * n_near);
    for (int a = 0; a < n_near; ++a) {
      for (int b = 0; b < n_near; ++b) {
        double acc = 0.0;
        for (int t = 0; t < nt0; ++t) acc += s.D[t * n_near + a] * s.D[t * n_near + b];
        m[a * n_near + b] = acc;
      }
    }
    SymmetricEigen e = symmetric_eigen(m.data(), n_near);
    for (int k = 0; k < std::min(rank, n_near); ++k) {
      for (int t = 0; t < nt0; ++t) s.w[k * nt0 + t] = dot(&s.D[t * n_near], &e.vectors[k * n_near], n_near);
    }
  }

  // Power iteration with projected deflation. Projections are applied twice: once an iterate is
  // mostly cancelled by them (a component with no energy left), one pass leaves rounding noise
  // that is not orthogonal to the earlier components.
  double trace = 0.0;
  for (int t = 0; t < nt0; ++t) trace += s.G[t * nt0 + t];
  s.u.resize(nt0);
  for (int k = 0; k < rank; ++k) {
    double* w = &s.w[k * nt0];
    double before = std::sqrt(dot(w, w, nt0));
    orthogonalise(w, s.w.data(), k, nt0);
    orthogonalise(w, s.w.data(), k, nt0);
    double norm = std::sqrt(dot(w, w, nt0));
    // A start that is zero or lies in the span of earlier components: take the first unit vector
    // that is not (deterministic; only degenerate templates get here).
    for (int e = 0; !(norm > 1e-8 * before) && e < nt0; ++e) {
      std::fill(w, w + nt0, 0.0);
      w[(o.nt0min + e) % nt0] = 1.0;
      orthogonalise(w, s.w.data(), k, nt0);
      orthogonalise(w, s.w.data(), k, nt0);
      before = 1.0;
      norm = std::sqrt(dot(w, w, nt0));
    }
    for (int t = 0; t < nt0; ++t) w[t] /= norm;
    for (int it = 0; it < o.power_iterations; ++it) {
      symmetric_matvec(s.G.data(), w, s.u.data(), nt0);
      orthogonalise(s.u.data(), s.w.data(), k, nt0);
      orthogonalise(s.u.data(), s.w.data(), k, nt0);
      double n = std::sqrt(dot(s.u.data(), s.u.data(), nt0));
      // No energy left outside the earlier components: keep the (orthonormal) current vector.
      if (!(n > 1e-12 * trace)) break;
      for (int t = 0; t < nt0; ++t) w[t] = s.u[t] / n;
    }
  }

  // Spatial components on the neighbourhood, joint normalisation.
  s.U.assign(static_cast<std::size_t>(rank) * n_near, 0.0);
  double norm2 = 0.0;
  for (int k = 0; k < rank; ++k) {
    for (int i = 0; i < n_near; ++i) {
      double acc = 0.0;
      for (int t = 0; t < nt0; ++t) acc += s.D[t * n_near + i] * s.w[k * nt0 + t];
      s.U[k * n_near + i] = acc;
      norm2 += acc * acc;
    }
  }
  double mu = std::sqrt(norm2);
  if (mu > 0.0) {
    for (double& v : s.U) v /= mu;
  }

  // Integer alignment of component 0 on the trough (circular, so W stays orthonormal; the wrapped
  // samples are the far tails of the window). W_0 is read with the polarity of the dominant channel
  // (largest |U_0|), where it is the spike waveform itself. Aligning on the largest |·| instead put a
  // large positive after-peak at nt0min: such a unit then drew extra templates that were time-shifted
  // copies of itself ("echo" templates). Only a template without a real trough (positive-only,
  // |min| < kTroughFraction·max on the dominant channel) is aligned on its positive peak.
  constexpr double kTroughFraction = 0.25;
  double polarity = 1.0;
  {
    int dominant = 0;
    for (int i = 1; i < n_near; ++i) {
      if (std::fabs(s.U[i]) > std::fabs(s.U[dominant])) dominant = i;
    }
    if (s.U[dominant] < 0.0) polarity = -1.0;
  }
  int trough = 0, crest = 0;
  for (int t = 1; t < nt0; ++t) {
    if (polarity * s.w[t] < polarity * s.w[trough]) trough = t;
    if (polarity * s.w[t] > polarity * s.w[crest]) crest = t;
  }
  const bool has_trough = -polarity * s.w[trough] >= kTroughFraction * polarity * s.w[crest];
  const int peak = has_trough ? trough : crest;
  int shift = ((o.nt0min - peak) % nt0 + nt0) % nt0;
  if (shift != 0) {
    s.shifted.resize(nt0);
    for (int k = 0; k < rank; ++k) {
      double* w = &s.w[k * nt0];
      for (int t = 0; t < nt0; ++t) s.shifted[(t + shift) % nt0] = w[t];
      std::copy(s.shifted.begin(), s.shifted.end(), w);
    }
  }

  // Sub-sample alignment, candidates centred on the aligned trough (the reference centred them
  // one sample early and so advanced every template by ≈0.4 sample).
  if (o.upsample >= 2 && mu > 0.0) {
    s.a.resize(static_cast<std::size_t>(rank) * nt0);
    interp.fit(s.w.data(), s.a.data());
    // The extreme of the aligned sample's own sign: |·| could pick the opposite-signed lobe.
    const double sign = s.w[o.nt0min] < 0.0 ? -1.0 : 1.0;
    int best_m = 0;
    double best = sign * interp.eval(s.a.data(), o.nt0min);
    for (int d = 1; d <= o.upsample / 2; ++d) {
      for (int m : {-d, d}) {
        double v = sign * interp.eval(s.a.data(), o.nt0min + static_cast<double>(m) / o.upsample);
        if (v > best) {
          best = v;
          best_m = m;
        }
      }
    }
    if (best_m != 0) {
      const double delta = static_cast<double>(best_m) / o.upsample;
      std::vector<double> q(static_cast<std::size_t>(rank) * nt0);
      for (int k = 0; k < rank; ++k) {
        interp.fit(&s.w[k * nt0], &s.a[k * nt0]);
        for (int t = 0; t < nt0; ++t) q[k * nt0 + t] = interp.eval(&s.a[k * nt0], t + delta);
      }
      // q = Q·R (modified Gram-Schmidt); T = q·Uᵀ = Q·(R·Uᵀ), so U_l ← Σ_{k≥l} R[l][k]·U_k.
      std::vector<double> r(static_cast<std::size_t>(rank) * rank, 0.0);
      bool ok = true;
      for (int k = 0; k < rank && ok; ++k) {
        double* v = &q[k * nt0];
        for (int l = 0; l < k; ++l) {
          r[l * rank + k] = dot(&q[l * nt0], v, nt0);
          for (int t = 0; t < nt0; ++t) v[t] -= r[l * rank + k] * q[l * nt0 + t];
        }
        r[k * rank + k] = std::sqrt(dot(v, v, nt0));
        ok = r[k * rank + k] > 1e-8;
        if (ok) {
          for (int t = 0; t < nt0; ++t) v[t] /= r[k * rank + k];
        }
      }
      // Resampling is a near-unitary map; a collapsed component would mean a degenerate input,
      // which then simply keeps its integer alignment.
      if (ok) {
        std::vector<double> un(static_cast<std::size_t>(rank) * n_near, 0.0);
        double n2 = 0.0;
        for (int l = 0; l < rank; ++l) {
          for (int i = 0; i < n_near; ++i) {
            double acc = 0.0;
            for (int k = l; k < rank; ++k) acc += r[l * rank + k] * s.U[k * n_near + i];
            un[l * n_near + i] = acc;
            n2 += acc * acc;
          }
        }
        double n = std::sqrt(n2);
        for (double& v : un) v /= n;
        s.U.swap(un);
        s.w.swap(q);
        mu *= n;
      }
    }
  }

  // Signs: flip W_k and U_k together so that T never changes. Components k ≥ 1 keep the sign of
  // the warm start (continuity from batch to batch; a rule on the samples would flip shapes whose
  // two extremes are nearly equal), else their largest |·| sample is made positive.
  for (int k = 0; k < rank; ++k) {
    double* w = &s.w[k * nt0];
    bool flip;
    double along = 0.0;
    if (k > 0 && W_prev != nullptr) {
      for (int t = 0; t < nt0; ++t) along += w[t] * W_prev[(j * nt0 + t) * rank + k];
    }
    if (k == 0) {
      flip = w[o.nt0min] > 0.0;
    } else if (along != 0.0) {
      flip = along < 0.0;
    } else {
      int m = 0;
      for (int t = 1; t < nt0; ++t) {
        if (std::fabs(w[t]) > std::fabs(w[m])) m = t;
      }
      flip = w[m] < 0.0;
    }
    if (flip) {
      for (int t = 0; t < nt0; ++t) w[t] = -w[t];
      for (int i = 0; i < n_near; ++i) s.U[k * n_near + i] = -s.U[k * n_near + i];
    }
  }

  for (int t = 0; t < nt0; ++t) {
    for (int k = 0; k < rank; ++k) out.W[(j * nt0 + t) * rank + k] = static_cast<float>(s.w[k * nt0 + t]);
  }
  for (int i = 0; i < n_near; ++i) {
    for (int k = 0; k < rank; ++k) {
      out.U[(j * n_channels + ch[i]) * rank + k] = static_cast<float>(s.U[k * n_near + i]);
    }
  }
  out.mu[j] = static_cast<float>(mu);
}

}  // namespace

TemplateModel factorize_templates(const double* dWU, std::size_t n_templates, std::size_t n_channels,
                                  const std::int32_t* iC, int n_neighbours, const std::int32_t* iW,
                                  const float* W_prev, const FactorizeOptions& o) {
  const std::size_t per_template = static_cast<std::size_t>(std::max(o.nt0, 0)) * n_channels;
  std::vector<const double*> rows(n_templates);
  for (std::size_t j = 0; j < n_templates; ++j) rows[j] = dWU + j * per_template;
  return factorize_templates(rows.data(), n_templates, n_channels, iC, n_neighbours, iW, W_prev, o);
}

TemplateModel factorize_templates(const double* const* dWU, std::size_t n_templates, std::size_t n_channels,
                                  const std::int32_t* iC, int n_neighbours, const std::int32_t* iW,
                                  const float* W_prev, const FactorizeOptions& o) {
  if (o.nt0 < 2) bad("factorize_templates: nt0 must be ≥ 2");
  if (o.rank < 1 || o.rank > o.nt0) bad("factorize_templates: rank must be in [1, nt0]");
  if (o.power_iterations < 0) bad("factorize_templates: power_iterations must be ≥ 0");
  if (o.upsample < 0) bad("factorize_templates: upsample must be ≥ 0");
  if (!(o.kernel_sigma > 0.0)) bad("factorize_templates: kernel_sigma must be > 0");
  TemplateModel out;
  out.n_templates = n_templates;
  out.n_channels = n_channels;
  out.nt0 = o.nt0;
  out.nt0min = o.nt0min;
  out.rank = o.rank;
  out.n_neighbours = n_neighbours;
  if (n_channels == 0) bad("factorize_templates: no channels");
  out.iC.assign(iC, iC + n_channels * static_cast<std::size_t>(std::max(n_neighbours, 0)));
  out.iW.assign(iW, iW + n_templates);
  out.W.assign(n_templates * o.nt0 * o.rank, 0.0f);
  out.U.assign(n_templates * n_channels * o.rank, 0.0f);
  out.mu.assign(n_templates, 0.0f);
  // Validates nt0min, n_neighbours, iC and iW before any of them is used as an index.
  out.view().validate();
  if (W_prev != nullptr) {
    for (std::size_t i = 0; i < n_templates * o.nt0 * o.rank; ++i) {
      if (!std::isfinite(W_prev[i])) {
        bad("factorize_templates: W_prev contains a non-finite value at " + std::to_string(i));
      }
    }
  }
  CircularInterpolator interp(o.nt0, o.kernel_sigma);
  // Each template's running mean is checked on the thread that factorises it: checked on the calling
  // thread first, the ~0.2 GB of a 1 200-template, 384-channel state took about as long as the
  // factorisation itself on 16 cores. The error names the first non-finite value, as a serial scan would.
  const std::size_t per_template = static_cast<std::size_t>(o.nt0) * n_channels;
  constexpr std::size_t kFinite = static_cast<std::size_t>(-1);
  std::vector<std::size_t> first_non_finite(n_templates, kFinite);
  parallel_for(
      n_templates,
      [&](std::size_t begin, std::size_t end) {
        FactorScratch scratch;
        for (std::size_t j = begin; j < end; ++j) {
          const double* row = dWU[j];
          const double* non_finite = std::find_if(row, row + per_template, [](double v) { return !std::isfinite(v); });
          if (non_finite != row + per_template) {
            first_non_finite[j] = static_cast<std::size_t>(non_finite - row);
            continue;
          }
          factorize_one(j, dWU, n_channels, out.iC.data(), n_neighbours, out.iW.data(), W_prev, o, interp, scratch,
                        out);
        }
      },
      o.threads);
  for (std::size_t j = 0; j < n_templates; ++j) {
    if (first_non_finite[j] != kFinite) {
      bad("factorize_templates: dWU contains a non-finite value at " +
          std::to_string(j * per_template + first_non_finite[j]));
    }
  }
  return out;
}

}  // namespace spikeshard
