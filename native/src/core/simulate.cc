// SPDX-License-Identifier: GPL-3.0-or-later
#include "simulate.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "simulate_filter.h"
#include "simulate_random.h"
#include "spikeshard/threads.h"

namespace spikeshard::sim {

namespace {

// Channels are synthesised in fixed blocks, so each thread writes whole 2·kBlock-byte runs of
// every output row rather than scattered int16s.
constexpr std::size_t kBlock = 16;

bool finite_all(const double* p, std::size_t n) {
  return std::all_of(p, p + n, [](double v) { return std::isfinite(v); });
}

// Lower Cholesky factor of the stationary covariance of (anti-alias low-pass, pink bank) driven
// by the same unit white noise: Cov(u_j, u_k) = (1 − a_j)(1 − a_k) / (1 − a_j·a_k).
std::array<double, kNoiseState * kNoiseState> noise_state_factor(const NoiseModel& m) {
  std::array<double, kNoiseState> a{};
  a[0] = m.antialias_pole;
  for (std::size_t k = 0; k < kPinkPoles; ++k) a[k + 1] = m.pink_poles[k];
  std::array<double, kNoiseState * kNoiseState> cov{}, l{};
  for (std::size_t j = 0; j < kNoiseState; ++j)
    for (std::size_t k = 0; k < kNoiseState; ++k) cov[j * kNoiseState + k] = (1 - a[j]) * (1 - a[k]) / (1 - a[j] * a[k]);
  for (std::size_t j = 0; j < kNoiseState; ++j) {
    for (std::size_t k = 0; k <= j; ++k) {
      double s = cov[j * kNoiseState + k];
      for (std::size_t m2 = 0; m2 < k; ++m2) s -= l[j * kNoiseState + m2] * l[k * kNoiseState + m2];
      if (j == k) {
        // Nearly equal poles make the matrix close to singular; a tiny floor keeps it usable.
        l[j * kNoiseState + j] = std::sqrt(std::max(s, 1e-300));
      } else {
        l[j * kNoiseState + k] = s / l[k * kNoiseState + k];
      }
    }
  }
  return l;
}

void draw_noise_state(const std::array<double, kNoiseState * kNoiseState>& l, Rng& rng, double* st) {
  std::array<double, kNoiseState> z{};
  for (double& v : z) v = rng.normal();
  for (std::size_t j = 0; j < kNoiseState; ++j) {
    double s = 0.0;
    for (std::size_t k = 0; k <= j; ++k) s += l[j * kNoiseState + k] * z[k];
    st[j] = s;
  }
}

// One sample of the coloured noise process; st = (anti-alias state, pink bank states).
struct NoiseStep {
  const NoiseModel& m;
  double white_gain, pink_gain;
  double operator()(double w, double* st) const {
    st[0] = m.antialias_pole * st[0] + (1.0 - m.antialias_pole) * w;
    double pink = 0.0;
    for (std::size_t k = 0; k < kPinkPoles; ++k) {
      st[k + 1] = m.pink_poles[k] * st[k + 1] + (1.0 - m.pink_poles[k]) * w;
      pink += m.pink_weights[k] * st[k + 1];
    }
    return white_gain * st[0] + pink_gain * pink;
  }
};

}  // namespace

void ChunkSetup::validate() const {
  if (n_channels == 0 || n_channels > 4096) {
    throw std::invalid_argument("simulate: n_channels must be 1..4096, got " + std::to_string(n_channels));
  }
  if (!(sample_rate_hz > 0.0)) throw std::invalid_argument("simulate: sample rate must be > 0");
  if (channels == nullptr || !finite_all(channels, n_channels * kChannelFields)) {
    throw std::invalid_argument("simulate: channel parameters missing or not finite");
  }
  for (std::size_t c = 0; c < n_channels; ++c) {
    const double delay = channels[c * kChannelFields + kChannelDelay];
    if (!(delay >= 0.0 && delay < 1.0)) {
      throw std::invalid_argument("simulate: channel " + std::to_string(c) + " has ADC delay " + std::to_string(delay) +
                                  ", expected [0, 1) samples");
    }
  }
  for (std::size_t k = 0; k < kPinkPoles; ++k) {
    if (!(noise.pink_poles[k] >= 0.0 && noise.pink_poles[k] < 1.0) || !std::isfinite(noise.pink_weights[k])) {
      throw std::invalid_argument("simulate: pink poles must lie in [0, 1) and weights be finite");
    }
  }
  if (!(noise.antialias_pole >= 0.0 && noise.antialias_pole < 1.0) || !std::isfinite(noise.common_white_uv) ||
      !std::isfinite(noise.common_pink_uv)) {
    throw std::invalid_argument("simulate: anti-alias pole must lie in [0, 1) and common-mode gains be finite");
  }
  if (n_lfp > kMaxLfpSources) {
    throw std::invalid_argument("simulate: at most 16 LFP sources, got " + std::to_string(n_lfp));
  }
  if (n_lfp > 0 && (lfp_sources == nullptr || lfp_profiles == nullptr || !finite_all(lfp_sources, n_lfp * kLfpFields))) {
    throw std::invalid_argument("simulate: LFP sources/profiles missing or not finite");
  }
  if (!(uv_per_count > 0.0) || adc_min > adc_max || adc_min < -32768 || adc_max > 32767) {
    throw std::invalid_argument("simulate: need µV/count > 0 and -32768 ≤ adc_min ≤ adc_max ≤ 32767");
  }
  if (sync_bit < 0 || sync_bit > 15) throw std::invalid_argument("simulate: sync bit must be 0..15");
  grid.validate();
  if (n_tables > 0 && tables == nullptr) throw std::invalid_argument("simulate: waveform tables missing");
}

std::size_t state_length(std::size_t n_channels, std::size_t n_lfp) {
  return (n_channels + 1) * kNoiseState + n_lfp * kLfpState;
}

void init_state(const ChunkSetup& setup, double* state) {
  setup.validate();
  const auto factor = noise_state_factor(setup.noise);
  for (std::size_t c = 0; c <= setup.n_channels; ++c) {  // c == n_channels: the common mode
    Rng rng(stream_seed(setup.seed, 0, c, Stream::initial));
    draw_noise_state(factor, rng, state + c * kNoiseState);
  }
  double* lfp_state = state + (setup.n_channels + 1) * kNoiseState;
  for (std::size_t j = 0; j < setup.n_lfp; ++j) {
    const double* src = setup.lfp_sources + j * kLfpFields;
    const Resonator res = make_resonator(src[0], src[1], src[2], setup.sample_rate_hz);
    Rng rng(stream_seed(setup.seed, 0, setup.n_channels + 1 + j, Stream::initial));
    // (y[-1], y[-2]) from the stationary joint distribution of consecutive AR(2) values.
    const double var = res.var_unit * res.gain * res.gain;
    const double rho1 = res.cov1_unit / res.var_unit;
    const double y1 = std::sqrt(var) * rng.normal();
    const double y2 = rho1 * y1 + std::sqrt(var * std::max(0.0, 1.0 - rho1 * rho1)) * rng.normal();
    lfp_state[j * kLfpState] = y1;
    lfp_state[j * kLfpState + 1] = y2;
  }
}

void synthesize_chunk(const ChunkSetup& setup, std::uint64_t chunk_index, std::uint64_t start_sample,
                      std::size_t n_samples, const double* spikes, std::size_t n_spikes, double* state,
                      std::int16_t* out) {
  setup.validate();
  validate_spikes(spikes, n_spikes, setup.n_tables);
  if (n_samples == 0) return;
  const std::size_t n_ch = setup.n_channels;
  const std::size_t n_saved = n_ch + 1;
  const std::size_t n_shared = 1 + setup.n_lfp;
  const std::vector<double> sorted = sort_spikes_by_y(spikes, n_spikes);

  // Shared sources first: the common mode (row 0) and the LFP sources (rows 1..n_lfp). Each row
  // has one sample more than the chunk, the next chunk's first (drawn from its stream on a copy
  // of the state), so that channels sampled late can interpolate up to the chunk's end.
  const std::size_t n_row = n_samples + 1;
  std::vector<float> shared(n_shared * n_row);
  parallel_for(
      n_shared,
      [&](std::size_t begin, std::size_t end) {
        for (std::size_t s = begin; s < end; ++s) {
          float* row = shared.data() + s * n_row;
          if (s == 0) {
            double* st = state + n_ch * kNoiseState;
            const NoiseStep step{setup.noise, setup.noise.common_white_uv, setup.noise.common_pink_uv};
            Rng rng(stream_seed(setup.seed, chunk_index, 0, Stream::common));
            for (std::size_t i = 0; i < n_samples; ++i) row[i] = static_cast<float>(step(rng.normal(), st));
            double peek[kNoiseState];
            std::copy(st, st + kNoiseState, peek);
            Rng next(stream_seed(setup.seed, chunk_index + 1, 0, Stream::common));
            row[n_samples] = static_cast<float>(step(next.normal(), peek));
          } else {
            const std::size_t j = s - 1;
            const double* src = setup.lfp_sources + j * kLfpFields;
            const Resonator res = make_resonator(src[0], src[1], src[2], setup.sample_rate_hz);
            double* st = state + (n_ch + 1) * kNoiseState + j * kLfpState;
            double y1 = st[0], y2 = st[1];
            Rng rng(stream_seed(setup.seed, chunk_index, j, Stream::lfp));
            for (std::size_t i = 0; i < n_samples; ++i) {
              const double y = res.a1 * y1 + res.a2 * y2 + res.gain * rng.normal();
              y2 = y1;
              y1 = y;
              row[i] = static_cast<float>(y);
            }
            st[0] = y1;
            st[1] = y2;
            Rng next(stream_seed(setup.seed, chunk_index + 1, j, Stream::lfp));
            row[n_samples] = static_cast<float>(res.a1 * y1 + res.a2 * y2 + res.gain * next.normal());
          }
        }
      },
      setup.threads);

  const std::size_t n_blocks = (n_ch + kBlock - 1) / kBlock;
  const double inv_uv = 1.0 / setup.uv_per_count;
  const NoiseModel& nm = setup.noise;
  parallel_for(
      n_blocks,
      [&](std::size_t block_begin, std::size_t block_end) {
        // Time-major block: x[i * kBlock + lane]. The filters run over the lanes in lock-step
        // (which the compiler vectorises) and each output row gets one contiguous run.
        std::vector<float> x(n_samples * kBlock);
        std::vector<float> row(n_samples);
        for (std::size_t b = block_begin; b < block_end; ++b) {
          const std::size_t c0 = b * kBlock;
          const std::size_t lanes = std::min(n_ch, c0 + kBlock) - c0;
          std::fill(x.begin(), x.end(), 0.0f);
          for (std::size_t l = 0; l < lanes; ++l) {
            if (setup.channels[(c0 + l) * kChannelFields + kChannelDead] != 0.0) continue;
            Rng rng(stream_seed(setup.seed, chunk_index, c0 + l, Stream::noise));
            for (std::size_t i = 0; i < n_samples; ++i) x[i * kBlock + l] = static_cast<float>(rng.normal());
          }
          // Per-lane constants; lanes past the last channel or dead have zero gains.
          alignas(64) float white[kBlock] = {}, pink_gain[kBlock] = {}, common[kBlock] = {};
          alignas(64) float now[kBlock] = {}, later[kBlock] = {};  // interpolation weights of the ADC delay
          alignas(64) float st[kNoiseState][kBlock] = {};
          alignas(64) float prof[kMaxLfpSources][kBlock] = {};
          float a[kNoiseState], one_minus_a[kNoiseState], weight[kPinkPoles];
          a[0] = static_cast<float>(nm.antialias_pole);
          for (std::size_t k = 0; k < kPinkPoles; ++k) {
            a[k + 1] = static_cast<float>(nm.pink_poles[k]);
            weight[k] = static_cast<float>(nm.pink_weights[k]);
          }
          for (std::size_t k = 0; k < kNoiseState; ++k) one_minus_a[k] = 1.0f - a[k];
          for (std::size_t l = 0; l < lanes; ++l) {
            const double* ch = setup.channels + (c0 + l) * kChannelFields;
            if (ch[kChannelDead] != 0.0) continue;
            white[l] = static_cast<float>(ch[kChannelWhiteUv]);
            pink_gain[l] = static_cast<float>(ch[kChannelPinkUv]);
            common[l] = static_cast<float>(ch[kChannelCommonGain]);
            later[l] = static_cast<float>(ch[kChannelDelay]);
            now[l] = 1.0f - later[l];
            for (std::size_t k = 0; k < kNoiseState; ++k) st[k][l] = static_cast<float>(state[(c0 + l) * kNoiseState + k]);
            for (std::size_t j = 0; j < setup.n_lfp; ++j) prof[j][l] = setup.lfp_profiles[j * n_ch + c0 + l];
          }
          for (std::size_t i = 0; i < n_samples; ++i) {
            float* xi = x.data() + i * kBlock;
            alignas(64) float pink[kBlock] = {};
            for (std::size_t l = 0; l < kBlock; ++l) st[0][l] = a[0] * st[0][l] + one_minus_a[0] * xi[l];
            for (std::size_t k = 1; k < kNoiseState; ++k) {
              for (std::size_t l = 0; l < kBlock; ++l) {
                st[k][l] = a[k] * st[k][l] + one_minus_a[k] * xi[l];
                pink[l] += weight[k - 1] * st[k][l];
              }
            }
            // Shared signals at time i + delay, by linear interpolation.
            const float cm = shared[i], cm_next = shared[i + 1];
            for (std::size_t l = 0; l < kBlock; ++l) {
              xi[l] = white[l] * st[0][l] + pink_gain[l] * pink[l] + common[l] * (now[l] * cm + later[l] * cm_next);
            }
            for (std::size_t j = 0; j < setup.n_lfp; ++j) {
              const float v = shared[(1 + j) * n_row + i], v_next = shared[(1 + j) * n_row + i + 1];
              for (std::size_t l = 0; l < kBlock; ++l) xi[l] += prof[j][l] * (now[l] * v + later[l] * v_next);
            }
          }
          for (std::size_t l = 0; l < lanes; ++l) {
            const double* ch = setup.channels + (c0 + l) * kChannelFields;
            if (ch[kChannelDead] != 0.0) continue;
            for (std::size_t k = 0; k < kNoiseState; ++k) state[(c0 + l) * kNoiseState + k] = st[k][l];
            const auto [first, last] = spikes_near(sorted, ch[kChannelY], setup.grid.r_max_um());
            if (first == last) continue;
            std::fill(row.begin(), row.end(), 0.0f);
            render_site(setup.grid, setup.tables, setup.n_tables, sorted.data() + first * kSpikeFields, last - first,
                        ch[kChannelX], ch[kChannelY], row.data(), n_samples, ch[kChannelDelay]);
            for (std::size_t i = 0; i < n_samples; ++i) x[i * kBlock + l] += row[i];
          }
          // Quantise (round half up, clip to the ADC range) and interleave. The offset makes the
          // truncating conversion a floor without needing SSE4.1's roundps.
          alignas(64) double dc[kBlock] = {};
          for (std::size_t l = 0; l < lanes; ++l) dc[l] = setup.channels[(c0 + l) * kChannelFields + kChannelDcUv];
          const double lo = setup.adc_min + 32768.0, hi = setup.adc_max + 32768.0;
          alignas(64) std::int32_t q[kBlock];
          for (std::size_t i = 0; i < n_samples; ++i) {
            const float* xi = x.data() + i * kBlock;
            for (std::size_t l = 0; l < kBlock; ++l) {
              const double v = std::clamp((static_cast<double>(xi[l]) + dc[l]) * inv_uv + 32768.5, lo, hi);
              q[l] = static_cast<std::int32_t>(v) - 32768;
            }
            std::int16_t* row = out + i * n_saved + c0;
            for (std::size_t l = 0; l < lanes; ++l) row[l] = static_cast<std::int16_t>(q[l]);
          }
        }
      },
      setup.threads);

  // Sync: a 1 Hz square wave (high during the second half of each second of the stream).
  const std::int16_t high = static_cast<std::int16_t>(1u << setup.sync_bit);
  for (std::size_t i = 0; i < n_samples; ++i) {
    const double half_periods = std::floor(2.0 * static_cast<double>(start_sample + i) / setup.sample_rate_hz);
    out[i * n_saved + n_ch] = std::fmod(half_periods, 2.0) == 1.0 ? high : static_cast<std::int16_t>(0);
  }
}

}  // namespace spikeshard::sim
