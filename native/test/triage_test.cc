// SPDX-License-Identifier: GPL-3.0-or-later
#include <vector>

#include "check.h"
#include "spikeshard/templates.h"

using namespace spikeshard;

namespace {

constexpr int kNt0 = 61, kNt0min = 20;
constexpr std::size_t kChannels = 4;

// Rank-1 templates whose temporal part is the impulse at the trough, so ⟨T_a, T_b⟩ = ⟨U_a, U_b⟩
// exactly: the similarities are chosen by the spatial parts.
struct Model {
  std::vector<float> W, U, mu;
  std::vector<std::int32_t> iW, iC;
  TemplateSet view() const {
    TemplateSet s;
    s.n_templates = iW.size();
    s.n_channels = kChannels;
    s.rank = 1;
    s.n_neighbours = 2;
    s.W = W.data();
    s.U = U.data();
    s.mu = mu.data();
    s.iW = iW.data();
    s.iC = iC.data();
    return s;
  }
};

Model four_templates(std::vector<float> mu) {
  std::vector<float> x(kChannels, 0.0f), y = {0.0f, 20.0f, 40.0f, 60.0f};
  Model m;
  m.iC = nearest_channels(x.data(), y.data(), kChannels, 2);  // {c, c − 1 or c + 1}
  m.W.assign(4 * kNt0, 0.0f);
  for (int j = 0; j < 4; ++j) m.W[j * kNt0 + kNt0min] = 1.0f;
  m.U = {
      1.0f, 0.0f, 0.0f, 0.0f,  // 0
      1.0f, 0.0f, 0.0f, 0.0f,  // 1: the same as 0
      0.6f, 0.8f, 0.0f, 0.0f,  // 2: similarity 0.6 with 0 and 1
      0.0f, 0.0f, 0.0f, 1.0f,  // 3: far away
  };
  m.iW = {0, 0, 1, 3};
  m.mu = std::move(mu);
  return m;
}

}  // namespace

TEST(triage_drops_rare_templates_and_the_rarer_of_two_duplicates) {
  Model m = four_templates({10.0f, 12.0f, 10.0f, 10.0f});
  std::vector<double> nsp = {5.0, 3.0, 1.0, 0.01};
  TriageOptions o;
  o.min_nsp = 0.05;
  o.max_similarity = 0.9;
  o.amplitude_gap = 4.0;
  for (int threads : {1, 2, 3}) {
    o.threads = threads;
    CHECK((triage_templates(m.view(), nsp.data(), o) == std::vector<std::int32_t>{0, 2}));
  }
  // Equal counts: the later template of the pair goes.
  nsp = {3.0, 3.0, 1.0, 1.0};
  CHECK((triage_templates(m.view(), nsp.data(), o) == std::vector<std::int32_t>{0, 2, 3}));
  // Amplitudes 2 apart with a gap of 2: not duplicates (the gap is strict).
  o.amplitude_gap = 2.0;
  CHECK((triage_templates(m.view(), nsp.data(), o) == std::vector<std::int32_t>{0, 1, 2, 3}));
  // A lower similarity bound makes template 2 a duplicate of the more frequent 0.
  o.amplitude_gap = 4.0;
  o.max_similarity = 0.5;
  nsp = {5.0, 3.0, 1.0, 1.0};
  CHECK((triage_templates(m.view(), nsp.data(), o) == std::vector<std::int32_t>{0, 3}));
}
