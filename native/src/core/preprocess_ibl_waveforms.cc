// SPDX-License-Identifier: GPL-3.0-or-later
// The per-value loops of IBL's waveform extraction (spikeshard/destripe.h): cutting windows out of
// a preprocessed block, the per-cluster median template, the float16 traces. Each output value is
// computed by one thread from its own inputs, so results do not depend on the thread count.

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "file_io.h"
#include "spikeshard/destripe.h"
#include "spikeshard/threads.h"

namespace spikeshard {

namespace {

// The value of rank k (0-based, in operator<'s order) among a[0, n) (k < n, no NaN), a and b
// (n values each) overwritten. A quickselect whose partitions are branch-free (each value is
// stored on both sides and only one side's end moves): std::nth_element's branches on the
// comparisons were mispredicted about half of the time and took most of the medians' time. The
// pivot's copies are set apart in a second pass, so each round removes at least the pivot (ties,
// e.g. unfiltered counts, cannot stall it). For a nonzero result the value is the rank's own
// whatever the order of the ties; ±0 are told apart by the caller.
float rank_value(float* a, float* b, std::size_t n, std::size_t k) {
  while (n > 16) {
    const float x0 = a[0], x1 = a[n / 2], x2 = a[n - 1];
    const float pivot = std::max(std::min(x0, x1), std::min(std::max(x0, x1), x2));
    std::size_t below = 0, rest = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const float x = a[i];
      const bool less = x < pivot;
      b[below] = x;
      b[n - 1 - rest] = x;
      below += less ? 1 : 0;
      rest += less ? 0 : 1;
    }
    if (k < below) {
      std::swap(a, b);
      n = below;
      continue;
    }
    // b[below, n) ≥ pivot: the copies of the pivot hold ranks below … below + equal − 1.
    std::size_t above = 0;
    for (std::size_t i = below; i < n; ++i) {
      const float x = b[i];
      a[above] = x;
      above += pivot < x ? 1 : 0;
    }
    const std::size_t equal = n - below - above;
    if (k < below + equal) return pivot;
    k -= below + equal;
    n = above;
  }
  for (std::size_t i = 1; i < n; ++i) {
    const float x = a[i];
    std::size_t j = i;
    for (; j > 0 && x < a[j - 1]; --j) a[j] = a[j - 1];
    a[j] = x;
  }
  return a[k];
}

// Buffers of median_of and medians_of_blocks, kept by a thread across calls.
struct MedianScratch {
  std::vector<float> gathered, kept, work, spare;
};

// Median of v[0, n) (n ≥ 1, no NaN; v is left as it is unless sorted) as numpy computes it from
// float32 values: the middle value, or the mean of the two middle ones in double. A selection
// finds them; only when one of them is zero is the whole run sorted, with −0 before 0 as numpy's
// sort puts it (the selection does not tell the two apart).
float median_of(float* v, std::size_t n, MedianScratch& scratch) {
  const std::size_t h = n / 2;
  std::copy(v, v + n, scratch.work.data());
  float upper = rank_value(scratch.work.data(), scratch.spare.data(), n, h);
  float lower = upper;
  if (n % 2 == 0) {
    // Rank h − 1: the largest value below upper when h of them are below it, else a copy of upper.
    std::size_t below = 0;
    float largest = -std::numeric_limits<float>::infinity();
    for (std::size_t i = 0; i < n; ++i) {
      const bool less = v[i] < upper;
      below += less ? 1 : 0;
      largest = less && v[i] > largest ? v[i] : largest;
    }
    lower = below == h ? largest : upper;
  }
  if (upper == 0.0f || lower == 0.0f) {
    std::sort(v, v + n, [](float a, float b) { return a < b || (a == b && std::signbit(a) && !std::signbit(b)); });
    upper = v[h];
    lower = n % 2 == 1 ? upper : v[h - 1];
  }
  if (n % 2 == 1) return upper;
  return static_cast<float>((static_cast<double>(lower) + static_cast<double>(upper)) / 2.0);
}

// The binary16 pattern nearest to the binary32 value with bit pattern x (ties to even), without
// branches so that the loops over it vectorize (the traces in volts mix normal and subnormal halves,
// whose branches were mispredicted half of the time).
inline std::uint16_t half_of_single(std::uint32_t x) {
  const std::uint32_t a = x & 0x7fffffffu;
  // Normal halves: the exponent rebiased (127 → 15), the 13 dropped bits rounded to nearest even by
  // adding 0xfff plus the kept last bit; a carry runs into the exponent, up to infinity.
  const std::uint32_t normal = (a - 0x38000000u + 0xfffu + ((a >> 13) & 1u)) >> 13;
  // Subnormal halves (|x| < 2^−14): |x| + 0.5 is |x| rounded to a multiple of 2^−24, the subnormal
  // half's step, by the float addition's own nearest-even rounding; those multiples are the low bits
  // of the sum (1024 of them: the smallest normal half, also right).
  float magnitude;
  std::memcpy(&magnitude, &a, sizeof magnitude);
  const float sum = magnitude + 0.5f;
  std::uint32_t sum_bits;
  std::memcpy(&sum_bits, &sum, sizeof sum_bits);
  const std::uint32_t subnormal = sum_bits - 0x3f000000u;
  // Masks rather than conditionals, which the compiler turns back into branches.
  const std::uint32_t is_subnormal = 0u - static_cast<std::uint32_t>(a < 0x38800000u);
  const std::uint32_t is_special = 0u - static_cast<std::uint32_t>(a >= 0x47800000u);  // ≥ 2^16: inf or NaN
  const std::uint32_t special = 0x7c00u | (static_cast<std::uint32_t>(a > 0x7f800000u) << 9);
  const std::uint32_t finite = (subnormal & is_subnormal) | (normal & ~is_subnormal);
  const std::uint32_t half = (finite & ~is_special) | (special & is_special);
  return static_cast<std::uint16_t>(((x >> 16) & 0x8000u) | half);
}

void halves_of(const float* in, std::size_t n, std::uint16_t* out) {
  for (std::size_t i = 0; i < n; ++i) {
    std::uint32_t bits;
    std::memcpy(&bits, in + i, sizeof bits);
    out[i] = half_of_single(bits);
  }
}

// Work unit of the medians: this many consecutive values, gathered from every waveform at once.
constexpr std::size_t kMedianBlock = 64;
constexpr std::size_t kHalfBlock = 1 << 16;
// float16 NaN as numpy writes it: the traces of the waveforms a cluster does not have.
constexpr std::uint16_t kHalfNan = 0x7e00;

// out[p] for the values p of blocks [b_begin, b_end) of kMedianBlock: waveform_medians' work unit,
// the same operations whichever thread and call runs it.
void medians_of_blocks(const float* traces, std::size_t n_waves, std::size_t n_values, std::size_t b_begin,
                       std::size_t b_end, float* out, MedianScratch& scratch) {
  // gathered[j · n_waves + w]: value p0 + j of waveform w, so each median reads one run.
  scratch.gathered.resize(kMedianBlock * n_waves);
  scratch.kept.resize(n_waves);
  scratch.work.resize(n_waves);
  scratch.spare.resize(n_waves);
  float* gathered = scratch.gathered.data();
  float* kept = scratch.kept.data();
  for (std::size_t b = b_begin; b < b_end; ++b) {
    const std::size_t p0 = b * kMedianBlock;
    const std::size_t width = std::min(kMedianBlock, n_values - p0);
    for (std::size_t w = 0; w < n_waves; ++w) {
      const float* src = traces + w * n_values + p0;
      for (std::size_t j = 0; j < width; ++j) gathered[j * n_waves + w] = src[j];
    }
    for (std::size_t j = 0; j < width; ++j) {
      const float* v = gathered + j * n_waves;
      std::size_t n = 0;
      for (std::size_t w = 0; w < n_waves; ++w) {
        if (!std::isnan(v[w])) kept[n++] = v[w];
      }
      out[p0 + j] = n == 0 ? std::numeric_limits<float>::quiet_NaN() : median_of(kept, n, scratch);
    }
  }
}

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
    MedianScratch scratch;
    medians_of_blocks(traces, n_waves, n_values, b_begin, b_end, out, scratch);
  });
}

void float16_from_float32(const float* in, std::size_t n, std::uint16_t* out) {
  if (n == 0) return;
  if (in == nullptr || out == nullptr) throw std::invalid_argument("float16_from_float32: null pointer");
  const std::size_t n_blocks = (n + kHalfBlock - 1) / kHalfBlock;
  parallel_for(n_blocks, [&](std::size_t b_begin, std::size_t b_end) {
    const std::size_t begin = b_begin * kHalfBlock;
    halves_of(in + begin, std::min(n, b_end * kHalfBlock) - begin, out + begin);
  });
}

void finish_ibl_waveforms(int scratch_fd, int traces_fd, std::uint64_t traces_offset, const std::uint32_t* rows,
                          const std::uint64_t* first, std::size_t n_clusters, std::size_t max_per_cluster,
                          std::size_t n_values, float* templates, int threads) {
  if (n_clusters == 0) return;
  if (first == nullptr || templates == nullptr || max_per_cluster == 0 || n_values == 0) {
    throw std::invalid_argument("finish_ibl_waveforms: null pointer or empty waveform shape");
  }
  for (std::size_t u = 0; u < n_clusters; ++u) {
    if (first[u + 1] < first[u] || first[u + 1] - first[u] > max_per_cluster) {
      throw std::invalid_argument("finish_ibl_waveforms: cluster " + std::to_string(u) + " has rows " +
                                  std::to_string(first[u]) + ".." + std::to_string(first[u + 1]) +
                                  ", expected at most " + std::to_string(max_per_cluster) + " from the previous end");
    }
  }
  if (first[n_clusters] > 0 && rows == nullptr) throw std::invalid_argument("finish_ibl_waveforms: null rows");
  const std::size_t row_bytes = n_values * sizeof(float);
  const std::size_t cluster_values = max_per_cluster * n_values;
  const std::size_t n_threads =
      std::min(n_clusters, static_cast<std::size_t>(threads > 0 ? threads : default_threads()));
  // Clusters differ in size: each thread takes the next one when done (which thread computes a
  // cluster changes nothing in its values).
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  const std::size_t n_blocks = (n_values + kMedianBlock - 1) / kMedianBlock;
  parallel_for(
      n_threads,
      [&](std::size_t, std::size_t) {
        std::vector<float> traces;
        std::vector<std::uint16_t> halves(cluster_values, kHalfNan);
        MedianScratch scratch;
        std::size_t data_end = 0;  // halves[data_end, cluster_values) hold NaN
        try {
          for (std::size_t u = next++; u < n_clusters && !failed; u = next++) {
            const std::size_t m = static_cast<std::size_t>(first[u + 1] - first[u]);
            traces.resize(m * n_values);
            for (std::size_t k = 0; k < m; ++k) {
              detail::pread_exactly(scratch_fd, traces.data() + k * n_values, row_bytes,
                                    static_cast<std::uint64_t>(rows[first[u] + k]) * row_bytes,
                                    "finish_ibl_waveforms: scratch read");
            }
            medians_of_blocks(traces.data(), m, n_values, 0, n_blocks, templates + u * n_values, scratch);
            halves_of(traces.data(), m * n_values, halves.data());
            // Only what an earlier, larger cluster wrote beyond this one's waveforms is refilled.
            if (data_end > m * n_values) std::fill(halves.begin() + m * n_values, halves.begin() + data_end, kHalfNan);
            data_end = m * n_values;
            detail::pwrite_fully(traces_fd, halves.data(), cluster_values * sizeof(std::uint16_t),
                                 traces_offset + static_cast<std::uint64_t>(u) * cluster_values * sizeof(std::uint16_t),
                                 "finish_ibl_waveforms: traces write");
          }
        } catch (...) {
          failed = true;
          throw;
        }
      },
      static_cast<int>(n_threads));
}

}  // namespace spikeshard
