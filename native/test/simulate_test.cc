// SPDX-License-Identifier: GPL-3.0-or-later
#include <cmath>
#include <cstdint>
#include <numbers>
#include <vector>

#include "check.h"
#include "simulate.h"
#include "simulate_filter.h"
#include "simulate_random.h"
#include "simulate_waveform.h"

using namespace spikeshard::sim;

namespace {

// |H|² of a digital (bilinear, pre-warped) Butterworth high-pass of order n, in closed form.
double butter_hp_power(double f, double fc, double fs, int n) {
  const double ratio = std::tan(std::numbers::pi * fc / fs) / std::tan(std::numbers::pi * f / fs);
  return 1.0 / (1.0 + std::pow(ratio, 2 * n));
}

std::vector<double> one_component_shape(double amp, double mu_ms, double sigma_ms, double group) {
  std::vector<double> s(kShapeFields, 0.0);
  s[kSomaScaleUm] = 10.0;
  s[kSomaPower] = 2.0;
  s[kSomaWidenMs] = 0.1;
  s[kSomaSpeedUmPerMs] = 400.0;
  s[kDendScaleUm] = 40.0;
  s[kDendPower] = 1.0;
  s[kDendWidenMs] = 0.2;
  s[kDendSpeedUmPerMs] = 200.0;
  s[kComponentCount] = 1;
  s[kFirstComponent] = amp;
  s[kFirstComponent + 1] = mu_ms;
  s[kFirstComponent + 2] = sigma_ms;
  s[kFirstComponent + 3] = group;
  return s;
}

NoiseModel plain_noise() {
  NoiseModel m{};
  for (std::size_t k = 0; k < kPinkPoles; ++k) {
    m.pink_poles[k] = std::exp(-2.0 * std::numbers::pi * 0.5 * std::pow(4.0, static_cast<double>(k)) / 30000.0);
    m.pink_weights[k] = 1.0 / std::sqrt(0.5 * std::pow(4.0, static_cast<double>(k)));
  }
  m.antialias_pole = 0.0;
  m.common_white_uv = 0.0;
  m.common_pink_uv = 0.0;
  return m;
}

}  // namespace

TEST(sim_rng_normal_moments_and_independent_streams) {
  Rng rng(stream_seed(1, 2, 3, Stream::noise));
  double sum = 0, sum2 = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    double v = rng.normal();
    sum += v;
    sum2 += v * v;
  }
  CHECK_NEAR(sum / n, 0.0, 0.01);
  CHECK_NEAR(sum2 / n, 1.0, 0.015);
  CHECK(stream_seed(1, 2, 3, Stream::noise) != stream_seed(1, 2, 4, Stream::noise));
  CHECK(stream_seed(1, 2, 3, Stream::noise) != stream_seed(1, 3, 3, Stream::noise));
  CHECK(stream_seed(1, 2, 3, Stream::noise) != stream_seed(1, 2, 3, Stream::common));
  CHECK(stream_seed(1, 2, 3, Stream::noise) != stream_seed(2, 2, 3, Stream::noise));
}

TEST(sim_butterworth_matches_closed_form_gain) {
  const double fs = 30000, fc = 300;
  auto sos = butterworth_highpass(3, fc, fs);
  CHECK(sos.size() == 2);
  for (double f : {30.0, 150.0, 300.0, 600.0, 3000.0, 14000.0}) {
    CHECK_NEAR(cascade_gain(sos, f, fs), std::sqrt(butter_hp_power(f, fc, fs, 3)), 1e-9);
  }
  CHECK_NEAR(cascade_gain(sos, fc, fs), 1.0 / std::sqrt(2.0), 1e-9);
  CHECK_NEAR(cascade_gain(sos, 0.0, fs), 0.0, 1e-12);
  bool threw = false;
  try {
    butterworth_highpass(3, 20000, fs);
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  CHECK(threw);
}

TEST(sim_filtfilt_is_zero_phase) {
  auto sos = butterworth_highpass(3, 300, 30000);
  const std::size_t n = 4001, mid = 2000;
  std::vector<double> x(n, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    double d = (static_cast<double>(i) - mid) / 5.0;
    x[i] = std::exp(-0.5 * d * d);
  }
  filtfilt(sos, x.data(), n);
  double worst = 0;
  for (std::size_t k = 1; k < 1500; ++k) worst = std::max(worst, std::fabs(x[mid - k] - x[mid + k]));
  CHECK(worst < 1e-9);
  CHECK(x[mid] > 0.5);  // a narrow pulse mostly passes a 300 Hz high-pass
}

TEST(sim_spike_band_rms_of_white_noise_matches_filter_power) {
  const double fs = 30000, sigma = 8.0, uvpc = 0.5;
  const std::size_t n = 120000, n_saved = 3;
  Rng rng(5);
  std::vector<std::int16_t> data(n * n_saved);
  for (std::size_t i = 0; i < n; ++i) {
    data[i * n_saved] = static_cast<std::int16_t>(std::lround(sigma * rng.normal() / uvpc));
    data[i * n_saved + 1] = 7;  // flat
    data[i * n_saved + 2] = 1234;
  }
  std::vector<float> rms(2);
  spike_band_rms(data.data(), n, n_saved, 2, fs, uvpc, 300, rms.data(), 2);
  // Expected: σ² (plus the rounding's Δ²/12) times the mean of |H|⁴ over frequency (filtfilt squares |H|²).
  double mean_h4 = 0;
  const int grid = 20000;
  for (int k = 1; k <= grid; ++k) {
    double f = (k - 0.5) * (fs / 2) / grid;
    double p = butter_hp_power(f, 300, fs, 3);
    mean_h4 += p * p / grid;
  }
  const double expected = std::sqrt((sigma * sigma + uvpc * uvpc / 12.0) * mean_h4);
  CHECK_NEAR(rms[0], expected, 0.02 * expected);
  CHECK_NEAR(rms[1], 0.0, 1e-6);
}

TEST(sim_resonator_reaches_requested_rms) {
  const double fs = 30000;
  Resonator r = make_resonator(8.0, 3.0, 50.0, fs);
  Rng rng(11);
  double y1 = std::sqrt(r.var_unit) * r.gain * rng.normal(), y2 = y1 * r.cov1_unit / r.var_unit;
  double sum2 = 0;
  const std::size_t n = 3'000'000;
  for (std::size_t i = 0; i < n; ++i) {
    double y = r.a1 * y1 + r.a2 * y2 + r.gain * rng.normal();
    y2 = y1;
    y1 = y;
    sum2 += y * y;
  }
  // 100 s of a 3 Hz-wide process: about 600 independent stretches, so ~5 % sampling error.
  CHECK_NEAR(std::sqrt(sum2 / n), 50.0, 7.5);
}

TEST(sim_table_values_follow_the_component_formula) {
  TableGrid g;  // 30 kHz, pre 30, post 81, upsample 4, dr 2, 81 radii
  auto soma = one_component_shape(-1.0, 0.0, 0.1, 0);
  std::vector<float> t(g.floats_per_table());
  build_waveform_tables(g, soma.data(), 1, t.data(), 1);
  // Value of term `term`, radius row ir, at τ = j − pre + p/upsample samples.
  const auto at = [&](std::size_t term, std::size_t ir, std::size_t j, std::size_t p) {
    return t[(term * g.n_radii + ir) * g.floats_per_row() + p * g.n_j() + j];
  };
  CHECK_NEAR(at(0, 0, g.pre_samples, 0), -1.0, 1e-6);
  // At r = 40 µm: amplitude (1 + 16)^-1, width √(0.1² + 0.04²), delay 0.1 ms = 3 samples.
  const std::size_t ir = 20;
  const double s = std::sqrt(0.01 + 0.04 * 0.04);
  const double expect_peak = -(1.0 / 17.0) * (0.1 / s);
  CHECK_NEAR(at(0, ir, g.pre_samples + 3, 0), expect_peak, 1e-6);
  // 1.5 samples (0.05 ms) after the delayed trough: j + 1, phase 2 of 4.
  CHECK_NEAR(at(0, ir, g.pre_samples + 4, 2), expect_peak * std::exp(-0.5 * 0.05 * 0.05 / (s * s)), 1e-6);
  // The dendritic table is empty for a purely somatic shape, and the last radius is tapered to 0.
  for (std::size_t i = 0; i < g.floats_per_row(); ++i) {
    CHECK(t[g.n_radii * g.floats_per_row() + i] == 0.0f);
    CHECK(t[(g.n_radii - 1) * g.floats_per_row() + i] == 0.0f);
  }
}

TEST(sim_render_places_spikes_at_sub_sample_times) {
  TableGrid g;
  auto soma = one_component_shape(-1.0, 0.0, 0.1, 0);
  std::vector<float> t(g.floats_per_table());
  build_waveform_tables(g, soma.data(), 1, t.data(), 1);
  // A spike 20 µm from the site (on the grid), at time 100.25 samples, gain 50.
  std::vector<double> spike = {100.25, 0, 50.0, 0.0, 0.0, 0.0, 20.0, 1e9};
  std::vector<float> buf(300, 0.0f);
  render_site(g, t.data(), 1, spike.data(), 1, 0.0, 0.0, buf.data(), buf.size());
  // Closed form at r = 20: amplitude 1/5, width √(0.01 + 0.0004), delay 0.05 ms.
  const double s = std::sqrt(0.01 + 0.02 * 0.02);
  double worst = 0;
  for (std::size_t i = 80; i < 120; ++i) {
    double tau_ms = (static_cast<double>(i) - 100.25) / 30.0 - 0.05;
    double expect = 50.0 * -(0.2) * (0.1 / s) * std::exp(-0.5 * tau_ms * tau_ms / (s * s));
    worst = std::max(worst, std::fabs(buf[i] - expect));
  }
  CHECK(worst < 1e-3 * 10.0);  // 10 µV peak; bilinear interpolation error well under 0.1 %
  // Spikes far away or outside the buffer add nothing.
  std::vector<double> far = {100.0, 0, 50.0, 0.0, 0.0, 500.0, 20.0, 1e9,  // too far
                             -500.0, 0, 50.0, 0.0, 0.0, 0.0, 20.0, 1e9,  // before the buffer
                             100.0, 0, 50.0, 0.0, 0.0, 0.0, 20.0, 19.9};  // beyond its own radius
  std::vector<float> quiet(300, 0.0f);
  render_site(g, t.data(), 1, far.data(), 3, 0.0, 0.0, quiet.data(), quiet.size());
  for (float v : quiet) CHECK(v == 0.0f);
}

TEST(sim_render_is_exact_at_every_phase_and_at_buffer_edges) {
  TableGrid g;
  auto soma = one_component_shape(-1.0, 0.0, 0.1, 0);
  std::vector<float> t(g.floats_per_table());
  build_waveform_tables(g, soma.data(), 1, t.data(), 1);
  const double s = std::sqrt(0.01 + 0.02 * 0.02);
  double worst = 0;
  // Offsets that hit every phase and the wrap to the next sample, and spikes cut by both buffer ends.
  for (double t0 : {50.0, 50.1, 50.37, 50.74, 50.99, 10.6, 3.3, 295.2, 320.5}) {
    std::vector<double> spike = {t0, 0, 50.0, 0.0, 0.0, 0.0, 20.0, 1e9};
    std::vector<float> buf(300, 0.0f);
    render_site(g, t.data(), 1, spike.data(), 1, 0.0, 0.0, buf.data(), buf.size());
    for (std::size_t i = 0; i < buf.size(); ++i) {
      const double tau = static_cast<double>(i) - t0;
      double expect = 0;
      if (tau >= -25 && tau <= 60) {  // inside the untapered part of the window
        const double tau_ms = tau / 30.0 - 0.05;
        expect = 50.0 * -(0.2) * (0.1 / s) * std::exp(-0.5 * tau_ms * tau_ms / (s * s));
      } else if (tau < -30 || tau > 81) {
        expect = 0;
      } else {
        continue;
      }
      worst = std::max(worst, std::fabs(buf[i] - expect));
    }
  }
  CHECK(worst < 0.01);
}

TEST(sim_spikes_near_selects_by_depth) {
  std::vector<double> spikes;
  for (double y : {300.0, 10.0, 150.0, 149.0, 0.0, 500.0}) {
    std::vector<double> s = {1.0, 0, 1.0, 0.0, 0.0, y, 10.0, 1e9};
    spikes.insert(spikes.end(), s.begin(), s.end());
  }
  auto sorted = sort_spikes_by_y(spikes.data(), 6);
  CHECK(sorted[kSpikeY] == 0.0);
  CHECK(sorted[5 * kSpikeFields + kSpikeY] == 500.0);
  auto [first, last] = spikes_near(sorted, 100.0, 50.0);  // y in [50, 150]
  CHECK(first == 2);
  CHECK(last == 4);
}

TEST(sim_render_dendritic_term_is_asymmetric_along_y) {
  TableGrid g;
  auto dend = one_component_shape(0.5, 0.2, 0.3, 1);
  std::vector<float> t(g.floats_per_table());
  build_waveform_tables(g, dend.data(), 1, t.data(), 1);
  std::vector<double> spike = {100.0, 0, 10.0, 0.8, 0.0, 0.0, 10.0, 1e9};
  std::vector<float> above(300, 0.0f), below(300, 0.0f);
  render_site(g, t.data(), 1, spike.data(), 1, 0.0, 30.0, above.data(), 300);
  render_site(g, t.data(), 1, spike.data(), 1, 0.0, -30.0, below.data(), 300);
  float max_above = 0, max_below = 0;
  for (std::size_t i = 0; i < 300; ++i) {
    max_above = std::max(max_above, above[i]);
    max_below = std::max(max_below, below[i]);
  }
  // (1 + α cos θ) with cos θ = ±30/√1000.
  const double c = 30.0 / std::sqrt(1000.0);
  CHECK_NEAR(max_above / max_below, (1 + 0.8 * c) / (1 - 0.8 * c), 1e-4);
}

namespace {

struct TinySetup {
  std::vector<double> channels;
  std::vector<double> lfp = {7.0, 2.0, 40.0};
  std::vector<float> profiles;
  std::vector<float> tables;
  ChunkSetup setup;
  explicit TinySetup(std::size_t n_ch) : channels(n_ch * kChannelFields, 0.0), profiles(n_ch, 1.0f) {
    for (std::size_t c = 0; c < n_ch; ++c) {
      double* ch = channels.data() + c * kChannelFields;
      ch[kChannelX] = (c % 2) * 32.0;
      ch[kChannelY] = (c / 2) * 20.0;
      ch[kChannelWhiteUv] = 8.0;
      ch[kChannelPinkUv] = 1.0;
      ch[kChannelCommonGain] = 1.0;
      ch[kChannelDcUv] = 10.0 * static_cast<double>(c);
    }
    auto shape = one_component_shape(-1.0, 0.0, 0.1, 0);
    tables.resize(setup.grid.floats_per_table());
    build_waveform_tables(setup.grid, shape.data(), 1, tables.data(), 1);
    setup.seed = 42;
    setup.n_channels = n_ch;
    setup.channels = channels.data();
    setup.noise = plain_noise();
    setup.noise.antialias_pole = 0.1;
    setup.noise.common_white_uv = 2.0;
    setup.noise.common_pink_uv = 0.5;
    setup.n_lfp = 1;
    setup.lfp_sources = lfp.data();
    setup.lfp_profiles = profiles.data();
    setup.uv_per_count = 2.34375;
    setup.tables = tables.data();
    setup.n_tables = 1;
  }
  std::vector<std::int16_t> run(int threads, std::size_t n_chunks, std::size_t n_samples,
                                const std::vector<double>& spikes = {}) {
    setup.threads = threads;
    std::vector<double> state(state_length(setup.n_channels, setup.n_lfp));
    init_state(setup, state.data());
    const std::size_t n_saved = setup.n_channels + 1;
    std::vector<std::int16_t> all(n_chunks * n_samples * n_saved);
    for (std::size_t k = 0; k < n_chunks; ++k) {
      synthesize_chunk(setup, k, k * n_samples, n_samples, spikes.data(), spikes.size() / kSpikeFields, state.data(),
                       all.data() + k * n_samples * n_saved);
    }
    return all;
  }
};

double channel_rms(const std::vector<std::int16_t>& d, std::size_t n_saved, std::size_t c) {
  const std::size_t n = d.size() / n_saved;
  double mean = 0, sum2 = 0;
  for (std::size_t i = 0; i < n; ++i) mean += d[i * n_saved + c];
  mean /= static_cast<double>(n);
  for (std::size_t i = 0; i < n; ++i) sum2 += (d[i * n_saved + c] - mean) * (d[i * n_saved + c] - mean);
  return std::sqrt(sum2 / static_cast<double>(n));
}

}  // namespace

TEST(sim_chunks_identical_for_any_thread_count_and_seeded) {
  TinySetup a(37);  // not a multiple of the channel block
  std::vector<double> spikes = {500.3, 0, 80.0, 0.0, 16.0, 100.0, 20.0, 1e9};
  auto one = a.run(1, 3, 5000, spikes);
  auto two = a.run(2, 3, 5000, spikes);
  auto three = a.run(3, 3, 5000, spikes);
  CHECK(one == two);
  CHECK(one == three);
  a.setup.seed = 43;
  auto other = a.run(2, 3, 5000, spikes);
  CHECK(other != one);
}

TEST(sim_chunk_dead_noisy_sync_and_dc) {
  TinySetup a(8);
  a.channels[3 * kChannelFields + kChannelDead] = 1.0;
  a.channels[5 * kChannelFields + kChannelWhiteUv] = 32.0;  // 4× the others
  const std::size_t n = 30000, n_saved = 9;
  auto d = a.run(2, 2, n);
  // Dead: exactly its DC offset, 30 µV → 13 counts.
  bool flat = true;
  for (std::size_t i = 0; i < 2 * n; ++i) flat = flat && d[i * n_saved + 3] == 13;
  CHECK(flat);
  std::vector<float> rms(8);
  spike_band_rms(d.data(), 2 * n, n_saved, 8, 30000, 2.34375, 300, rms.data(), 1);
  CHECK(rms[5] > 3.0 * rms[4]);
  CHECK(rms[3] == 0.0f);
  // DC: channel 7 has 70 µV ≈ 29.9 counts on average (noise and LFP average out to a few counts).
  double mean7 = 0;
  for (std::size_t i = 0; i < 2 * n; ++i) mean7 += d[i * n_saved + 7];
  CHECK_NEAR(mean7 / (2.0 * n), 70.0 / 2.34375, 12.0);
  // Sync on bit 6: low for the first half second, high for the second, low again at 1 s.
  CHECK(d[0 * n_saved + 8] == 0);
  CHECK(d[14999 * n_saved + 8] == 0);
  CHECK(d[15000 * n_saved + 8] == 64);
  CHECK(d[29999 * n_saved + 8] == 64);
  CHECK(d[30000 * n_saved + 8] == 0);
}

TEST(sim_chunk_clips_to_adc_range_and_adds_spikes) {
  TinySetup a(4);
  a.setup.adc_min = -512;
  a.setup.adc_max = 511;
  // A huge spike right at channel 0 (at (0, 0)), trough ≈ -gain·(1+4)^-1 µV.
  std::vector<double> spikes = {1000.0, 0, 20000.0, 0.0, 0.0, 0.0, 20.0, 1e9};
  auto d = a.run(1, 1, 3000, spikes);
  int lo = 0;
  for (std::size_t i = 990; i < 1010; ++i) lo = std::min<int>(lo, d[i * 5 + 0]);
  CHECK(lo == -512);
  // The same spike, smaller: the trough is close to the expected amplitude over the noise.
  spikes[kSpikeGain] = 1000.0;  // trough -1000·0.2·(0.1/√0.0104) ≈ -196 µV at t ≈ 1001.5
  auto e = a.run(1, 1, 3000, spikes);
  auto base = a.run(1, 1, 3000);
  double diff_min = 0;
  for (std::size_t i = 990; i < 1010; ++i) diff_min = std::min<double>(diff_min, (e[i * 5] - base[i * 5]) * 2.34375);
  CHECK_NEAR(diff_min, -1000.0 * 0.2 * 0.1 / std::sqrt(0.0104), 2.5);
}

TEST(sim_white_noise_level_is_as_set) {
  TinySetup a(2);
  a.setup.noise = plain_noise();  // no anti-alias pole, no common mode
  a.setup.n_lfp = 0;
  for (std::size_t c = 0; c < 2; ++c) {
    a.channels[c * kChannelFields + kChannelPinkUv] = 0.0;
    a.channels[c * kChannelFields + kChannelWhiteUv] = 10.0 + 10.0 * static_cast<double>(c);
  }
  auto d = a.run(2, 2, 50000);
  // Quantisation adds Δ²/12.
  CHECK_NEAR(channel_rms(d, 3, 0), std::sqrt(100.0 + 2.34375 * 2.34375 / 12.0) / 2.34375, 0.05);
  CHECK_NEAR(channel_rms(d, 3, 1), std::sqrt(400.0 + 2.34375 * 2.34375 / 12.0) / 2.34375, 0.1);
}

TEST(sim_adc_delay_shifts_shared_signals_and_spikes_across_chunk_boundaries) {
  // Channel 0 sampled on time, channel 1 half a sample late: with only the common mode, channel 1
  // must be the average of channel 0's sample and the next one, including across chunks.
  TinySetup a(2);
  a.setup.n_lfp = 0;
  a.setup.uv_per_count = 0.01;
  a.setup.adc_min = -32768;
  a.setup.adc_max = 32767;
  a.setup.noise.common_white_uv = 50.0;
  a.setup.noise.common_pink_uv = 0.0;
  for (std::size_t c = 0; c < 2; ++c) {
    a.channels[c * kChannelFields + kChannelWhiteUv] = 0.0;
    a.channels[c * kChannelFields + kChannelPinkUv] = 0.0;
    a.channels[c * kChannelFields + kChannelCommonGain] = 1.0;
    a.channels[c * kChannelFields + kChannelDcUv] = 0.0;
  }
  a.channels[1 * kChannelFields + kChannelDelay] = 0.5;
  const std::size_t n = 1000;
  auto d = a.run(1, 2, n);
  double worst = 0;
  for (std::size_t i = 0; i + 1 < 2 * n; ++i) {
    worst = std::max(worst, std::fabs(d[i * 3 + 1] - 0.5 * (d[i * 3] + d[(i + 1) * 3])));
  }
  CHECK(worst <= 1.0);  // counts of 0.01 µV: rounding only
  // Spikes: a site sampled `delay` late sees the spike `delay` earlier.
  TableGrid g;
  auto soma = one_component_shape(-1.0, 0.0, 0.1, 0);
  std::vector<float> t(g.floats_per_table());
  build_waveform_tables(g, soma.data(), 1, t.data(), 1);
  std::vector<double> late = {100.0, 0, 50.0, 0.0, 0.0, 0.0, 20.0, 1e9};
  std::vector<double> early = {99.75, 0, 50.0, 0.0, 0.0, 0.0, 20.0, 1e9};
  std::vector<float> x(300, 0.0f), y(300, 0.0f);
  render_site(g, t.data(), 1, late.data(), 1, 0.0, 0.0, x.data(), 300, 0.25);
  render_site(g, t.data(), 1, early.data(), 1, 0.0, 0.0, y.data(), 300);
  CHECK(x == y);
}

TEST(sim_rejects_bad_channel_delay) {
  TinySetup a(2);
  a.channels[kChannelDelay] = 1.0;
  bool threw = false;
  try {
    a.run(1, 1, 100);
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  CHECK(threw);
}
