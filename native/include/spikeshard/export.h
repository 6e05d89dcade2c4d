// SPDX-License-Identifier: GPL-3.0-or-later
// Kernels of the export (coordinator/export/derived.ts): the sorter's whitened templates brought
// back to ADC counts, and their peak-to-peak amplitudes. Each output value is computed by one
// thread in a fixed order, so results are bitwise those of the plain sequential loops (the
// TypeScript ones these replaced), whatever the thread count.
#ifndef SPIKESHARD_EXPORT_H_
#define SPIKESHARD_EXPORT_H_

#include <cstddef>
#include <cstdint>

namespace spikeshard {

// out (rows × n) = a (rows × n, float) · b (n × n), row-major. Rows go in groups of four from
// row 0 (the last rows % 4 one at a time); out[r][c] = Σ_k a[r][k] · b[k][c] from +0 in ascending
// k, leaving out the k where all four a values of r's group are 0 (a lone row: where a[r][k] is
// 0). out is overwritten. threads = 0: the default thread count.
void multiply_rows(const float* a, const double* b, std::size_t rows, std::size_t n, double* out, int threads = 0);

// Per template t of `templates` (templates × nt0 × channels, row-major, whitened float and
// unwhitened double), with p2p(x, c) = max_i x[t][i][c] − min_i x[t][i][c] over the samples
// (NaN samples ignored; −∞ when there are none):
//   peak_channels[t] = the first c with the largest p2p(whitened, c) above −1 (0 when none);
//   p2p_counts[t]    = max(+0, max_c p2p(unwhitened, c));
//   p2p_volts[t]     = max(+0, max_c p2p(unwhitened, c) · uv_per_count[c] · 1e-6),
// maxima taken in ascending c as JavaScript's Math.max does (NaN wins; +0 over −0).
void template_peak_to_peak(const float* whitened, const double* unwhitened, const double* uv_per_count,
                           std::size_t templates, std::size_t nt0, std::size_t channels, double* p2p_counts,
                           double* p2p_volts, std::int32_t* peak_channels, int threads = 0);

}  // namespace spikeshard

#endif  // SPIKESHARD_EXPORT_H_
