// SPDX-License-Identifier: GPL-3.0-or-later
#include <algorithm>
#include <cstddef>
#include <stdexcept>
#include <vector>

#include "spikeshard/postprocess.h"
#include "spikeshard/threads.h"

namespace spikeshard {

namespace {

// One box pass over columns [d0, d1) of src (n × stride) into dst: dst[i] is the running sum
// before row i's update, which adds row i + half + 1 and then drops row i − half.
void box_pass(const double* src, double* dst, std::size_t n, std::size_t stride, std::size_t d0, std::size_t d1,
              std::size_t half) {
  const std::size_t width = d1 - d0;
  std::vector<double> acc(width, 0.0);
  const std::size_t head = std::min(n, half + 1);
  for (std::size_t i = 0; i < head; ++i) {
    for (std::size_t d = 0; d < width; ++d) acc[d] += src[i * stride + d0 + d];
  }
  for (std::size_t i = 0; i < n; ++i) {
    double* out = dst + i * stride + d0;
    for (std::size_t d = 0; d < width; ++d) out[d] = acc[d];
    if (i + half + 1 < n) {
      const double* add = src + (i + half + 1) * stride + d0;
      for (std::size_t d = 0; d < width; ++d) acc[d] += add[d];
    }
    if (i >= half) {
      const double* drop = src + (i - half) * stride + d0;
      for (std::size_t d = 0; d < width; ++d) acc[d] -= drop[d];
    }
  }
}

}  // namespace

void running_mean(const double* x, std::size_t n, std::size_t dims, std::size_t half, double* out, int threads) {
  if (dims == 0) throw std::invalid_argument("running_mean: dims must be at least 1");
  if (n == 0) return;
  // The weights (a column of ones smoothed the same way) are the same for every column.
  std::vector<double> weight(n, 1.0);
  std::vector<double> next_weight(n);
  for (int pass = 0; pass < 3; ++pass) {
    box_pass(weight.data(), next_weight.data(), n, 1, 0, 1, half);
    weight.swap(next_weight);
  }
  // Columns are independent: each block of 32 (one run of contiguous values per row) is
  // smoothed by one thread, through `a` and `out` in turn. The passes are memory-bound, so
  // threads only pay for large inputs.
  const int use_threads = n * dims < (std::size_t{1} << 22) ? 1 : threads;
  constexpr std::size_t kColumns = 32;
  const std::size_t blocks = (dims + kColumns - 1) / kColumns;
  std::vector<double> a(n * dims);
  parallel_for(
      blocks,
      [&](std::size_t first, std::size_t last) {
        const std::size_t d0 = first * kColumns;
        const std::size_t d1 = std::min(dims, last * kColumns);
        box_pass(x, a.data(), n, dims, d0, d1, half);
        box_pass(a.data(), out, n, dims, d0, d1, half);
        box_pass(out, a.data(), n, dims, d0, d1, half);
        for (std::size_t i = 0; i < n; ++i) {
          for (std::size_t d = d0; d < d1; ++d) out[i * dims + d] = a[i * dims + d] / weight[i];
        }
      },
      use_threads);
}

void project_rows(const double* x, std::size_t n, std::size_t dims, const double* w, double* out, int threads) {
  // One read of x: memory-bound, so threads only pay for large inputs.
  const int use_threads = n * dims < (std::size_t{1} << 22) ? 1 : threads;
  parallel_for(
      n,
      [&](std::size_t begin, std::size_t end) {
        // Eight rows side by side: eight independent sums in flight (each a chain of dims
        // dependent additions), each still in ascending d.
        std::size_t i = begin;
        constexpr std::size_t kRows = 8;
        for (; i + kRows <= end; i += kRows) {
          const double* xb = x + i * dims;
          double s[kRows] = {};
          for (std::size_t d = 0; d < dims; ++d) {
            const double wd = w[d];
            for (std::size_t k = 0; k < kRows; ++k) s[k] += xb[k * dims + d] * wd;
          }
          for (std::size_t k = 0; k < kRows; ++k) out[i + k] = s[k];
        }
        for (; i < end; ++i) {
          const double* xi = x + i * dims;
          double s = 0;
          for (std::size_t d = 0; d < dims; ++d) s += xi[d] * w[d];
          out[i] = s;
        }
      },
      use_threads);
}

}  // namespace spikeshard
