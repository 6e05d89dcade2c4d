// SPDX-License-Identifier: GPL-3.0-or-later
// Extracellular spike waveforms of the simulator, as tables over (distance, time).
//
// A unit's waveform on a site at distance r from its soma, with the site at polar angle θ from
// the unit's dendritic axis (the probe's y axis), is
//     v(r, θ, τ) = A(r, τ) + (1 + α·cos θ) · B(r, τ)
// where A is the somatic term and B the broader dendritic return current. Each term is a sum of
// Gaussian components (amp, μ, σ) whose width grows and whose delay grows with r:
//     σ(r) = √(σ² + (w·r/100 µm)²)  (area kept: amplitude × σ/σ(r)),  μ(r) = μ + r / speed,
// and whose amplitude falls as (1 + (r/r0)²)^(-q/2). A and B are tabulated for unit gain on a
// grid of r (step dr) and τ (upsampled), so a spike at any displaced position is rendered by
// bilinear interpolation, at sub-sample precision. Each row is stored phase-major
// (row[p·n_j + j] = value at τ = j − pre + p/upsample), so that for one spike every tap it
// reads walks memory contiguously.
#ifndef SPIKESHARD_CORE_SIMULATE_WAVEFORM_H_
#define SPIKESHARD_CORE_SIMULATE_WAVEFORM_H_

#include <cstddef>
#include <utility>
#include <vector>

namespace spikeshard::sim {

// Flat layout of one waveform shape (doubles), shared with native/lib/simulate.ts.
inline constexpr std::size_t kMaxComponents = 6;
enum ShapeField : std::size_t {
  kSomaScaleUm = 0,  // r0 of the somatic term
  kSomaPower,        // q of the somatic term
  kSomaWidenMs,      // w of the somatic term, ms per 100 µm
  kSomaSpeedUmPerMs,
  kDendScaleUm,
  kDendPower,
  kDendWidenMs,
  kDendSpeedUmPerMs,
  kComponentCount,
  kFirstComponent,  // then kMaxComponents × (amp, mu_ms, sigma_ms, group: 0 somatic, 1 dendritic)
};
inline constexpr std::size_t kComponentFields = 4;
inline constexpr std::size_t kShapeFields = kFirstComponent + kMaxComponents * kComponentFields;

// Flat layout of one spike to render (doubles), shared with native/lib/simulate.ts.
enum SpikeField : std::size_t {
  kSpikeTime = 0,  // soma time in samples relative to the buffer start (fractional)
  kSpikeTable,     // index of the waveform table
  kSpikeGain,      // µV per table unit
  kSpikeAlpha,     // α, dendritic asymmetry along y
  kSpikeX,         // soma position, µm (x across, y along the probe, z off its plane)
  kSpikeY,
  kSpikeZ,
  kSpikeRadiusUm,  // not rendered on sites at or beyond this distance (capped at the table's r_max)
  kSpikeFields,
};

struct TableGrid {
  double sample_rate_hz = 30000.0;
  std::size_t pre_samples = 30;   // window before the soma time
  std::size_t post_samples = 81;  // window after it
  std::size_t upsample = 4;       // table steps per sample
  double dr_um = 2.0;             // distance step
  std::size_t n_radii = 81;       // rows; the last one (r_max) is zero

  // Samples per phase: the window plus one, so the tap after the last sample stays in the row.
  std::size_t n_j() const { return pre_samples + post_samples + 2; }
  std::size_t floats_per_row() const { return upsample * n_j(); }
  std::size_t floats_per_table() const { return 2 * n_radii * floats_per_row(); }
  double r_max_um() const { return dr_um * static_cast<double>(n_radii - 1); }
  void validate() const;
};

// Tapers applied to every table so that truncation never leaves a step: a raised cosine over the
// outer 30 % of r_max, and over the first 0.25 ms and last 0.5 ms of the time window.
inline constexpr double kRadialTaperStart = 0.7;
inline constexpr double kTaperPreMs = 0.25;
inline constexpr double kTaperPostMs = 0.5;

// Writes n_tables tables (layout [table][A|B][radius][phase][j], float32) for the given shapes.
void build_waveform_tables(const TableGrid& grid, const double* shapes, std::size_t n_tables, float* out,
                           int threads);

// Adds the spikes to one site's samples buf[0..n) (site at (cx, cy), on the probe plane z = 0).
// A site sampled `delay` samples late sees each spike `delay` samples early in its sample index.
void render_site(const TableGrid& grid, const float* tables, std::size_t n_tables, const double* spikes,
                 std::size_t n_spikes, double cx, double cy, float* buf, std::size_t n, double delay = 0.0);

// The spikes sorted by y, so that a site only visits those within reach (see spikes_near).
std::vector<double> sort_spikes_by_y(const double* spikes, std::size_t n_spikes);
// [first, last) of the y-sorted spikes whose y lies within r_max of cy.
std::pair<std::size_t, std::size_t> spikes_near(const std::vector<double>& sorted, double cy, double r_max);

// Renders spikes into zeroed channel-major out (n_channels × n); sites as (x, y) pairs.
void render_spikes(const TableGrid& grid, const float* tables, std::size_t n_tables, const double* spikes,
                   std::size_t n_spikes, const double* site_xy, std::size_t n_channels, float* out, std::size_t n,
                   int threads);

// Checks table indices and finite fields of every spike; throws std::invalid_argument.
void validate_spikes(const double* spikes, std::size_t n_spikes, std::size_t n_tables);

}  // namespace spikeshard::sim

#endif  // SPIKESHARD_CORE_SIMULATE_WAVEFORM_H_
