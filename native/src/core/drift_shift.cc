// SPDX-License-Identifier: GPL-3.0-or-later
// Applying a drift estimate to a batch by kriging (docs/ks25-algorithm.md §3.3): per-channel
// shifts by Akima interpolation of the batch's dshift row, the interpolation matrix
// M = Kyx (Kxx + ridge·I)⁻¹, and out = data · Mᵀ.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

#include "drift_simd.h"
#include "spikeshard/drift.h"
#include "spikeshard/threads.h"

namespace spikeshard {

namespace {

constexpr std::size_t kRowTile = 64;  // samples per work item of apply_kriging

void require(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument(what);
}

// In-place Cholesky factorisation A = L Lᵀ of a symmetric positive definite n × n matrix
// (row-major, lower triangle used and overwritten by L).
void cholesky(std::vector<double>& a, std::size_t n) {
  for (std::size_t j = 0; j < n; ++j) {
    double d = a[j * n + j];
    for (std::size_t k = 0; k < j; ++k) d -= a[j * n + k] * a[j * n + k];
    if (!(d > 0)) throw std::runtime_error("kriging_matrix: Kxx + ridge·I is not positive definite (pivot " +
                                           std::to_string(j) + " = " + std::to_string(d) + ")");
    const double ljj = std::sqrt(d);
    a[j * n + j] = ljj;
    for (std::size_t i = j + 1; i < n; ++i) {
      double s = a[i * n + j];
      for (std::size_t k = 0; k < j; ++k) s -= a[i * n + k] * a[j * n + k];
      a[i * n + j] = s / ljj;
    }
  }
}

}  // namespace

void akima_interpolate(const double* xk, const double* yk, std::size_t n, const double* xq, std::size_t m,
                       double* out) {
  require(n >= 1, "akima_interpolate: need at least one knot");
  for (std::size_t i = 0; i + 1 < n; ++i) {
    require(xk[i + 1] > xk[i], "akima_interpolate: knots must be strictly increasing");
  }
  if (n == 1) {
    std::fill(out, out + m, yk[0]);
    return;
  }
  // Slopes of the n - 1 intervals, extended by two on each side (Akima's linear extension).
  std::vector<double> s(n + 3);
  double* sl = s.data() + 2;  // sl[i] = slope of interval i, valid for i in [-2, n]
  for (std::size_t i = 0; i + 1 < n; ++i) sl[i] = (yk[i + 1] - yk[i]) / (xk[i + 1] - xk[i]);
  std::vector<double> t(n);
  if (n == 2) {
    t[0] = t[1] = sl[0];
  } else {
    const auto last = static_cast<std::ptrdiff_t>(n) - 2;
    sl[-1] = 2 * sl[0] - sl[1];
    sl[-2] = 2 * sl[-1] - sl[0];
    sl[last + 1] = 2 * sl[last] - sl[last - 1];
    sl[last + 2] = 2 * sl[last + 1] - sl[last];
    double fmax = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const auto q = static_cast<std::ptrdiff_t>(i);
      fmax = std::max(fmax, std::fabs(sl[q + 1] - sl[q]) + std::fabs(sl[q - 1] - sl[q - 2]));
    }
    for (std::size_t i = 0; i < n; ++i) {
      const auto q = static_cast<std::ptrdiff_t>(i);
      const double f1 = std::fabs(sl[q + 1] - sl[q]), f2 = std::fabs(sl[q - 1] - sl[q - 2]);
      // Where both weights vanish (locally straight data) the slope is the mean of its neighbours.
      t[i] = f1 + f2 > 1e-9 * fmax ? (f1 * sl[q - 1] + f2 * sl[q]) / (f1 + f2) : 0.5 * (sl[q - 1] + sl[q]);
    }
  }
  for (std::size_t qi = 0; qi < m; ++qi) {
    const double xv = xq[qi];
    // Interval: the last knot <= xv, kept within [0, n - 2] so the end cubics extrapolate.
    std::size_t i = static_cast<std::size_t>(std::upper_bound(xk, xk + n, xv) - xk);
    i = i == 0 ? 0 : std::min(i - 1, n - 2);
    const double h = xk[i + 1] - xk[i], d = xv - xk[i];
    const double c2 = (3 * sl[i] - 2 * t[i] - t[i + 1]) / h;
    const double c3 = (t[i] + t[i + 1] - 2 * sl[i]) / (h * h);
    out[qi] = yk[i] + d * (t[i] + d * (c2 + d * c3));
  }
}

std::vector<double> channel_shifts(const double* dshift_row_um, const double* yblk_um, std::size_t n_blocks,
                                   const double* y_um, std::size_t n_channels) {
  std::vector<double> out(n_channels);
  akima_interpolate(yblk_um, dshift_row_um, n_blocks, y_um, n_channels, out.data());
  return out;
}

namespace {

// The factor of Kxx + ridge·I depends only on the probe and the kernel, not on the shifts: every
// batch's matrix of a sort shares it, so the last one is kept (an n³/3 serial step per call else).
struct KrigingFactor {
  std::vector<double> x_um, y_um;
  double sigma_x_um, sigma_y_um, ridge;
  std::vector<double> l;   // Cholesky factor L, row-major lower triangle
  std::vector<double> lt;  // Lᵀ, so the back substitution reads rows
};

std::mutex factor_mutex;
std::shared_ptr<const KrigingFactor> last_factor;

double kriging_kernel(const KrigingParams& p, double xa, double ya, double xb, double yb) {
  return std::exp(-std::fabs(xa - xb) / p.sigma_x_um - std::fabs(ya - yb) / p.sigma_y_um);
}

std::shared_ptr<const KrigingFactor> kriging_factor(const double* x_um, const double* y_um, std::size_t n,
                                                    const KrigingParams& p) {
  {
    const std::lock_guard<std::mutex> lock(factor_mutex);
    const auto& f = last_factor;
    if (f && f->x_um.size() == n && std::equal(x_um, x_um + n, f->x_um.begin()) &&
        std::equal(y_um, y_um + n, f->y_um.begin()) && f->sigma_x_um == p.sigma_x_um &&
        f->sigma_y_um == p.sigma_y_um && f->ridge == p.ridge) {
      return f;
    }
  }
  auto f = std::make_shared<KrigingFactor>();
  f->x_um.assign(x_um, x_um + n);
  f->y_um.assign(y_um, y_um + n);
  f->sigma_x_um = p.sigma_x_um;
  f->sigma_y_um = p.sigma_y_um;
  f->ridge = p.ridge;
  std::vector<double>& a = f->l;
  a.resize(n * n);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < n; ++j) a[i * n + j] = kriging_kernel(p, x_um[i], y_um[i], x_um[j], y_um[j]);
    a[i * n + i] += p.ridge;
  }
  cholesky(a, n);
  f->lt.assign(n * n, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j <= i; ++j) f->lt[j * n + i] = a[i * n + j];
  }
  const std::lock_guard<std::mutex> lock(factor_mutex);
  last_factor = f;
  return f;
}

// Rows of M solved together: each row's arithmetic is unchanged (same operations in the same
// order), but interleaving independent rows lets the compiler vectorise across them and breaks the
// dependency chain of a single row's running sum.
constexpr std::size_t kRowsTogether = 4;

}  // namespace

std::vector<float> kriging_matrix(const double* x_um, const double* y_um, std::size_t n,
                                  const double* shift_um, const KrigingParams& p, int threads) {
  require(n > 0, "kriging_matrix: n_channels must be > 0");
  require(p.sigma_x_um > 0 && p.sigma_y_um > 0 && p.ridge > 0,
          "kriging_matrix: sigma_x_um, sigma_y_um and ridge must be > 0");
  for (std::size_t c = 0; c < n; ++c) {
    require(std::isfinite(x_um[c]) && std::isfinite(y_um[c]) && std::isfinite(shift_um[c]),
            "kriging_matrix: position or shift of channel " + std::to_string(c) + " is not finite");
  }
  const std::shared_ptr<const KrigingFactor> factor = kriging_factor(x_um, y_um, n, p);
  const double* a = factor->l.data();
  const double* lt = factor->lt.data();
  constexpr std::size_t R = kRowsTogether;
  // Row i of M solves (Kxx + ridge·I) m = Kyx[i, :]ᵀ (the matrix is symmetric).
  std::vector<float> m(n * n);
  const std::size_t n_groups = (n + R - 1) / R;
  parallel_for(n_groups, [&](std::size_t b, std::size_t e) {
    std::vector<double> z(n * R);  // z[j * R + r]: unknown j of row r of the group
    for (std::size_t g = b; g < e; ++g) {
      const std::size_t first = g * R;
      const std::size_t rows = std::min(R, n - first);
      double xs[R], ys[R];
      for (std::size_t r = 0; r < R; ++r) {
        const std::size_t i = first + std::min(r, rows - 1);  // a short last group repeats its last row
        xs[r] = x_um[i];
        ys[r] = y_um[i] - shift_um[i];
      }
      for (std::size_t j = 0; j < n; ++j) {
        double s[R];
        for (std::size_t r = 0; r < R; ++r) s[r] = kriging_kernel(p, xs[r], ys[r], x_um[j], y_um[j]);
        const double* aj = a + j * n;
        for (std::size_t k = 0; k < j; ++k) {
          const double* zk = z.data() + k * R;
          for (std::size_t r = 0; r < R; ++r) s[r] -= aj[k] * zk[r];
        }
        for (std::size_t r = 0; r < R; ++r) z[j * R + r] = s[r] / aj[j];
      }
      for (std::size_t j = n; j-- > 0;) {
        double s[R];
        for (std::size_t r = 0; r < R; ++r) s[r] = z[j * R + r];
        const double* ltj = lt + j * n;
        for (std::size_t k = j + 1; k < n; ++k) {
          const double* zk = z.data() + k * R;
          for (std::size_t r = 0; r < R; ++r) s[r] -= ltj[k] * zk[r];
        }
        for (std::size_t r = 0; r < R; ++r) z[j * R + r] = s[r] / a[j * n + j];
      }
      for (std::size_t r = 0; r < rows; ++r) {
        for (std::size_t j = 0; j < n; ++j) m[(first + r) * n + j] = static_cast<float>(z[j * R + r]);
      }
    }
  }, threads);
  return m;
}

void apply_kriging(const float* x, std::size_t n_samples, std::size_t n, const float* m, float* out, int threads) {
  require(n > 0, "apply_kriging: n_channels must be > 0");
  // mt[j * np + i] = M[i, j], columns padded with zeros to the micro-kernel's width.
  const std::size_t np = (n + drift_simd::kKrigeColumns - 1) / drift_simd::kKrigeColumns * drift_simd::kKrigeColumns;
  std::vector<float> mt(n * np, 0.0f);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < n; ++j) mt[j * np + i] = m[i * n + j];
  }
  const std::size_t n_tiles = (n_samples + kRowTile - 1) / kRowTile;
  constexpr auto kRows = static_cast<std::size_t>(drift_simd::kKrigeRows);
  parallel_for(n_tiles, [&](std::size_t tb, std::size_t te) {
    std::vector<float> buf(kRowTile * np);
    for (std::size_t tile = tb; tile < te; ++tile) {
      const std::size_t t0 = tile * kRowTile, rows = std::min(kRowTile, n_samples - t0);
      for (std::size_t r0 = 0; r0 < rows; r0 += kRows) {
        drift_simd::krige_rows(x + (t0 + r0) * n, std::min(kRows, rows - r0), n, mt.data(), np, buf.data() + r0 * np);
      }
      // Written only after the whole tile is read, so out may alias x.
      for (std::size_t r = 0; r < rows; ++r) std::memcpy(out + (t0 + r) * n, buf.data() + r * np, n * sizeof(float));
    }
  }, threads);
}

}  // namespace spikeshard
