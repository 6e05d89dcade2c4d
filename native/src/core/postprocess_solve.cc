// SPDX-License-Identifier: GPL-3.0-or-later
#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <utility>
#include <vector>

#include "spikeshard/postprocess.h"

namespace spikeshard {

void solve_linear(const double* a, const double* b, std::size_t n, double* x) {
  std::vector<double> m(a, a + n * n);
  for (std::size_t i = 0; i < n; ++i) x[i] = b[i];
  for (std::size_t col = 0; col < n; ++col) {
    std::size_t piv = col;
    for (std::size_t r = col + 1; r < n; ++r) {
      if (std::fabs(m[r * n + col]) > std::fabs(m[piv * n + col])) piv = r;
    }
    if (std::fabs(m[piv * n + col]) < 1e-300) throw std::invalid_argument("solveLinear: singular matrix");
    if (piv != col) {
      for (std::size_t k = 0; k < n; ++k) std::swap(m[col * n + k], m[piv * n + k]);
      std::swap(x[col], x[piv]);
    }
    const double* pivot_row = m.data() + col * n;
    for (std::size_t r = col + 1; r < n; ++r) {
      double* row = m.data() + r * n;
      const double f = row[col] / pivot_row[col];
      if (f == 0) continue;
      for (std::size_t k = col; k < n; ++k) row[k] -= f * pivot_row[k];
      x[r] -= f * x[col];
    }
  }
  for (std::size_t r = n; r-- > 0;) {
    double s = x[r];
    for (std::size_t k = r + 1; k < n; ++k) s -= m[r * n + k] * x[k];
    x[r] = s / m[r * n + r];
  }
}

}  // namespace spikeshard
