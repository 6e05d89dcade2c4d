// SPDX-License-Identifier: GPL-3.0-or-later
// Decoding and encoding mtscomp chunks (spikeshard/mtscomp.h).
#include "spikeshard/mtscomp.h"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace spikeshard {

namespace {

// Tiles of kTile samples × kGroup channels: both inner loops have a fixed length the compiler
// vectorises, and a tile's transpose stays in L1.
constexpr std::size_t kTile = 64;
constexpr std::size_t kGroup = 16;

// The cumulative sum of `width` channel-major diff columns (n_samples each) into columns
// [0, width) of rows whose stride is row_stride values.
void undo_columns(const std::int16_t* diff, std::size_t n_samples, std::size_t width_total, std::int16_t* rows,
                  std::size_t row_stride) {
  // uint16 sums wrap exactly as mtscomp's int16 cumsum does (and without signed-overflow UB).
  // Each tile is transposed into `block` (sample-major), then each sample adds its kGroup
  // differences to the running sums and stores them as one contiguous run of its row.
  const std::size_t full_groups = width_total / kGroup;
  alignas(64) std::uint16_t block[kTile][kGroup];
  std::vector<std::uint16_t> acc((full_groups + 1) * kGroup, 0);
  for (std::size_t t0 = 0; t0 < n_samples; t0 += kTile) {
    const std::size_t len = std::min(kTile, n_samples - t0);
    for (std::size_t c0 = 0; c0 < width_total; c0 += kGroup) {
      const std::size_t width = std::min(kGroup, width_total - c0);
      for (std::size_t g = 0; g < width; ++g) {
        const std::int16_t* src = diff + (c0 + g) * n_samples + t0;
        for (std::size_t t = 0; t < len; ++t) block[t][g] = static_cast<std::uint16_t>(src[t]);
      }
      std::uint16_t* a = acc.data() + c0;
      if (width == kGroup) {
        for (std::size_t t = 0; t < len; ++t) {
          std::uint16_t run[kGroup];
          for (std::size_t g = 0; g < kGroup; ++g) run[g] = a[g] = static_cast<std::uint16_t>(a[g] + block[t][g]);
          std::memcpy(rows + (t0 + t) * row_stride + c0, run, sizeof run);
        }
      } else {
        for (std::size_t t = 0; t < len; ++t) {
          std::int16_t* dst = rows + (t0 + t) * row_stride + c0;
          for (std::size_t g = 0; g < width; ++g) {
            a[g] = static_cast<std::uint16_t>(a[g] + block[t][g]);
            dst[g] = static_cast<std::int16_t>(a[g]);
          }
        }
      }
    }
  }
}

std::string corrupt(const std::string& why) { return "cannot be decompressed (" + why + "); the file is corrupt"; }

std::string zlib_reason(const z_stream& zs, int rc) {
  if (zs.msg != nullptr) return zs.msg;
  if (rc == Z_NEED_DICT) return "it needs a preset dictionary";
  if (rc == Z_MEM_ERROR) return "out of memory";
  return "zlib error " + std::to_string(rc);
}

// One zlib stream inflated piece by piece into caller-given buffers.
class Inflater {
 public:
  Inflater(const std::uint8_t* compressed, std::size_t bytes) {
    if (bytes > UINT_MAX) {
      throw std::invalid_argument("an mtscomp chunk of " + std::to_string(bytes) +
                                  " compressed bytes: expected at most 4 GiB");
    }
    zs_.next_in = const_cast<Bytef*>(compressed);
    zs_.avail_in = static_cast<uInt>(bytes);
    const int rc = inflateInit(&zs_);
    if (rc != Z_OK) throw std::runtime_error(corrupt("zlib did not start: " + zlib_reason(zs_, rc)));
  }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;
  ~Inflater() { inflateEnd(&zs_); }

  bool ended() const { return ended_; }

  // Inflates into out[0, bytes); returns the bytes written, fewer only where the stream ended.
  std::size_t fill(std::uint8_t* out, std::size_t bytes) {
    std::size_t done = 0;
    while (done < bytes && !ended_) {
      const std::size_t piece = std::min<std::size_t>(bytes - done, UINT_MAX);
      zs_.next_out = out + done;
      zs_.avail_out = static_cast<uInt>(piece);
      const int rc = inflate(&zs_, Z_NO_FLUSH);
      done += piece - zs_.avail_out;
      if (rc == Z_STREAM_END) {
        ended_ = true;
      } else if (rc == Z_BUF_ERROR) {
        // No progress with room left for output: the input is used up before the stream's end.
        throw std::runtime_error(corrupt("the zlib stream ends early"));
      } else if (rc != Z_OK) {
        throw std::runtime_error(corrupt(zlib_reason(zs_, rc)));
      }
    }
    return done;
  }

 private:
  z_stream zs_{};
  bool ended_ = false;
};

}  // namespace

void mtscomp_undo_time_diff(const std::int16_t* diff, std::size_t n_samples, std::size_t n_channels,
                            std::int16_t* rows) {
  undo_columns(diff, n_samples, n_channels, rows, n_channels);
}

void mtscomp_decode_chunk(const std::uint8_t* compressed, std::size_t compressed_bytes, std::size_t n_samples,
                          std::size_t n_channels, std::int16_t* rows) {
  // The stream is inflated a slab of channels at a time (32 channels of a 1-s chunk at 30 kHz:
  // 1.9 MB) and each slab is summed into its columns while it is still in cache, instead of
  // inflating the whole chunk (23 MB at 385 channels) to memory and reading it back.
  constexpr std::size_t kSlabChannels = 32;
  const std::size_t expected_bytes = n_samples * n_channels * 2;
  const auto size_error = [&](std::size_t got) {
    return std::runtime_error("decompresses to " + std::to_string(got) + " bytes; " + std::to_string(n_samples) +
                              " samples × " + std::to_string(n_channels) + " channels × 2 = " +
                              std::to_string(expected_bytes) + " expected (corrupt file, or a .ch from another file)");
  };
  Inflater z(compressed, compressed_bytes);
  std::vector<std::int16_t> slab(std::min(kSlabChannels, n_channels) * n_samples);
  std::size_t total = 0;
  for (std::size_t c0 = 0; c0 < n_channels; c0 += kSlabChannels) {
    const std::size_t width = std::min(kSlabChannels, n_channels - c0);
    const std::size_t bytes = width * n_samples * 2;
    const std::size_t got = z.fill(reinterpret_cast<std::uint8_t*>(slab.data()), bytes);
    total += got;
    if (got < bytes) throw size_error(total);
    undo_columns(slab.data(), n_samples, width, rows + c0, n_channels);
  }
  if (!z.ended()) {
    // Drained to its end: a longer stream is reported with its true size, and a damaged tail
    // (its Adler-32 included) as corrupt.
    std::uint8_t sink[1 << 16];
    std::size_t extra = 0;
    while (!z.ended()) extra += z.fill(sink, sizeof sink);
    if (extra > 0) throw size_error(total + extra);
  }
}

std::vector<std::uint8_t> mtscomp_encode_chunk(const std::int16_t* rows, std::size_t n_samples,
                                               std::size_t n_channels, int level) {
  if (level < -1 || level > 9) {
    throw std::invalid_argument("zlib level " + std::to_string(level) + ": expected -1 (default) to 9");
  }
  const std::size_t bytes = n_samples * n_channels * 2;
  if (bytes > UINT_MAX) {
    throw std::invalid_argument("an mtscomp chunk of " + std::to_string(bytes) + " bytes: expected at most 4 GiB");
  }
  // Differences along time, channel-major, built in tiles (the transpose of undo_columns).
  std::vector<std::int16_t> diff(n_samples * n_channels);
  alignas(64) std::uint16_t block[kTile][kGroup];
  for (std::size_t t0 = 0; t0 < n_samples; t0 += kTile) {
    const std::size_t len = std::min(kTile, n_samples - t0);
    for (std::size_t c0 = 0; c0 < n_channels; c0 += kGroup) {
      const std::size_t width = std::min(kGroup, n_channels - c0);
      for (std::size_t t = 0; t < len; ++t) {
        const std::int16_t* now = rows + (t0 + t) * n_channels + c0;
        const std::int16_t* before = t0 + t == 0 ? nullptr : now - n_channels;
        for (std::size_t g = 0; g < width; ++g) {
          const auto prev = before == nullptr ? std::uint16_t{0} : static_cast<std::uint16_t>(before[g]);
          block[t][g] = static_cast<std::uint16_t>(static_cast<std::uint16_t>(now[g]) - prev);
        }
      }
      for (std::size_t g = 0; g < width; ++g) {
        std::int16_t* dst = diff.data() + (c0 + g) * n_samples + t0;
        for (std::size_t t = 0; t < len; ++t) dst[t] = static_cast<std::int16_t>(block[t][g]);
      }
    }
  }
  z_stream zs{};
  int rc = deflateInit2(&zs, level, Z_DEFLATED, 15, 8, Z_DEFAULT_STRATEGY);
  if (rc != Z_OK) throw std::runtime_error("zlib deflate did not start: " + zlib_reason(zs, rc));
  std::vector<std::uint8_t> out(deflateBound(&zs, static_cast<uLong>(bytes)));
  zs.next_in = reinterpret_cast<Bytef*>(diff.data());
  zs.avail_in = static_cast<uInt>(bytes);
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  rc = deflate(&zs, Z_FINISH);  // deflateBound's room: one call finishes the stream
  const std::size_t written = out.size() - zs.avail_out;
  const std::string reason = rc == Z_STREAM_END ? "" : zlib_reason(zs, rc);
  deflateEnd(&zs);
  if (!reason.empty()) throw std::runtime_error("zlib deflate failed: " + reason);
  out.resize(written);
  return out;
}

}  // namespace spikeshard
