// SPDX-License-Identifier: GPL-3.0-or-later
// Classic Kilosort 2.5 drift correction ("datashift2", docs/ks25-algorithm.md §3.2–§3.3), CPU
// reference. Four steps, each a pure function:
//   1. detect_drift_spikes   per batch: generic-template detector ("spikedetector3")
//   2. drift_histogram       per batch: depth × log-amplitude histogram F = log2(1 + counts)
//   3. register_drift        global:    rigid + non-rigid alignment of all histograms → dshift
//   4. kriging_matrix,       per batch: spatial interpolation matrix M for the batch's dshift
//      apply_kriging                    row, and out = data · Mᵀ (the heavy part)
// Data blocks are float32 sample-major (x[t * n_channels + c]), whitened (unit noise). Channel
// positions are µm. Results are bitwise independent of the thread count.
#ifndef SPIKESHARD_DRIFT_H_
#define SPIKESHARD_DRIFT_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace spikeshard {

// ---------------------------------------------------------------------------------------------
// 1. Generic-template detector
// ---------------------------------------------------------------------------------------------

struct DriftDetectorParams {
  int nt0 = 61;                    // prototype length (samples)
  int nt0min = 20;                 // a spike is reported at window start + nt0min - 1, its trough
                                   // (pykilosort reports start + nt0min, one sample later)
  double threshold = 8.0;          // genericSpkTh: a spike needs score > threshold²
  std::size_t n_nearest_channels = 10;
  std::size_t n_sizes = 5;         // spatial Gaussians exp(-d² / (size_step_um · (k+1))²), k < n_sizes
  double size_step_um = 10.0;
  double centre_x_step_um = 16.0;  // x grid: floor((xmax - xmin) / 16) + 1 points
  // A virtual centre is kept when its nearest site is closer than this. MATLAB KS2.5 uses 30 µm;
  // pykilosort uses one vertical pitch (20 µm on NP1), which drops the centres between columns
  // (§11 item 11). We follow MATLAB.
  double centre_max_site_distance_um = 30.0;
  double neighbour_radius_um = 100.0;  // centres compared for the spatial local maximum ...
  std::size_t max_neighbours = 100;    // ... among the 100 nearest
  int window_samples = 40;             // running max over [s - 20, s + 20) (2·nt0min)
};

// The probe-dependent part of the detector (built once per probe).
struct DetectorGeometry {
  std::size_t n_channels = 0;
  std::size_t n_centres = 0;
  std::size_t n_near = 0;   // channels per centre (min(n_nearest_channels, n_channels))
  std::size_t n_sizes = 0;
  double pitch_um = 0;      // median spacing of the distinct y positions
  std::vector<double> centre_x_um, centre_y_um;
  std::vector<std::uint32_t> near_channels;  // n_centres × n_near, nearest first
  std::vector<float> weights;                // n_centres × n_sizes × n_near
  std::vector<float> sq_norms;               // n_centres × n_sizes: v2 = Σ_j weights²
  std::vector<std::uint32_t> neighbour_offsets;  // CSR over centres (n_centres + 1)
  std::vector<std::uint32_t> neighbours;         // other centres within the radius
  std::vector<double> channel_y_um;              // copy of the y positions (for depths)
};

// Virtual centres: y from min(y) to max(y) in steps of pitch/2, x as above; y-major order
// (centre g = iy · nx + ix, before dropping the centres far from every site).
DetectorGeometry make_detector_geometry(const double* x_um, const double* y_um, std::size_t n_channels,
                                        const DriftDetectorParams& params);

// make_detector_geometry's result, shared: the last geometry built is kept and returned again for
// the same positions and geometry parameters (compared exactly). Building one compares every pair
// of centres (~45 ms for a 384-channel probe), which the per-batch detection calls paid each time.
// Thread-safe.
std::shared_ptr<const DetectorGeometry> shared_detector_geometry(const double* x_um, const double* y_um,
                                                                 std::size_t n_channels,
                                                                 const DriftDetectorParams& params);

struct DriftSpike {
  std::size_t sample;  // block-relative sample of the trough (window start + nt0min - 1)
  std::uint32_t centre;
  float depth_um;      // centre of mass of the centre's channels' y, weights max(filtered, 0)
  float amplitude;     // √score (KS2.5 stores floor(√score); we keep the fraction)
};

struct DriftDetection {
  std::vector<DriftSpike> spikes;  // ordered by (sample, centre); at most `capacity`
  std::size_t found = 0;           // spikes found in the own range before truncation
};

// Detects spikes in one block x (n_samples × n_channels). w_temp holds the prototypes, nt0 ×
// n_prototypes row-major (see prototypes.h). Only spikes whose trough sample lies in the block's
// own half-open range [own_begin, own_end) are returned, so halos never double count; spikes are
// identical whatever the block boundaries as long as the halo covers window_samples/2 + nt0
// samples around the own range. When more than `capacity` are found, the earliest are kept.
DriftDetection detect_drift_spikes(const float* x, std::size_t n_samples, std::size_t n_channels,
                                   const DetectorGeometry& geometry, const float* w_temp,
                                   std::size_t n_prototypes, std::size_t own_begin, std::size_t own_end,
                                   std::size_t capacity, const DriftDetectorParams& params, int threads = 0);

// ---------------------------------------------------------------------------------------------
// 2. Histograms
// ---------------------------------------------------------------------------------------------

struct DriftHistogramParams {
  double bin_um = 5.0;
  std::size_t n_amp_bins = 20;
  double amp_min = 8.0;    // log-amplitude bins span [amp_min, amp_max) ...
  double amp_max = 100.0;  // ... amplitudes are clipped to amp_clip first
  double amp_clip = 99.0;
};

struct DriftHistogramGrid {
  double origin_um = 0;  // min(y) - 1: depth bin i covers (origin + bin·i, origin + bin·(i+1)]
  double bin_um = 5;
  std::size_t n_depth_bins = 0;  // ceil((max(y) - origin) / bin)
  DriftHistogramParams params;
  double bin_centre_um(std::size_t i) const { return origin_um + bin_um * (static_cast<double>(i) + 0.5); }
};

DriftHistogramGrid make_drift_histogram_grid(const double* y_um, std::size_t n_channels,
                                             const DriftHistogramParams& params);

// Depth bin of a depth: ceil((depth - origin) / bin) - 1; -1 when outside the grid.
std::ptrdiff_t drift_depth_bin(const DriftHistogramGrid& grid, double depth_um);
// Amplitude bin: ceil(1e-5 + n_amp_bins · (log10(min(a, clip)) - log10(amp_min)) /
// (log10(amp_max) - log10(amp_min))) - 1, clamped to [0, n_amp_bins) (MATLAB's 1-based formula,
// made 0-based; the 1e-5 puts a = amp_min in the first bin).
std::size_t drift_amp_bin(const DriftHistogramGrid& grid, double amplitude);

// out (n_depth_bins × n_amp_bins, row-major) = log2(1 + counts). Spikes with depths outside the
// grid are not counted. Returns the number of spikes counted.
std::size_t drift_histogram(const float* depth_um, const float* amplitude, std::size_t n_spikes,
                            const DriftHistogramGrid& grid, float* out);

// ---------------------------------------------------------------------------------------------
// 3. Registration
// ---------------------------------------------------------------------------------------------

struct DriftRegistrationParams {
  int rigid_iterations = 10;  // shifts are applied in the first 9, as KS2.5
  int rigid_max_shift = 15;   // bins
  std::size_t n_blocks = 5;   // 2·n_blocks - 1 overlapping blocks
  int block_max_shift = 5;    // bins
  double smooth_sigma = 0.5;  // Gaussian σ (in samples of each axis) over batches, blocks, shifts
  double upsample_step = 0.1; // bins
  double upsample_sigma = 1.0;
};

struct DriftRegistration {
  std::size_t n_batches = 0;
  std::size_t n_blocks = 0;             // 2·params.n_blocks - 1
  // First target: MATLAB's batch, 0-based min(300, floor(N/2)) - 1, at least 0 (pykilosort's
  // min(299, floor(N/2)) - 1 is one batch earlier from N = 600 on: §11 item 11, fixed here).
  std::size_t target_batch = 0;
  std::vector<int> rigid_shift_bins;    // per batch
  std::vector<double> dshift_um;        // n_batches × n_blocks
  std::vector<double> yblk_um;          // block centre depths
  std::vector<std::size_t> block_first_bin;
  std::size_t block_bins = 0;
};

// histograms: n_batches × n_depth_bins × n_amp_bins (each batch as drift_histogram wrote it).
// Steps: remove each (batch, amplitude bin)'s mean over depth; rigid: correlate every batch with
// the target for integer shifts, shift each batch by its best one and replace the target by the
// mean of the aligned batches (rigid_iterations passes, no shift in the last); non-rigid: per
// block and batch, correlation with the final target for ±block_max_shift bins, Gaussian
// smoothing over batches, blocks and shifts, kernel upsampling to upsample_step, argmax.
// Sign and reference: dshift is minus the displacement of the batch relative to the final target
// (the mean of the rigidly aligned batches, itself aligned to target_batch): a batch whose content
// sits D µm further from the tip (larger y) gets dshift ≈ -D. kriging_matrix with this row samples
// the batch at y - dshift = y + D, which undoes the displacement.
DriftRegistration register_drift(const float* histograms, std::size_t n_batches, const DriftHistogramGrid& grid,
                                 const DriftRegistrationParams& params, int threads = 0);

// ---------------------------------------------------------------------------------------------
// 4. Shift application (kriging)
// ---------------------------------------------------------------------------------------------

// Akima (1970) cubic interpolation through (xk, yk) (xk strictly increasing), with the end
// intervals' cubics extended beyond the knots (scipy Akima1DInterpolator(extrapolate=True)
// semantics, which pykilosort uses). One knot: constant; two knots: the straight line.
void akima_interpolate(const double* xk, const double* yk, std::size_t n_knots, const double* xq, std::size_t n_query,
                       double* out);

struct KrigingParams {
  double sigma_x_um = 20.0;  // sig_datashift
  double sigma_y_um = 30.0;  // 1.5 × sig_datashift
  double ridge = 0.01;
};

// Per-channel shift (µm) of one batch: Akima interpolation of its dshift row over yblk at y.
std::vector<double> channel_shifts(const double* dshift_row_um, const double* yblk_um, std::size_t n_blocks,
                                   const double* y_um, std::size_t n_channels);

// M = Kyx (Kxx + ridge·I)⁻¹ (n_channels × n_channels, row-major, float32) with the Laplacian
// kernel K(p, q) = exp(-|Δx|/σx - |Δy|/σy), Kyx between the shifted sites (x, y - shift) and the
// original sites. Kxx + ridge·I is symmetric positive definite (eigenvalues ≥ ridge), so we solve
// by Cholesky in double instead of KS's pinv: on a 384-channel NP1 probe its condition number is
// 6.6, pinv and solve agree to 2e-15, and our float M equals numpy's float64 solve rounded to
// float32 (checked while developing; the test checks the residual).
std::vector<float> kriging_matrix(const double* x_um, const double* y_um, std::size_t n_channels,
                                  const double* shift_um, const KrigingParams& params, int threads = 0);

// out[t, i] = Σ_j M[i, j] · x[t, j] (out = x · Mᵀ), float accumulation in channel order j.
// out may equal x (in place).
void apply_kriging(const float* x, std::size_t n_samples, std::size_t n_channels, const float* m, float* out,
                   int threads = 0);

}  // namespace spikeshard

#endif  // SPIKESHARD_DRIFT_H_
