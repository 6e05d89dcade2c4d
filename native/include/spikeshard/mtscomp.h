// SPDX-License-Identifier: GPL-3.0-or-later
// mtscomp chunks (formats.md §2): a chunk is a zlib stream of int16 differences along time (first
// sample kept, wrapping modulo 2^16) stored channel by channel; the samples are their cumulative
// sum, returned sample-major. Decoding and encoding one chunk is single-threaded: the reader and
// the writer run several chunks at once on the task pool (spikeshard/task_pool.h).
#ifndef SPIKESHARD_MTSCOMP_H_
#define SPIKESHARD_MTSCOMP_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace spikeshard {

// rows[t·C + c] = Σ_{u ≤ t} diff[c·T + u] (mod 2^16, as int16), T = n_samples, C = n_channels.
// diff and rows must not overlap.
void mtscomp_undo_time_diff(const std::int16_t* diff, std::size_t n_samples, std::size_t n_channels,
                            std::int16_t* rows);

// Inflates one chunk (compressed_bytes of zlib stream) and undoes the time difference into rows
// (n_samples × n_channels, sample-major). A stream zlib rejects, or one that does not inflate to
// exactly n_samples × n_channels × 2 bytes, throws std::runtime_error with a message that starts
// with what is wrong ("cannot be decompressed (…)", "decompresses to N bytes; …") and names
// neither file nor chunk (the caller knows both).
void mtscomp_decode_chunk(const std::uint8_t* compressed, std::size_t compressed_bytes, std::size_t n_samples,
                          std::size_t n_channels, std::int16_t* rows);

// The time differences of rows (sample-major, n_samples × n_channels), channel by channel,
// deflated by zlib at `level` (-1: zlib's default, 6) with zlib's default window, memory level
// and strategy: the stream Node's zlib.deflateSync(diff, {level}) makes from the same bytes.
std::vector<std::uint8_t> mtscomp_encode_chunk(const std::int16_t* rows, std::size_t n_samples,
                                               std::size_t n_channels, int level);

}  // namespace spikeshard

#endif  // SPIKESHARD_MTSCOMP_H_
