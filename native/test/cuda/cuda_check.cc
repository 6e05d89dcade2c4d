// SPDX-License-Identifier: GPL-3.0-or-later
// Standalone CPU-vs-CUDA parity check and micro-benchmark of the CUDA backend, without Node.js
// (make -f cuda.mk check-binary → build/cuda/spikeshard-cuda-check). Runs every CUDA kernel and
// its CPU twin on the same seeded Neuropixels-sized batch, prints one JSON object (max abs / rel
// error and bitwise mismatch count per kernel, device times per stage) and exits 1 if a kernel is
// outside its tolerance, 2 if no CUDA device is usable.
//
// Matching pursuit: a random template model (--templates 250, rank 3, 32 neighbours, 61 samples) on
// unit-variance noise with planted spikes, CPU match_batch vs cuda::match_batch with and without
// the cross-correlations (spike lists must be identical, values bitwise), and the fused
// preprocess_shift_match_batch vs CPU preprocessing + matching; then per-stage device times.
//
//   spikeshard-cuda-check [--channels 384] [--samples 67648] [--repeats 20] [--templates 250]
#include <algorithm>
#include <array>
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
#include "spikeshard/matching.h"
#include "spikeshard/preprocess.h"
#include "spikeshard/templates.h"

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

template <typename T>
std::size_t count_mismatches(const std::vector<T>& a, const std::vector<T>& b) {
  if (a.size() != b.size()) return std::max(a.size(), b.size()) + 1;
  std::size_t m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m += std::memcmp(&a[i], &b[i], sizeof(T)) != 0 ? 1 : 0;
  return m;
}

template <typename T>
double max_rel(const std::vector<T>& a, const std::vector<T>& b) {
  if (a.size() != b.size()) return INFINITY;
  double e = 0, scale = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    e = std::max(e, std::fabs(static_cast<double>(a[i]) - static_cast<double>(b[i])));
    scale = std::max(scale, std::fabs(static_cast<double>(a[i])));
  }
  return scale > 0 ? e / scale : e;
}

// A random Neuropixels-like model: 4 columns, 20 µm rows, templates on random peak channels with a
// smooth temporal shape, U on the 32 nearest channels, ||T|| = 1, mu in [10, 30).
spikeshard::TemplateModel random_model(std::size_t F, std::size_t nc, std::mt19937& rng) {
  using namespace spikeshard;
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  std::normal_distribution<double> gauss(0.0, 1.0);
  TemplateModel m;
  m.n_templates = F;
  m.n_channels = nc;
  std::vector<float> x(nc), y(nc);
  for (std::size_t c = 0; c < nc; ++c) {
    x[c] = static_cast<float>(16 * (c % 4));
    y[c] = static_cast<float>(20 * (c / 2));
  }
  m.n_neighbours = static_cast<int>(std::min<std::size_t>(32, nc));
  m.iC = nearest_channels(x.data(), y.data(), nc, m.n_neighbours);
  m.W.assign(F * m.nt0 * m.rank, 0.0f);
  m.U.assign(F * nc * m.rank, 0.0f);
  m.mu.resize(F);
  m.iW.resize(F);
  for (std::size_t j = 0; j < F; ++j) {
    m.iW[j] = static_cast<std::int32_t>(rng() % nc);
    m.mu[j] = static_cast<float>(10 + 20 * u01(rng));
    for (int k = 0; k < m.rank; ++k) {
      const double centre = m.nt0min + 3 * k + 2 * gauss(rng) * 0.3, width = 2 + 3 * u01(rng);
      for (int t = 0; t < m.nt0; ++t) {
        const double d = (t - centre) / width;
        m.W[(j * m.nt0 + t) * m.rank + k] = static_cast<float>((k == 0 ? -1 : 0.5) * std::exp(-d * d) + 0.05 * gauss(rng));
      }
    }
    const std::int32_t* ch = &m.iC[static_cast<std::size_t>(m.iW[j]) * m.n_neighbours];
    for (int i = 0; i < m.n_neighbours; ++i) {
      for (int k = 0; k < m.rank; ++k) {
        m.U[(j * nc + ch[i]) * m.rank + k] = static_cast<float>(std::exp(-0.15 * i) * (k == 0 ? 1.0 : 0.3) * (1 + 0.3 * gauss(rng)));
      }
    }
    double norm = 0;
    for (int t = 0; t < m.nt0; ++t) {
      for (std::size_t c = 0; c < nc; ++c) {
        double v = 0;
        for (int k = 0; k < m.rank; ++k) v += m.W[(j * m.nt0 + t) * m.rank + k] * m.U[(j * nc + c) * m.rank + k];
        norm += v * v;
      }
    }
    const float scale = static_cast<float>(1 / std::sqrt(norm));
    for (std::size_t c = 0; c < nc; ++c) {
      for (int k = 0; k < m.rank; ++k) m.U[(j * nc + c) * m.rank + k] *= scale;
    }
  }
  return m;
}

// Unit-variance noise plus about one spike per 300 samples of a random template at amplitude mu·[0.8, 1.2).
std::vector<float> planted_batch(const spikeshard::TemplateModel& m, std::size_t n, std::mt19937& rng) {
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  std::uniform_real_distribution<float> u01(0.0f, 1.0f);
  const std::size_t nc = m.n_channels;
  std::vector<float> x(n * nc);
  for (float& v : x) v = gauss(rng);
  for (std::size_t s = 0; s + 1 < n / 300; ++s) {
    const std::size_t j = rng() % m.n_templates, st = rng() % (n - m.nt0);
    const float a = m.mu[j] * (0.8f + 0.4f * u01(rng));
    for (int t = 0; t < m.nt0; ++t) {
      for (std::size_t c = 0; c < nc; ++c) {
        float v = 0;
        for (int k = 0; k < m.rank; ++k) v += m.W[(j * m.nt0 + t) * m.rank + k] * m.U[(j * nc + c) * m.rank + k];
        x[(st + t) * nc + c] += a * v;
      }
    }
  }
  return x;
}

struct MatchDiff {
  const char* name;
  std::size_t spikes_cpu = 0, spikes_gpu = 0;
  bool same_spikes = false;
  std::size_t value_mismatches = 0;
  double max_rel_error = 0;
  double cpu_s = 0, cuda_s = 0;
  bool pass() const { return same_spikes && max_rel_error <= 1e-5; }
};

MatchDiff compare_match(const char* name, const spikeshard::MatchResult& a, const spikeshard::MatchResult& b,
                        bool residual) {
  MatchDiff d;
  d.name = name;
  d.spikes_cpu = a.sample.size();
  d.spikes_gpu = b.sample.size();
  d.same_spikes = a.sample == b.sample && a.template_id == b.template_id && a.spikes_found == b.spikes_found &&
                  a.iterations == b.iterations && a.capped == b.capped && a.snippet_counts == b.snippet_counts;
  d.value_mismatches = count_mismatches(a.amplitude, b.amplitude) + count_mismatches(a.score, b.score) +
                       count_mismatches(a.snippet_sums, b.snippet_sums) +
                       count_mismatches(a.template_features, b.template_features) +
                       count_mismatches(a.pc_features, b.pc_features) +
                       (residual ? count_mismatches(a.residual, b.residual) : 0);
  d.max_rel_error = std::max({max_rel(a.amplitude, b.amplitude), max_rel(a.score, b.score),
                              max_rel(a.snippet_sums, b.snippet_sums), max_rel(a.template_features, b.template_features),
                              max_rel(a.pc_features, b.pc_features),
                              residual ? max_rel(a.residual, b.residual) : 0.0});
  return d;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t nc = 384, n = 65600 + 2 * 1024;
  int repeats = 20;
  std::size_t n_templates = 250;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    const long value = std::strtol(argv[i + 1], nullptr, 10);
    if (key == "--channels") nc = static_cast<std::size_t>(value);
    if (key == "--samples") n = static_cast<std::size_t>(value);
    if (key == "--repeats") repeats = static_cast<int>(value);
    if (key == "--templates") n_templates = static_cast<std::size_t>(value);
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
  // The device high-pass runs each pass in 256-row segments side by side, 32-channel blocks, with
  // the section count fixed at compile time for 2 sections only: every section count, segment
  // boundaries (a pass of exactly one segment, one row past it, a mean over one segment and one
  // sample past it; order 3 pads 12 rows at each end), partial channel blocks, bitwise.
  std::size_t pipeline_mismatches = 0;
  for (const auto& [order, pn, pc] : std::vector<std::array<std::size_t, 3>>{
           {1, 13, 33}, {2, 40, 31}, {3, 232, 64}, {3, 233, 65}, {3, 256, 1}, {3, 257, 32}, {4, 1000, 40},
           {5, 777, 70}, {6, 333, 70}, {7, 500, 33}, {9, 257, 32}, {16, 600, 45}, {3, 5000, 3}}) {
    HighpassOptions o;
    o.order = static_cast<int>(order);
    std::vector<float> a(pn * pc), b(pn * pc);
    highpass_block(raw.data(), stride, gains.data(), pn, pc, o, a.data());
    cuda::highpass_block(raw.data(), stride, gains.data(), pn, pc, o, b.data());
    pipeline_mismatches += compare(a, b).mismatches;
  }

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

  // Matching pursuit.
  std::mt19937 mrng(777);
  const TemplateModel model = random_model(n_templates, nc, mrng);
  const TemplateSet view = model.view();
  const TemplateCorrelations corr = template_correlations(view, 32);
  const std::vector<float> planted = planted_batch(model, n, mrng);
  std::vector<float> pcs(static_cast<std::size_t>(model.nt0) * 3);
  for (std::size_t i = 0; i < pcs.size(); ++i) pcs[i] = static_cast<float>(std::sin(0.1 * static_cast<double>(i + 1)));
  MatchOptions mo;
  mo.halo_samples = 1024;
  mo.own_samples = n >= 2048 ? n - 2048 : 0;
  mo.similar = corr.similar.data();
  mo.n_similar = corr.n_similar;
  mo.pcs = pcs.data();
  mo.n_pcs = 3;
  std::vector<MatchDiff> matches;
  auto run_match_pair = [&](const char* name, const float* data, const MatchOptions& options) {
    auto m0 = std::chrono::steady_clock::now();
    const MatchResult cpu = match_batch(data, n, nc, view, options);
    const double cpu_s = seconds_since(m0);
    m0 = std::chrono::steady_clock::now();
    const MatchResult gpu = cuda::match_batch(data, n, nc, view, options);
    MatchDiff d = compare_match(name, cpu, gpu, true);
    d.cuda_s = seconds_since(m0);
    d.cpu_s = cpu_s;
    matches.push_back(d);
    return gpu;
  };
  MatchOptions with_wtw = mo;
  with_wtw.cross_correlations = corr.WtW.data();
  const MatchResult gpu_wtw = run_match_pair("match_planted_crosscorr", planted.data(), with_wtw);
  run_match_pair("match_planted_recompute", planted.data(), mo);
  {
    MatchOptions capped = with_wtw;
    capped.max_spikes = 37;
    run_match_pair("match_capped_37", planted.data(), capped);
    MatchOptions low = mo;
    low.threshold = 3.0f;
    low.learn_threshold = 4.0f;
    low.similar = nullptr;
    low.pcs = nullptr;
    low.cross_correlations = corr.WtW.data();
    run_match_pair("match_threshold_3_no_features", planted.data(), low);
  }
  {
    const MatchResult again = cuda::match_batch(planted.data(), n, nc, view, with_wtw);
    MatchDiff d = compare_match("match_repeat_gpu", gpu_wtw, again, true);
    matches.push_back(d);
  }
  {
    // Fused: CPU preprocessing + CPU matching vs the whole chain on the device (residual not returned).
    auto m0 = std::chrono::steady_clock::now();
    const MatchResult cpu = match_batch(cpu_k.data(), n, nc, view, with_wtw);
    const double cpu_s = seconds_since(m0);
    m0 = std::chrono::steady_clock::now();
    const MatchResult gpu = cuda::preprocess_shift_match_batch(input, kriging.data(), view, with_wtw, false);
    MatchDiff d = compare_match("preprocess_shift_match_fused", cpu, gpu, false);
    d.cuda_s = seconds_since(m0);
    d.cpu_s = cpu_s;
    matches.push_back(d);
  }
  const cuda::MatchBenchmark mbench =
      cuda::benchmark_match(planted.data(), n, nc, view, with_wtw, std::max(1, repeats / 4), &input, kriging.data());

  bool ok = repeat.mismatches == 0 && pipeline_mismatches == 0;
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
  std::printf("  ],\n  \"repeatMismatches\": %zu,\n  \"highpassPipelineMismatches\": %zu,\n  \"stages\": [\n",
              repeat.mismatches, pipeline_mismatches);
  for (int s = 0; s < cuda::BenchmarkResult::kStages; ++s) {
    const cuda::StageTiming& st = bench.stages[s];
    std::printf("    {\"name\": \"%s\", \"ms\": %.4f, \"bytes\": %.0f, \"gbPerS\": %.1f}%s\n", st.name, st.ms, st.bytes,
                st.ms > 0 ? st.bytes / (st.ms * 1e6) : 0.0, s + 1 < cuda::BenchmarkResult::kStages ? "," : "");
  }
  std::printf("  ],\n  \"templates\": %zu,\n  \"matching\": [\n", n_templates);
  for (std::size_t i = 0; i < matches.size(); ++i) {
    const MatchDiff& d = matches[i];
    ok = ok && d.pass();
    std::printf("    {\"check\": \"%s\", \"spikesCpu\": %zu, \"spikesGpu\": %zu, \"sameSpikes\": %s, "
                "\"valueMismatches\": %zu, \"maxRel\": %.3e, \"tolerance\": 1e-05, \"pass\": %s, \"cpuSeconds\": %.4f, "
                "\"cudaSecondsWithCopies\": %.4f}%s\n",
                d.name, d.spikes_cpu, d.spikes_gpu, d.same_spikes ? "true" : "false", d.value_mismatches,
                d.max_rel_error, d.pass() ? "true" : "false", d.cpu_s, d.cuda_s, i + 1 < matches.size() ? "," : "");
  }
  std::printf("  ],\n  \"matchSpikesFound\": %zu, \"matchIterations\": %d, \"matchRepeats\": %d,\n  \"matchStages\": [\n",
              mbench.spikes_found, mbench.iterations, mbench.repeats);
  for (int s = 0; s < cuda::MatchBenchmark::kStages; ++s) {
    const cuda::StageTiming& st = mbench.stages[s];
    std::printf("    {\"name\": \"%s\", \"ms\": %.4f}%s\n", st.name, st.ms,
                s + 1 < cuda::MatchBenchmark::kStages ? "," : "");
  }
  std::printf("  ],\n  \"deviceBytesInUse\": %zu,\n  \"pass\": %s\n}\n", cuda::device_bytes_in_use(),
              ok ? "true" : "false");
  return ok ? 0 : 1;
}
