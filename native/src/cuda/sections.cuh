// SPDX-License-Identifier: GPL-3.0-or-later
// The zero-phase high-pass's second-order sections as the CUDA kernels take them (by value): the
// coefficients and scipy's sosfilt_zi steady state, computed on the host with the CPU core's
// expressions, for the ks25 high-pass (preprocess.cu) and IBL's (destripe.cu).
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include "preprocess_internal.h"
#include "spikeshard/preprocess.h"

namespace spikeshard::cuda::detail {

constexpr int kMaxSections = 8;

struct SectionPlan {
  double b0[kMaxSections], b1[kMaxSections], b2[kMaxSections], a1[kMaxSections], a2[kMaxSections];
  double z0[kMaxSections], z1[kMaxSections];
  int n_sections;
  int pad;  // samples of scipy's odd extension on each side
};

// `caller` names the entry in errors (a filter of more than kMaxSections sections, a signal not
// longer than the padding).
inline SectionPlan section_plan(const HighpassOptions& options, std::size_t n_samples, const char* caller) {
  const std::vector<SosSection> sos = butterworth_highpass_sos(options.order, options.cutoff_hz, options.sample_rate_hz);
  if (sos.size() > static_cast<std::size_t>(kMaxSections)) {
    throw std::invalid_argument(std::string(caller) + ": at most " + std::to_string(kMaxSections) +
                                " sections (order 16), got " + std::to_string(sos.size()));
  }
  const std::size_t pad = filtfilt_pad_samples(sos);
  if (n_samples <= pad) {
    throw std::invalid_argument("sosfiltfilt: the signal must be longer than the edge padding (" +
                                std::to_string(pad) + " samples), got " + std::to_string(n_samples) + " samples");
  }
  SectionPlan plan{};
  plan.n_sections = static_cast<int>(sos.size());
  plan.pad = static_cast<int>(pad);
  double level = 1.0;
  for (std::size_t s = 0; s < sos.size(); ++s) {
    const SosSection& q = sos[s];
    plan.b0[s] = q.b0;
    plan.b1[s] = q.b1;
    plan.b2[s] = q.b2;
    plan.a1[s] = q.a1;
    plan.a2[s] = q.a2;
    const double gain = (q.b0 + q.b1 + q.b2) / (1.0 + q.a1 + q.a2);
    plan.z1[s] = (q.b2 - q.a2 * gain) * level;
    plan.z0[s] = (q.b1 - q.a1 * gain) * level + plan.z1[s];
    level *= gain;
  }
  return plan;
}

}  // namespace spikeshard::cuda::detail
