// SPDX-License-Identifier: GPL-3.0-or-later
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "check.h"
#include "spikeshard/templates.h"

using namespace spikeshard;

namespace {

constexpr int kNt0 = 61, kNt0min = 20, kRank = 3;

// A linear probe: channel c at (0, 20·c) µm, so neighbourhoods are runs of channel indices.
std::vector<std::int32_t> linear_neighbourhoods(std::size_t n_channels, int n_near) {
  std::vector<float> x(n_channels, 0.0f), y(n_channels);
  for (std::size_t c = 0; c < n_channels; ++c) y[c] = 20.0f * c;
  return nearest_channels(x.data(), y.data(), n_channels, n_near);
}

// Three orthonormal temporal shapes, the first a Gaussian trough centred at `centre` (width sigma).
std::vector<std::vector<double>> temporal_basis(double centre, double sigma) {
  std::vector<std::vector<double>> a(3, std::vector<double>(kNt0));
  for (int t = 0; t < kNt0; ++t) {
    double d = (t - centre) / sigma;
    a[0][t] = -std::exp(-0.5 * d * d);
    a[1][t] = d * std::exp(-0.5 * d * d);
    double e = (t - centre - 8.0) / (2.0 * sigma);
    a[2][t] = std::exp(-0.5 * e * e);
  }
  for (int k = 0; k < 3; ++k) {
    for (int l = 0; l < k; ++l) {
      double p = 0;
      for (int t = 0; t < kNt0; ++t) p += a[k][t] * a[l][t];
      for (int t = 0; t < kNt0; ++t) a[k][t] -= p * a[l][t];
    }
    double n = 0;
    for (int t = 0; t < kNt0; ++t) n += a[k][t] * a[k][t];
    for (int t = 0; t < kNt0; ++t) a[k][t] /= std::sqrt(n);
  }
  return a;
}

// dWU (1 × nt0 × nC) = Σ_k s_k·a_k(t)·b_k(c) with b_k orthogonal spatial patterns around `peak`,
// plus `outside` on channels far from the peak (must be blanked by the factorisation).
std::vector<double> rank3_waveform(const std::vector<std::vector<double>>& a, std::size_t n_channels, int peak,
                                   const double s[3], double outside) {
  std::vector<std::vector<double>> b(3, std::vector<double>(n_channels, 0.0));
  for (std::size_t c = 0; c < n_channels; ++c) {
    double d = (static_cast<double>(c) - peak) / 2.0;
    double g = std::exp(-0.5 * d * d);
    b[0][c] = g;
    b[1][c] = d * g;
    b[2][c] = (d * d - 1.0) * g;
  }
  for (int k = 0; k < 3; ++k) {
    for (int l = 0; l < k; ++l) {
      double p = 0, q = 0;
      for (std::size_t c = 0; c < n_channels; ++c) p += b[k][c] * b[l][c], q += b[l][c] * b[l][c];
      for (std::size_t c = 0; c < n_channels; ++c) b[k][c] -= p / q * b[l][c];
    }
    double n = 0;
    for (std::size_t c = 0; c < n_channels; ++c) n += b[k][c] * b[k][c];
    for (std::size_t c = 0; c < n_channels; ++c) b[k][c] /= std::sqrt(n);
  }
  std::vector<double> d(kNt0 * n_channels, 0.0);
  for (int t = 0; t < kNt0; ++t) {
    for (std::size_t c = 0; c < n_channels; ++c) {
      double v = 0;
      for (int k = 0; k < 3; ++k) v += s[k] * a[k][t] * b[k][c];
      if (std::abs(static_cast<int>(c) - peak) > 16) v += outside * std::sin(0.3 * t + c);
      d[t * n_channels + c] = v;
    }
  }
  return d;
}

// mu·T of template j at (t, c).
double reconstruct(const TemplateModel& m, std::size_t j, int t, std::size_t c) {
  double v = 0;
  for (int k = 0; k < m.rank; ++k) {
    v += static_cast<double>(m.W[(j * m.nt0 + t) * m.rank + k]) * m.U[(j * m.n_channels + c) * m.rank + k];
  }
  return v * m.mu[j];
}

bool in_neighbourhood(const TemplateModel& m, std::size_t j, std::size_t c) {
  const std::int32_t* ch = m.view().channels_of(j);
  return std::find(ch, ch + m.n_neighbours, static_cast<std::int32_t>(c)) != ch + m.n_neighbours;
}

}  // namespace

TEST(nearest_channels_self_first_then_distance_then_index) {
  // Channels 0..4 on a line, channel 5 at the same place as channel 2.
  std::vector<float> x = {0, 0, 0, 0, 0, 0}, y = {0, 20, 40, 60, 80, 40};
  auto iC = nearest_channels(x.data(), y.data(), 6, 4);
  std::vector<std::int32_t> row2(iC.begin() + 8, iC.begin() + 12);
  CHECK(row2 == (std::vector<std::int32_t>{2, 5, 1, 3}));
  std::vector<std::int32_t> row5(iC.begin() + 20, iC.begin() + 24);
  CHECK(row5 == (std::vector<std::int32_t>{5, 2, 1, 3}));
  std::vector<std::int32_t> row0(iC.begin(), iC.begin() + 4);
  CHECK(row0 == (std::vector<std::int32_t>{0, 1, 2, 5}));
}

TEST(peak_channels_take_largest_magnitude_at_trough_sample) {
  const std::size_t nC = 5;
  std::vector<double> d(2 * kNt0 * nC, 0.0);
  d[(0 * kNt0 + kNt0min) * nC + 3] = -4.0;
  d[(0 * kNt0 + kNt0min) * nC + 1] = 3.0;
  d[(0 * kNt0 + 5) * nC + 0] = -9.0;  // not at the trough sample: ignored
  d[(1 * kNt0 + kNt0min) * nC + 2] = 1.0;
  auto iW = peak_channels(d.data(), 2, kNt0, nC, kNt0min);
  CHECK(iW[0] == 3);
  CHECK(iW[1] == 2);
}

TEST(factorization_reproduces_rank3_template_exactly) {
  const std::size_t nC = 48;
  const int nNear = 32, peak = 24;
  auto iC = linear_neighbourhoods(nC, nNear);
  auto a = temporal_basis(kNt0min, 2.0);
  const double s[3] = {10.0, 4.0, 1.5};
  auto d = rank3_waveform(a, nC, peak, s, 0.7);
  std::vector<std::int32_t> iW = {peak};
  FactorizeOptions o;
  TemplateModel m = factorize_templates(d.data(), 1, nC, iC.data(), nNear, iW.data(), nullptr, o);
  m.view().validate();
  double worst = 0, scale = 0, blanked_norm2 = 0;
  for (int t = 0; t < kNt0; ++t) {
    for (std::size_t c = 0; c < nC; ++c) {
      double want = in_neighbourhood(m, 0, c) ? d[t * nC + c] : 0.0;
      blanked_norm2 += want * want;
      scale = std::max(scale, std::fabs(want));
      worst = std::max(worst, std::fabs(reconstruct(m, 0, t, c) - want));
    }
  }
  CHECK(worst < 1e-5 * scale);
  CHECK_NEAR(m.mu[0], std::sqrt(blanked_norm2), 1e-5 * m.mu[0]);
  // Orthonormal temporal components, component 0 negative at its trough, which sits at nt0min.
  for (int k = 0; k < kRank; ++k) {
    for (int l = 0; l < kRank; ++l) {
      double p = 0;
      for (int t = 0; t < kNt0; ++t) p += static_cast<double>(m.W[t * kRank + k]) * m.W[t * kRank + l];
      CHECK_NEAR(p, k == l ? 1.0 : 0.0, 1e-6);
    }
  }
  int argmax = 0;
  for (int t = 0; t < kNt0; ++t) {
    if (std::fabs(m.W[t * kRank]) > std::fabs(m.W[argmax * kRank])) argmax = t;
  }
  CHECK(argmax == kNt0min);
  CHECK(m.W[kNt0min * kRank] < 0.0f);
  // The components are the planted ones (up to sign, fixed for component 0).
  for (int t = 0; t < kNt0; ++t) CHECK_NEAR(m.W[t * kRank], a[0][t], 1e-6);
  // Warm start from the result gives the same model.
  TemplateModel warm = factorize_templates(d.data(), 1, nC, iC.data(), nNear, iW.data(), m.W.data(), o);
  for (std::size_t i = 0; i < m.W.size(); ++i) CHECK_NEAR(warm.W[i], m.W[i], 1e-6);
  for (std::size_t i = 0; i < m.U.size(); ++i) CHECK_NEAR(warm.U[i], m.U[i], 1e-6);
}

TEST(factorization_aligns_trough_to_nt0min_by_circular_shift) {
  const std::size_t nC = 40;
  const int nNear = 16, peak = 10, offset = 5;
  auto iC = linear_neighbourhoods(nC, nNear);
  auto a = temporal_basis(kNt0min + offset, 2.0);
  const double s[3] = {8.0, 3.0, 1.0};
  auto d = rank3_waveform(a, nC, peak, s, 0.0);
  std::vector<std::int32_t> iW = {peak};
  TemplateModel m = factorize_templates(d.data(), 1, nC, iC.data(), nNear, iW.data(), nullptr, FactorizeOptions{});
  double worst = 0, scale = 0;
  for (int t = 0; t < kNt0; ++t) {
    for (std::size_t c = 0; c < nC; ++c) {
      double want = in_neighbourhood(m, 0, c) ? d[((t + offset) % kNt0) * nC + c] : 0.0;
      scale = std::max(scale, std::fabs(want));
      worst = std::max(worst, std::fabs(reconstruct(m, 0, t, c) - want));
    }
  }
  CHECK(worst < 1e-5 * scale);
}

TEST(factorization_never_inverts_W_against_U_for_positive_templates) {
  // A template whose largest deflection is positive: the reference could sign-invert component 0
  // of W alone, turning the template upside down.
  const std::size_t nC = 40;
  const int nNear = 16, peak = 20;
  auto iC = linear_neighbourhoods(nC, nNear);
  auto a = temporal_basis(kNt0min, 1.5);
  const double s[3] = {-9.0, 2.0, 0.5};  // component 0 flipped: positive peak
  auto d = rank3_waveform(a, nC, peak, s, 0.0);
  std::vector<std::int32_t> iW = {peak};
  TemplateModel m = factorize_templates(d.data(), 1, nC, iC.data(), nNear, iW.data(), nullptr, FactorizeOptions{});
  double dot = 0, n1 = 0, n2 = 0;
  for (int t = 0; t < kNt0; ++t) {
    for (std::size_t c = 0; c < nC; ++c) {
      double r = reconstruct(m, 0, t, c), w = d[t * nC + c];
      dot += r * w, n1 += r * r, n2 += w * w;
    }
  }
  CHECK(dot / std::sqrt(n1 * n2) > 0.999999);
  CHECK(m.W[kNt0min * kRank] < 0.0f);                                  // sign convention on W_0 ...
  CHECK(m.U[(0 * nC + peak) * kRank + 0] < 0.0f);                      // ... carried by U_0
  CHECK(reconstruct(m, 0, kNt0min, peak) > 0.0);                       // the template stays positive
}

TEST(factorization_aligns_on_the_trough_not_a_larger_positive_after_peak) {
  // Trough 3 samples after nt0min, then a positive after-peak 1.5× deeper than the trough: the
  // largest |·| is the after-peak, yet the trough must land on nt0min (aligning on |·| made such
  // units grow time-shifted copies of their template).
  const std::size_t nC = 40;
  const int nNear = 16, peak = 20, trough = kNt0min + 3, after = trough + 7;
  auto iC = linear_neighbourhoods(nC, nNear);
  std::vector<std::vector<double>> a(3, std::vector<double>(kNt0, 0.0));
  for (int t = 0; t < kNt0; ++t) {
    a[0][t] = -std::exp(-0.5 * std::pow((t - trough) / 1.5, 2)) +
              1.5 * std::exp(-0.5 * std::pow((t - after) / 2.0, 2));
  }
  const double s[3] = {10.0, 0.0, 0.0};
  auto d = rank3_waveform(a, nC, peak, s, 0.0);
  std::vector<std::int32_t> iW = {peak};
  FactorizeOptions o;
  o.upsample = 0;  // integer alignment only: the planted trough sits exactly on a sample
  TemplateModel m = factorize_templates(d.data(), 1, nC, iC.data(), nNear, iW.data(), nullptr, o);
  int lowest = 0;
  for (int t = 1; t < kNt0; ++t) {
    if (reconstruct(m, 0, t, peak) < reconstruct(m, 0, lowest, peak)) lowest = t;
  }
  CHECK(lowest == kNt0min);
  CHECK(reconstruct(m, 0, kNt0min, peak) < 0.0);
  CHECK(m.W[kNt0min * kRank] < 0.0f);
  // The whole template is the input advanced by 3 samples.
  double worst = 0, scale = 0;
  for (int t = 0; t + 3 < kNt0; ++t) {
    for (std::size_t c = 0; c < nC; ++c) {
      double want = in_neighbourhood(m, 0, c) ? d[(t + 3) * nC + c] : 0.0;
      scale = std::max(scale, std::fabs(want));
      worst = std::max(worst, std::fabs(reconstruct(m, 0, t, c) - want));
    }
  }
  CHECK(worst < 1e-4 * scale);
}

TEST(factorization_subsample_keeps_the_trough_when_the_after_peak_is_larger) {
  // Same shape, trough 0.3 sample after a sample: the sub-sample step must centre the trough,
  // not move toward the larger positive lobe.
  const std::size_t nC = 40;
  const int nNear = 16, peak = 20;
  const double trough = kNt0min + 0.3, after = trough + 7;
  auto iC = linear_neighbourhoods(nC, nNear);
  std::vector<std::vector<double>> a(3, std::vector<double>(kNt0, 0.0));
  for (int t = 0; t < kNt0; ++t) {
    a[0][t] = -std::exp(-0.5 * std::pow((t - trough) / 1.5, 2)) +
              1.5 * std::exp(-0.5 * std::pow((t - after) / 2.0, 2));
  }
  const double s[3] = {10.0, 0.0, 0.0};
  auto d = rank3_waveform(a, nC, peak, s, 0.0);
  std::vector<std::int32_t> iW = {peak};
  TemplateModel m = factorize_templates(d.data(), 1, nC, iC.data(), nNear, iW.data(), nullptr, FactorizeOptions{});
  CHECK(reconstruct(m, 0, kNt0min, peak) < 0.0);  // the trough, not the after-peak, sits at nt0min
  CHECK(m.W[kNt0min * kRank] < m.W[(kNt0min - 1) * kRank]);
  CHECK(m.W[kNt0min * kRank] < m.W[(kNt0min + 1) * kRank]);
  CHECK(std::fabs(m.W[(kNt0min - 1) * kRank] - m.W[(kNt0min + 1) * kRank]) < 0.02f * std::fabs(m.W[kNt0min * kRank]));
}

TEST(factorization_subsample_alignment_centres_the_trough) {
  const std::size_t nC = 40;
  const int nNear = 16, peak = 20;
  auto iC = linear_neighbourhoods(nC, nNear);
  const double centre = kNt0min + 0.3, sigma = 2.0;
  std::vector<std::vector<double>> a = temporal_basis(centre, sigma);
  const double s[3] = {10.0, 0.0, 0.0};
  auto d = rank3_waveform(a, nC, peak, s, 0.0);
  std::vector<std::int32_t> iW = {peak};
  TemplateModel m = factorize_templates(d.data(), 1, nC, iC.data(), nNear, iW.data(), nullptr, FactorizeOptions{});
  // The planted trough lies 0.3 sample after nt0min: the aligned component 0 must be the same
  // Gaussian centred on nt0min (the reference centred its candidates one sample early).
  double norm = 0;
  for (int t = 0; t < kNt0; ++t) {
    double g = std::exp(-0.5 * std::pow((t - kNt0min) / sigma, 2));
    norm += g * g;
  }
  double worst = 0;
  for (int t = 0; t < kNt0; ++t) {
    double g = -std::exp(-0.5 * std::pow((t - kNt0min) / sigma, 2)) / std::sqrt(norm);
    worst = std::max(worst, std::fabs(m.W[t * kRank] - g));
  }
  CHECK(worst < 2e-3);
  CHECK(std::fabs(m.W[(kNt0min - 1) * kRank] - m.W[(kNt0min + 1) * kRank]) < 1e-3);
  // Still unit norm and mu carries the amplitude.
  double n2 = 0;
  for (int t = 0; t < kNt0; ++t) {
    for (std::size_t c = 0; c < nC; ++c) {
      double v = reconstruct(m, 0, t, c) / m.mu[0];
      n2 += v * v;
    }
  }
  CHECK_NEAR(n2, 1.0, 1e-5);
  CHECK_NEAR(m.mu[0], 10.0, 0.05);
}

TEST(factorization_rejects_bad_indices) {
  const std::size_t nC = 8;
  auto iC = linear_neighbourhoods(nC, 4);
  std::vector<double> d(kNt0 * nC, 1.0);
  std::vector<std::int32_t> iW = {9};
  bool threw = false;
  try {
    factorize_templates(d.data(), 1, nC, iC.data(), 4, iW.data(), nullptr, FactorizeOptions{});
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  CHECK(threw);
}

TEST(factorization_names_the_first_non_finite_value_of_any_template) {
  const std::size_t nC = 8, F = 5;
  auto iC = linear_neighbourhoods(nC, 4);
  std::vector<double> d(F * kNt0 * nC, 1.0);
  // Two bad templates: the error names the earlier one, whichever thread scanned it.
  d[(3 * kNt0 + 7) * nC + 2] = std::numeric_limits<double>::infinity();
  d[(1 * kNt0 + 40) * nC + 5] = std::numeric_limits<double>::quiet_NaN();
  std::vector<std::int32_t> iW(F, 2);
  for (int threads : {1, 4}) {
    FactorizeOptions o;
    o.threads = threads;
    std::string message;
    try {
      factorize_templates(d.data(), F, nC, iC.data(), 4, iW.data(), nullptr, o);
    } catch (const std::invalid_argument& e) {
      message = e.what();
    }
    CHECK(message.find("non-finite value at " + std::to_string((1 * kNt0 + 40) * nC + 5)) != std::string::npos);
  }
}

namespace {

TemplateModel random_model(std::size_t F, std::size_t nC, int nNear, std::uint32_t seed) {
  auto iC = linear_neighbourhoods(nC, nNear);
  std::mt19937 rng(seed);
  std::normal_distribution<double> g;
  std::vector<double> d(F * kNt0 * nC, 0.0);
  std::vector<std::int32_t> iW(F);
  for (std::size_t j = 0; j < F; ++j) {
    iW[j] = static_cast<std::int32_t>((j * 7 + 3) % nC);
    auto a = temporal_basis(kNt0min + (j % 3), 1.5 + 0.3 * j);
    for (int t = 0; t < kNt0; ++t) {
      for (std::size_t c = 0; c < nC; ++c) {
        double dc = (static_cast<double>(c) - iW[j]) / 3.0;
        d[(j * kNt0 + t) * nC + c] = 8.0 * a[0][t] * std::exp(-0.5 * dc * dc) + 0.5 * g(rng) * a[1][t];
      }
    }
  }
  return factorize_templates(d.data(), F, nC, iC.data(), nNear, iW.data(), nullptr, FactorizeOptions{});
}

}  // namespace

TEST(template_correlations_match_brute_force_and_are_symmetric) {
  const std::size_t F = 6, nC = 40;
  const int nNear = 8;
  TemplateModel m = random_model(F, nC, nNear, 3);
  TemplateCorrelations r = template_correlations(m.view(), 4);
  const int L = kNt0 - 1, nl = 2 * kNt0 - 1;
  CHECK(r.n_lags == nl);
  CHECK(r.n_similar == 4);
  bool any_disjoint = false;
  for (std::size_t a = 0; a < F; ++a) {
    for (std::size_t b = 0; b < F; ++b) {
      float best = -1e30f;
      double any = 0;
      for (int lag = -L; lag <= L; ++lag) {
        double want = 0;
        for (int t = 0; t < kNt0; ++t) {
          if (t + lag < 0 || t + lag >= kNt0) continue;
          for (std::size_t c = 0; c < nC; ++c) {
            want += (reconstruct(m, a, t, c) / m.mu[a]) * (reconstruct(m, b, t + lag, c) / m.mu[b]);
          }
        }
        float got = r.WtW[(a * F + b) * nl + lag + L];
        CHECK_NEAR(got, want, 2e-6);
        CHECK(got == r.WtW[(b * F + a) * nl - lag + L]);  // bitwise mirror
        best = std::max(best, got);
        any += std::fabs(got);
      }
      CHECK(r.similarity[a * F + b] == best);
      if (any == 0) any_disjoint = true;
    }
    CHECK_NEAR(r.similarity[a * F + a], 1.0, 1e-5);
    CHECK(r.similar[a * 4] == static_cast<std::int32_t>(a));
    for (int i = 2; i < 4; ++i) {
      CHECK(r.similarity[a * F + r.similar[a * 4 + i - 1]] >= r.similarity[a * F + r.similar[a * 4 + i]]);
    }
  }
  CHECK(any_disjoint);  // the test covers templates with disjoint neighbourhoods
  auto cc = zero_lag_similarity(m.view());
  for (std::size_t a = 0; a < F; ++a) {
    for (std::size_t b = 0; b < F; ++b) CHECK(cc[a * F + b] == r.WtW[(a * F + b) * nl + L]);
  }
}

TEST(template_correlations_independent_of_threads) {
  TemplateModel m = random_model(9, 40, 12, 5);
  TemplateCorrelations one = template_correlations(m.view(), 32, 1);
  TemplateCorrelations two = template_correlations(m.view(), 32, 2);
  CHECK(one.n_similar == 9);
  CHECK(std::memcmp(one.WtW.data(), two.WtW.data(), one.WtW.size() * sizeof(float)) == 0);
  CHECK(one.similar == two.similar);
}

namespace {

// WtW as first written: per pair, per lag, one double sum over (k, then tau ascending) of
// W_a[tau, k]·v_k[tau + lag] with v = (U_aᵀU_b)·W_b, the spatial products summed over a's
// neighbourhood. The vectorised kernel must give these bits exactly (the CUDA parity tests compare
// against the CPU output).
std::vector<float> reference_wtw(const TemplateModel& m) {
  const std::size_t F = m.n_templates, nC = m.n_channels;
  const int nt0 = m.nt0, rank = m.rank, nl = 2 * nt0 - 1;
  std::vector<float> out(F * F * nl, 0.0f);
  auto on = [&](std::size_t j, std::size_t c) { return in_neighbourhood(m, j, c); };
  for (std::size_t a = 0; a < F; ++a) {
    for (std::size_t b = 0; b < F; ++b) {
      bool overlap = false;
      for (std::size_t c = 0; c < nC; ++c) overlap = overlap || (on(a, c) && on(b, c));
      if (!overlap) continue;
      std::size_t lo = std::min(a, b), hi = std::max(a, b);  // the kernel computes (lo, hi) and mirrors it
      std::vector<double> uu(rank * rank, 0.0), v(rank * nt0);
      const std::int32_t* ch = &m.iC[static_cast<std::size_t>(m.iW[lo]) * m.n_neighbours];
      for (int i = 0; i < m.n_neighbours; ++i) {
        for (int k = 0; k < rank; ++k) {
          double ua = m.U[(lo * nC + ch[i]) * rank + k];
          for (int l = 0; l < rank; ++l) uu[k * rank + l] += ua * m.U[(hi * nC + ch[i]) * rank + l];
        }
      }
      for (int k = 0; k < rank; ++k) {
        for (int t = 0; t < nt0; ++t) {
          double acc = 0.0;
          for (int l = 0; l < rank; ++l) acc += uu[k * rank + l] * static_cast<double>(m.W[(hi * nt0 + t) * rank + l]);
          v[k * nt0 + t] = acc;
        }
      }
      for (int lag = -(nt0 - 1); lag <= nt0 - 1; ++lag) {
        double acc = 0.0;
        for (int k = 0; k < rank; ++k) {
          for (int t = std::max(0, -lag); t < std::min(nt0, nt0 - lag); ++t) {
            acc += static_cast<double>(m.W[(lo * nt0 + t) * rank + k]) * v[k * nt0 + t + lag];
          }
        }
        int at = a == lo ? lag + nt0 - 1 : nt0 - 1 - lag;
        out[(a * F + b) * nl + at] = static_cast<float>(acc);
      }
    }
  }
  return out;
}

}  // namespace

TEST(template_correlations_bitwise_equal_to_per_lag_sums_for_any_thread_count) {
  TemplateModel m = random_model(13, 48, 10, 8);  // odd F: the middle row has no partner
  const std::vector<float> want = reference_wtw(m);
  std::size_t nonzero = 0;
  for (float x : want) nonzero += x != 0.0f;
  CHECK(nonzero > 0 && nonzero < want.size());  // overlapping and disjoint pairs both present
  for (int threads : {1, 2, 3, 4, 7}) {
    TemplateCorrelations r = template_correlations(m.view(), 5, threads);
    CHECK(r.WtW.size() == want.size());
    CHECK(std::memcmp(r.WtW.data(), want.data(), want.size() * sizeof(float)) == 0);
    std::vector<float> in_place(want.size(), 0.0f);
    TemplateCorrelations p = template_correlations(m.view(), 5, threads, in_place.data());
    CHECK(p.WtW.empty());
    CHECK(std::memcmp(in_place.data(), want.data(), want.size() * sizeof(float)) == 0);
    CHECK(p.similarity == r.similarity);
    CHECK(p.similar == r.similar);
    // Without a table: the same similarity bits and lists.
    TemplateCorrelations s = template_correlations(m.view(), 5, threads, nullptr);
    CHECK(s.WtW.empty());
    CHECK(s.similarity.size() == r.similarity.size());
    CHECK(std::memcmp(s.similarity.data(), r.similarity.data(), r.similarity.size() * sizeof(float)) == 0);
    CHECK(s.similar == r.similar);
  }
  auto cc1 = zero_lag_similarity(m.view(), 1);
  for (int threads : {2, 3, 4}) CHECK(zero_lag_similarity(m.view(), threads) == cc1);
}

TEST(factorization_independent_of_threads) {
  const std::size_t F = 9, nC = 40;
  const int nNear = 12;
  auto iC = linear_neighbourhoods(nC, nNear);
  std::mt19937 rng(9);
  std::normal_distribution<double> g;
  std::vector<double> d(F * kNt0 * nC);
  for (double& v : d) v = g(rng);
  std::vector<std::int32_t> iW = peak_channels(d.data(), F, kNt0, nC, kNt0min);
  FactorizeOptions one, two;
  one.threads = 1;
  two.threads = 2;
  TemplateModel a = factorize_templates(d.data(), F, nC, iC.data(), nNear, iW.data(), nullptr, one);
  TemplateModel b = factorize_templates(d.data(), F, nC, iC.data(), nNear, iW.data(), nullptr, two);
  CHECK(std::memcmp(a.W.data(), b.W.data(), a.W.size() * sizeof(float)) == 0);
  CHECK(std::memcmp(a.U.data(), b.U.data(), a.U.size() * sizeof(float)) == 0);
  CHECK(a.mu == b.mu);
  a.view().validate();
}

namespace {

// wTEMP: six smooth prototypes, the first the spike shape used below.
std::vector<float> prototypes() {
  std::vector<float> w(kNt0 * 6);
  auto a = temporal_basis(kNt0min, 1.5);
  auto b = temporal_basis(kNt0min, 3.0);
  for (int t = 0; t < kNt0; ++t) {
    for (int k = 0; k < 3; ++k) {
      w[t * 6 + k] = static_cast<float>(a[k][t]);
      w[t * 6 + 3 + k] = static_cast<float>(b[k][t]);
    }
  }
  return w;
}

void plant(std::vector<float>& x, std::size_t nC, std::size_t st, int peak, double amp, double spread) {
  auto a = temporal_basis(kNt0min, 1.5);
  for (int t = 0; t < kNt0; ++t) {
    for (std::size_t c = 0; c < nC; ++c) {
      double d = (static_cast<double>(c) - peak) / spread;
      x[(st + t) * nC + c] += static_cast<float>(amp * a[0][t] * std::exp(-0.5 * d * d));
    }
  }
}

}  // namespace

TEST(proposals_find_isolated_spikes_with_temporal_and_spatial_suppression) {
  const std::size_t nC = 48, nT = 1200;
  const int nNear = 16;
  auto iC = linear_neighbourhoods(nC, nNear);
  auto w = prototypes();
  std::vector<float> x(nT * nC, 0.0f);
  plant(x, nC, 300, 12, 20.0, 1.5);  // kept
  plant(x, nC, 700, 14, 12.0, 1.5);  // weaker, 2 channels away: dropped by the spatial rule
  plant(x, nC, 800, 35, 15.0, 1.5);  // far away: kept
  plant(x, nC, 20, 30, 30.0, 1.5);   // trough at 40: in the leading halo, not proposed
  ProposalOptions o;
  o.halo_samples = 100;
  o.own_samples = 1000;
  Proposals p = propose_templates(x.data(), nT, nC, w.data(), 6, iC.data(), nNear, o);
  CHECK(p.sample.size() == 2);
  if (p.sample.size() == 2) {
    CHECK(p.sample[0] == 300 + kNt0min - 100);
    CHECK(p.channel[0] == 12);
    CHECK(p.sample[1] == 800 + kNt0min - 100);
    CHECK(p.channel[1] == 35);
    CHECK(p.score[0] > p.score[1]);
    for (int t = 0; t < kNt0; ++t) {
      for (std::size_t c = 0; c < nC; ++c) CHECK(p.snippets[(0 * kNt0 + t) * nC + c] == x[(300 + t) * nC + c]);
    }
  }
  CHECK(!p.capped);
  ProposalOptions one = o, two = o;
  one.threads = 1;
  two.threads = 2;
  std::mt19937 rng(11);
  std::normal_distribution<float> g;
  for (float& v : x) v += g(rng);
  Proposals p1 = propose_templates(x.data(), nT, nC, w.data(), 6, iC.data(), nNear, one);
  Proposals p2 = propose_templates(x.data(), nT, nC, w.data(), 6, iC.data(), nNear, two);
  CHECK(p1.sample == p2.sample);
  CHECK(p1.channel == p2.channel);
  CHECK(p1.score == p2.score);
}

TEST(proposals_score_is_the_best_neighbour_sum) {
  // One channel, one prototype: the score is the squared filter output, checked by hand.
  const std::size_t nC = 1, nT = 200;
  std::vector<std::int32_t> iC = {0};
  std::vector<float> w(kNt0, 0.0f), x(nT, 0.0f);
  w[kNt0min] = 1.0f;
  w[kNt0min + 1] = -0.5f;
  x[100] = 8.0f;
  x[101] = -1.0f;
  ProposalOptions o;
  o.n_sum = 1;
  o.own_samples = nT;
  Proposals p = propose_templates(x.data(), nT, nC, w.data(), 1, iC.data(), 1, o);
  CHECK(p.sample.size() == 1);
  if (p.sample.size() == 1) {
    CHECK(p.sample[0] == 100);
    CHECK_NEAR(p.score[0], 8.5, 1e-6);  // 8·1 + (−1)·(−0.5)
  }
}

TEST(select_proposals_applies_ties_window_suppression_and_cap) {
  // nt0 = 5 (peaks are compared within ±4 window starts), threshold² = 4, troughs t + 2 must lie in [1, 31).
  const std::size_t n = 40, nC = 48;
  std::vector<float> err(n, 0.0f);
  std::vector<std::int32_t> chan(n, 0);
  auto put = [&](std::size_t t, std::int32_t c, float e) {
    err[t] = e;
    chan[t] = c;
  };
  put(3, 30, 10.0f);   // kept
  put(5, 0, 10.0f);    // ties with t = 3 two starts earlier: the earlier start wins, not a peak
  put(10, 10, 50.0f);  // kept
  put(16, 13, 40.0f);  // 3 channels from t = 10, weaker: dropped
  put(22, 16, 30.0f);  // 3 channels from t = 16, weaker: dropped although t = 16 is dropped too
  put(27, 40, 3.0f);   // under the threshold
  put(34, 40, 100.0f); // trough 36 outside the own samples
  ProposalOptions o;
  o.nt0 = 5;
  o.nt0min = 2;
  o.threshold = 2.0f;
  o.channel_radius = 4;
  o.halo_samples = 1;
  o.own_samples = 30;
  Proposals p;
  std::vector<std::size_t> starts = select_proposals(err.data(), chan.data(), n, nC, o, p);
  CHECK(starts == (std::vector<std::size_t>{3, 10}));
  CHECK(p.sample == (std::vector<std::int32_t>{4, 11}));
  CHECK(p.channel == (std::vector<std::int32_t>{30, 10}));
  CHECK(p.score == (std::vector<float>{std::sqrt(10.0f), std::sqrt(50.0f)}));
  CHECK(p.snippets.size() == 2 * 5 * nC);
  CHECK(!p.capped);
  o.max_proposals = 1;
  starts = select_proposals(err.data(), chan.data(), n, nC, o, p);
  CHECK(starts == (std::vector<std::size_t>{3}));
  CHECK(p.sample == (std::vector<std::int32_t>{4}));
  CHECK(p.capped);
}
