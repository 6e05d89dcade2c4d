// SPDX-License-Identifier: GPL-3.0-or-later
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "check.h"
#include "spikeshard/templates.h"

using namespace spikeshard;

namespace {

constexpr int kNt0 = 61, kNt0min = 20;
constexpr std::size_t kChannels = 8;
constexpr int kNear = 3;

// A linear probe: channel c at (0, 20·c) µm, so a neighbourhood is c and the channels beside it.
std::vector<std::int32_t> hoods() {
  std::vector<float> x(kChannels, 0.0f), y(kChannels);
  for (std::size_t c = 0; c < kChannels; ++c) y[c] = 20.0f * c;
  return nearest_channels(x.data(), y.data(), kChannels, kNear);
}

// One PC: the unit impulse at the trough, so smoothing keeps a snippet's trough row and zeroes the rest.
std::vector<float> impulse_pc() {
  std::vector<float> pc(kNt0, 0.0f);
  pc[kNt0min] = 1.0f;
  return pc;
}

// A snippet that is `amp`·shape[c] at the trough and noise-free, with something off the trough that
// the smoothing must remove.
std::vector<float> snippet(const std::vector<float>& shape, float amp) {
  std::vector<float> s(kNt0 * kChannels, 0.0f);
  for (std::size_t c = 0; c < kChannels; ++c) {
    s[kNt0min * kChannels + c] = amp * shape[c];
    s[(kNt0min + 5) * kChannels + c] = 3.0f;
  }
  return s;
}

struct Run {
  std::vector<std::size_t> born;
  std::vector<std::vector<double>> smoothed;
};

Run run(const std::vector<std::vector<double>>& means, const std::vector<std::vector<float>>& proposals,
        const std::vector<std::int32_t>& peaks, const std::vector<float>& pcs, int n_pcs, std::size_t max_births,
        int threads) {
  std::vector<std::int32_t> iC = hoods();
  std::vector<const double*> m;
  for (const auto& x : means) m.push_back(x.data());
  std::vector<const float*> p;
  for (const auto& x : proposals) p.push_back(x.data());
  Run r;
  r.smoothed.assign(proposals.size(), std::vector<double>(kNt0 * kChannels, -1.0));
  std::vector<double*> out;
  for (auto& x : r.smoothed) out.push_back(x.data());
  BirthOptions o;
  o.n_pcs = n_pcs;
  o.n_neighbours = kNear;
  o.max_births = max_births;
  o.threads = threads;
  r.born = select_births(m.data(), means.size(), kChannels, p.data(), peaks.data(), proposals.size(), pcs.data(),
                         iC.data(), o, out.data());
  return r;
}

}  // namespace

TEST(births_smoothing_keeps_the_pc_span) {
  const std::vector<float> shape = {0, 0, -1, -4, -2, 0, 0, 0};
  Run r = run({}, {snippet(shape, 2.0f)}, {3}, impulse_pc(), 1, 10, 1);
  CHECK(r.born.size() == 1 && r.born[0] == 0);
  for (int t = 0; t < kNt0; ++t) {
    for (std::size_t c = 0; c < kChannels; ++c) {
      const double want = t == kNt0min ? 2.0 * shape[c] : 0.0;
      CHECK(r.smoothed[0][t * kChannels + c] == want);
    }
  }
}

TEST(births_skip_repeats_of_templates_and_of_each_other) {
  const std::vector<float> shape = {0, 0, -1, -4, -2, 0, 0, 0};
  // A template with the shape at the trough, peak channel 3.
  std::vector<double> mean(kNt0 * kChannels, 0.0);
  for (std::size_t c = 0; c < kChannels; ++c) mean[kNt0min * kChannels + c] = 10.0 * shape[c];
  const std::vector<float> other = {-5, -1, 0, 0, 0, 0, 0, 0};
  const std::vector<std::vector<float>> proposals = {
      snippet(shape, 9.0f),   // 0: same shape, amplitude ratio 0.9 > 0.8: repeats the template
      snippet(shape, 5.0f),   // 1: same shape at half the amplitude: born
      snippet(other, 1.0f),   // 2: elsewhere (peak 0; the template's peak 3 is not in its neighbourhood): born
      snippet(shape, 4.5f),   // 3: repeats proposal 1, born just before it in the same round
      snippet(other, -1.0f),  // 4: proposal 2 inverted: correlation −1, born
  };
  const std::vector<std::int32_t> peaks = {3, 3, 0, 3, 0};
  Run r = run({mean}, proposals, peaks, impulse_pc(), 1, 10, 2);
  CHECK((r.born == std::vector<std::size_t>{1, 2, 4}));
  // The cap counts births only: with two allowed, proposal 4 is not born.
  Run capped = run({mean}, proposals, peaks, impulse_pc(), 1, 2, 2);
  CHECK((capped.born == std::vector<std::size_t>{1, 2}));
  Run none = run({mean}, proposals, peaks, impulse_pc(), 1, 0, 2);
  CHECK(none.born.empty());
}

TEST(births_do_not_depend_on_the_thread_count) {
  std::mt19937 gen(7);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<std::vector<double>> means(9, std::vector<double>(kNt0 * kChannels));
  for (auto& m : means) {
    for (auto& x : m) x = g(gen);
  }
  std::vector<std::vector<float>> proposals(14, std::vector<float>(kNt0 * kChannels));
  for (auto& p : proposals) {
    for (auto& x : p) x = g(gen);
  }
  // Proposals 7–13 repeat 0–6 with a little noise: some are found as duplicates.
  for (int i = 7; i < 14; ++i) {
    for (std::size_t k = 0; k < proposals[i].size(); ++k) proposals[i][k] = proposals[i - 7][k] + 0.05f * g(gen);
  }
  std::vector<std::int32_t> peaks;
  for (int i = 0; i < 14; ++i) peaks.push_back(i % 7);
  std::vector<float> pcs(kNt0 * 3);
  for (auto& x : pcs) x = g(gen);
  Run one = run(means, proposals, peaks, pcs, 3, 100, 1);
  CHECK(one.born.size() == 7);
  for (int threads : {2, 3, 5}) {
    Run many = run(means, proposals, peaks, pcs, 3, 100, threads);
    CHECK(many.born == one.born);
    for (std::size_t i = 0; i < proposals.size(); ++i) {
      CHECK(std::memcmp(many.smoothed[i].data(), one.smoothed[i].data(), sizeof(double) * kNt0 * kChannels) == 0);
    }
  }
}

TEST(births_reject_bad_shapes) {
  std::vector<std::int32_t> iC = hoods();
  std::vector<float> pcs = impulse_pc(), p(kNt0 * kChannels, 0.0f);
  std::vector<double> out(kNt0 * kChannels);
  const float* proposals[] = {p.data()};
  double* smoothed[] = {out.data()};
  const std::int32_t peak[] = {static_cast<std::int32_t>(kChannels)};
  BirthOptions o;
  o.n_pcs = 1;
  o.n_neighbours = kNear;
  o.max_births = 1;
  bool threw = false;
  try {
    select_births(nullptr, 0, kChannels, proposals, peak, 1, pcs.data(), iC.data(), o, smoothed);
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  CHECK(threw);
}
