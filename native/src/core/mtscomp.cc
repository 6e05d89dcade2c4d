// SPDX-License-Identifier: GPL-3.0-or-later
// Undoing mtscomp's time differences (spikeshard/mtscomp.h).
#include "spikeshard/mtscomp.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace spikeshard {

void mtscomp_undo_time_diff(const std::int16_t* diff, std::size_t n_samples, std::size_t n_channels,
                            std::int16_t* rows) {
  // uint16 sums wrap exactly as mtscomp's int16 cumsum does (and without signed-overflow UB).
  // Work goes in tiles of kTile samples × kGroup channels: the tile is transposed into `block`
  // (sample-major), then each sample adds its kGroup differences to the running sums and stores
  // them as one contiguous run of its row; both inner loops have a fixed length the compiler
  // vectorises.
  constexpr std::size_t kTile = 64;
  constexpr std::size_t kGroup = 16;
  const std::size_t full_groups = n_channels / kGroup;
  alignas(64) std::uint16_t block[kTile][kGroup];
  std::vector<std::uint16_t> acc((full_groups + 1) * kGroup, 0);
  for (std::size_t t0 = 0; t0 < n_samples; t0 += kTile) {
    const std::size_t len = std::min(kTile, n_samples - t0);
    for (std::size_t c0 = 0; c0 < n_channels; c0 += kGroup) {
      const std::size_t width = std::min(kGroup, n_channels - c0);
      for (std::size_t g = 0; g < width; ++g) {
        const std::int16_t* src = diff + (c0 + g) * n_samples + t0;
        for (std::size_t t = 0; t < len; ++t) block[t][g] = static_cast<std::uint16_t>(src[t]);
      }
      std::uint16_t* a = acc.data() + c0;
      if (width == kGroup) {
        for (std::size_t t = 0; t < len; ++t) {
          std::uint16_t run[kGroup];
          for (std::size_t g = 0; g < kGroup; ++g) run[g] = a[g] = static_cast<std::uint16_t>(a[g] + block[t][g]);
          std::memcpy(rows + (t0 + t) * n_channels + c0, run, sizeof run);
        }
      } else {
        for (std::size_t t = 0; t < len; ++t) {
          std::int16_t* dst = rows + (t0 + t) * n_channels + c0;
          for (std::size_t g = 0; g < width; ++g) {
            a[g] = static_cast<std::uint16_t>(a[g] + block[t][g]);
            dst[g] = static_cast<std::int16_t>(a[g]);
          }
        }
      }
    }
  }
}

}  // namespace spikeshard
