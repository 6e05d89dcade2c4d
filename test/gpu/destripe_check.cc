// SPDX-License-Identifier: GPL-3.0-or-later
// Standalone CPU-vs-CUDA parity check and timing of IBL's waveform path (cuda::destripe_block,
// cuda::destripe_cut_waveforms), without Node.js (make -C native -f cuda.mk check-binary →
// build/cuda/spikeshard-destripe-check; run by test/gpu/device-run.sh). Prints one JSON object and
// exits 1 on any difference, 2 without a device. Tolerance: none, every float must be bitwise
// equal to the CPU's (destripe_block with kfilter = false and mute = false, then cut_waveforms).
//
// Cases:
//   random      uniform int16 noise, 384 channels of a 385-column file, random gains, 5 bad
//               channels (dead and noisy) and 2 outside the brain, NP1.0 ADC shift, reference
//               over all channels;
//   realistic   a Neuropixels 1.0 chunk (30 000 + 2 × 1024 samples, 385 columns): slow drift,
//               line noise, a common-mode stripe, spikes on neighbouring channels, a dead, a noisy
//               and a constant channel, NP1.0 ADC shift, all-channel reference;
//   small-*     7 channels × 300 samples (a partial warp, filter edges that meet): no shift and no
//               reference; order 7 (4 sections, the kernel's runtime-count path) with the shift;
//               an even reference count;
// each compared as a whole block (cuda::destripe_block) and, for the two large ones, through the
// cut (random windows, padded rows) against CPU cut_waveforms on the CPU block.
// Times: mean ms per chunk of the CPU chain and of the device entry (host clock).
//
//   spikeshard-destripe-check [--repeats 10]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cuda_backend.h"
#include "spikeshard/destripe.h"
#include "spikeshard/preprocess.h"

using namespace spikeshard;

namespace {

struct Case {
  std::string name;
  std::size_t n = 0, nc = 0, stride = 0;
  std::vector<std::int16_t> raw;
  std::vector<double> gains, shift, x, y;
  std::vector<std::int32_t> labels;
  std::vector<std::uint8_t> reference;
  bool use_shift = true, use_reference = true, use_gains = true;
  int order = 3;

  DestripeInput input() const {
    DestripeInput in;
    in.raw = raw.data();
    in.raw_stride = stride;
    in.n_samples = n;
    in.n_channels = nc;
    in.gains = use_gains ? gains.data() : nullptr;
    in.shift_samples = use_shift ? shift.data() : nullptr;
    in.x_um = x.data();
    in.y_um = y.data();
    in.labels = labels.data();
    in.highpass.order = order;
    in.highpass.cutoff_hz = 300.0;
    in.highpass.sample_rate_hz = 30000.0;
    in.kfilter = false;
    in.mute = false;
    in.reference = use_reference ? reference.data() : nullptr;
    return in;
  }
};

void np1_geometry(Case& k) {
  const double xs[4] = {43, 11, 59, 27};
  for (std::size_t c = 0; c < k.nc; ++c) {
    k.x.push_back(xs[c % 4]);
    k.y.push_back(20.0 * static_cast<double>(c / 2));
  }
  k.shift = adc_sample_shift(k.nc, 12, 13);
  k.reference.assign(k.nc, 1);
  k.labels.assign(k.nc, kChannelGood);
}

std::int16_t clamp16(double v) { return static_cast<std::int16_t>(std::clamp(std::lround(v), -32768L, 32767L)); }

Case random_case(std::mt19937& rng) {
  Case k;
  k.name = "random";
  k.nc = 384;
  k.stride = 385;
  k.n = 30000 + 2 * 1024;
  np1_geometry(k);
  std::uniform_int_distribution<int> counts(-600, 600);
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  k.raw.resize(k.n * k.stride);
  for (auto& v : k.raw) v = static_cast<std::int16_t>(counts(rng));
  for (std::size_t c = 0; c < k.nc; ++c) k.gains.push_back(2.34375 * (0.8 + 0.4 * u01(rng)));
  for (std::size_t c : {7u, 100u, 101u, 250u}) k.labels[c] = kChannelDead;
  k.labels[333] = kChannelNoisy;
  k.labels[382] = kChannelOutside;
  k.labels[383] = kChannelOutside;
  return k;
}

Case realistic_case(std::mt19937& rng) {
  Case k;
  k.name = "realistic";
  k.nc = 384;
  k.stride = 385;
  k.n = 30000 + 2 * 1024;
  np1_geometry(k);
  std::normal_distribution<double> noise(0.0, 6.0);
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  k.gains.assign(k.nc, 1.2e6 / 512.0 / 500.0);  // NP1.0 AP band: 2.34375 µV per count
  std::vector<double> offset(k.nc);
  for (auto& o : offset) o = 40.0 * (u01(rng) - 0.5);
  // Spikes: (sample, peak channel, amplitude in counts).
  struct Spike {
    std::size_t t, c;
    double a;
  };
  std::vector<Spike> spikes;
  for (int s = 0; s < 400; ++s) {
    spikes.push_back({static_cast<std::size_t>(u01(rng) * static_cast<double>(k.n - 80)) + 20,
                      static_cast<std::size_t>(u01(rng) * static_cast<double>(k.nc)), 20 + 60 * u01(rng)});
  }
  std::vector<double> block(k.n * k.nc);
  for (std::size_t t = 0; t < k.n; ++t) {
    const double ts = static_cast<double>(t) / 30000.0;
    const double common = 15 * std::sin(2 * M_PI * 50 * ts) + 25 * std::sin(2 * M_PI * 3 * ts) +
                          (t % 9000 < 40 ? 80.0 : 0.0);  // a stripe every 0.3 s
    for (std::size_t c = 0; c < k.nc; ++c) block[t * k.nc + c] = offset[c] + common + noise(rng);
  }
  for (const Spike& s : spikes) {
    for (std::size_t c = s.c >= 6 ? s.c - 6 : 0; c < std::min(k.nc, s.c + 7); ++c) {
      const double d = std::fabs(static_cast<double>(c) - static_cast<double>(s.c));
      for (int i = -10; i < 30; ++i) {
        const double shape = -std::exp(-0.5 * (i / 3.0) * (i / 3.0)) + 0.3 * std::exp(-0.5 * ((i - 12) / 6.0) * ((i - 12) / 6.0));
        block[(s.t + i) * k.nc + c] += s.a * std::exp(-d / 3.0) * shape;
      }
    }
  }
  k.raw.assign(k.n * k.stride, 0);
  for (std::size_t t = 0; t < k.n; ++t) {
    for (std::size_t c = 0; c < k.nc; ++c) k.raw[t * k.stride + c] = clamp16(block[t * k.nc + c]);
    k.raw[t * k.stride + k.nc] = static_cast<std::int16_t>((t / 1000) % 2 == 0 ? 64 : 0);  // sync channel
  }
  k.labels[45] = kChannelDead;
  for (std::size_t t = 0; t < k.n; ++t) k.raw[t * k.stride + 45] = 0;
  k.labels[191] = kChannelNoisy;
  for (std::size_t t = 0; t < k.n; ++t) k.raw[t * k.stride + 191] = clamp16(400 * (u01(rng) - 0.5));
  for (std::size_t t = 0; t < k.n; ++t) k.raw[t * k.stride + 300] = 17;  // constant, labelled good
  k.labels[380] = kChannelOutside;
  return k;
}

Case small_case(std::mt19937& rng, const std::string& name) {
  Case k;
  k.name = name;
  k.nc = 7;
  k.stride = 9;
  k.n = 300;
  np1_geometry(k);
  std::uniform_int_distribution<int> counts(-2000, 2000);
  k.raw.resize(k.n * k.stride);
  for (auto& v : k.raw) v = static_cast<std::int16_t>(counts(rng));
  k.gains.assign(k.nc, 0.5);
  k.labels[2] = kChannelNoisy;
  return k;
}

struct Diff {
  std::size_t mismatches = 0;
  double max_abs = 0;
};

Diff compare(const std::vector<float>& a, const std::vector<float>& b) {
  Diff d;
  if (a.size() != b.size()) return {std::max(a.size(), b.size()) + 1, INFINITY};
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::memcmp(&a[i], &b[i], sizeof(float)) == 0) continue;
    ++d.mismatches;
    const double e = std::fabs(static_cast<double>(a[i]) - static_cast<double>(b[i]));
    d.max_abs = std::max(d.max_abs, std::isnan(e) ? INFINITY : e);
  }
  return d;
}

// Random windows inside the block (sorted starts, as the extraction's time order), each on a
// random run of n_rows channels, the last rows padded with nc when the run leaves the probe.
struct Windows {
  std::vector<std::int32_t> starts, channels;
  std::size_t n_rows = 0, length = 0;
};

Windows random_windows(std::mt19937& rng, std::size_t n, std::size_t nc, std::size_t count) {
  Windows w;
  w.n_rows = std::min<std::size_t>(40, nc);
  w.length = 128;
  std::uniform_int_distribution<std::size_t> start(0, n - w.length), channel(0, nc - 1);
  for (std::size_t i = 0; i < count; ++i) w.starts.push_back(static_cast<std::int32_t>(start(rng)));
  std::sort(w.starts.begin(), w.starts.end());
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t first = channel(rng);
    for (std::size_t r = 0; r < w.n_rows; ++r) {
      w.channels.push_back(static_cast<std::int32_t>(std::min(nc, first + r)));
    }
  }
  return w;
}

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  int repeats = 10;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--repeats") repeats = std::max(1, std::atoi(argv[i + 1]));
  }
  const cuda::DeviceInfo info = cuda::describe_device();
  if (!info.available) {
    std::printf("{\"skipped\": \"no CUDA device (%s)\"}\n", info.reason.c_str());
    return 2;
  }
  std::mt19937 rng(20261125);
  std::vector<Case> cases;
  cases.push_back(random_case(rng));
  cases.push_back(realistic_case(rng));
  cases.push_back(small_case(rng, "small-no-shift-no-reference"));
  cases.back().use_shift = false;
  cases.back().use_reference = false;
  cases.push_back(small_case(rng, "small-order7-shift"));
  cases.back().order = 7;
  cases.push_back(small_case(rng, "small-even-reference"));
  cases.back().reference[5] = 0;  // 6 reference channels
  cases.back().use_gains = false;

  bool ok = true;
  std::string json = "{\"device\": \"" + info.name + "\", \"tolerance\": \"bitwise\", \"cases\": [";
  for (std::size_t ci = 0; ci < cases.size(); ++ci) {
    const Case& k = cases[ci];
    const DestripeInput in = k.input();
    std::vector<float> cpu(k.n * k.nc), gpu(k.n * k.nc, -1.0f);
    destripe_block(in, cpu.data());
    cuda::destripe_block(in, gpu.data());
    const Diff block = compare(cpu, gpu);
    ok = ok && block.mismatches == 0;
    char line[512];
    std::snprintf(line, sizeof line, "%s{\"case\": \"%s\", \"block_mismatches\": %zu, \"block_max_abs\": %.3g",
                  ci > 0 ? ", " : "", k.name.c_str(), block.mismatches, block.max_abs);
    json += line;
    if (k.nc == 384) {
      const Windows w = random_windows(rng, k.n, k.nc, 300);
      const std::size_t n_waves = w.starts.size();
      std::vector<float> cut_cpu(n_waves * w.n_rows * w.length), cut_gpu(cut_cpu.size(), -1.0f);
      cut_waveforms(cpu.data(), k.n, k.nc, w.starts.data(), w.channels.data(), n_waves, w.n_rows, w.length, 1e-6,
                    cut_cpu.data());
      const cuda::WaveformCut cut{w.starts.data(), w.channels.data(), n_waves, w.n_rows, w.length, 1e-6};
      cuda::destripe_cut_waveforms(in, cut, cut_gpu.data());
      const Diff d = compare(cut_cpu, cut_gpu);
      ok = ok && d.mismatches == 0;
      // Timing: the CPU chain (destripe_block + cut_waveforms) against the device entry.
      auto t0 = std::chrono::steady_clock::now();
      for (int r = 0; r < repeats; ++r) {
        destripe_block(in, cpu.data());
        cut_waveforms(cpu.data(), k.n, k.nc, w.starts.data(), w.channels.data(), n_waves, w.n_rows, w.length, 1e-6,
                      cut_cpu.data());
      }
      const double cpu_ms = ms_since(t0) / repeats;
      t0 = std::chrono::steady_clock::now();
      for (int r = 0; r < repeats; ++r) cuda::destripe_cut_waveforms(in, cut, cut_gpu.data());
      const double gpu_ms = ms_since(t0) / repeats;
      cuda::DestripeTiming timing;
      cuda::destripe_cut_waveforms(in, cut, cut_gpu.data(), &timing);
      std::snprintf(line, sizeof line,
                    ", \"cut_waves\": %zu, \"cut_mismatches\": %zu, \"cut_max_abs\": %.3g, \"cpu_ms\": %.2f, "
                    "\"gpu_ms\": %.2f, \"gpu_stages_ms\": {",
                    n_waves, d.mismatches, d.max_abs, cpu_ms, gpu_ms);
      json += line;
      for (int s = 0; s < cuda::DestripeTiming::kStages; ++s) {
        std::snprintf(line, sizeof line, "%s\"%s\": %.3f", s > 0 ? ", " : "", timing.stages[s].name,
                      timing.stages[s].ms);
        json += line;
      }
      json += "}";
      // Whole-block device time (every row shifted and referenced), for the kernel's own rate.
      t0 = std::chrono::steady_clock::now();
      for (int r = 0; r < repeats; ++r) cuda::destripe_block(in, gpu.data());
      std::snprintf(line, sizeof line, ", \"gpu_block_ms\": %.2f", ms_since(t0) / repeats);
      json += line;
    }
    json += "}";
  }
  // A bad shape throws as on the CPU (window beyond the block).
  {
    const Case& k = cases[2];
    const std::int32_t start = static_cast<std::int32_t>(k.n), channel = 0;
    const cuda::WaveformCut cut{&start, &channel, 1, 1, 4, 1e-6};
    float out[4];
    bool threw = false;
    try {
      cuda::destripe_cut_waveforms(k.input(), cut, out);
    } catch (const std::invalid_argument&) {
      threw = true;
    }
    ok = ok && threw;
    json += std::string("], \"window_outside_throws\": ") + (threw ? "true" : "false");
  }
  json += std::string(", \"pass\": ") + (ok ? "true" : "false") + "}";
  std::printf("%s\n", json.c_str());
  return ok ? 0 : 1;
}
