// SPDX-License-Identifier: GPL-3.0-or-later
// Pooling of one learning batch's snippet sums into the running mean waveforms (dWU).
#include <stdexcept>
#include <string>

#include "spikeshard/templates.h"
#include "spikeshard/threads.h"

namespace spikeshard {

void pool_running_means(double* const* means, std::size_t n_active, std::size_t size, const double* sums,
                        const double* factors, const double* spikes, int threads) {
  for (std::size_t k = 0; k < n_active; ++k) {
    if (means[k] == nullptr) throw std::invalid_argument("pool_running_means: row " + std::to_string(k) + " is null");
    if (!(spikes[k] > 0.0)) {
      throw std::invalid_argument("pool_running_means: row " + std::to_string(k) + " has " +
                                  std::to_string(spikes[k]) + " spikes, expected > 0");
    }
  }
  // Rows are disjoint, so each is written by one thread and the result does not depend on the
  // split. The expression is the one the TypeScript pooling used, operation for operation
  // (no FMA in this build), so moving it here changed no bit.
  parallel_for(
      n_active,
      [&](std::size_t begin, std::size_t end) {
        for (std::size_t k = begin; k < end; ++k) {
          double* d = means[k];
          const double* s = sums + k * size;
          const double f = factors[k], g = 1.0 - f, n = spikes[k];
          for (std::size_t i = 0; i < size; ++i) d[i] = f * d[i] + (g * s[i]) / n;
        }
      },
      threads);
}

}  // namespace spikeshard
