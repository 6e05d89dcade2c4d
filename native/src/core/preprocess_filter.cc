// SPDX-License-Identifier: GPL-3.0-or-later
// Butterworth high-pass design and zero-phase (forward–backward) filtering.
//
// Channels are filtered kLanes at a time: the recursion is sequential in time but independent
// across channels, so a (time × kLanes) double buffer lets the compiler vectorise across
// channels while each channel sees exactly the same arithmetic as when filtered alone.
#include <algorithm>
#include <cmath>
#include <complex>
#include <cstring>
#include <memory>
#include <numbers>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "matching_simd.h"
#include "preprocess_internal.h"
#include "spikeshard/preprocess.h"
#include "spikeshard/threads.h"

namespace spikeshard {

using detail::kHighpassSegment;
using detail::section_step;
using detail::segment_response;
using detail::SegmentResponse;
using detail::steady_state;
using detail::SteadyState;

namespace {

constexpr std::size_t kLanes = 8;
constexpr int kMaxOrder = 16;
constexpr std::size_t kMaxSections = detail::kMaxHighpassSections;
static_assert(kMaxSections == (kMaxOrder + 1) / 2, "a section per two orders");

void check_design(int order, double cutoff_hz, double sample_rate_hz) {
  if (order < 1 || order > kMaxOrder) {
    throw std::invalid_argument("butterworth: order must be in 1.." + std::to_string(kMaxOrder) + ", got " +
                                std::to_string(order));
  }
  if (!(sample_rate_hz > 0) || !std::isfinite(sample_rate_hz)) {
    throw std::invalid_argument("butterworth: sample rate must be a positive number of Hz, got " +
                                std::to_string(sample_rate_hz));
  }
  if (!(cutoff_hz > 0 && cutoff_hz < sample_rate_hz / 2)) {
    throw std::invalid_argument("butterworth: cutoff must be in (0, " + std::to_string(sample_rate_hz / 2) +
                                ") Hz (Nyquist), got " + std::to_string(cutoff_hz));
  }
}

// Adds to rows [begin, end) (pass order, as cascade_rows) the free response of the state carried
// into the segment: row += Σ_j free_output[i, j]·carried[j], term by term from the first, lane-wise.
// kWidth > 0 fixes the state's width at compile time (orders 1–6), 0 takes it from `width`: with a
// runtime width GCC left the sums scalar (a 384 × 67 648 block on one dev-VM core: 320 ms, against
// 228 ms now and 160 ms for the unsegmented filter of the ninth session). Inlined into the
// AVX2 clone of its caller.
template <std::size_t kWidth>
__attribute__((always_inline)) inline void add_free_response(double* buf, std::size_t total, bool backwards,
                                                             std::size_t begin, std::size_t end,
                                                             const double* free_output, const double (*carried)[kLanes],
                                                             std::size_t width = kWidth) {
  const std::size_t w = kWidth > 0 ? kWidth : width;
  double state[kWidth > 0 ? kWidth : 2 * kMaxSections][kLanes];  // local: the row stores cannot alias it
  std::memcpy(state, carried, w * sizeof(state[0]));
  for (std::size_t i = begin; i < end; ++i) {
    double* row = buf + (backwards ? total - 1 - i : i) * kLanes;
    const double* g = free_output + (i - begin) * w;
    double response[kLanes];
    for (std::size_t l = 0; l < kLanes; ++l) response[l] = g[0] * state[0][l];
    for (std::size_t j = 1; j < w; ++j) {
      for (std::size_t l = 0; l < kLanes; ++l) response[l] = response[l] + g[j] * state[j][l];
    }
    for (std::size_t l = 0; l < kLanes; ++l) row[l] = row[l] + response[l];
  }
}

// Runs the cascade over rows [begin, end) of a (total × kLanes) buffer in pass order (backwards:
// row total − 1 − i is the pass's row i), in place, from zero state, and leaves the last row's
// states in s0/s1; then each output adds the free response of the state `carried` into the
// segment (see cascade_pass). The states live in local arrays, not behind the pointers, which the
// row stores could alias.
SPIKESHARD_CLONES void cascade_rows(const std::vector<SosSection>& sos, double* buf, std::size_t total,
                                    bool backwards, std::size_t begin, std::size_t end, double (*s0_out)[kLanes],
                                    double (*s1_out)[kLanes], const double* free_output, std::size_t width,
                                    const double (*carried_in)[kLanes]) {
  const std::size_t n_sections = sos.size();
  double s0[kMaxSections][kLanes] = {};
  double s1[kMaxSections][kLanes] = {};
  for (std::size_t i = begin; i < end; ++i) {
    double* row = buf + (backwards ? total - 1 - i : i) * kLanes;
    double v[kLanes];
    for (std::size_t l = 0; l < kLanes; ++l) v[l] = row[l];
    for (std::size_t s = 0; s < n_sections; ++s) {
      const SosSection& q = sos[s];
      for (std::size_t l = 0; l < kLanes; ++l) v[l] = section_step(q, v[l], s0[s][l], s1[s][l]);
    }
    for (std::size_t l = 0; l < kLanes; ++l) row[l] = v[l];
  }
  std::memcpy(s0_out, s0, n_sections * sizeof(s0[0]));
  std::memcpy(s1_out, s1, n_sections * sizeof(s1[0]));
  // A second loop over the segment (in L1), not the recursion's: the recursion's states and the
  // carried state together need more vector registers than there are.
  switch (width) {
    case 2:
      add_free_response<2>(buf, total, backwards, begin, end, free_output, carried_in);
      break;
    case 4:
      add_free_response<4>(buf, total, backwards, begin, end, free_output, carried_in);
      break;
    case 6:
      add_free_response<6>(buf, total, backwards, begin, end, free_output, carried_in);
      break;
    default:
      add_free_response<0>(buf, total, backwards, begin, end, free_output, carried_in, width);
  }
}

// One pass of the cascade over rows [0, total) of a (total × kLanes) buffer, forwards or
// backwards, starting from the steady state scaled by the first row met, in the segmented form
// that the CUDA backend computes segment by segment side by side (highpass.cu): every segment of
// kHighpassSegment rows is filtered from zero state, and the state carried into it adds its free
// response (the cascade with zero input, started from that state: linear, so the sum is the
// filter's output to rounding); the state carried out is the zero-state run's final state plus the
// carried state's after kHighpassSegment free steps. The state vector is (z0, z1) of each section in
// order; its sums run term by term from the first, as highpass.cu's.
SPIKESHARD_CLONES void cascade_pass(const std::vector<SosSection>& sos, const SteadyState& zi,
                                    const SegmentResponse& segments, double* buf, std::size_t total,
                                    bool backwards) {
  const std::size_t n_sections = sos.size();
  const std::size_t width = segments.width;
  double carried[2 * kMaxSections][kLanes];
  const double* first = buf + (backwards ? total - 1 : 0) * kLanes;
  for (std::size_t s = 0; s < n_sections; ++s) {
    for (std::size_t l = 0; l < kLanes; ++l) {
      carried[2 * s][l] = zi.z0[s] * first[l];
      carried[2 * s + 1][l] = zi.z1[s] * first[l];
    }
  }
  for (std::size_t begin = 0; begin < total; begin += kHighpassSegment) {
    const std::size_t end = std::min(total, begin + kHighpassSegment);
    double s0[kMaxSections][kLanes];
    double s1[kMaxSections][kLanes];
    cascade_rows(sos, buf, total, backwards, begin, end, s0, s1, segments.free_output.data(), width, carried);
    if (end == total) break;
    double next[2 * kMaxSections][kLanes];
    for (std::size_t r = 0; r < width; ++r) {
      const double* m = segments.free_state.data() + r * width;
      const double* f = r % 2 == 0 ? s0[r / 2] : s1[r / 2];
      for (std::size_t l = 0; l < kLanes; ++l) next[r][l] = m[0] * carried[0][l];
      for (std::size_t j = 1; j < width; ++j) {
        for (std::size_t l = 0; l < kLanes; ++l) next[r][l] = next[r][l] + m[j] * carried[j][l];
      }
      for (std::size_t l = 0; l < kLanes; ++l) next[r][l] = next[r][l] + f[l];
    }
    std::memcpy(carried, next, sizeof(next));
  }
}

// buf holds (n + 2·pad) rows; rows [pad, pad + n) are the signal. Fills the odd extensions,
// runs both passes; the result is left in rows [pad, pad + n).
void filtfilt_lanes(const std::vector<SosSection>& sos, const SteadyState& zi, const SegmentResponse& segments,
                    std::size_t pad, double* buf, std::size_t n) {
  double* x = buf + pad * kLanes;
  for (std::size_t i = 1; i <= pad; ++i) {
    for (std::size_t l = 0; l < kLanes; ++l) {
      x[-static_cast<std::ptrdiff_t>(i * kLanes) + static_cast<std::ptrdiff_t>(l)] =
          2.0 * x[l] - x[i * kLanes + l];
      x[(n - 1 + i) * kLanes + l] = 2.0 * x[(n - 1) * kLanes + l] - x[(n - 1 - i) * kLanes + l];
    }
  }
  const std::size_t total = n + 2 * pad;
  cascade_pass(sos, zi, segments, buf, total, false);
  cascade_pass(sos, zi, segments, buf, total, true);
}

// The ADC shift (adc_shift's FIR) of one group's filtered samples, written to its kLanes columns
// of out: y[t] = Σ_i h[i]·x[t + K − i] in float, from 0, i ascending, terms beyond the block left
// out — adc_shift's arithmetic, value for value. x: (n × kLanes) float; h: (n_taps × kLanes).
// Four rows at a time in the interior, where every term exists (independent sums in flight).
SPIKESHARD_CLONES void shift_lanes(const float* x, std::size_t n, const float* h, std::size_t half, float* out,
                                   std::size_t out_stride, std::size_t lanes) {
  using simd::Lanes;
  static_assert(sizeof(Lanes) == kLanes * sizeof(float));
  const std::size_t n_taps = 2 * half + 1;
  auto store = [&](std::size_t t, const float* acc) {
    if (lanes == kLanes) {
      std::memcpy(out + t * out_stride, acc, kLanes * sizeof(float));
    } else {
      for (std::size_t l = 0; l < lanes; ++l) out[t * out_stride + l] = acc[l];
    }
  };
  auto edge_row = [&](std::size_t t) {
    float acc[kLanes] = {};
    for (std::size_t i = 0; i < n_taps; ++i) {
      const std::ptrdiff_t u = static_cast<std::ptrdiff_t>(t + half) - static_cast<std::ptrdiff_t>(i);
      if (u < 0 || u >= static_cast<std::ptrdiff_t>(n)) continue;
      const float* src = x + static_cast<std::size_t>(u) * kLanes;
      for (std::size_t l = 0; l < kLanes; ++l) acc[l] += h[i * kLanes + l] * src[l];
    }
    store(t, acc);
  };
  const std::size_t first = std::min(half, n), last = n > half ? n - half : 0;
  for (std::size_t t = 0; t < first; ++t) edge_row(t);
  std::size_t t = first;
  for (; t + 4 <= last; t += 4) {
    Lanes acc[4] = {};
    for (std::size_t i = 0; i < n_taps; ++i) {
      Lanes hv;
      std::memcpy(&hv, h + i * kLanes, sizeof hv);
      const float* src = x + (t + half - i) * kLanes;
      for (std::size_t r = 0; r < 4; ++r) {
        Lanes xv;
        std::memcpy(&xv, src + r * kLanes, sizeof xv);
        acc[r] += hv * xv;
      }
    }
    for (std::size_t r = 0; r < 4; ++r) {
      float a[kLanes];
      std::memcpy(a, &acc[r], sizeof a);
      store(t + r, a);
    }
  }
  for (; t < n; ++t) {
    if (t < last) {
      Lanes acc = {};
      for (std::size_t i = 0; i < n_taps; ++i) {
        Lanes hv, xv;
        std::memcpy(&hv, h + i * kLanes, sizeof hv);
        std::memcpy(&xv, x + (t + half - i) * kLanes, sizeof xv);
        acc += hv * xv;
      }
      float a[kLanes];
      std::memcpy(a, &acc, sizeof a);
      store(t, a);
    } else {
      edge_row(t);
    }
  }
}

void check_filter_length(std::size_t n, std::size_t pad) {
  if (n <= pad) {
    throw std::invalid_argument("sosfiltfilt: the signal must be longer than the edge padding (" +
                                std::to_string(pad) + " samples), got " + std::to_string(n) + " samples");
  }
}

}  // namespace

std::vector<SosSection> butterworth_highpass_sos(int order, double cutoff_hz, double sample_rate_hz) {
  check_design(order, cutoff_hz, sample_rate_hz);
  // Pre-warping: the bilinear map s = 2·(z − 1)/(z + 1) sends frequency f to the analogue
  // 2·tan(π·f/fs), so the analogue cutoff is placed where the digital one must land.
  const double warped = 2.0 * std::tan(std::numbers::pi * cutoff_hz / sample_rate_hz);
  auto to_digital = [](std::complex<double> s) { return (2.0 + s) / (2.0 - s); };
  std::vector<SosSection> sos;
  std::vector<std::complex<double>> pairs;
  for (int k = 0; 2 * k + 1 <= order; ++k) {
    // Low-pass prototype pole on the unit circle (left half plane); high-pass: s → warped / s.
    std::complex<double> prototype =
        std::polar(1.0, std::numbers::pi * static_cast<double>(2 * k + order + 1) / static_cast<double>(2 * order));
    std::complex<double> pole = to_digital(warped / prototype);
    if (2 * k + 1 == order) {
      sos.push_back({1.0, -1.0, 0.0, -pole.real(), 0.0});  // the real pole of an odd order
    } else {
      pairs.push_back(pole);  // with its conjugate (pole index order − 1 − k)
    }
  }
  std::stable_sort(pairs.begin(), pairs.end(),
                   [](const std::complex<double>& a, const std::complex<double>& b) { return std::abs(a) < std::abs(b); });
  for (const auto& q : pairs) sos.push_back({1.0, -2.0, 1.0, -2.0 * q.real(), std::norm(q)});
  // Unit gain at Nyquist (z = −1), put in the first section as scipy does.
  double nyquist_gain = 1.0;
  for (const SosSection& q : sos) nyquist_gain *= (q.b0 - q.b1 + q.b2) / (1.0 - q.a1 + q.a2);
  const double k = 1.0 / nyquist_gain;
  sos[0].b0 *= k;
  sos[0].b1 *= k;
  sos[0].b2 *= k;
  return sos;
}

double butterworth_highpass_gain(int order, double cutoff_hz, double sample_rate_hz, double frequency_hz) {
  check_design(order, cutoff_hz, sample_rate_hz);
  if (!(frequency_hz >= 0 && frequency_hz <= sample_rate_hz / 2)) {
    throw std::invalid_argument("butterworth_highpass_gain: frequency must be in [0, Nyquist], got " +
                                std::to_string(frequency_hz));
  }
  if (frequency_hz == 0) return 0.0;
  const double ratio = std::tan(std::numbers::pi * cutoff_hz / sample_rate_hz) /
                       std::tan(std::numbers::pi * frequency_hz / sample_rate_hz);
  return 1.0 / std::sqrt(1.0 + std::pow(ratio, 2 * order));
}

namespace detail {

SteadyState steady_state(const std::vector<SosSection>& sos) {
  SteadyState zi{};
  double level = 1.0;
  for (std::size_t s = 0; s < sos.size(); ++s) {
    const SosSection& q = sos[s];
    double gain = (q.b0 + q.b1 + q.b2) / (1.0 + q.a1 + q.a2);
    zi.z1[s] = (q.b2 - q.a2 * gain) * level;
    zi.z0[s] = (q.b1 - q.a1 * gain) * level + zi.z1[s];
    level *= gain;
  }
  return zi;
}

SegmentResponse segment_response(const std::vector<SosSection>& sos) {
  const std::size_t n_sections = sos.size();
  SegmentResponse r;
  r.width = 2 * n_sections;
  r.free_output.assign(kHighpassSegment * r.width, 0.0);
  r.free_state.assign(r.width * r.width, 0.0);
  for (std::size_t j = 0; j < r.width; ++j) {
    double z0[kMaxSections] = {}, z1[kMaxSections] = {};
    (j % 2 == 0 ? z0 : z1)[j / 2] = 1.0;
    for (std::size_t i = 0; i < kHighpassSegment; ++i) {
      double v = 0.0;
      for (std::size_t s = 0; s < n_sections; ++s) v = section_step(sos[s], v, z0[s], z1[s]);
      r.free_output[i * r.width + j] = v;
    }
    for (std::size_t s = 0; s < n_sections; ++s) {
      r.free_state[(2 * s) * r.width + j] = z0[s];
      r.free_state[(2 * s + 1) * r.width + j] = z1[s];
    }
  }
  return r;
}

}  // namespace detail

std::size_t filtfilt_pad_samples(const std::vector<SosSection>& sos) {
  std::size_t b2_zero = 0, a2_zero = 0;
  for (const SosSection& q : sos) {
    b2_zero += q.b2 == 0.0 ? 1 : 0;
    a2_zero += q.a2 == 0.0 ? 1 : 0;
  }
  return 3 * (2 * sos.size() + 1 - std::min(b2_zero, a2_zero));
}

void sosfiltfilt(const std::vector<SosSection>& sos, double* x, std::size_t n) {
  if (sos.empty() || sos.size() > kMaxSections) {
    throw std::invalid_argument("sosfiltfilt: expected 1.." + std::to_string(kMaxSections) + " sections, got " +
                                std::to_string(sos.size()));
  }
  const std::size_t pad = filtfilt_pad_samples(sos);
  check_filter_length(n, pad);
  std::vector<double> buf((n + 2 * pad) * kLanes, 0.0);
  for (std::size_t t = 0; t < n; ++t) buf[(pad + t) * kLanes] = x[t];
  filtfilt_lanes(sos, steady_state(sos), segment_response(sos), pad, buf.data(), n);
  for (std::size_t t = 0; t < n; ++t) x[t] = buf[(pad + t) * kLanes];
}

namespace detail {

void require_block(const char* what, const void* data, std::size_t stride, std::size_t n_samples,
                   std::size_t n_channels) {
  if (data == nullptr) throw std::invalid_argument(std::string(what) + ": data pointer is null");
  if (n_channels == 0) throw std::invalid_argument(std::string(what) + ": need at least one channel");
  if (n_samples == 0) throw std::invalid_argument(std::string(what) + ": need at least one sample");
  if (stride < n_channels) {
    throw std::invalid_argument(std::string(what) + ": row stride (" + std::to_string(stride) +
                                ") is smaller than the channel count (" + std::to_string(n_channels) + ")");
  }
}

template <typename In, typename Out>
void highpass_block_impl(const In* in, std::size_t in_stride, const double* gains, std::size_t n_samples,
                         std::size_t n_channels, const HighpassOptions& options, Out* out, const float* shift_taps,
                         std::size_t shift_half_width) {
  require_block("highpass_block", in, in_stride, n_samples, n_channels);
  if (out == nullptr) throw std::invalid_argument("highpass_block: output pointer is null");
  const std::vector<SosSection> sos = butterworth_highpass_sos(options.order, options.cutoff_hz, options.sample_rate_hz);
  const std::size_t pad = filtfilt_pad_samples(sos);
  check_filter_length(n_samples, pad);
  const SteadyState zi = steady_state(sos);
  const SegmentResponse segments = segment_response(sos);
  const std::size_t n_groups = (n_channels + kLanes - 1) / kLanes;
  const std::size_t n = n_samples;
  const bool shift = shift_taps != nullptr;
  if constexpr (!std::is_same_v<Out, float>) {
    if (shift) throw std::invalid_argument("highpass_block: the ADC shift needs float output");
  }
  // A group reads 8 values of rows a stride apart, a cache line per sample, and 4 groups share each
  // line long after it left the cache: the block is first copied group by group, [g][t][kLanes]
  // (in parallel over time), so that each group reads a contiguous run.
  std::unique_ptr<In[]> grouped;
  if (n_groups > 1) {
    grouped.reset(new In[n_groups * n * kLanes]);
    constexpr std::size_t kRowsPerTask = 256;
    parallel_for((n + kRowsPerTask - 1) / kRowsPerTask, [&](std::size_t b_begin, std::size_t b_end) {
      for (std::size_t t = b_begin * kRowsPerTask; t < std::min(n, b_end * kRowsPerTask); ++t) {
        const In* row = in + t * in_stride;
        for (std::size_t g = 0; g < n_groups; ++g) {
          const std::size_t lanes = std::min(kLanes, n_channels - g * kLanes);
          std::memcpy(grouped.get() + (g * n + t) * kLanes, row + g * kLanes, lanes * sizeof(In));
        }
      }
    });
  }
  parallel_for(n_groups, [&](std::size_t g_begin, std::size_t g_end) {
    std::vector<double> buf((n + 2 * pad) * kLanes);
    std::vector<float> narrow(shift ? n * kLanes : 0), taps(shift ? (2 * shift_half_width + 1) * kLanes : 0);
    for (std::size_t g = g_begin; g < g_end; ++g) {
      const std::size_t c0 = g * kLanes;
      const std::size_t lanes = std::min(kLanes, n_channels - c0);
      double gain[kLanes] = {};
      double sum[kLanes] = {};
      for (std::size_t l = 0; l < lanes; ++l) gain[l] = gains != nullptr ? gains[c0 + l] : 1.0;
      double* x = buf.data() + pad * kLanes;
      const In* src = grouped ? grouped.get() + g * n * kLanes : in + c0;
      const std::size_t src_stride = grouped ? kLanes : in_stride;
      // The sum in segments of kHighpassSegment samples, each from 0.0, then the segments' sums in
      // order: the CUDA backend sums the segments side by side (highpass.cu). A whole group (all
      // but maybe the last) with fixed bounds, so that the loop vectorises.
      for (std::size_t t0 = 0; t0 < n; t0 += kHighpassSegment) {
        const std::size_t t1 = std::min(n, t0 + kHighpassSegment);
        double part[kLanes] = {};
        if (lanes == kLanes) {
          for (std::size_t t = t0; t < t1; ++t) {
            const In* row = src + t * src_stride;
            double* dst = x + t * kLanes;
            for (std::size_t l = 0; l < kLanes; ++l) {
              dst[l] = static_cast<double>(row[l]) * gain[l];
              part[l] += dst[l];
            }
          }
        } else {
          for (std::size_t t = t0; t < t1; ++t) {
            const In* row = src + t * src_stride;
            double* dst = x + t * kLanes;
            for (std::size_t l = 0; l < lanes; ++l) {
              dst[l] = static_cast<double>(row[l]) * gain[l];
              part[l] += dst[l];
            }
            for (std::size_t l = lanes; l < kLanes; ++l) dst[l] = 0.0;
          }
        }
        for (std::size_t l = 0; l < kLanes; ++l) sum[l] += part[l];
      }
      double mean[kLanes];
      for (std::size_t l = 0; l < kLanes; ++l) mean[l] = sum[l] / static_cast<double>(n);
      for (std::size_t t = 0; t < n; ++t) {
        for (std::size_t l = 0; l < kLanes; ++l) x[t * kLanes + l] -= mean[l];
      }
      filtfilt_lanes(sos, zi, segments, pad, buf.data(), n);
      if constexpr (std::is_same_v<Out, float>) {
        if (shift) {
          // adc_shift reads the float output: the same rounding first, then its FIR on this group.
          for (std::size_t i = 0; i < n * kLanes; ++i) narrow[i] = static_cast<float>(x[i]);
          for (std::size_t i = 0; i < 2 * shift_half_width + 1; ++i) {
            for (std::size_t l = 0; l < kLanes; ++l) {
              taps[i * kLanes + l] = l < lanes ? shift_taps[i * n_channels + c0 + l] : 0.0f;
            }
          }
          shift_lanes(narrow.data(), n, taps.data(), shift_half_width, out + c0, n_channels, lanes);
          continue;
        }
      }
      for (std::size_t t = 0; t < n; ++t) {
        Out* row = out + t * n_channels + c0;
        if (lanes == kLanes) {
          for (std::size_t l = 0; l < kLanes; ++l) row[l] = static_cast<Out>(x[t * kLanes + l]);
        } else {
          for (std::size_t l = 0; l < lanes; ++l) row[l] = static_cast<Out>(x[t * kLanes + l]);
        }
      }
    }
  });
}

template void highpass_block_impl<std::int16_t, float>(const std::int16_t*, std::size_t, const double*, std::size_t,
                                                       std::size_t, const HighpassOptions&, float*, const float*,
                                                       std::size_t);
template void highpass_block_impl<float, float>(const float*, std::size_t, const double*, std::size_t, std::size_t,
                                                const HighpassOptions&, float*, const float*, std::size_t);
template void highpass_block_impl<std::int16_t, double>(const std::int16_t*, std::size_t, const double*, std::size_t,
                                                        std::size_t, const HighpassOptions&, double*, const float*,
                                                        std::size_t);
template void highpass_block_impl<float, double>(const float*, std::size_t, const double*, std::size_t, std::size_t,
                                                 const HighpassOptions&, double*, const float*, std::size_t);

}  // namespace detail

void highpass_block(const std::int16_t* in, std::size_t in_stride, const double* gains, std::size_t n_samples,
                    std::size_t n_channels, const HighpassOptions& options, float* out) {
  detail::highpass_block_impl(in, in_stride, gains, n_samples, n_channels, options, out, nullptr, 0);
}

void highpass_block(const float* in, std::size_t in_stride, const double* gains, std::size_t n_samples,
                    std::size_t n_channels, const HighpassOptions& options, float* out) {
  detail::highpass_block_impl(in, in_stride, gains, n_samples, n_channels, options, out, nullptr, 0);
}

}  // namespace spikeshard
