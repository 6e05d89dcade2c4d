// SPDX-License-Identifier: GPL-3.0-or-later
// The per-value loops of IBL's waveform extraction (spikeshard/destripe.h): cutting windows out of
// a preprocessed block, the per-cluster median template, the float16 traces. Each output value is
// computed by one thread from its own inputs, so results do not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "spikeshard/destripe.h"
#include "spikeshard/threads.h"

namespace spikeshard {

namespace {

// Median of v[0, n) (n ≥ 1, no NaN; v is reordered) as numpy computes it from float32 values:
// the middle value, or the mean of the two middle ones in double. A selection finds them; only
// when one of them is zero is the whole run sorted, with −0 before 0 as numpy's sort puts it (the
// selection does not tell the two apart).
float median_of(float* v, std::size_t n) {
  const std::size_t h = n / 2;
  std::nth_element(v, v + h, v + n);
  float upper = v[h];
  float lower = n % 2 == 1 ? upper : *std::max_element(v, v + h);
  if (upper == 0.0f || lower == 0.0f) {
    std::sort(v, v + n, [](float a, float b) { return a < b || (a == b && std::signbit(a) && !std::signbit(b)); });
    upper = v[h];
    lower = n % 2 == 1 ? upper : v[h - 1];
  }
  if (n % 2 == 1) return upper;
  return static_cast<float>((static_cast<double>(lower) + static_cast<double>(upper)) / 2.0);
}

// The binary16 pattern nearest to the binary32 value with bit pattern x (ties to even).
std::uint16_t half_of_single(std::uint32_t x) {
  const std::uint32_t sign = (x >> 16) & 0x8000u;
  const std::uint32_t exponent = (x >> 23) & 0xffu;
  std::uint32_t mantissa = x & 0x7fffffu;
  if (exponent == 0xff) return static_cast<std::uint16_t>(sign | 0x7c00u | (mantissa != 0 ? 0x200u : 0u));
  const int e = static_cast<int>(exponent) - 112;  // rebias 127 → 15
  if (e >= 0x1f) return static_cast<std::uint16_t>(sign | 0x7c00u);
  if (e <= 0) {
    // A subnormal half: its integer significand is the 24-bit significand >> (14 − e), rounded.
    if (e < -10) return static_cast<std::uint16_t>(sign);
    mantissa |= 0x800000u;
    const int shift = 14 - e;
    std::uint32_t half = mantissa >> shift;
    const std::uint32_t rest = mantissa & ((1u << shift) - 1u);
    const std::uint32_t tie = 1u << (shift - 1);
    if (rest > tie || (rest == tie && (half & 1u) == 1u)) ++half;
    return static_cast<std::uint16_t>(sign | half);
  }
  std::uint32_t half = (static_cast<std::uint32_t>(e) << 10) | (mantissa >> 13);
  const std::uint32_t rest = mantissa & 0x1fffu;
  // A carry out of the significand moves into the exponent: the right result, up to infinity.
  if (rest > 0x1000u || (rest == 0x1000u && (half & 1u) == 1u)) ++half;
  return static_cast<std::uint16_t>(sign | half);
}

// Work unit of the medians: this many consecutive values, gathered from every waveform at once.
constexpr std::size_t kMedianBlock = 64;
constexpr std::size_t kHalfBlock = 1 << 16;

}  // namespace

void cut_waveforms(const float* block, std::size_t n_samples, std::size_t n_channels, const std::int32_t* starts,
                   const std::int32_t* channels, std::size_t n_waves, std::size_t n_rows, std::size_t length,
                   double scale, float* out) {
  if (n_waves == 0) return;
  if (block == nullptr || starts == nullptr || channels == nullptr || out == nullptr || n_rows == 0 || length == 0) {
    throw std::invalid_argument("cut_waveforms: null pointer or empty waveform shape");
  }
  for (std::size_t w = 0; w < n_waves; ++w) {
    if (starts[w] < 0 || static_cast<std::size_t>(starts[w]) + length > n_samples) {
      throw std::invalid_argument("cut_waveforms: window " + std::to_string(w) + " starts at sample " +
                                  std::to_string(starts[w]) + ", expected 0.." + std::to_string(n_samples) + " − " +
                                  std::to_string(length));
    }
  }
  for (std::size_t i = 0; i < n_waves * n_rows; ++i) {
    if (channels[i] < 0 || static_cast<std::size_t>(channels[i]) > n_channels) {
      throw std::invalid_argument("cut_waveforms: channel " + std::to_string(channels[i]) + " of row " +
                                  std::to_string(i) + ", expected 0.." + std::to_string(n_channels));
    }
  }
  parallel_for(n_waves, [&](std::size_t w_begin, std::size_t w_end) {
    for (std::size_t w = w_begin; w < w_end; ++w) {
      const float* first = block + static_cast<std::size_t>(starts[w]) * n_channels;
      for (std::size_t r = 0; r < n_rows; ++r) {
        float* dst = out + (w * n_rows + r) * length;
        const std::size_t c = static_cast<std::size_t>(channels[w * n_rows + r]);
        if (c == n_channels) {
          std::fill(dst, dst + length, std::numeric_limits<float>::quiet_NaN());
          continue;
        }
        for (std::size_t i = 0; i < length; ++i) {
          dst[i] = static_cast<float>(static_cast<double>(first[i * n_channels + c]) * scale);
        }
      }
    }
  });
}

void waveform_medians(const float* traces, std::size_t n_waves, std::size_t n_values, float* out) {
  if (n_values == 0) return;
  if (out == nullptr || (n_waves > 0 && traces == nullptr)) {
    throw std::invalid_argument("waveform_medians: null pointer");
  }
  const std::size_t n_blocks = (n_values + kMedianBlock - 1) / kMedianBlock;
  parallel_for(n_blocks, [&](std::size_t b_begin, std::size_t b_end) {
    // gathered[j · n_waves + w]: value p0 + j of waveform w, so each median reads one run.
    std::vector<float> gathered(kMedianBlock * n_waves), kept(n_waves);
    for (std::size_t b = b_begin; b < b_end; ++b) {
      const std::size_t p0 = b * kMedianBlock;
      const std::size_t width = std::min(kMedianBlock, n_values - p0);
      for (std::size_t w = 0; w < n_waves; ++w) {
        const float* src = traces + w * n_values + p0;
        for (std::size_t j = 0; j < width; ++j) gathered[j * n_waves + w] = src[j];
      }
      for (std::size_t j = 0; j < width; ++j) {
        const float* v = gathered.data() + j * n_waves;
        std::size_t n = 0;
        for (std::size_t w = 0; w < n_waves; ++w) {
          if (!std::isnan(v[w])) kept[n++] = v[w];
        }
        out[p0 + j] = n == 0 ? std::numeric_limits<float>::quiet_NaN() : median_of(kept.data(), n);
      }
    }
  });
}

void float16_from_float32(const float* in, std::size_t n, std::uint16_t* out) {
  if (n == 0) return;
  if (in == nullptr || out == nullptr) throw std::invalid_argument("float16_from_float32: null pointer");
  const std::size_t n_blocks = (n + kHalfBlock - 1) / kHalfBlock;
  parallel_for(n_blocks, [&](std::size_t b_begin, std::size_t b_end) {
    for (std::size_t i = b_begin * kHalfBlock; i < std::min(n, b_end * kHalfBlock); ++i) {
      std::uint32_t bits;
      std::memcpy(&bits, in + i, sizeof bits);
      out[i] = half_of_single(bits);
    }
  });
}

}  // namespace spikeshard
