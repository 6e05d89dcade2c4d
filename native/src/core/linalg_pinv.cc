// SPDX-License-Identifier: GPL-3.0-or-later
// The export's pseudo-inverse of the whitening matrix (coordinator/export/pinv.ts describes why a
// one-sided Jacobi SVD). Every expression keeps the operand order of the TypeScript loops it
// replaced and no FMA is enabled (binding.gyp and the Makefile pass -ffp-contract=off), so the
// results are those loops' bit for bit.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "spikeshard/linalg.h"
#include "spikeshard/threads.h"

namespace spikeshard {

namespace {

constexpr double kEps = std::numeric_limits<double>::epsilon();  // 2⁻⁵²
constexpr int kMaxSweeps = 80;
constexpr std::size_t kAhead = 4;  // pair products computed ahead

// Σ x[k] · y[k] in ascending k from +0: one rounding per product and per sum.
inline double dot(const double* x, const double* y, std::size_t n) {
  double s = 0;
  for (std::size_t k = 0; k < n; ++k) s += x[k] * y[k];
  return s;
}

// out[j] = Σ_k x[k] · y[j][k] in ascending k, for j < N: N independent chains, so each add waits
// less on the previous one's latency; the bits are those of dot().
template <int N>
inline void dots(const double* x, const double* const* y, std::size_t n, double* out) {
  double s[N > 0 ? N : 1] = {};
  for (std::size_t k = 0; k < n; ++k) {
    const double xk = x[k];
    for (int j = 0; j < N; ++j) s[j] += xk * y[j][k];
  }
  for (int j = 0; j < N; ++j) out[j] = s[j];
}

// The rotation of columns x and y (x ← cs·x − sn·y, y ← sn·x + cs·y) and, in the same pass, the
// dot products of the new x with the N columns z[j] (each summed in ascending k, as dot() does):
// the next pairs' products, computed while the rotation's arithmetic would wait anyway.
template <int N>
inline void rotate_then_dots(double* __restrict x, double* __restrict y, std::size_t n, double cs, double sn,
                             const double* const* z, double* out) {
  double s[N > 0 ? N : 1] = {};
  for (std::size_t k = 0; k < n; ++k) {
    const double xa = x[k];
    const double xb = y[k];
    const double xk = cs * xa - sn * xb;
    x[k] = xk;
    y[k] = sn * xa + cs * xb;
    for (int j = 0; j < N; ++j) s[j] += xk * z[j][k];
  }
  for (int j = 0; j < N; ++j) out[j] = s[j];
}

// Math.max(m, x) for m, x ≥ 0: NaN wins (an overflowed column must not be ignored).
inline double max_or_nan(double m, double x) { return std::isnan(x) || x > m ? x : m; }

inline void rotate(double* __restrict x, double* __restrict y, std::size_t n, double cs, double sn) {
  for (std::size_t k = 0; k < n; ++k) {
    const double xa = x[k];
    const double xb = y[k];
    x[k] = cs * xa - sn * xb;
    y[k] = sn * xa + cs * xb;
  }
}

// Progress of row p of a sweep (the pairs (p, q), q = p + 1 … cols − 1, in order): every pair
// with q < next is done. One cache line each: a row's counter is written by its thread and read
// by the thread of the next row only.
struct alignas(64) RowProgress {
  std::atomic<std::size_t> next{0};
};

// One sweep's rows over the columns of u (rows × cols, column by column) and of v, taken in
// order by whichever thread asks next. Row p may do pair (p, q) once row p − 1 has done
// (p − 1, q): then columns p and q hold exactly what the cyclic order has them hold before that
// pair (every earlier pair touching them is done, none later has started, since row p + 1 waits
// for row p in turn), so each column sees the same rotations in the same order as in the serial
// loop, and the results are its bits for any number of threads.
class Sweep {
 public:
  Sweep(double* u, double* v, double* norms, std::size_t rows, std::size_t cols, double negligible,
        double orthogonal, bool busy)
      : u_(u), v_(v), norms_(norms), rows_(rows), cols_(cols), negligible_(negligible), orthogonal_(orthogonal),
        busy_(busy), progress_(cols) {
    for (std::size_t p = 0; p < cols; ++p) progress_[p].next.store(p + 1, std::memory_order_relaxed);
  }

  // Takes rows until none is left.
  void work() {
    std::size_t rotations = 0;
    for (;;) {
      const std::size_t p = next_row_.fetch_add(1, std::memory_order_relaxed);
      if (p + 1 >= cols_) break;
      rotations += row(p);
    }
    rotations_.fetch_add(rotations, std::memory_order_relaxed);
  }

  std::size_t rotations() const { return rotations_.load(); }

 private:
  double* col(std::size_t c) const { return u_ + c * rows_; }

  // Columns before the returned index are done by row p − 1, at least q + 1 of them (waits).
  std::size_t wait_for(std::size_t p, std::size_t q, std::size_t ready) const {
    if (p == 0 || q < ready) return ready;
    const std::atomic<std::size_t>& before = progress_[p - 1].next;
    for (unsigned spin = 0;; ++spin) {
      const std::size_t done = before.load(std::memory_order_acquire);
      if (done > q) return done;
      if (spin >= 64) std::this_thread::yield();
    }
  }

  std::size_t row(std::size_t p) {
    std::atomic<std::size_t>& mine = progress_[p].next;
    std::size_t rotations = 0;
    std::size_t ready = p == 0 ? cols_ : 0;  // columns < ready are done by row p − 1
    // gamma of the pairs (p, ahead_from + j), j < ahead_count, computed from column p as it is
    // now: valid until a rotation changes column p (and then computed again, in that rotation's
    // pass over the column). Which products are computed ahead decides the speed, never a bit.
    double ahead[kAhead];
    std::size_t ahead_from = 0;
    std::size_t ahead_count = 0;
    const double* z[kAhead];
    for (std::size_t q = p + 1; q < cols_; ++q) {
      ready = wait_for(p, q, ready);
      const double alpha = norms_[p];
      const double beta = norms_[q];
      if (alpha <= negligible_ || beta <= negligible_) {
        mine.store(q + 1, std::memory_order_release);
        continue;
      }
      double gamma;
      if (ahead_from <= q && q < ahead_from + ahead_count) {
        gamma = ahead[q - ahead_from];
      } else {
        const std::size_t count = std::min({kAhead, cols_ - q, ready - q});
        for (std::size_t j = 0; j < count; ++j) z[j] = col(q + j);
        switch (count) {
          case 1:
            dots<1>(col(p), z, rows_, ahead);
            break;
          case 2:
            dots<2>(col(p), z, rows_, ahead);
            break;
          case 3:
            dots<3>(col(p), z, rows_, ahead);
            break;
          default:
            dots<4>(col(p), z, rows_, ahead);
            break;
        }
        ahead_from = q;
        ahead_count = count;
        gamma = ahead[0];
      }
      if (std::fabs(gamma) <= orthogonal_ * std::sqrt(alpha * beta)) {
        mine.store(q + 1, std::memory_order_release);
        continue;
      }
      ++rotations;
      // The rotation that zeroes the (p, q) entry of UᵀU, taking the smaller angle.
      const double zeta = (beta - alpha) / (2 * gamma);
      const double t = (zeta >= 0 ? 1.0 : -1.0) / (std::fabs(zeta) + std::sqrt(1 + zeta * zeta));
      const double cs = 1 / std::sqrt(1 + t * t);
      const double sn = cs * t;
      // While most pairs rotate, a product computed ahead is mostly thrown away: one then.
      const std::size_t count = std::min({busy_ ? std::size_t{1} : kAhead, cols_ - q - 1, ready - q - 1});
      for (std::size_t j = 0; j < count; ++j) z[j] = col(q + 1 + j);
      switch (count) {
        case 0:
          rotate_then_dots<0>(col(p), col(q), rows_, cs, sn, z, ahead);
          break;
        case 1:
          rotate_then_dots<1>(col(p), col(q), rows_, cs, sn, z, ahead);
          break;
        case 2:
          rotate_then_dots<2>(col(p), col(q), rows_, cs, sn, z, ahead);
          break;
        case 3:
          rotate_then_dots<3>(col(p), col(q), rows_, cs, sn, z, ahead);
          break;
        default:
          rotate_then_dots<4>(col(p), col(q), rows_, cs, sn, z, ahead);
          break;
      }
      ahead_from = q + 1;
      ahead_count = count;
      rotate(v_ + p * cols_, v_ + q * cols_, cols_, cs, sn);
      norms_[p] = alpha - t * gamma;
      norms_[q] = beta + t * gamma;
      mine.store(q + 1, std::memory_order_release);
    }
    return rotations;
  }

  double* u_;
  double* v_;
  double* norms_;
  std::size_t rows_;
  std::size_t cols_;
  double negligible_;
  double orthogonal_;
  bool busy_;
  std::vector<RowProgress> progress_;
  std::atomic<std::size_t> next_row_{0};
  std::atomic<std::size_t> rotations_{0};
};

// The pseudo-inverse of a tall matrix (rows ≥ cols) given column by column: u holds column c at
// u[c·rows …] and is overwritten (it ends as U·Σ).
PseudoInverse tall_pseudo_inverse(std::vector<double>& u, std::size_t rows, std::size_t cols,
                                  std::optional<double> rcond, int threads) {
  std::vector<double> v(cols * cols, 0.0);
  for (std::size_t c = 0; c < cols; ++c) v[c * cols + c] = 1;
  std::vector<double> norms(cols);
  // Columns count as orthogonal once their cosine is at rounding level for a dot product of
  // `rows` terms; a tighter bound only chases rounding noise for many more sweeps.
  const double orthogonal = std::sqrt(static_cast<double>(rows)) * kEps;
  const auto col = [&](std::size_t c) { return u.data() + c * rows; };
  // Below ~64 columns a pair is too little work to hand between threads.
  const std::size_t team =
      cols < 64 ? 1 : std::min<std::size_t>(cols / 16, static_cast<std::size_t>(threads > 0 ? threads : default_threads()));

  bool converged = false;
  bool busy = true;  // whether most pairs rotated in the last sweep
  for (int sweep = 0; sweep < kMaxSweeps && !converged; ++sweep) {
    // Recomputed every sweep: updating them through rotations alone would let rounding drift in.
    double largest = 0;
    for (std::size_t c = 0; c < cols; ++c) {
      norms[c] = dot(col(c), col(c), rows);
      largest = max_or_nan(largest, norms[c]);
    }
    // A column below rounding level of the largest one is numerically zero (far under the final
    // tolerance); its direction is noise that further rotations could never settle.
    const double negligible = (kEps * kEps * largest) / 4;
    Sweep pass(u.data(), v.data(), norms.data(), rows, cols, negligible, orthogonal, busy);
    // Each thread takes rows until none is left; which thread does a row changes no bit.
    parallel_for(
        team, [&](std::size_t, std::size_t) { pass.work(); }, static_cast<int>(team));
    converged = pass.rotations() == 0;
    busy = 2 * pass.rotations() > cols * (cols - 1) / 2;
  }
  if (!converged) {
    throw std::runtime_error("pseudo_inverse: Jacobi SVD did not converge in " + std::to_string(kMaxSweeps) +
                             " sweeps");
  }

  PseudoInverse out;
  std::vector<double> sigma(cols);
  double sigma_max = 0;
  for (std::size_t c = 0; c < cols; ++c) {
    sigma[c] = std::sqrt(dot(col(c), col(c), rows));
    sigma_max = max_or_nan(sigma_max, sigma[c]);
  }
  out.tolerance = rcond.value_or(static_cast<double>(std::max(rows, cols)) * kEps) * sigma_max;

  // A = Σ_j u_j v_jᵀ with u_j = σ_j · (unit left vector), so A⁺ = Σ_j v_j u_jᵀ / σ_j², each
  // value summed over j in ascending order (one output row per thread: the bits do not depend
  // on the thread count).
  std::vector<double> weight(cols, 0.0);  // 1 / σ_j², 0 for the directions dropped
  std::vector<std::size_t> kept;
  for (std::size_t j = 0; j < cols; ++j) {
    const double s = sigma[j];
    if (!(s > out.tolerance)) continue;
    weight[j] = 1 / (s * s);
    kept.push_back(j);
  }
  out.rank = kept.size();
  out.inverse.assign(cols * rows, 0.0);
  parallel_for(
      cols,
      [&](std::size_t i0, std::size_t i1) {
        for (std::size_t i = i0; i < i1; ++i) {
          double* __restrict row = out.inverse.data() + i * rows;
          for (const std::size_t j : kept) {
            const double vij = v[j * cols + i] * weight[j];
            if (vij == 0) continue;
            const double* __restrict uj = col(j);
            for (std::size_t k = 0; k < rows; ++k) row[k] += vij * uj[k];
          }
        }
      },
      threads);

  // Descending, NaN (from an overflow) first, as a sorted-then-reversed Float64Array has them.
  out.singular_values = sigma;
  const auto numbers = std::partition(out.singular_values.begin(), out.singular_values.end(),
                                      [](double x) { return std::isnan(x); });
  std::sort(numbers, out.singular_values.end(), [](double x, double y) { return x > y; });
  return out;
}

}  // namespace

PseudoInverse pseudo_inverse(const double* a, std::size_t rows, std::size_t cols, std::optional<double> rcond,
                             int threads) {
  if (rows > 0 && cols > 0 && a == nullptr) throw std::invalid_argument("pseudo_inverse: a is missing");
  for (std::size_t i = 0; i < rows * cols; ++i) {
    if (!std::isfinite(a[i])) {
      throw std::invalid_argument("pseudo_inverse: a[" + std::to_string(i / cols) + ", " + std::to_string(i % cols) +
                                  "] = " + std::to_string(a[i]) + ", expected a finite value");
    }
  }
  // Columns of the tall matrix, each stored contiguously: those of A, or for a wide A those of
  // Aᵀ (its rows), since more columns than rows cannot all become orthogonal; pinv(A) = pinv(Aᵀ)ᵀ.
  const bool tall = rows >= cols;
  const std::size_t m = tall ? rows : cols;  // rows of the tall matrix
  const std::size_t n = tall ? cols : rows;  // its columns
  std::vector<double> u(m * n);
  if (tall) {
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t c = 0; c < cols; ++c) u[c * rows + r] = a[r * cols + c];
  } else {
    std::copy(a, a + rows * cols, u.begin());
  }
  PseudoInverse out = tall_pseudo_inverse(u, m, n, rcond, threads);
  if (!tall) {
    // (n × m) = (rows × cols) pseudo-inverse of Aᵀ → its transpose, (cols × rows).
    std::vector<double> t(cols * rows);
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t c = 0; c < cols; ++c) t[c * rows + r] = out.inverse[r * cols + c];
    out.inverse = std::move(t);
  }
  return out;
}

}  // namespace spikeshard
