// SPDX-License-Identifier: GPL-3.0-or-later
#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "check.h"
#include "spikeshard/prototypes.h"

using namespace spikeshard;

namespace {

struct Block {
  std::size_t n_samples, n_channels;
  std::vector<float> x;
  Block(std::size_t t, std::size_t c) : n_samples(t), n_channels(c), x(t * c, 0.0f) {}
  float& at(std::size_t t, std::size_t c) { return x[t * n_channels + c]; }
};

// Three waveforms with their trough at index 19 (unit norm after construction).
std::vector<std::vector<double>> planted_shapes(std::size_t nt0) {
  std::vector<std::vector<double>> shapes(3, std::vector<double>(nt0));
  for (std::size_t k = 0; k < nt0; ++k) {
    const double t = static_cast<double>(k) - 19.0;
    shapes[0][k] = -std::exp(-t * t / (2 * 1.5 * 1.5));                                  // narrow trough
    shapes[1][k] = -std::exp(-t * t / (2 * 4.0 * 4.0)) + 0.5 * std::exp(-(t - 14) * (t - 14) / 50.0);  // wide + rebound
    shapes[2][k] = -std::exp(-t * t / 4.0) + 0.8 * std::exp(-(t + 6) * (t + 6) / 4.0);   // positive lead
  }
  for (auto& s : shapes) {
    double n2 = 0;
    for (double v : s) n2 += v * v;
    for (double& v : s) v /= std::sqrt(n2);
  }
  return shapes;
}

double cosine(const std::vector<double>& a, const float* b, std::size_t stride) {
  double ab = 0, aa = 0, bb = 0;
  for (std::size_t k = 0; k < a.size(); ++k) {
    ab += a[k] * b[k * stride];
    aa += a[k] * a[k];
    bb += static_cast<double>(b[k * stride]) * b[k * stride];
  }
  return ab / std::sqrt(aa * bb);
}

}  // namespace

TEST(splitmix64_matches_reference_sequence) {
  // First outputs for seed 1234567 published with the algorithm (Vigna's splitmix64.c).
  SplitMix64 rng(1234567);
  CHECK(rng.next() == 6457827717110365317ull);
  CHECK(rng.next() == 3203168211198807973ull);
  CHECK(rng.next() == 9817491932198370423ull);
  SplitMix64 a(42), b(42);
  std::vector<int> hist(7, 0);
  for (int i = 0; i < 7000; ++i) {
    const auto v = a.below(7);
    CHECK(v == b.below(7));
    CHECK(v < 7);
    hist[v] += 1;
  }
  for (int h : hist) CHECK(h > 850 && h < 1150);
}

TEST(isolated_peaks_close_pair_keeps_only_the_larger) {
  Block b(400, 16);
  b.at(150, 5) = -10.0f;  // A: isolated
  b.at(152, 6) = -8.0f;   //    inside A's ±5 × ±4 box, so not a peak and no veto
  b.at(200, 12) = -9.0f;  // C: 50 samples from A, isolated
  b.at(300, 3) = -9.0f;   // D and E: both peaks (20 samples apart), each vetoes the other
  b.at(320, 3) = -7.0f;
  b.at(55, 2) = -7.0f;    // F: inside the first nt0 samples: not reported, but vetoes G
  b.at(80, 2) = -12.0f;   // G
  b.at(250, 8) = -5.0f;   // above threshold
  b.at(370, 0) = -20.0f;  // within the last nt0 samples
  auto peaks = find_isolated_peaks(b.x.data(), b.n_samples, b.n_channels, IsolatedPeakParams{});
  CHECK(peaks.size() == 2);
  if (peaks.size() == 2) {
    CHECK(peaks[0].sample == 150 && peaks[0].channel == 5 && peaks[0].value == -10.0f);
    CHECK(peaks[1].sample == 200 && peaks[1].channel == 12);
  }
  // A channel offset of 7 (> 6) lifts the veto between D and E.
  b.at(320, 3) = 0.0f;
  b.at(320, 10) = -7.0f;
  peaks = find_isolated_peaks(b.x.data(), b.n_samples, b.n_channels, IsolatedPeakParams{});
  CHECK(peaks.size() == 4);  // A, C, D, E (G is still vetoed by F)
  // Own range: only [190, 310) is reported, while peaks outside it still veto.
  IsolatedPeakParams own;
  own.own_begin = 190;
  own.own_end = 310;
  peaks = find_isolated_peaks(b.x.data(), b.n_samples, b.n_channels, own);
  CHECK(peaks.size() == 2);
  if (peaks.size() == 2) CHECK(peaks[0].sample == 200 && peaks[1].sample == 300);
}

TEST(isolated_peaks_finds_planted_spikes_in_noise) {
  const std::size_t nt = 6000, nc = 32;
  Block b(nt, nc);
  std::mt19937 rng(3);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  for (float& v : b.x) v = noise(rng);
  const auto shapes = planted_shapes(61);
  struct Spike {
    std::size_t t, c;
  };
  std::vector<Spike> planted = {{300, 4},   {900, 20},  {1500, 9},  {2100, 28},
                                {2700, 0},  {3300, 15}, {4500, 31}, {5200, 11}};
  for (const Spike& s : planted) {
    for (std::size_t k = 0; k < 61; ++k) {
      for (std::size_t c = 0; c < nc; ++c) {
        const double dc = static_cast<double>(c) - static_cast<double>(s.c);
        b.at(s.t - 19 + k, c) += static_cast<float>(40.0 * shapes[0][k] * std::exp(-dc * dc / 4.0));
      }
    }
  }
  const auto peaks = find_isolated_peaks(b.x.data(), nt, nc, IsolatedPeakParams{});
  CHECK(peaks.size() == planted.size());
  for (std::size_t i = 0; i < std::min(peaks.size(), planted.size()); ++i) {
    CHECK(peaks[i].sample == planted[i].t);
    CHECK(peaks[i].channel == planted[i].c);
  }
  for (int threads : {1, 2, 3}) {
    IsolatedPeakParams p;
    const auto again = find_isolated_peaks(b.x.data(), nt, nc, p, threads);
    CHECK(again.size() == peaks.size());
    for (std::size_t i = 0; i < std::min(again.size(), peaks.size()); ++i) CHECK(again[i].sample == peaks[i].sample);
  }
  const auto snippets = extract_snippets(b.x.data(), nt, nc, peaks, 61, 19);
  CHECK(snippets.size() == peaks.size() * 61);
  for (std::size_t i = 0; i < peaks.size(); ++i) {
    CHECK(snippets[i * 61 + 19] == peaks[i].value);
    CHECK(std::min_element(snippets.begin() + static_cast<std::ptrdiff_t>(i * 61),
                           snippets.begin() + static_cast<std::ptrdiff_t>((i + 1) * 61)) -
              snippets.begin() == static_cast<std::ptrdiff_t>(i * 61 + 19));
  }
}

TEST(prototypes_recover_planted_shapes_and_pca_is_orthonormal) {
  const std::size_t nt0 = 61, n = 3000;
  const auto shapes = planted_shapes(nt0);
  std::mt19937 rng(11);
  std::normal_distribution<double> noise(0.0, 1.0);
  std::uniform_real_distribution<double> amp(8.0, 20.0);
  std::vector<float> snippets(n * nt0);
  for (std::size_t i = 0; i < n; ++i) {
    const auto& s = shapes[i % 3];
    const double a = amp(rng);
    for (std::size_t k = 0; k < nt0; ++k) snippets[i * nt0 + k] = static_cast<float>(a * s[k] + noise(rng));
  }
  PrototypeParams p;
  const Prototypes pr = learn_prototypes(snippets.data(), n, nt0, p);
  CHECK(pr.w_temp.size() == nt0 * 3 && pr.w_pca.size() == nt0 * 3);
  std::vector<bool> matched(3, false);
  for (std::size_t r = 0; r < 3; ++r) {
    double best = -1;
    std::size_t which = 0;
    for (std::size_t q = 0; q < 3; ++q) {
      const double c = cosine(shapes[q], pr.w_temp.data() + r, 3);
      if (c > best) {
        best = c;
        which = q;
      }
    }
    CHECK(best > 0.95);
    matched[which] = true;
  }
  CHECK(matched[0] && matched[1] && matched[2]);
  for (std::size_t r = 0; r < 3; ++r) {
    for (std::size_t q = 0; q < 3; ++q) {
      double dot = 0;
      for (std::size_t k = 0; k < nt0; ++k) dot += static_cast<double>(pr.w_pca[k * 3 + r]) * pr.w_pca[k * 3 + q];
      CHECK_NEAR(dot, r == q ? 1.0 : 0.0, 1e-6);
    }
  }
  CHECK(pr.w_pca[19 * 3 + 0] < 0);
  CHECK(pr.singular_values[0] >= pr.singular_values[1] && pr.singular_values[1] >= pr.singular_values[2]);
  // The three components span the planted shapes.
  for (const auto& s : shapes) {
    double captured = 0;
    for (std::size_t r = 0; r < 3; ++r) {
      double dot = 0;
      for (std::size_t k = 0; k < nt0; ++k) dot += s[k] * pr.w_pca[k * 3 + r];
      captured += dot * dot;
    }
    CHECK(captured > 0.95);
  }
  // Bitwise independent of the thread count (3000 snippets = 3 reduction blocks).
  for (int threads : {1, 2, 3}) {
    const Prototypes again = learn_prototypes(snippets.data(), n, nt0, p, threads);
    CHECK(again.w_temp == pr.w_temp);
    CHECK(again.w_pca == pr.w_pca);
  }
}

TEST(prototypes_reject_bad_shapes) {
  std::vector<float> s(61 * 2, 1.0f);
  bool threw = false;
  try {
    learn_prototypes(s.data(), 2, 61, PrototypeParams{});
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  CHECK(threw);
}
