// SPDX-License-Identifier: GPL-3.0-or-later
// Kernels of the post-processing (coordinator/postprocess): the per-spike linear algebra of the
// cluster splits, where a cluster's (spikes × features) matrix is reduced to a (features ×
// features) one. Each output value is summed over spikes in spike order, one value per thread,
// so results are bitwise those of a plain sequential loop, whatever the thread count.
#ifndef SPIKESHARD_POSTPROCESS_H_
#define SPIKESHARD_POSTPROCESS_H_

#include <cstddef>
#include <cstdint>

namespace spikeshard {

// Weighted Gram matrix of the rows of x (n × dims, row-major):
//   gram[c][d] = Σ_i (x[i][c] · w[i]) · x[i][d]       (w == nullptr: Σ_i x[i][c] · x[i][d])
//   rhs[c]     = Σ_i x[i][c] · t[i]                    (only when t and rhs are given)
// summed in ascending i, terms with x[i][c] == 0 left out (they add nothing). Only d ≥ c is
// summed; gram[d][c] is a copy of gram[c][d]. gram (dims × dims) and rhs (dims) are overwritten.
// threads = 0: the default thread count.
void weighted_gram(const double* x, std::size_t n, std::size_t dims, const double* w, const double* t, double* gram,
                   double* rhs, int threads = 0);

// Running mean along rows of x (n × dims): three passes of a box sum over rows i − half … i +
// half (clipped at the ends), each a running sum that adds the entering row and then drops the
// leaving one, and finally each value divided by the same running sums of a column of ones (the
// window's weight). out (n × dims) is overwritten.
void running_mean(const double* x, std::size_t n, std::size_t dims, std::size_t half, double* out, int threads = 0);

// out[i] = Σ_d x[i][d] · w[d], summed in ascending d. out (n) is overwritten.
void project_rows(const double* x, std::size_t n, std::size_t dims, const double* w, double* out, int threads = 0);

// Solves A·x = b (n × n, row-major) by Gaussian elimination with partial pivoting (the first
// row with the largest |pivot| wins), rows with a zero factor skipped, then back substitution.
// Throws std::invalid_argument when a pivot's magnitude is below 1e-300 (singular matrix).
void solve_linear(const double* a, const double* b, std::size_t n, double* x);

// The outcome of a bimodal pursuit: the mean responsibility of each half for its own spikes.
struct BimodalFit {
  double confidence_first;
  double confidence_second;
};

// The cluster splits' bimodal pursuit (ks25-algorithm.md §5.3 step 4) of the rows of x (n ×
// dims): the top direction of the second-moment matrix (200 power iterations), then 50
// iterations of a two-Gaussian EM along it, the direction refitted by weighted least squares on
// every fourth iteration from the tenth. in_first (n) receives 1 for the spikes given to the first
// Gaussian (responsibility > 0.5). Deterministic and independent of `threads` (the Gram matrices
// and projections are summed as weighted_gram and project_rows promise). Throws
// std::invalid_argument for dims == 0 or a singular refit system.
BimodalFit bimodal_pursuit(const double* x, std::size_t n, std::size_t dims, std::uint8_t* in_first, int threads = 0);

// The features of spikes `members` (m, indices into rows) of a cluster on the channels of template
// `reference`: rows (n_rows × n_pc·k, float) holds each spike's PC features on the k channels of
// its own template (templates[i]; pc_feature_ind is n_templates × k); a spike's feature for channel
// c goes to the reference's slot of c (the last when listed twice), 0 where the reference lacks c.
// out (m × n_pc·k) is overwritten. Throws std::invalid_argument for a member, template or
// reference out of range.
void split_features(const float* rows, std::size_t n_rows, std::size_t n_pc, std::size_t k,
                    const std::uint32_t* templates, const std::int32_t* members, std::size_t m,
                    const std::uint32_t* pc_feature_ind, std::size_t n_templates, std::size_t reference, double* out);

// The mean row of the spikes with in_first[i] != 0 and of the others (x: n × dims), each summed in
// ascending i and divided by max(1, count). mean_first and mean_second (dims) are overwritten.
void half_means(const double* x, std::size_t n, std::size_t dims, const std::uint8_t* in_first, double* mean_first,
                double* mean_second);

// out = raw − running_mean(raw) (both n × dims; out must not overlap raw).
void detrend_rows(const double* raw, std::size_t n, std::size_t dims, std::size_t half, double* out,
                  int threads = 0);

}  // namespace spikeshard

#endif  // SPIKESHARD_POSTPROCESS_H_
