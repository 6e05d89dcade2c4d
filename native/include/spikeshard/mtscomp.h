// SPDX-License-Identifier: GPL-3.0-or-later
// The numeric half of decoding an mtscomp chunk (formats.md §2): the chunk inflates (zlib, done by
// the caller) to int16 differences along time stored channel by channel; the samples are their
// cumulative sum, wrapping modulo 2^16 as int16 arithmetic does, returned sample-major.
#ifndef SPIKESHARD_MTSCOMP_H_
#define SPIKESHARD_MTSCOMP_H_

#include <cstddef>
#include <cstdint>

namespace spikeshard {

// rows[t·C + c] = Σ_{u ≤ t} diff[c·T + u] (mod 2^16, as int16), T = n_samples, C = n_channels.
// diff and rows must not overlap. Single-threaded: the reader decodes several chunks at once.
void mtscomp_undo_time_diff(const std::int16_t* diff, std::size_t n_samples, std::size_t n_channels,
                            std::int16_t* rows);

}  // namespace spikeshard

#endif  // SPIKESHARD_MTSCOMP_H_
