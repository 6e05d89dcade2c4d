// SPDX-License-Identifier: GPL-3.0-or-later
// Common median reference and the fused per-batch chain.
#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "preprocess_internal.h"
#include "spikeshard/preprocess.h"
#include "spikeshard/threads.h"

namespace spikeshard {

namespace detail {

namespace {

// Quickselect with a branch-free Lomuto partition: on the noisy data it sees (one value per
// channel at each sample) it runs ~3× faster than std::nth_element, whose branches mispredict.
// Falls back to std::nth_element if the partitions keep coming out lopsided (many equal values).
void select_kth(double* a, std::size_t n, std::size_t k) {
  std::size_t lo = 0, hi = n;
  int budget = 64;
  while (hi - lo > 24) {
    if (--budget == 0) {
      std::nth_element(a + lo, a + k, a + hi);
      return;
    }
    double* x = a + lo;
    const std::size_t m = hi - lo;
    const double p0 = x[0], p1 = x[m / 2], p2 = x[m - 1];
    const std::size_t median_of_3 = (p0 < p1) ? ((p1 < p2) ? m / 2 : (p0 < p2 ? m - 1 : 0))
                                              : ((p0 < p2) ? 0 : (p1 < p2 ? m - 1 : m / 2));
    std::swap(x[median_of_3], x[m - 1]);
    const double pivot = x[m - 1];
    std::size_t store = 0;
    for (std::size_t i = 0; i + 1 < m; ++i) {
      const double v = x[i];
      const bool less = v < pivot;
      x[i] = x[store];
      x[store] = v;
      store += less ? 1 : 0;
    }
    std::swap(x[store], x[m - 1]);
    const std::size_t position = lo + store;
    if (position == k) return;
    if (k < position) {
      hi = position;
    } else {
      lo = position + 1;
    }
  }
  for (std::size_t i = lo + 1; i < hi; ++i) {
    const double v = a[i];
    std::size_t j = i;
    for (; j > lo && v < a[j - 1]; --j) a[j] = a[j - 1];
    a[j] = v;
  }
}

}  // namespace

double median_in_place(double* values, std::size_t n) {
  const std::size_t k = n / 2;
  select_kth(values, n, k);
  if (n % 2 == 1) return values[k];
  const double lower = *std::max_element(values, values + k);
  return (lower + values[k]) / 2.0;
}

RowMedian::RowMedian(const std::uint8_t* good, std::size_t n_channels) {
  for (std::size_t c = 0; c < n_channels; ++c) {
    if (good[c] != 0) good_.push_back(c);
  }
  if (good_.empty()) {
    throw std::invalid_argument("common_median_reference: no channel is marked good (of " +
                                std::to_string(n_channels) + ")");
  }
  scratch_.resize(good_.size());
}

double RowMedian::operator()(const float* row) {
  for (std::size_t i = 0; i < good_.size(); ++i) scratch_[i] = row[good_[i]];
  return median_in_place(scratch_.data(), scratch_.size());
}

}  // namespace detail

void common_median_reference(float* x, std::size_t n_samples, std::size_t n_channels, const std::uint8_t* good) {
  detail::require_block("common_median_reference", x, n_channels, n_samples, n_channels);
  if (good == nullptr) throw std::invalid_argument("common_median_reference: good-channel mask is null");
  const detail::RowMedian prototype(good, n_channels);
  parallel_for(n_samples, [&](std::size_t t_begin, std::size_t t_end) {
    detail::RowMedian median = prototype;
    for (std::size_t t = t_begin; t < t_end; ++t) detail::subtract_median(x + t * n_channels, n_channels, median);
  });
}

void preprocess_batch(const PreprocessBatchInput& input, float* out) {
  detail::require_block("preprocess_batch", input.raw, input.raw_stride, input.n_samples, input.n_channels);
  if (out == nullptr) throw std::invalid_argument("preprocess_batch: output pointer is null");
  if (input.good == nullptr) throw std::invalid_argument("preprocess_batch: good-channel mask is null");
  if (input.whitening_indices == nullptr || input.whitening_weights == nullptr) {
    throw std::invalid_argument("preprocess_batch: whitening indices or weights are null");
  }
  // One float intermediate: the filter runs in double per channel and its output is far more
  // precise (24-bit mantissa) than the 16-bit samples it came from.
  std::vector<float> filtered(input.n_samples * input.n_channels);
  highpass_block(input.raw, input.raw_stride, input.gains, input.n_samples, input.n_channels, input.highpass,
                 filtered.data());
  if (input.common_reference) {
    common_median_reference(filtered.data(), input.n_samples, input.n_channels, input.good);
  }
  apply_whitening(filtered.data(), input.n_samples, input.n_channels, input.whitening_indices,
                  input.whitening_weights, input.n_nearest, input.scale, out);
}

}  // namespace spikeshard
