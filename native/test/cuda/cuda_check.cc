// SPDX-License-Identifier: GPL-3.0-or-later
// Standalone CPU-vs-CUDA parity check and micro-benchmark of the CUDA backend, without Node.js
// (make -f cuda.mk check-binary → build/cuda/spikeshard-cuda-check). Runs every CUDA kernel and
// its CPU twin on the same seeded Neuropixels-sized batch, prints one JSON object (max abs / rel
// error and bitwise mismatch count per kernel, device times per stage) and exits 1 if a kernel is
// outside its tolerance, 2 if no CUDA device is usable.
//
//   spikeshard-cuda-check [--channels 384] [--samples 67648] [--repeats 20]
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
#include "spikeshard/drift.h"
#include "spikeshard/preprocess.h"

namespace {

using namespace spikeshard;

struct Diff {
  double max_abs = 0, max_rel = 0;
  std::size_t mismatches = 0;
};

Diff compare(const std::vector<float>& a, const std::vector<float>& b) {
  Diff d;
  double scale = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double e = std::fabs(static_cast<double>(a[i]) - static_cast<double>(b[i]));
    if (!(e <= d.max_abs)) d.max_abs = std::isnan(e) ? INFINITY : e;
    scale = std::max(scale, std::fabs(static_cast<double>(a[i])));
    if (std::memcmp(&a[i], &b[i], sizeof(float)) != 0) ++d.mismatches;
  }
  d.max_rel = scale > 0 ? d.max_abs / scale : d.max_abs;
  return d;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t nc = 384, n = 65600 + 2 * 1024;
  int repeats = 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    const long value = std::strtol(argv[i + 1], nullptr, 10);
    if (key == "--channels") nc = static_cast<std::size_t>(value);
    if (key == "--samples") n = static_cast<std::size_t>(value);
    if (key == "--repeats") repeats = static_cast<int>(value);
  }
  const cuda::DeviceInfo info = cuda::describe_device();
  if (!info.available) {
    std::printf("{\"skipped\": \"no CUDA device (%s)\"}\n", info.reason.c_str());
    return 2;
  }
  const std::size_t stride = nc + 1, k = std::min<std::size_t>(32, nc);
  std::mt19937 rng(12345);
  std::normal_distribution<double> noise(0.0, 20.0);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  std::vector<std::int16_t> raw(n * stride);
  for (std::size_t t = 0; t < n; ++t) {
    const double common = 60 * std::sin(2 * M_PI * static_cast<double>(t) / 3000.0);
    for (std::size_t c = 0; c < stride; ++c) {
      const double v = static_cast<double>(c % 50) * 3 + common + noise(rng);
      raw[t * stride + c] = static_cast<std::int16_t>(std::clamp(std::lround(v), -32768L, 32767L));
    }
  }
  std::vector<double> gains(nc);
  for (auto& g : gains) g = 2.34375 * (0.9 + 0.2 * uniform(rng));
  std::vector<std::uint8_t> good(nc, 1);
  for (std::size_t c = 49; c < nc; c += 50) good[c] = 0;
  std::vector<std::int32_t> indices(nc * k);
  std::vector<float> weights(nc * k);
  for (std::size_t j = 0; j < nc; ++j) {
    std::vector<std::int32_t> order(nc);
    for (std::size_t c = 0; c < nc; ++c) order[c] = static_cast<std::int32_t>(c);
    std::stable_sort(order.begin(), order.end(), [&](std::int32_t a, std::int32_t b) {
      return std::labs(a - static_cast<long>(j)) < std::labs(b - static_cast<long>(j));
    });
    for (std::size_t m = 0; m < k; ++m) {
      indices[j * k + m] = order[m];
      weights[j * k + m] = static_cast<float>(m == 0 ? 1.0 + uniform(rng) : (uniform(rng) - 0.5) * 0.3);
    }
  }
  std::vector<float> kriging(nc * nc, 0.0f);
  for (std::size_t i = 0; i < nc; ++i) {
    for (std::size_t j = (i >= 6 ? i - 6 : 0); j < std::min(nc, i + 7); ++j) {
      kriging[i * nc + j] = static_cast<float>(i == j ? 0.7 + 0.1 * uniform(rng) : 0.05 * (uniform(rng) - 0.3));
    }
  }
  HighpassOptions hp;
  PreprocessBatchInput input;
  input.raw = raw.data();
  input.raw_stride = stride;
  input.n_samples = n;
  input.n_channels = nc;
  input.gains = gains.data();
  input.good = good.data();
  input.whitening_indices = indices.data();
  input.whitening_weights = weights.data();
  input.n_nearest = k;
  input.highpass = hp;

  struct Row {
    const char* name;
    Diff diff;
    double tolerance;
    double cpu_s, cuda_s;
  };
  std::vector<Row> rows;
  const std::size_t block = n * nc;
  std::vector<float> cpu_hp(block), gpu_hp(block);
  auto t0 = std::chrono::steady_clock::now();
  highpass_block(raw.data(), stride, gains.data(), n, nc, hp, cpu_hp.data());
  const double cpu_hp_s = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();
  cuda::highpass_block(raw.data(), stride, gains.data(), n, nc, hp, gpu_hp.data());
  rows.push_back({"highpass", compare(cpu_hp, gpu_hp), 1e-6, cpu_hp_s, seconds_since(t0)});

  std::vector<float> cpu_cmr = cpu_hp, gpu_cmr = cpu_hp;
  t0 = std::chrono::steady_clock::now();
  common_median_reference(cpu_cmr.data(), n, nc, good.data());
  const double cpu_cmr_s = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();
  cuda::common_median_reference(gpu_cmr.data(), n, nc, good.data());
  rows.push_back({"common_median_reference", compare(cpu_cmr, gpu_cmr), 1e-6, cpu_cmr_s, seconds_since(t0)});

  std::vector<float> cpu_w(block), gpu_w(block);
  t0 = std::chrono::steady_clock::now();
  apply_whitening(cpu_cmr.data(), n, nc, indices.data(), weights.data(), k, 1.0, cpu_w.data());
  const double cpu_w_s = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();
  cuda::apply_whitening(cpu_cmr.data(), n, nc, indices.data(), weights.data(), k, 1.0, gpu_w.data());
  rows.push_back({"whitening", compare(cpu_w, gpu_w), 1e-6, cpu_w_s, seconds_since(t0)});

  std::vector<float> cpu_k(block), gpu_k(block);
  t0 = std::chrono::steady_clock::now();
  apply_kriging(cpu_w.data(), n, nc, kriging.data(), cpu_k.data());
  const double cpu_k_s = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();
  cuda::apply_kriging(cpu_w.data(), n, nc, kriging.data(), gpu_k.data());
  rows.push_back({"kriging", compare(cpu_k, gpu_k), 1e-6, cpu_k_s, seconds_since(t0)});

  std::vector<float> gpu_fused(block), gpu_fused2(block);
  t0 = std::chrono::steady_clock::now();
  cuda::preprocess_shift_batch(input, kriging.data(), gpu_fused.data());
  const double fused_s = seconds_since(t0);
  rows.push_back({"fused_preprocess_shift", compare(cpu_k, gpu_fused), 1e-5,
                  cpu_hp_s + cpu_cmr_s + cpu_w_s + cpu_k_s, fused_s});
  cuda::preprocess_shift_batch(input, kriging.data(), gpu_fused2.data());
  const Diff repeat = compare(gpu_fused, gpu_fused2);

  const cuda::BenchmarkResult bench = cuda::benchmark_preprocess(input, kriging.data(), repeats);

  bool ok = repeat.mismatches == 0;
  std::printf("{\n  \"device\": {\"name\": \"%s\", \"computeCapability\": \"%d.%d\", \"totalMemoryBytes\": %zu, "
              "\"multiprocessors\": %d, \"driverVersion\": %d, \"runtimeVersion\": %d},\n",
              info.name.c_str(), info.compute_major, info.compute_minor, info.total_memory_bytes,
              info.multiprocessors, info.driver_version, info.runtime_version);
  std::printf("  \"nSamples\": %zu, \"nChannels\": %zu, \"rowStride\": %zu, \"repeats\": %d,\n", n, nc, stride,
              repeats);
  std::printf("  \"parity\": [\n");
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    const bool pass = r.diff.max_rel <= r.tolerance;
    ok = ok && pass;
    std::printf("    {\"kernel\": \"%s\", \"maxAbs\": %.3e, \"maxRel\": %.3e, \"mismatches\": %zu, \"values\": %zu, "
                "\"tolerance\": %.0e, \"pass\": %s, \"cpuSeconds\": %.4f, \"cudaSecondsWithCopies\": %.4f}%s\n",
                r.name, r.diff.max_abs, r.diff.max_rel, r.diff.mismatches, block, r.tolerance, pass ? "true" : "false",
                r.cpu_s, r.cuda_s, i + 1 < rows.size() ? "," : "");
  }
  std::printf("  ],\n  \"repeatMismatches\": %zu,\n  \"stages\": [\n", repeat.mismatches);
  for (int s = 0; s < cuda::BenchmarkResult::kStages; ++s) {
    const cuda::StageTiming& st = bench.stages[s];
    std::printf("    {\"name\": \"%s\", \"ms\": %.4f, \"bytes\": %.0f, \"gbPerS\": %.1f}%s\n", st.name, st.ms, st.bytes,
                st.ms > 0 ? st.bytes / (st.ms * 1e6) : 0.0, s + 1 < cuda::BenchmarkResult::kStages ? "," : "");
  }
  std::printf("  ],\n  \"deviceBytesInUse\": %zu,\n  \"pass\": %s\n}\n", cuda::device_bytes_in_use(),
              ok ? "true" : "false");
  return ok ? 0 : 1;
}
