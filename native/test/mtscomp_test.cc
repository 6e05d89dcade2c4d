// SPDX-License-Identifier: GPL-3.0-or-later
#include "spikeshard/mtscomp.h"

#include <zlib.h>

#include <cstdint>
#include <stdexcept>
#include <string>
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

// Channel-major time differences by definition (first sample kept, wrapping).
std::vector<std::int16_t> time_diff(const std::vector<std::int16_t>& rows, std::size_t T, std::size_t C) {
  std::vector<std::int16_t> diff(T * C);
  for (std::size_t c = 0; c < C; ++c) {
    std::int32_t previous = 0;
    for (std::size_t t = 0; t < T; ++t) {
      const std::int32_t v = rows[t * C + c];
      diff[c * T + t] = static_cast<std::int16_t>(static_cast<std::uint16_t>((v - previous) & 0xffff));
      previous = v;
    }
  }
  return diff;
}

// zlib's one-call compress2 of raw bytes at `level`: the reference stream.
std::vector<std::uint8_t> deflate_reference(const void* data, std::size_t bytes, int level) {
  uLongf n = compressBound(static_cast<uLong>(bytes));
  std::vector<std::uint8_t> out(n);
  CHECK(compress2(out.data(), &n, static_cast<const Bytef*>(data), static_cast<uLong>(bytes), level) == Z_OK);
  out.resize(n);
  return out;
}

std::vector<std::int16_t> random_rows(std::size_t n, std::uint32_t seed, int spread) {
  std::vector<std::int16_t> rows(n);
  std::int32_t walk = 0;
  for (auto& r : rows) {
    seed = seed * 1664525u + 1013904223u;
    walk += static_cast<std::int32_t>(seed >> 16) % spread - spread / 2;
    r = static_cast<std::int16_t>(static_cast<std::uint16_t>(walk & 0xffff));
  }
  return rows;
}

// The message of the std::runtime_error that f throws ("" if none).
template <typename F>
std::string failure(F f) {
  try {
    f();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
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

TEST(mtscomp_decode_chunk_hand_made_stream) {
  // 4 samples × 2 channels, channel 1 crossing the int16 range so its differences wrap.
  const std::vector<std::int16_t> rows = {100, 32767, 101, -32768, 99, -32767, -5, 0};
  const std::vector<std::int16_t> diff = {100, 1, -2, -104, 32767, 1, 1, 32767};
  const auto z = deflate_reference(diff.data(), diff.size() * 2, Z_DEFAULT_COMPRESSION);
  std::vector<std::int16_t> out(8, 7);
  mtscomp_decode_chunk(z.data(), z.size(), 4, 2, out.data());
  CHECK(out == rows);
}

TEST(mtscomp_encode_chunk_is_zlibs_stream_of_the_differences) {
  // Shapes around the slab (32 channels), group (16) and tile (64 samples) sizes; full-range
  // values and slow walks (compressible) both.
  for (auto [T, C, spread] : {std::tuple<std::size_t, std::size_t, int>{3001, 3, 65536}, {200, 37, 40},
                              {64, 16, 65536}, {1, 385, 100}, {1000, 64, 30}, {129, 33, 7}}) {
    const auto rows = random_rows(T * C, static_cast<std::uint32_t>(T * 31 + C), spread);
    const auto diff = time_diff(rows, T, C);
    for (int level : {-1, 1, 9}) {
      const auto z = mtscomp_encode_chunk(rows.data(), T, C, level);
      CHECK(z == deflate_reference(diff.data(), diff.size() * 2, level));
      std::vector<std::int16_t> back(T * C);
      mtscomp_decode_chunk(z.data(), z.size(), T, C, back.data());
      CHECK(back == rows);
    }
  }
}

TEST(mtscomp_decode_chunk_reports_damage_and_wrong_sizes) {
  const std::size_t T = 500, C = 40;
  const auto rows = random_rows(T * C, 3, 50);
  const auto z = mtscomp_encode_chunk(rows.data(), T, C, -1);
  std::vector<std::int16_t> out(T * C);
  // Flipped bytes inside the stream: zlib's own complaint, or the Adler-32 check at its end.
  auto damaged = z;
  for (std::size_t i = 100; i < 140; ++i) damaged[i] ^= 0x5a;
  std::string m = failure([&] { mtscomp_decode_chunk(damaged.data(), damaged.size(), T, C, out.data()); });
  CHECK(m.rfind("cannot be decompressed (", 0) == 0);
  CHECK(m.find("the file is corrupt") != std::string::npos);
  // Not zlib at all.
  const std::vector<std::uint8_t> junk(64, 0x11);
  m = failure([&] { mtscomp_decode_chunk(junk.data(), junk.size(), T, C, out.data()); });
  CHECK(m == "cannot be decompressed (incorrect header check); the file is corrupt");
  // Cut short.
  m = failure([&] { mtscomp_decode_chunk(z.data(), z.size() / 2, T, C, out.data()); });
  CHECK(m == "cannot be decompressed (the zlib stream ends early); the file is corrupt");
  // A valid stream of the wrong size, shorter and longer than T × C × 2 bytes: its true size.
  // (rows sized for the shape claimed: the slabs before the error are written)
  std::vector<std::int16_t> longer((T + 1) * C);
  m = failure([&] { mtscomp_decode_chunk(z.data(), z.size(), T + 1, C, longer.data()); });
  CHECK(m.rfind("decompresses to 40000 bytes; 501 samples × 40 channels × 2 = 40080 expected", 0) == 0);
  m = failure([&] { mtscomp_decode_chunk(z.data(), z.size(), T - 1, C, out.data()); });
  CHECK(m.rfind("decompresses to 40000 bytes; 499 samples × 40 channels × 2 = 39920 expected", 0) == 0);
  const std::vector<std::int16_t> big(100000, 3);
  const auto zb = deflate_reference(big.data(), big.size() * 2, 6);
  m = failure([&] { mtscomp_decode_chunk(zb.data(), zb.size(), 10, 2, out.data()); });
  CHECK(m.rfind("decompresses to 200000 bytes; 10 samples × 2 channels × 2 = 40 expected", 0) == 0);
}

}  // namespace spikeshard::test
