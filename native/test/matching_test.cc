// SPDX-License-Identifier: GPL-3.0-or-later
#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <tuple>
#include <vector>

#include "check.h"
#include "spikeshard/matching.h"
#include "spikeshard/templates.h"

using namespace spikeshard;

namespace {

constexpr int kNt0 = 61, kNt0min = 20, kRank = 3;

struct Planted {
  std::size_t st;  // window start in the recording
  int id;
  double amp;
};

// A hand-built model on a linear probe: orthonormal temporal components (trough at nt0min) and
// spatial components on the neighbourhood of the peak channel, normalised so that ||T_j|| = 1.
TemplateModel make_model(std::size_t nC, int nNear, const std::vector<int>& peaks, const std::vector<float>& mus) {
  TemplateModel m;
  m.n_templates = peaks.size();
  m.n_channels = nC;
  m.n_neighbours = nNear;
  std::vector<float> x(nC, 0.0f), y(nC);
  for (std::size_t c = 0; c < nC; ++c) y[c] = 20.0f * c;
  m.iC = nearest_channels(x.data(), y.data(), nC, nNear);
  m.W.assign(m.n_templates * kNt0 * kRank, 0.0f);
  m.U.assign(m.n_templates * nC * kRank, 0.0f);
  m.mu = mus;
  for (std::size_t j = 0; j < m.n_templates; ++j) {
    m.iW.push_back(peaks[j]);
    double sigma = 1.2 + 0.4 * j;
    std::vector<std::vector<double>> a(kRank, std::vector<double>(kNt0));
    for (int t = 0; t < kNt0; ++t) {
      double d = (t - kNt0min) / sigma;
      a[0][t] = -std::exp(-0.5 * d * d);
      a[1][t] = d * std::exp(-0.5 * d * d);
      double e = (t - kNt0min - 6.0 - j) / (2.5 * sigma);
      a[2][t] = std::exp(-0.5 * e * e);
    }
    for (int k = 0; k < kRank; ++k) {
      for (int l = 0; l < k; ++l) {
        double p = 0;
        for (int t = 0; t < kNt0; ++t) p += a[k][t] * a[l][t];
        for (int t = 0; t < kNt0; ++t) a[k][t] -= p * a[l][t];
      }
      double n = 0;
      for (int t = 0; t < kNt0; ++t) n += a[k][t] * a[k][t];
      for (int t = 0; t < kNt0; ++t) {
        a[k][t] /= std::sqrt(n);
        m.W[(j * kNt0 + t) * kRank + k] = static_cast<float>(a[k][t]);
      }
    }
    const std::int32_t* ch = &m.iC[peaks[j] * nNear];
    std::vector<double> u(nNear * kRank);
    double n2 = 0;
    for (int i = 0; i < nNear; ++i) {
      double d = (ch[i] - peaks[j]) / (1.5 + 0.2 * j);
      double g = std::exp(-0.5 * d * d);
      const double w[3] = {1.0, 0.4 * d, 0.3 * (1.0 - 0.5 * d * d)};
      for (int k = 0; k < kRank; ++k) {
        u[i * kRank + k] = g * w[k];
        n2 += g * w[k] * g * w[k];
      }
    }
    for (int i = 0; i < nNear; ++i) {
      for (int k = 0; k < kRank; ++k) {
        m.U[(j * nC + ch[i]) * kRank + k] = static_cast<float>(u[i * kRank + k] / std::sqrt(n2));
      }
    }
  }
  return m;
}

double template_value(const TemplateModel& m, std::size_t j, int t, std::size_t c) {
  double v = 0;
  for (int k = 0; k < kRank; ++k) {
    v += static_cast<double>(m.W[(j * kNt0 + t) * kRank + k]) * m.U[(j * m.n_channels + c) * kRank + k];
  }
  return v;
}

std::vector<float> render(const TemplateModel& m, std::size_t nT, const std::vector<Planted>& spikes) {
  std::vector<double> x(nT * m.n_channels, 0.0);
  for (const Planted& p : spikes) {
    for (int t = 0; t < kNt0; ++t) {
      for (std::size_t c = 0; c < m.n_channels; ++c) {
        x[(p.st + t) * m.n_channels + c] += p.amp * template_value(m, p.id, t, c);
      }
    }
  }
  return std::vector<float>(x.begin(), x.end());
}

// Templates 0 and 1 share channels (similar shapes), 2 and 3 are spatially disjoint from
// everything else; 4 lies far away.
TemplateModel standard_model() { return make_model(64, 12, {8, 11, 34, 54, 20}, {12.0f, 15.0f, 10.0f, 20.0f, 9.0f}); }

std::vector<Planted> standard_spikes() {
  return {
      {150, 0, 11.0}, {300, 1, 16.5}, {500, 2, 10.5}, {520, 3, 21.0},  // 2 and 3 overlap in time
      {700, 0, 13.0}, {705, 2, 9.5},                                   // 0 and 2 overlap in time
      {900, 1, 14.0}, {1000, 4, 8.5},
  };
}

float max_abs(const std::vector<float>& v) {
  float m = 0;
  for (float x : v) m = std::max(m, std::fabs(x));
  return m;
}

void expect_recovered(const MatchResult& r, const std::vector<Planted>& want, std::size_t first_own) {
  CHECK(r.sample.size() == want.size());
  for (std::size_t i = 0; i < std::min(r.sample.size(), want.size()); ++i) {
    CHECK(r.sample[i] == static_cast<std::int32_t>(want[i].st + kNt0min - first_own));
    CHECK(r.template_id[i] == want[i].id);
    CHECK_NEAR(r.amplitude[i], want[i].amp, 1e-4 * want[i].amp);
  }
}

}  // namespace

TEST(matching_recovers_noiseless_spikes_exactly) {
  TemplateModel m = standard_model();
  auto spikes = standard_spikes();
  const std::size_t nT = 1200;
  auto x = render(m, nT, spikes);
  MatchOptions o;
  o.own_samples = nT;
  MatchResult r = match_batch(x.data(), nT, m.n_channels, m.view(), o);
  expect_recovered(r, spikes, 0);
  CHECK(r.spikes_found == spikes.size());
  CHECK(r.iterations >= 2);  // the overlapping pairs need a second pass
  CHECK(max_abs(r.residual) < 1e-4f * max_abs(x));
  for (std::size_t i = 0; i < r.score.size(); ++i) {
    // x = sqrt(E) with E from the prior-weighted score of the chosen template.
    double c = r.amplitude[i], lmu = 10.0 * m.mu[r.template_id[i]];
    double e = (c + lmu) * (c + lmu) / 11.0 - lmu * m.mu[r.template_id[i]];
    CHECK_NEAR(r.score[i], std::sqrt(e), 1e-3);
  }
}

TEST(matching_reports_only_owned_spikes_but_subtracts_halo_spikes) {
  TemplateModel m = standard_model();
  auto spikes = standard_spikes();
  const std::size_t nT = 1200;
  auto x = render(m, nT, spikes);
  MatchOptions o;
  o.halo_samples = 200;  // troughs in [200, 900) are owned
  o.own_samples = 700;
  MatchResult r = match_batch(x.data(), nT, m.n_channels, m.view(), o);
  std::vector<Planted> owned;
  for (const Planted& p : spikes) {
    if (p.st + kNt0min >= 200 && p.st + kNt0min < 900) owned.push_back(p);
  }
  CHECK(owned.size() == 5);
  expect_recovered(r, owned, 200);
  CHECK(r.spikes_found == spikes.size());
  CHECK(max_abs(r.residual) < 1e-4f * max_abs(x));
}

TEST(matching_adjacent_batches_report_a_boundary_spike_once) {
  TemplateModel m = standard_model();
  const std::size_t n_total = 2000, own = 1000, halo = 100;
  // Troughs at 1000 (the first sample of batch 1), 999 (the last of batch 0) and 1001, on
  // spatially disjoint templates, plus spikes away from the boundary.
  std::vector<Planted> spikes = {
      {300, 1, 15.0}, {1000 - kNt0min, 2, 10.0}, {999 - kNt0min, 0, 12.0}, {1001 - kNt0min, 3, 19.0}, {1500, 4, 9.0},
  };
  auto x = render(m, n_total, spikes);
  std::vector<std::tuple<std::size_t, int, float>> got;
  // Batch 0: samples [0, 1100) with no leading halo; batch 1: [900, 2000) with no trailing halo.
  for (int b = 0; b < 2; ++b) {
    std::size_t begin = b == 0 ? 0 : own - halo, end = b == 0 ? own + halo : n_total;
    MatchOptions o;
    o.halo_samples = b == 0 ? 0 : halo;
    o.own_samples = own;
    MatchResult r = match_batch(&x[begin * m.n_channels], end - begin, m.n_channels, m.view(), o);
    for (std::size_t i = 0; i < r.sample.size(); ++i) {
      got.emplace_back(b * own + r.sample[i], r.template_id[i], r.amplitude[i]);
    }
  }
  std::sort(got.begin(), got.end());
  std::sort(spikes.begin(), spikes.end(), [](const Planted& a, const Planted& b) { return a.st < b.st; });
  CHECK(got.size() == spikes.size());
  for (std::size_t i = 0; i < std::min(got.size(), spikes.size()); ++i) {
    CHECK(std::get<0>(got[i]) == spikes[i].st + kNt0min);
    CHECK(std::get<1>(got[i]) == spikes[i].id);
    CHECK_NEAR(std::get<2>(got[i]), spikes[i].amp, 1e-4 * spikes[i].amp);
  }
}

TEST(matching_snippet_sums_and_features_isolate_each_spike) {
  TemplateModel m = standard_model();
  auto spikes = standard_spikes();
  const std::size_t nT = 1200, nC = m.n_channels, F = m.n_templates;
  auto x = render(m, nT, spikes);
  TemplateCorrelations cor = template_correlations(m.view(), 3);
  std::vector<float> pcs(kNt0 * 2);
  for (int t = 0; t < kNt0; ++t) {
    pcs[t * 2] = std::sin(0.1 * t);
    pcs[t * 2 + 1] = std::cos(0.05 * t * t);
  }
  MatchOptions o;
  o.own_samples = nT;
  o.learn_threshold = 10.0f;  // the spikes of amplitude 9.5 and 8.5 (score < 10) stay out of the sums
  o.similar = cor.similar.data();
  o.n_similar = cor.n_similar;
  o.pcs = pcs.data();
  o.n_pcs = 2;
  MatchResult r = match_batch(x.data(), nT, nC, m.view(), o);
  CHECK(r.sample.size() == spikes.size());
  // Sums: Σ y·T_j over each template's spikes above the threshold.
  std::vector<double> amp_sum(F, 0.0);
  std::vector<int> count(F, 0);
  for (const Planted& p : spikes) {
    double lmu = 10.0 * m.mu[p.id];
    double score = std::sqrt((p.amp + lmu) * (p.amp + lmu) / 11.0 - lmu * m.mu[p.id]);
    if (score > 10.0) amp_sum[p.id] += p.amp, count[p.id] += 1;
  }
  CHECK(count[2] == 1 && count[4] == 0);
  for (std::size_t j = 0; j < F; ++j) {
    CHECK(r.snippet_counts[j] == count[j]);
    for (int t = 0; t < kNt0; ++t) {
      for (std::size_t c = 0; c < nC; ++c) {
        CHECK_NEAR(r.snippet_sums[(j * kNt0 + t) * nC + c], amp_sum[j] * template_value(m, j, t, c), 2e-4 * 20);
      }
    }
  }
  // Features of each spike are those of its template alone, scaled by its amplitude, even for
  // spikes that overlap another in time.
  for (std::size_t s = 0; s < r.sample.size(); ++s) {
    const std::size_t j = r.template_id[s];
    const double y = r.amplitude[s];
    for (int mm = 0; mm < cor.n_similar; ++mm) {
      std::size_t nb = cor.similar[j * cor.n_similar + mm];
      double want = y * cor.WtW[(j * F + nb) * (2 * kNt0 - 1) + kNt0 - 1];
      CHECK_NEAR(r.template_features[s * cor.n_similar + mm], want, 1e-4 * 20);
    }
    CHECK_NEAR(r.template_features[s * cor.n_similar], y, 1e-4 * y);
    const std::int32_t* ch = &m.iC[m.iW[j] * m.n_neighbours];
    for (int q = 0; q < 2; ++q) {
      for (int i = 0; i < m.n_neighbours; ++i) {
        double want = 0;
        for (int t = 0; t < kNt0; ++t) want += y * template_value(m, j, t, ch[i]) * pcs[t * 2 + q];
        CHECK_NEAR(r.pc_features[(s * 2 + q) * m.n_neighbours + i], want, 1e-4 * 20);
      }
    }
  }
}

namespace {

// Noisy batch with many spikes on many templates, for determinism and consistency checks.
struct Noisy {
  TemplateModel m;
  std::vector<float> x;
  std::size_t nT;
};

Noisy noisy_batch(std::uint32_t seed) {
  Noisy n;
  std::vector<int> peaks;
  std::vector<float> mus;
  for (int j = 0; j < 10; ++j) {
    peaks.push_back((j * 7 + 2) % 64);
    mus.push_back(8.0f + j);
  }
  n.m = make_model(64, 12, peaks, mus);
  n.nT = 6000;
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> when(0, static_cast<int>(n.nT) - kNt0), which(0, 9);
  std::uniform_real_distribution<double> gain(0.6, 1.4);
  std::vector<Planted> spikes;
  for (int i = 0; i < 120; ++i) {
    int id = which(rng);
    spikes.push_back({static_cast<std::size_t>(when(rng)), id, mus[id] * gain(rng)});
  }
  n.x = render(n.m, n.nT, spikes);
  std::normal_distribution<float> g;
  for (float& v : n.x) v += g(rng);
  return n;
}

template <typename T>
bool same(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

}  // namespace

TEST(matching_is_bitwise_independent_of_thread_count) {
  Noisy n = noisy_batch(1);
  TemplateCorrelations cor = template_correlations(n.m.view());
  std::vector<float> pcs(kNt0 * 3, 0.1f);
  for (bool exact : {false, true}) {
    MatchOptions o;
    o.halo_samples = 100;
    o.own_samples = n.nT - 200;
    o.similar = cor.similar.data();
    o.n_similar = cor.n_similar;
    o.pcs = pcs.data();
    o.n_pcs = 3;
    o.cross_correlations = exact ? cor.WtW.data() : nullptr;
    MatchOptions o1 = o, o2 = o;
    o1.threads = 1;
    o2.threads = 2;
    MatchResult a = match_batch(n.x.data(), n.nT, n.m.n_channels, n.m.view(), o1);
    MatchResult b = match_batch(n.x.data(), n.nT, n.m.n_channels, n.m.view(), o2);
    CHECK(a.sample.size() > 80);
    CHECK(same(a.sample, b.sample));
    CHECK(same(a.template_id, b.template_id));
    CHECK(same(a.amplitude, b.amplitude));
    CHECK(same(a.score, b.score));
    CHECK(same(a.residual, b.residual));
    CHECK(same(a.snippet_sums, b.snippet_sums));
    CHECK(same(a.snippet_counts, b.snippet_counts));
    CHECK(same(a.template_features, b.template_features));
    CHECK(same(a.pc_features, b.pc_features));
  }
}

TEST(matching_leaves_no_detectable_spike_in_its_residual) {
  // If every score affected by a subtraction is brought up to date (all 2·nt0 − 1 lags), the loop
  // stops only when no window of the residual scores above threshold, so matching the residual
  // again finds nothing. A stale lag would leave detections behind.
  Noisy n = noisy_batch(2);
  MatchOptions o;
  o.own_samples = n.nT;
  MatchResult r = match_batch(n.x.data(), n.nT, n.m.n_channels, n.m.view(), o);
  CHECK(r.iterations < o.inner_iterations);
  CHECK(r.sample.size() > 80);
  MatchResult again = match_batch(r.residual.data(), n.nT, n.m.n_channels, n.m.view(), o);
  CHECK(again.spikes_found == 0);
}

TEST(matching_exact_score_updates_agree_with_recomputation) {
  for (int seed : {0, 3}) {
    TemplateModel m;
    std::vector<float> x;
    std::size_t nT;
    if (seed == 0) {
      m = standard_model();
      nT = 1200;
      x = render(m, nT, standard_spikes());
    } else {
      Noisy n = noisy_batch(seed);
      m = n.m;
      x = n.x;
      nT = n.nT;
    }
    TemplateCorrelations cor = template_correlations(m.view());
    MatchOptions o;
    o.own_samples = nT;
    MatchResult a = match_batch(x.data(), nT, m.n_channels, m.view(), o);
    o.cross_correlations = cor.WtW.data();
    MatchResult b = match_batch(x.data(), nT, m.n_channels, m.view(), o);
    CHECK(a.sample == b.sample);
    CHECK(a.template_id == b.template_id);
    for (std::size_t i = 0; i < std::min(a.amplitude.size(), b.amplitude.size()); ++i) {
      CHECK_NEAR(a.amplitude[i], b.amplitude[i], 1e-4 * std::fabs(a.amplitude[i]));
    }
    for (std::size_t i = 0; i < a.residual.size(); ++i) CHECK_NEAR(a.residual[i], b.residual[i], 1e-3);
  }
}

TEST(matching_rejects_inconsistent_inputs) {
  TemplateModel m = standard_model();
  std::vector<float> x(100 * m.n_channels, 0.0f);
  auto throws = [&](MatchOptions o, std::size_t nC) {
    try {
      match_batch(x.data(), 100, nC, m.view(), o);
    } catch (const std::invalid_argument&) {
      return true;
    }
    return false;
  };
  MatchOptions o;
  o.own_samples = 100;
  CHECK(!throws(o, m.n_channels));
  CHECK(throws(o, m.n_channels - 1));
  MatchOptions halo = o;
  halo.halo_samples = 1;
  CHECK(throws(halo, m.n_channels));
  TemplateModel bad = m;
  bad.U[(0 * m.n_channels + 60) * kRank] = 0.5f;  // outside template 0's neighbourhood
  bool threw = false;
  try {
    match_batch(x.data(), 100, m.n_channels, bad.view(), o);
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  CHECK(threw);
}

TEST(matching_updates_the_score_at_lag_nt0_minus_1) {
  // A rank-1 template with energy at both ends of its window: subtracting a spike at st changes
  // the score of the window starting at st + nt0 − 1 by y·T[nt0−1]·T[0] = y/4. The reference
  // left that lag stale, which (with the prior off) shows up as a phantom spike there.
  TemplateModel m;
  m.n_templates = 1;
  m.n_channels = 4;
  m.rank = 1;
  m.n_neighbours = 2;
  m.iC = {0, 1, 1, 0, 2, 3, 3, 2};
  m.iW = {0};
  m.W.assign(kNt0, 0.0f);
  m.W[0] = 0.5f;
  m.W[kNt0min] = -std::sqrt(0.5f);
  m.W[kNt0 - 1] = 0.5f;
  m.U = {1.0f, 0.0f, 0.0f, 0.0f};
  m.mu = {40.0f};
  const std::size_t nT = 400, st = 100;
  std::vector<float> x(nT * m.n_channels, 0.0f);
  for (int t = 0; t < kNt0; ++t) x[(st + t) * m.n_channels] = 40.0f * m.W[t];
  TemplateCorrelations cor = template_correlations(m.view());
  for (bool exact : {false, true}) {
    MatchOptions o;
    o.lambda = 0.0f;
    o.own_samples = nT;
    o.cross_correlations = exact ? cor.WtW.data() : nullptr;
    MatchResult r = match_batch(x.data(), nT, m.n_channels, m.view(), o);
    CHECK(r.spikes_found == 1);
    CHECK(r.sample.size() == 1 && r.sample[0] == static_cast<std::int32_t>(st + kNt0min));
    CHECK(max_abs(r.residual) < 1e-5f);
  }
}
