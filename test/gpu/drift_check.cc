// SPDX-License-Identifier: GPL-3.0-or-later
// Standalone CPU-vs-CUDA parity check and timing of the drift detector, without Node.js
// (make -C native -f cuda.mk check-binary → build/cuda/spikeshard-drift-check; run by
// test/gpu/device-run.sh). Prints one JSON object and exits 1 on any difference, 2 without a device.
//
// Cases: seeded unit-noise blocks with planted spikes on a Neuropixels 1.0 layout (32, 96 and 384
// channels; thresholds 8, 4 and 3; 3 and 6 prototypes; a partial own range; the capacity cut),
// cuda::detect_drift_spikes against the CPU detect_drift_spikes; then the fused raw int16 batch
// (384 × 67 648) through cuda::preprocess_detect_drift_spikes against the CPU preprocess_batch +
// detect_drift_spikes, and two GPU runs. Every case must give the same spikes in the same order,
// the same `found`, and bitwise equal depths and amplitudes. Times: mean ms per call; then the
// detection's per-stage device times on the 384 × 67 648 block (detectStages384x67648) and the
// resident tables (uploaded once for the repeated geometry, else the check fails).
//
//   spikeshard-drift-check [--repeats 10]
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
#include "drift_backend.h"
#include "spikeshard/drift.h"
#include "spikeshard/preprocess.h"

using namespace spikeshard;

namespace {

constexpr std::size_t kNt0 = 61;

struct Probe {
  std::vector<double> x, y;
};

Probe np1(std::size_t nc) {
  const double xs[4] = {43, 11, 59, 27};
  Probe p;
  for (std::size_t c = 0; c < nc; ++c) {
    p.x.push_back(xs[c % 4]);
    p.y.push_back(20.0 * static_cast<double>(c / 2));
  }
  return p;
}

std::vector<float> prototypes(std::size_t np) {
  std::vector<float> w(kNt0 * np);
  for (std::size_t r = 0; r < np; ++r) {
    const double width = 1.5 + 0.8 * static_cast<double>(r);
    std::vector<double> v(kNt0);
    double norm = 0;
    for (std::size_t t = 0; t < kNt0; ++t) {
      const double d = static_cast<double>(t) - 19;
      v[t] = -std::exp(-0.5 * (d / width) * (d / width)) + 0.35 * std::exp(-0.5 * ((d - 9) / 4) * ((d - 9) / 4));
      norm += v[t] * v[t];
    }
    for (std::size_t t = 0; t < kNt0; ++t) w[t * np + r] = static_cast<float>(v[t] / std::sqrt(norm));
  }
  return w;
}

std::vector<float> spiky_block(std::size_t n, std::size_t nc, std::size_t spikes, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  const Probe p = np1(nc);
  std::vector<float> x(n * nc);
  for (float& v : x) v = noise(rng);
  for (std::size_t k = 0; k < spikes; ++k) {
    const auto t0 = static_cast<std::size_t>(uniform(rng) * static_cast<double>(n - kNt0));
    const auto c0 = static_cast<std::size_t>(uniform(rng) * static_cast<double>(nc)) % nc;
    const double amplitude = 6 + 24 * uniform(rng), width = 1.5 + 2 * uniform(rng);
    for (std::size_t c = 0; c < nc; ++c) {
      const double d2 = (p.x[c] - p.x[c0]) * (p.x[c] - p.x[c0]) + (p.y[c] - p.y[c0]) * (p.y[c] - p.y[c0]);
      if (d2 > 80.0 * 80.0) continue;
      const double gain = amplitude * std::exp(-0.5 * d2 / (25.0 * 25.0));
      for (std::size_t t = 0; t < kNt0; ++t) {
        const double d = static_cast<double>(t) - 19;
        x[(t0 + t) * nc + c] -= static_cast<float>(gain * std::exp(-0.5 * (d / width) * (d / width)));
      }
    }
  }
  return x;
}

struct Comparison {
  std::size_t cpu = 0, cuda = 0, only_cpu = 0, only_cuda = 0, value_mismatches = 0;
  bool order_same = true, found_same = true;
  bool ok() const { return only_cpu == 0 && only_cuda == 0 && value_mismatches == 0 && order_same && found_same; }
};

Comparison compare(const DriftDetection& a, const DriftDetection& b) {
  Comparison c;
  c.cpu = a.spikes.size();
  c.cuda = b.spikes.size();
  c.found_same = a.found == b.found;
  auto key = [](const DriftSpike& s) { return std::make_pair(s.sample, s.centre); };
  std::vector<std::pair<std::size_t, std::uint32_t>> ka, kb;
  for (const auto& s : a.spikes) ka.push_back(key(s));
  for (const auto& s : b.spikes) kb.push_back(key(s));
  c.order_same = ka == kb;
  std::vector<std::pair<std::size_t, std::uint32_t>> sa = ka, sb = kb;
  std::sort(sa.begin(), sa.end());
  std::sort(sb.begin(), sb.end());
  std::vector<std::pair<std::size_t, std::uint32_t>> diff;
  std::set_difference(sa.begin(), sa.end(), sb.begin(), sb.end(), std::back_inserter(diff));
  c.only_cpu = diff.size();
  diff.clear();
  std::set_difference(sb.begin(), sb.end(), sa.begin(), sa.end(), std::back_inserter(diff));
  c.only_cuda = diff.size();
  if (c.order_same) {
    for (std::size_t i = 0; i < a.spikes.size(); ++i) {
      if (std::memcmp(&a.spikes[i].depth_um, &b.spikes[i].depth_um, sizeof(float)) != 0 ||
          std::memcmp(&a.spikes[i].amplitude, &b.spikes[i].amplitude, sizeof(float)) != 0) {
        ++c.value_mismatches;
      }
    }
  }
  return c;
}

template <typename F>
double mean_ms(int repeats, F&& body) {
  const auto t0 = std::chrono::steady_clock::now();
  for (int r = 0; r < repeats; ++r) body();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / repeats;
}

void print(const char* name, const Comparison& c, double cpu_ms, double cuda_ms, bool last) {
  std::printf(
      "    {\"case\": \"%s\", \"ok\": %s, \"cpuSpikes\": %zu, \"cudaSpikes\": %zu, \"onlyCpu\": %zu, \"onlyCuda\": %zu, "
      "\"valueMismatches\": %zu, \"sameOrder\": %s, \"sameFound\": %s, \"cpuMs\": %.3f, \"cudaMs\": %.3f}%s\n",
      name, c.ok() ? "true" : "false", c.cpu, c.cuda, c.only_cpu, c.only_cuda, c.value_mismatches,
      c.order_same ? "true" : "false", c.found_same ? "true" : "false", cpu_ms, cuda_ms, last ? "" : ",");
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
  struct Case {
    const char* name;
    std::size_t nc, n, spikes;
    double threshold;
    std::size_t np, own_begin, own_end, capacity;
    std::size_t near = 10;  // channels per centre (the default 10; more in the last two cases)
  };
  const Case cases[] = {
      {"32ch_thr8", 32, 6000, 60, 8, 3, 0, 6000, 10000},
      {"32ch_thr3", 32, 6000, 60, 3, 3, 0, 6000, 10000},
      {"96ch_thr8_6protos_own", 96, 9000, 200, 8, 6, 1000, 8000, 10000},
      {"96ch_thr3_capacity50", 96, 9000, 200, 3, 3, 0, 9000, 50},
      {"384ch_thr8_own", 384, 20000, 1500, 8, 3, 1024, 18976, 10000},
      {"384ch_thr4", 384, 20000, 1500, 4, 3, 0, 20000, 10000},
      // Partial blocks of the filter kernel: 40 channels (16 per block), odd window-start counts.
      {"40ch_thr4_partial_blocks", 40, 5003, 80, 4, 3, 7, 4990, 10000},
      {"96ch_thr4_near16", 96, 9000, 200, 4, 3, 0, 9000, 10000, 16},
      {"96ch_thr4_near24", 96, 9000, 200, 4, 3, 0, 9000, 10000, 24},
  };
  bool all_ok = true;
  std::printf("{\n  \"device\": \"%s\",\n  \"cases\": [\n", info.name.c_str());
  for (const Case& k : cases) {
    const std::vector<float> x = spiky_block(k.n, k.nc, k.spikes, 1000 + static_cast<unsigned>(k.nc));
    const Probe p = np1(k.nc);
    DriftDetectorParams params;
    params.threshold = k.threshold;
    params.n_nearest_channels = k.near;
    const DetectorGeometry geo = make_detector_geometry(p.x.data(), p.y.data(), k.nc, params);
    const std::vector<float> w = prototypes(k.np);
    cuda::DriftDetectArgs a;
    a.geometry = &geo;
    a.w_temp = w.data();
    a.n_prototypes = k.np;
    a.own_begin = k.own_begin;
    a.own_end = k.own_end;
    a.capacity = k.capacity;
    a.params = params;
    const DriftDetection cpu =
        detect_drift_spikes(x.data(), k.n, k.nc, geo, w.data(), k.np, k.own_begin, k.own_end, k.capacity, params, 0);
    const DriftDetection gpu = cuda::detect_drift_spikes(x.data(), k.n, k.nc, a);
    const DriftDetection again = cuda::detect_drift_spikes(x.data(), k.n, k.nc, a);
    Comparison c = compare(cpu, gpu);
    const Comparison r = compare(gpu, again);
    if (!r.ok()) c.value_mismatches += 1000000;  // a non-repeatable GPU run fails the case
    all_ok = all_ok && c.ok() && (k.capacity >= cpu.found || cpu.spikes.size() == k.capacity);
    print(k.name, c, 0, 0, false);
  }

  // The fused batch: raw int16 384 × 67 648 (SpikeGLX stride 385) → preprocessing → detection.
  const std::size_t nc = 384, n = 65600 + 2 * 1024, stride = nc + 1, kn = 32;
  std::mt19937 rng(777);
  std::normal_distribution<double> noise(0.0, 20.0);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  std::vector<std::int16_t> raw(n * stride);
  const Probe p = np1(nc);
  for (std::size_t t = 0; t < n; ++t) {
    const double common = 60 * std::sin(2 * M_PI * static_cast<double>(t) / 3000.0);
    for (std::size_t c = 0; c < stride; ++c) raw[t * stride + c] = static_cast<std::int16_t>(std::lround(common + noise(rng)));
  }
  for (int s = 0; s < 3000; ++s) {  // planted spikes, −20…−200 counts over ~40 µm
    const auto t0 = static_cast<std::size_t>(uniform(rng) * static_cast<double>(n - kNt0));
    const auto c0 = static_cast<std::size_t>(uniform(rng) * static_cast<double>(nc)) % nc;
    const double amplitude = 20 + 180 * uniform(rng);
    for (std::size_t c = 0; c < nc; ++c) {
      const double d2 = (p.x[c] - p.x[c0]) * (p.x[c] - p.x[c0]) + (p.y[c] - p.y[c0]) * (p.y[c] - p.y[c0]);
      if (d2 > 80.0 * 80.0) continue;
      for (std::size_t t = 0; t < kNt0; ++t) {
        const double d = static_cast<double>(t) - 19;
        const double v = raw[(t0 + t) * stride + c] - amplitude * std::exp(-0.5 * d2 / 625.0 - 0.5 * d * d / 4.0);
        raw[(t0 + t) * stride + c] = static_cast<std::int16_t>(std::clamp(std::lround(v), -32768L, 32767L));
      }
    }
  }
  std::vector<double> gains(nc);
  for (auto& g : gains) g = 2.34375 * (0.9 + 0.2 * uniform(rng));
  std::vector<std::uint8_t> good(nc, 1);
  for (std::size_t c = 49; c < nc; c += 50) good[c] = 0;
  std::vector<std::int32_t> indices(nc * kn);
  std::vector<float> weights(nc * kn);
  for (std::size_t j = 0; j < nc; ++j) {
    for (std::size_t q = 0; q < kn; ++q) {
      indices[j * kn + q] = static_cast<std::int32_t>((j + q) % nc);  // itself first, then the next channels
      weights[j * kn + q] = q == 0 ? 1.0f + static_cast<float>(uniform(rng)) : 0.3f * (static_cast<float>(uniform(rng)) - 0.5f);
    }
  }
  PreprocessBatchInput in;
  in.raw = raw.data();
  in.raw_stride = stride;
  in.n_samples = n;
  in.n_channels = nc;
  in.gains = gains.data();
  in.good = good.data();
  in.whitening_indices = indices.data();
  in.whitening_weights = weights.data();
  in.n_nearest = kn;
  in.highpass.order = 3;
  in.highpass.cutoff_hz = 300;
  in.highpass.sample_rate_hz = 30000;
  in.scale = 0.02;
  DriftDetectorParams params;
  const DetectorGeometry geo = make_detector_geometry(p.x.data(), p.y.data(), nc, params);
  const std::vector<float> w = prototypes(3);
  cuda::DriftDetectArgs a;
  a.geometry = &geo;
  a.w_temp = w.data();
  a.n_prototypes = 3;
  a.own_begin = 1024;
  a.own_end = n - 1024;
  a.capacity = 10000;
  a.params = params;
  std::vector<float> white(n * nc);
  DriftDetection cpu;
  const double cpu_ms = mean_ms(1, [&] {
    preprocess_batch(in, white.data());
    cpu = detect_drift_spikes(white.data(), n, nc, geo, w.data(), 3, a.own_begin, a.own_end, a.capacity, params, 0);
  });
  const double cpu_detect_ms = mean_ms(1, [&] {
    detect_drift_spikes(white.data(), n, nc, geo, w.data(), 3, a.own_begin, a.own_end, a.capacity, params, 0);
  });
  DriftDetection gpu = cuda::preprocess_detect_drift_spikes(in, a);  // warm-up (allocations)
  const double cuda_ms = mean_ms(repeats, [&] { gpu = cuda::preprocess_detect_drift_spikes(in, a); });
  DriftDetection gpu_float;
  const double cuda_detect_ms =
      mean_ms(repeats, [&] { gpu_float = cuda::detect_drift_spikes(white.data(), n, nc, a); });
  const Comparison fused = compare(cpu, gpu);
  const Comparison alone = compare(cpu, gpu_float);
  all_ok = all_ok && fused.ok() && alone.ok() && !cpu.spikes.empty();
  print("384ch_67648_detect_float_block", alone, cpu_detect_ms, cuda_detect_ms, false);
  print("384ch_67648_fused_raw_to_spikes", fused, cpu_ms, cuda_ms, true);
  // The same geometry and prototypes on every call above: the tables went up once for them.
  const cuda::DriftTableStats before = cuda::drift_table_stats();
  const cuda::DriftBenchmark bench = cuda::benchmark_drift_detect(white.data(), n, nc, a, repeats);
  const cuda::DriftTableStats after = cuda::drift_table_stats();
  const bool tables_kept = before.reuses > 0 && after.uploads == before.uploads;
  all_ok = all_ok && tables_kept && bench.spikes == cpu.found;
  std::printf("  ],\n  \"tableUploads\": %zu, \"tableReuses\": %zu, \"tableBytes\": %zu, \"tablesKept\": %s,\n",
              after.uploads, after.reuses, after.last_upload_bytes, tables_kept ? "true" : "false");
  std::printf("  \"detectStages384x67648\": [\n");
  for (int s = 0; s < cuda::DriftBenchmark::kStages; ++s) {
    std::printf("    {\"name\": \"%s\", \"ms\": %.4f}%s\n", bench.stages[s].name, bench.stages[s].ms,
                s + 1 < cuda::DriftBenchmark::kStages ? "," : "");
  }
  std::printf("  ],\n  \"ok\": %s\n}\n", all_ok ? "true" : "false");
  return all_ok ? 0 : 1;
}
