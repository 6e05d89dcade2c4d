// SPDX-License-Identifier: GPL-3.0-or-later
// Tests of the IBL destriping kernels: ADC shift, bad-channel interpolation, k-filter (AGC and the
// spatial high-pass), saturation mute, and the chain's thread independence.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numbers>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "check.h"
#include "spikeshard/destripe.h"
#include "spikeshard/threads.h"

using namespace spikeshard;

namespace {

constexpr double kPi = std::numbers::pi;

// A smooth test signal: a few sinusoids well below Nyquist.
double tone(double t) { return std::sin(2 * kPi * 0.013 * t) + 0.5 * std::cos(2 * kPi * 0.071 * t + 0.4); }

// binary16 of a binary32 pattern by the definition, case by case (exponent, then rounding of the
// dropped bits), the reference of the branch-free conversion.
std::uint16_t half_by_cases(std::uint32_t x) {
  const std::uint32_t sign = (x >> 16) & 0x8000u;
  const int exponent = static_cast<int>((x >> 23) & 0xffu);
  std::uint32_t significand = x & 0x7fffffu;
  if (exponent == 0xff) return static_cast<std::uint16_t>(sign | 0x7c00u | (significand != 0 ? 0x200u : 0u));
  const int e = exponent - 127 + 15;
  if (e >= 31) return static_cast<std::uint16_t>(sign | 0x7c00u);
  int drop = 13;
  std::uint32_t base = static_cast<std::uint32_t>(e) << 10;
  if (e <= 0) {
    if (e < -10) return static_cast<std::uint16_t>(sign);
    significand |= 0x800000u;
    drop = 14 - e;
    base = 0;
  }
  std::uint32_t kept = significand >> drop;
  const std::uint32_t rest = significand & ((1u << drop) - 1u);
  const std::uint32_t tie = 1u << (drop - 1);
  if (rest > tie || (rest == tie && (kept & 1u) == 1u)) ++kept;
  return static_cast<std::uint16_t>(sign | (base + kept));
}

// A temporary file with the given bytes, open for reading and writing; removed at the end.
struct TempFile {
  std::string path;
  int fd = -1;
  explicit TempFile(const std::vector<float>& contents) {
    char name[] = "/tmp/spikeshard-ibl-finish-XXXXXX";
    fd = mkstemp(name);
    path = name;
    const auto bytes = static_cast<ssize_t>(contents.size() * sizeof(float));
    if (fd < 0 || (bytes > 0 && write(fd, contents.data(), static_cast<std::size_t>(bytes)) != bytes)) {
      throw std::runtime_error("cannot write " + path);
    }
  }
  ~TempFile() {
    close(fd);
    unlink(path.c_str());
  }
};

}  // namespace

TEST(destripe_adc_sample_shift_np1_np2) {
  const auto np1 = adc_sample_shift(48, 12, 13);
  CHECK(np1[0] == 0.0 && np1[1] == 0.0);
  CHECK_NEAR(np1[2], 1.0 / 13, 1e-15);
  CHECK_NEAR(np1[3], 1.0 / 13, 1e-15);
  CHECK_NEAR(np1[23], 11.0 / 13, 1e-15);
  CHECK(np1[24] == 0.0 && np1[25] == 0.0);
  const auto np2 = adc_sample_shift(40, 16, 16);
  CHECK_NEAR(np2[31], 15.0 / 16, 1e-15);
  CHECK(np2[32] == 0.0);
}

TEST(destripe_adc_shift_delays_by_a_fraction_of_a_sample) {
  const std::size_t n = 2000, nc = 3;
  const double shift[nc] = {0.0, 0.25, 11.0 / 13};
  std::vector<float> x(n * nc);
  for (std::size_t t = 0; t < n; ++t)
    for (std::size_t c = 0; c < nc; ++c) x[t * nc + c] = static_cast<float>(tone(static_cast<double>(t)));
  const std::vector<float> original = x;
  adc_shift(x.data(), n, nc, shift);
  double worst = 0;
  for (std::size_t t = 200; t < n - 200; ++t) {
    CHECK(x[t * nc] == original[t * nc]);  // shift 0: untouched
    for (std::size_t c = 1; c < nc; ++c) {
      worst = std::max(worst, std::fabs(x[t * nc + c] - tone(static_cast<double>(t) - shift[c])));
    }
  }
  CHECK(worst < 2e-3);
}

TEST(destripe_hann_smoothing_equals_direct_convolution) {
  std::mt19937 rng(3);
  std::normal_distribution<float> noise(0.f, 5.f);
  const std::size_t n = 700, window = 101;
  std::vector<float> x(n);
  for (auto& v : x) v = noise(rng);
  const auto fast = hann_smoothed_abs(x.data(), 1, n, window);
  const std::size_t half = window / 2;
  double norm = 0;
  for (std::size_t k = 0; k < window; ++k) norm += 0.5 - 0.5 * std::cos(2 * kPi * k / (window - 1));
  for (std::size_t t = 0; t < n; ++t) {
    double direct = 0;
    for (std::size_t k = 0; k < window; ++k) {
      const std::ptrdiff_t j = static_cast<std::ptrdiff_t>(t + k) - static_cast<std::ptrdiff_t>(half);
      if (j < 0 || j >= static_cast<std::ptrdiff_t>(n)) continue;
      direct += std::fabs(x[j]) * (0.5 - 0.5 * std::cos(2 * kPi * k / (window - 1)));
    }
    CHECK_NEAR(fast[t], direct / norm, 1e-9);
  }
}

TEST(destripe_interpolation_restores_a_bad_channel_on_a_smooth_field) {
  // Two columns, 20 µm rows; a field linear in x and y is reproduced exactly by symmetric weights
  // and closely by the others.
  const std::size_t nc = 40, n = 5;
  std::vector<double> x(nc), y(nc);
  for (std::size_t c = 0; c < nc; ++c) {
    x[c] = (c % 2) * 32.0;
    y[c] = (c / 2) * 20.0;
  }
  std::vector<std::int32_t> labels(nc, 0);
  labels[20] = kChannelDead;
  labels[27] = kChannelNoisy;
  labels[39] = kChannelOutside;
  std::vector<float> data(n * nc);
  auto field = [&](std::size_t t, std::size_t c) { return 3.0 * t + 0.05 * y[c] + 0.01 * x[c]; };
  for (std::size_t t = 0; t < n; ++t)
    for (std::size_t c = 0; c < nc; ++c) data[t * nc + c] = static_cast<float>(field(t, c));
  for (std::size_t t = 0; t < n; ++t) data[t * nc + 20] = data[t * nc + 27] = 1000.f;  // garbage
  const auto w = bad_channel_interpolation(x.data(), y.data(), labels.data(), nc, {});
  double sum = 0;
  for (std::size_t j = 0; j < nc; ++j) sum += w[20 * nc + j];
  CHECK_NEAR(sum, 1.0, 1e-12);
  CHECK(w[20 * nc + 27] == 0.0 && w[20 * nc + 39] == 0.0 && w[5 * nc + 4] == 0.0);
  interpolate_bad_channels(data.data(), n, nc, x.data(), y.data(), labels.data(), {});
  for (std::size_t t = 0; t < n; ++t) {
    CHECK_NEAR(data[t * nc + 20], field(t, 20), 0.15);  // a row (20 µm) changes the field by 1
    CHECK_NEAR(data[t * nc + 27], field(t, 27), 0.15);
    CHECK(data[t * nc + 19] == static_cast<float>(field(t, 19)));
  }
}

TEST(destripe_kfilter_removes_a_common_stripe_per_shank) {
  // Two shanks of 48 channels each with its own stripe (constant across the shank's channels)
  // over independent noise; the outside-brain channel at the top is left alone.
  const std::size_t n = 4000, nc = 96;
  std::vector<std::int32_t> shank(nc), labels(nc, 0);
  for (std::size_t c = 0; c < nc; ++c) shank[c] = c < 48 ? 0 : 1;
  labels[95] = kChannelOutside;
  std::mt19937 rng(7);
  std::normal_distribution<float> noise(0.f, 10.f);
  std::vector<float> clean(n * nc), x(n * nc);
  for (std::size_t t = 0; t < n; ++t) {
    const double s0 = 80 * std::sin(2 * kPi * 0.002 * t), s1 = 60 * std::cos(2 * kPi * 0.005 * t);
    for (std::size_t c = 0; c < nc; ++c) {
      clean[t * nc + c] = noise(rng);
      x[t * nc + c] = clean[t * nc + c] + static_cast<float>(shank[c] == 0 ? s0 : s1);
    }
  }
  const float outside = x[1234 * nc + 95];
  for (std::size_t agc : {std::size_t{0}, std::size_t{301}}) {
    std::vector<float> y = x;
    KFilterOptions k;
    k.agc_window_samples = agc;
    kfilter(y.data(), n, nc, shank.data(), labels.data(), k);
    double stripe_before = 0, stripe_after = 0, noise_err = 0, noise_power = 0;
    for (std::size_t t = 0; t < n; ++t) {
      for (std::size_t s = 0; s < 2; ++s) {
        double mean_x = 0, mean_y = 0;
        for (std::size_t c = s * 48; c < s * 48 + 47; ++c) {
          mean_x += x[t * nc + c] / 47.0;
          mean_y += y[t * nc + c] / 47.0;
        }
        stripe_before += mean_x * mean_x;
        stripe_after += mean_y * mean_y;
      }
      for (std::size_t c = 0; c < 95; ++c) {
        noise_err += std::pow(y[t * nc + c] - clean[t * nc + c], 2);
        noise_power += std::pow(clean[t * nc + c], 2);
      }
    }
    CHECK(stripe_after < 0.01 * stripe_before);  // the stripe is gone...
    CHECK(noise_err < 0.2 * noise_power);  // ...and the channels keep their own signals (IBL: ≈ 11 % here)
    CHECK(y[1234 * nc + 95] == outside);
  }
}

TEST(destripe_saturation_mute_zeroes_planted_saturation) {
  const std::size_t n = 200, nc = 10, stride = 11;
  std::vector<std::int16_t> raw(n * stride, 3);
  for (std::size_t t = 100; t < 105; ++t)
    for (std::size_t c = 0; c < 3; ++c) raw[t * stride + c] = 511;  // 3 of 10 channels at the rail
  for (std::size_t c = 0; c < 2; ++c) raw[150 * stride + c] = 511;  // 2 of 10: not more than 20 %
  std::size_t count = 0;
  SaturationOptions options;
  options.step_uv = 1e9;
  auto mute = saturation_mute(raw.data(), stride, nullptr, n, nc, options, &count);
  CHECK(count == 5);
  for (std::size_t t = 100; t < 105; ++t) CHECK(mute[t] == 0.0f);
  CHECK(mute[98] > 0.0f && mute[98] < 1.0f);
  CHECK(mute[96] == 1.0f && mute[108] == 1.0f && mute[150] == 1.0f);
  // The step rule: a jump of ≥ 300 µV on 3 channels at sample 40.
  std::vector<std::int16_t> steps(n * stride, 0);
  for (std::size_t c = 0; c < 3; ++c) steps[40 * stride + c] = 100;
  std::vector<double> gains(nc, 3.0);
  mute = saturation_mute(steps.data(), stride, gains.data(), n, nc, {}, &count);
  CHECK(count == 2);  // into and out of the step
  CHECK(mute[40] == 0.0f && mute[41] == 0.0f && mute[30] == 1.0f);
}

TEST(destripe_block_is_independent_of_the_thread_count) {
  const std::size_t n = 3000, nc = 24;
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> counts(-200, 200);
  std::vector<std::int16_t> raw(n * nc);
  for (auto& v : raw) v = static_cast<std::int16_t>(counts(rng));
  std::vector<double> x(nc), y(nc), gains(nc, 2.34);
  std::vector<std::int32_t> labels(nc, 0), shank(nc, 0);
  for (std::size_t c = 0; c < nc; ++c) {
    x[c] = (c % 2) * 32.0;
    y[c] = (c / 2) * 20.0;
  }
  labels[5] = kChannelDead;
  const auto shift = adc_sample_shift(nc, 12, 13);
  DestripeInput in;
  in.raw = raw.data();
  in.raw_stride = nc;
  in.n_samples = n;
  in.n_channels = nc;
  in.gains = gains.data();
  in.shift_samples = shift.data();
  in.x_um = x.data();
  in.y_um = y.data();
  in.shank = shank.data();
  in.labels = labels.data();
  in.k.agc_window_samples = 301;
  std::vector<float> one(n * nc), four(n * nc);
  set_default_threads(1);
  destripe_block(in, one.data());
  set_default_threads(4);
  destripe_block(in, four.data());
  set_default_threads(0);
  CHECK(std::memcmp(one.data(), four.data(), one.size() * sizeof(float)) == 0);
}

TEST(destripe_kfilter_equals_sosfiltfilt_along_channels) {
  // Without AGC the k-filter at each sample is sosfiltfilt of the mirrored channel line.
  const std::size_t n = 37, nc = 30;  // n not a multiple of the tile width
  std::mt19937 rng(5);
  std::normal_distribution<float> noise(0.f, 10.f);
  std::vector<float> x(n * nc);
  for (auto& v : x) v = noise(rng);
  std::vector<std::int32_t> labels(nc, 0);
  KFilterOptions k;
  k.agc_window_samples = 0;
  k.pad_channels = 8;
  std::vector<float> y = x;
  kfilter(y.data(), n, nc, nullptr, labels.data(), k);
  const auto sos = butterworth_highpass_sos(3, 0.01, 2.0);
  for (std::size_t t = 0; t < n; ++t) {
    std::vector<double> line(nc + 16);
    for (std::size_t c = 0; c < nc; ++c) line[8 + c] = x[t * nc + c];
    for (std::size_t i = 0; i < 8; ++i) {
      line[7 - i] = line[8 + i];
      line[8 + nc + i] = line[8 + nc - 1 - i];
    }
    sosfiltfilt(sos, line.data(), line.size());
    for (std::size_t c = 0; c < nc; ++c) CHECK_NEAR(y[t * nc + c], line[8 + c], 1e-4);
  }
}

TEST(destripe_fractional_delay_taps) {
  const auto zero = fractional_delay_taps(0.0, 4, 8.0);
  for (std::size_t i = 0; i < zero.size(); ++i) CHECK_NEAR(zero[i], i == 4 ? 1.0 : 0.0, 1e-15);
  const auto half = fractional_delay_taps(0.5, 16, 8.0);
  double sum = 0;
  for (double v : half) sum += v;
  CHECK_NEAR(sum, 1.0, 1e-12);
  CHECK_NEAR(half[16], half[17], 1e-15);  // a half-sample delay is symmetric about t − ½
}

TEST(destripe_kfilter_agc_equals_the_reference_chain) {
  // With AGC: divide by hann_smoothed_abs + 1e-8·mean|x|, mirror, sosfiltfilt, multiply back.
  const std::size_t n = 9000, nc = 20, window = 301;  // several 4096-sample stretches
  std::mt19937 rng(13);
  std::normal_distribution<float> noise(0.f, 10.f);
  std::vector<float> x(n * nc);
  for (std::size_t t = 0; t < n; ++t)
    for (std::size_t c = 0; c < nc; ++c)
      x[t * nc + c] = noise(rng) * (1.0f + 0.1f * c) + static_cast<float>(30 * std::sin(0.01 * t));
  for (std::size_t t = 0; t < n; ++t) x[t * nc + 7] = 0.0f;  // an all-zero channel keeps gain 1
  std::vector<std::int32_t> labels(nc, 0);
  KFilterOptions k;
  k.agc_window_samples = window;
  k.pad_channels = 6;
  std::vector<float> y = x;
  kfilter(y.data(), n, nc, nullptr, labels.data(), k);
  double mean_abs = 0;
  for (float v : x) mean_abs += std::fabs(v);
  mean_abs /= static_cast<double>(n * nc);
  std::vector<std::vector<double>> gain(nc);
  for (std::size_t c = 0; c < nc; ++c) gain[c] = hann_smoothed_abs(x.data() + c, nc, n, window);
  const auto sos = butterworth_highpass_sos(3, 0.01, 2.0);
  double worst = 0;
  for (std::size_t t = 0; t < n; t += 7) {
    std::vector<double> line(nc + 12);
    auto g = [&](std::size_t c) { return c == 7 ? 1.0 : gain[c][t] + 1e-8 * mean_abs; };
    for (std::size_t c = 0; c < nc; ++c) line[6 + c] = x[t * nc + c] / g(c);
    for (std::size_t i = 0; i < 6; ++i) {
      line[5 - i] = line[6 + i];
      line[6 + nc + i] = line[6 + nc - 1 - i];
    }
    sosfiltfilt(sos, line.data(), line.size());
    for (std::size_t c = 0; c < nc; ++c) worst = std::max(worst, std::fabs(y[t * nc + c] - line[6 + c] * g(c)));
  }
  CHECK(worst < 1e-3);
}

TEST(ibl_cut_waveforms_scales_and_pads) {
  // block[t, c] = 10·t + c over 6 samples × 3 channels; two windows of 2 samples, 2 rows each.
  const std::size_t n = 6, nc = 3;
  std::vector<float> block(n * nc);
  for (std::size_t t = 0; t < n; ++t)
    for (std::size_t c = 0; c < nc; ++c) block[t * nc + c] = static_cast<float>(10 * t + c);
  const std::int32_t starts[2] = {1, 4};
  const std::int32_t channels[4] = {2, 0, 1, 3};  // 3 = nc pads
  std::vector<float> out(2 * 2 * 2);
  cut_waveforms(block.data(), n, nc, starts, channels, 2, 2, 2, 1e-6, out.data());
  CHECK(out[0] == static_cast<float>(12.0 * 1e-6) && out[1] == static_cast<float>(22.0 * 1e-6));
  CHECK(out[2] == static_cast<float>(10.0 * 1e-6) && out[3] == static_cast<float>(20.0 * 1e-6));
  CHECK(out[4] == static_cast<float>(41.0 * 1e-6) && out[5] == static_cast<float>(51.0 * 1e-6));
  CHECK(std::isnan(out[6]) && std::isnan(out[7]));
  const std::int32_t late[1] = {5};
  bool threw = false;
  try {
    cut_waveforms(block.data(), n, nc, late, channels, 1, 2, 2, 1.0, out.data());
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  CHECK(threw);
}

TEST(ibl_waveform_medians_skip_nan_and_follow_numpy) {
  // 4 waveforms of 5 values; columns: odd count after NaNs, even count, all NaN, ±0, mixed signs.
  const float nan = std::nanf("");
  const float traces[4 * 5] = {
      3, 1, nan, -0.0f, -1,  //
      1, 2, nan, 0.0f, 1,    //
      nan, 5, nan, -0.0f, 0.5f,  //
      2, 7, nan, 0.0f, -0.0f,    //
  };
  float out[5];
  waveform_medians(traces, 4, 5, out);
  CHECK(out[0] == 2.0f);  // {3, 1, 2}
  CHECK(out[1] == 3.5f);  // {1, 2, 5, 7}
  CHECK(std::isnan(out[2]));
  CHECK(out[3] == 0.0f && !std::signbit(out[3]));  // sorted −0 −0 0 0: (−0 + 0) / 2 = 0
  CHECK(out[4] == 0.25f);                          // sorted −1 −0 0.5 1: (−0 + 0.5) / 2
  const float minus[3] = {-0.0f, 0.0f, -0.0f};
  waveform_medians(minus, 3, 1, out);
  CHECK(out[0] == 0.0f && std::signbit(out[0]));  // sorted −0 −0 0
  // The float mean of the middle pair is taken in double: 1 and 1 + 2^−23 average to a tie, rounded to even.
  const float pair[2] = {1.0f, std::nextafter(1.0f, 2.0f)};
  waveform_medians(pair, 2, 1, out);
  CHECK(out[0] == 1.0f);
  // Many values and blocks: the same as sorting each column, for any thread count.
  const std::size_t m = 37, nv = 150;
  std::vector<float> many(m * nv);
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> pick(-4, 4);
  for (float& v : many) v = pick(rng) == 4 ? nan : static_cast<float>(pick(rng)) * 0.5f;
  std::vector<float> got(nv), again(nv);
  waveform_medians(many.data(), m, nv, got.data());
  set_default_threads(3);
  waveform_medians(many.data(), m, nv, again.data());
  set_default_threads(0);
  for (std::size_t p = 0; p < nv; ++p) {
    std::vector<double> col;
    for (std::size_t w = 0; w < m; ++w)
      if (!std::isnan(many[w * nv + p])) col.push_back(many[w * nv + p]);
    std::sort(col.begin(), col.end());
    const std::size_t h = col.size() / 2;
    const double want = col.size() % 2 == 1 ? col[h] : (col[h - 1] + col[h]) / 2;
    CHECK(got[p] == static_cast<float>(want));
    CHECK(std::memcmp(&got[p], &again[p], sizeof(float)) == 0);
  }
}

TEST(ibl_float16_rounds_to_nearest_even) {
  const float in[] = {1.0f,
                      -2.0f,
                      65504.0f,
                      65520.0f,
                      65519.99f,
                      std::ldexp(1.0f, -24),
                      std::ldexp(1.0f, -25),
                      std::ldexp(3.0f, -26),
                      1.0f + std::ldexp(1.0f, -11),
                      1.0f + std::ldexp(3.0f, -11),
                      std::nanf(""),
                      -std::numeric_limits<float>::infinity(),
                      -0.0f};
  const std::uint16_t want[] = {0x3c00, 0xc000, 0x7bff, 0x7c00, 0x7bff, 0x0001, 0x0000, 0x0001, 0x3c00, 0x3c02,
                                0x7e00, 0xfc00, 0x8000};
  constexpr std::size_t n = sizeof in / sizeof in[0];
  std::uint16_t out[n];
  float16_from_float32(in, n, out);
  for (std::size_t i = 0; i < n; ++i) CHECK(out[i] == want[i]);
  // Every exponent, sign and rounding case (low 13 bits around the tie, the subnormal halves'
  // wider ties, NaN payloads), and a stride over all patterns: the same as the case-by-case rule.
  std::vector<std::uint32_t> patterns;
  for (std::uint32_t high = 0; high < (1u << 10); ++high) {  // sign, exponent, 1 significand bit
    for (std::uint32_t low : {0x0u, 0x1u, 0xfffu, 0x1000u, 0x1001u, 0x1fffu, 0x2000u, 0x3000u, 0x7ffffu, 0x80000u,
                              0x100000u, 0x1fffffu, 0x200000u, 0x3fffffu}) {
      patterns.push_back((high << 22) | low);
    }
  }
  for (std::uint64_t x = 0; x < (1ull << 32); x += 65521) patterns.push_back(static_cast<std::uint32_t>(x));
  std::vector<float> values(patterns.size());
  std::memcpy(values.data(), patterns.data(), patterns.size() * sizeof(float));
  std::vector<std::uint16_t> halves(values.size());
  float16_from_float32(values.data(), values.size(), halves.data());
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < patterns.size(); ++i) wrong += halves[i] != half_by_cases(patterns[i]) ? 1 : 0;
  CHECK(wrong == 0);
}

TEST(ibl_finish_writes_medians_and_float16_per_cluster_for_any_thread_count) {
  // Scratch rows in time order; 3 clusters of at most M = 3 waveforms of 5 values, their rows
  // scattered: cluster 0 rows {4, 1}, cluster 1 none, cluster 2 rows {0, 2, 3}.
  const std::size_t nv = 5, M = 3, U = 3;
  const float nan = std::nanf("");
  const std::vector<float> scratch = {
      1, 2, 3, 4, nan,                   // row 0
      -1, 0.5f, 8, 65520, nan,           // row 1
      3, 2, 1, 0, nan,                   // row 2
      2, -2, 1e-6f, -0.0f, nan,          // row 3
      -3, 0.25f, 6, 1, nan,              // row 4
  };
  const std::uint32_t rows[] = {4, 1, 0, 2, 3};
  const std::uint64_t first[U + 1] = {0, 2, 2, 5};
  const std::uint64_t header = 7;  // bytes before the traces, left alone
  for (int threads : {1, 2, 3}) {
    TempFile in(scratch);
    TempFile out(std::vector<float>(2, 42.0f));
    std::vector<float> templates(U * nv, 42.0f);
    finish_ibl_waveforms(in.fd, out.fd, header, rows, first, U, M, nv, templates.data(), threads);
    // Cluster 0: {-3, -1} {0.25, 0.5} {6, 8} {1, 65520} {NaN, NaN}; cluster 1: nothing; cluster 2: {1, 3, 2} ...
    const float want[U * 5] = {-2, 0.375f, 7, 32760.5f, nan, nan, nan, nan, nan, nan, 2, 2, 1, 0, nan};
    for (std::size_t i = 0; i < U * nv; ++i) {
      CHECK((std::isnan(want[i]) && std::isnan(templates[i])) || templates[i] == want[i]);
    }
    std::vector<std::uint16_t> traces(U * M * nv);
    CHECK(pread(out.fd, traces.data(), traces.size() * 2, static_cast<off_t>(header)) ==
          static_cast<ssize_t>(traces.size() * 2));
    std::vector<std::uint16_t> want_traces(U * M * nv, 0x7e00);
    const std::size_t order[] = {4, 1, 0, 2, 3};  // the rows of (u, k) in cluster order
    const std::size_t slot[] = {0, 1, 6, 7, 8};   // (u, k) → u·M + k
    for (std::size_t r = 0; r < 5; ++r) {
      for (std::size_t p = 0; p < nv; ++p) {
        std::uint32_t bits;
        std::memcpy(&bits, &scratch[order[r] * nv + p], sizeof bits);
        want_traces[slot[r] * nv + p] = half_by_cases(bits);
      }
    }
    CHECK(traces == want_traces);
    unsigned char kept[7];
    CHECK(pread(out.fd, kept, 7, 0) == 7);
    float first_float;
    std::memcpy(&first_float, kept, sizeof first_float);
    CHECK(first_float == 42.0f);
  }
  // A scratch file shorter than a row it should hold.
  TempFile short_scratch(std::vector<float>(7, 1.0f));
  TempFile out(std::vector<float>{});
  std::vector<float> templates(U * nv);
  bool threw = false;
  try {
    finish_ibl_waveforms(short_scratch.fd, out.fd, 0, rows, first, U, M, nv, templates.data(), 2);
  } catch (const std::runtime_error& e) {
    threw = std::string(e.what()).find("ended") != std::string::npos;
  }
  CHECK(threw);
  // More rows than M in a cluster.
  const std::uint64_t too_many[U + 1] = {0, 4, 4, 5};
  threw = false;
  try {
    finish_ibl_waveforms(short_scratch.fd, out.fd, 0, rows, too_many, U, M, nv, templates.data(), 1);
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  CHECK(threw);
}

TEST(destripe_block_equals_its_steps_one_after_the_other) {
  // The fused passes (high-pass with ADC shift per channel group; interpolation with the common
  // median reference per sample) against highpass_block, adc_shift, interpolate_bad_channels and
  // common_median_reference in turn: bitwise, with a stride, 27 channels (a partial group of 8),
  // two bad channels, with and without the k-filter and saturation in between.
  const std::size_t n = 1500, nc = 27, stride = 29;
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> counts(-300, 300);
  std::vector<std::int16_t> raw(n * stride);
  for (auto& v : raw) v = static_cast<std::int16_t>(counts(rng));
  for (std::size_t c = 0; c < nc; ++c) raw[700 * stride + c] = 500;  // a saturated sample
  std::vector<double> x(nc), y(nc), gains(nc);
  std::vector<std::int32_t> labels(nc, 0);
  for (std::size_t c = 0; c < nc; ++c) {
    x[c] = (c % 2) * 32.0;
    y[c] = (c / 2) * 20.0;
    gains[c] = 2.0 + 0.01 * static_cast<double>(c);
  }
  labels[5] = kChannelDead;
  labels[12] = kChannelNoisy;
  std::vector<std::uint8_t> good(nc, 1);
  good[20] = 0;
  const auto shift = adc_sample_shift(nc, 12, 13);
  for (const bool kfilter_on : {false, true}) {
    for (const bool mute_on : {false, true}) {
      DestripeInput in;
      in.raw = raw.data();
      in.raw_stride = stride;
      in.n_samples = n;
      in.n_channels = nc;
      in.gains = gains.data();
      in.shift_samples = shift.data();
      in.x_um = x.data();
      in.y_um = y.data();
      in.labels = labels.data();
      in.kfilter = kfilter_on;
      in.k.agc_window_samples = 301;
      in.mute = mute_on;
      in.saturation.max_count = 510;
      in.saturation.step_uv = 1e9;  // random counts step by hundreds of µV every sample
      in.reference = good.data();
      std::vector<float> fused(n * nc), steps(n * nc);
      std::size_t saturated = 0;
      destripe_block(in, fused.data(), &saturated);
      CHECK(saturated == (mute_on ? 1u : 0u));
      highpass_block(raw.data(), stride, gains.data(), n, nc, in.highpass, steps.data());
      adc_shift(steps.data(), n, nc, shift.data());
      interpolate_bad_channels(steps.data(), n, nc, x.data(), y.data(), labels.data(), in.interpolation);
      if (kfilter_on) kfilter(steps.data(), n, nc, nullptr, labels.data(), in.k);
      if (mute_on) {
        const auto mute = saturation_mute(raw.data(), stride, gains.data(), n, nc, in.saturation, nullptr);
        for (std::size_t t = 0; t < n; ++t)
          for (std::size_t c = 0; c < nc; ++c)
            if (mute[t] != 1.0f) steps[t * nc + c] *= mute[t];
      }
      common_median_reference(steps.data(), n, nc, good.data());
      CHECK(std::memcmp(fused.data(), steps.data(), fused.size() * sizeof(float)) == 0);
    }
  }
}
