// SPDX-License-Identifier: GPL-3.0-or-later
// Helpers shared by the preprocess_*.cc files (not part of the public API).
#ifndef SPIKESHARD_PREPROCESS_INTERNAL_H_
#define SPIKESHARD_PREPROCESS_INTERNAL_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "spikeshard/preprocess.h"

namespace spikeshard::detail {

// Median of values[0..n) with numpy's rule for even n (mean of the two middle values); reorders
// the values. n must be ≥ 1.
double median_in_place(double* values, std::size_t n);

// The median over the good channels of one row at a time (median_in_place of their values), with
// its buffer: one per thread.
class RowMedian {
 public:
  // good: (n_channels) nonzero for the channels that enter the median; throws if none.
  RowMedian(const std::uint8_t* good, std::size_t n_channels);
  double operator()(const float* row);

 private:
  std::vector<std::size_t> good_;
  std::vector<double> scratch_;
};

// row[c] −= the median of the row's good channels, in double, rounded to float (every channel).
inline void subtract_median(float* row, std::size_t n_channels, RowMedian& median) {
  const double m = median(row);
  for (std::size_t c = 0; c < n_channels; ++c) row[c] = static_cast<float>(static_cast<double>(row[c]) - m);
}

// The most second-order sections of a Butterworth high-pass (order 16).
constexpr std::size_t kMaxHighpassSections = 8;

// One value through one second-order section in direct form II transposed (scipy's order of
// operations; the build contracts no multiply-add), z0 and z1 its delay registers. The CUDA kernels
// repeat it with explicit roundings (highpass.cu).
inline double section_step(const SosSection& q, double v, double& z0, double& z1) {
  const double y = q.b0 * v + z0;
  z0 = q.b1 * v - q.a1 * y + z1;
  z1 = q.b2 * v - q.a2 * y;
  return y;
}

// Step-response steady state of each section in direct form II transposed (scipy's
// sosfilt_zi): with input level u and DC gain g = Σb/Σa, the output settles at g·u and the two
// delay registers at z1 = (b2 − a2·g)·u and z0 = (b1 − a1·g)·u + z1; the next section sees g·u.
// Also the CUDA high-pass's (highpass.cu).
struct SteadyState {
  double z0[kMaxHighpassSections];
  double z1[kMaxHighpassSections];
};
SteadyState steady_state(const std::vector<SosSection>& sos);

// The zero-phase high-pass runs each pass in segments of kHighpassSegment samples, so that the
// CUDA backend filters them side by side (highpass.cu) with the CPU's arithmetic: each segment from
// zero state, plus the free response (zero input) of the state carried into it. The channel mean
// is summed in segments of the same length. Changing it changes the filter's rounding.
constexpr std::size_t kHighpassSegment = 256;

// The cascade's free response over one segment, from each unit state: the state vector is (z0, z1)
// of each section in order (width = 2 · sections). free_output[i · width + j]: the output at row i
// from unit state j; free_state[r · width + j]: state component r after kHighpassSegment rows.
struct SegmentResponse {
  std::size_t width = 0;
  std::vector<double> free_output;
  std::vector<double> free_state;
};
SegmentResponse segment_response(const std::vector<SosSection>& sos);

// highpass_block for any input type (int16, float) into float or double output; explicitly
// instantiated in preprocess_filter.cc. With shift_taps (float output only): then adc_shift with
// these taps ((2·half_width + 1) × n_channels, tap i of channel c at [i·n_channels + c]), bitwise
// as adc_shift computes it, on each group of channels while it is in cache (no second pass).
template <typename In, typename Out>
void highpass_block_impl(const In* in, std::size_t in_stride, const double* gains, std::size_t n_samples,
                         std::size_t n_channels, const HighpassOptions& options, Out* out,
                         const float* shift_taps = nullptr, std::size_t shift_half_width = 0);

// Shape checks shared by the public entry points (std::invalid_argument with `what` first).
void require_block(const char* what, const void* data, std::size_t stride, std::size_t n_samples,
                   std::size_t n_channels);

}  // namespace spikeshard::detail

#endif  // SPIKESHARD_PREPROCESS_INTERNAL_H_
