// SPDX-License-Identifier: GPL-3.0-or-later
#include "spikeshard/mtscomp.h"

#include <cstdint>
#include <vector>

#include "check.h"

namespace spikeshard::test {

namespace {

// The running sum by definition, in 64-bit integers reduced to int16 at the end.
std::vector<std::int16_t> reference(const std::vector<std::int16_t>& diff, std::size_t T, std::size_t C) {
  std::vector<std::int16_t> rows(T * C);
  for (std::size_t c = 0; c < C; ++c) {
    std::int64_t sum = 0;
    for (std::size_t t = 0; t < T; ++t) {
      sum += diff[c * T + t];
      rows[t * C + c] = static_cast<std::int16_t>(static_cast<std::uint16_t>(sum & 0xffff));
    }
  }
  return rows;
}

}  // namespace

TEST(mtscomp_undo_time_diff_small_known_case) {
  // Two channels, three samples: channel 0 diffs 1, 2, 3 → 1, 3, 6; channel 1 diffs 5, −10, 4 → 5, −5, −1.
  const std::vector<std::int16_t> diff = {1, 2, 3, 5, -10, 4};
  std::vector<std::int16_t> rows(6, 99);
  mtscomp_undo_time_diff(diff.data(), 3, 2, rows.data());
  const std::vector<std::int16_t> want = {1, 5, 3, -5, 6, -1};
  CHECK(rows == want);
}

TEST(mtscomp_undo_time_diff_wraps_like_int16) {
  // 32767 + 1 wraps to −32768, and −32768 − 1 back to 32767.
  const std::vector<std::int16_t> diff = {32767, 1, -1};
  std::vector<std::int16_t> rows(3);
  mtscomp_undo_time_diff(diff.data(), 3, 1, rows.data());
  CHECK(rows[0] == 32767);
  CHECK(rows[1] == -32768);
  CHECK(rows[2] == 32767);
}

TEST(mtscomp_undo_time_diff_matches_reference_across_tiles) {
  // Shapes that are not multiples of the tile (64 samples) or the channel group (16).
  for (auto [T, C] : {std::pair<std::size_t, std::size_t>{200, 37}, {64, 16}, {1, 385}, {129, 1}}) {
    std::vector<std::int16_t> diff(T * C);
    std::uint32_t s = 12345;
    for (auto& d : diff) {
      s = s * 1664525u + 1013904223u;
      d = static_cast<std::int16_t>(s >> 16);
    }
    std::vector<std::int16_t> rows(T * C);
    mtscomp_undo_time_diff(diff.data(), T, C, rows.data());
    CHECK(rows == reference(diff, T, C));
  }
}

}  // namespace spikeshard::test
