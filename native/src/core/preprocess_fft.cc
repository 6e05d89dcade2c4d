// SPDX-License-Identifier: GPL-3.0-or-later
// Recursive decimation in time: a length n = p·m transform is p transforms of length m over the
// samples r, r + p, r + 2p, … followed by length-p butterflies on twiddled outputs.
#include "preprocess_fft.h"

#include <cmath>
#include <numbers>
#include <stdexcept>
#include <string>

namespace spikeshard {

namespace {

using Complex = std::complex<double>;

std::vector<std::size_t> factorise(std::size_t n) {
  std::vector<std::size_t> factors;
  while (n % 4 == 0) {
    factors.push_back(4);
    n /= 4;
  }
  for (std::size_t p = 2; n > 1; ++p) {
    while (n % p == 0) {
      factors.push_back(p);
      n /= p;
    }
    if (p * p > n && n > 1) {
      factors.push_back(n);
      break;
    }
  }
  return factors;
}

std::vector<Complex> unit_roots(std::size_t n, std::size_t count) {
  std::vector<Complex> w(count);
  for (std::size_t j = 0; j < count; ++j) {
    double angle = -2.0 * std::numbers::pi * static_cast<double>(j) / static_cast<double>(n);
    w[j] = Complex(std::cos(angle), std::sin(angle));
  }
  return w;
}

}  // namespace

FftPlan::FftPlan(std::size_t n) : n_(n) {
  if (n == 0) throw std::invalid_argument("FftPlan: length must be at least 1");
  factors_ = factorise(n);
  twiddles_ = unit_roots(n, n);
}

void FftPlan::transform(const Complex* in, std::size_t in_stride, Complex* out, std::size_t n,
                        std::size_t factor_index, std::size_t twiddle_stride) const {
  if (n == 1) {
    out[0] = in[0];
    return;
  }
  const std::size_t p = factors_[factor_index];
  const std::size_t m = n / p;
  for (std::size_t r = 0; r < p; ++r) {
    transform(in + r * in_stride, in_stride * p, out + r * m, m, factor_index + 1, twiddle_stride * p);
  }
  // twiddles_[j·twiddle_stride] = exp(−2πi·j/n) for the current n.
  const Complex* w = twiddles_.data();
  if (p == 2) {
    for (std::size_t k = 0; k < m; ++k) {
      Complex t0 = out[k];
      Complex t1 = out[m + k] * w[k * twiddle_stride];
      out[k] = t0 + t1;
      out[k + m] = t0 - t1;
    }
  } else if (p == 4) {
    for (std::size_t k = 0; k < m; ++k) {
      Complex t0 = out[k];
      Complex t1 = out[m + k] * w[k * twiddle_stride];
      Complex t2 = out[2 * m + k] * w[2 * k * twiddle_stride];
      Complex t3 = out[3 * m + k] * w[3 * k * twiddle_stride];
      Complex a = t0 + t2, b = t0 - t2, c = t1 + t3;
      Complex d = t1 - t3;
      d = Complex(d.imag(), -d.real());  // ·(−i)
      out[k] = a + c;
      out[k + m] = b + d;
      out[k + 2 * m] = a - c;
      out[k + 3 * m] = b - d;
    }
  } else if (p == 3) {
    const double half_sqrt3 = std::sqrt(3.0) / 2.0;
    for (std::size_t k = 0; k < m; ++k) {
      Complex t0 = out[k];
      Complex t1 = out[m + k] * w[k * twiddle_stride];
      Complex t2 = out[2 * m + k] * w[2 * k * twiddle_stride];
      Complex s = t1 + t2;
      Complex d = t1 - t2;
      Complex base = t0 - 0.5 * s;
      Complex rot(half_sqrt3 * d.imag(), -half_sqrt3 * d.real());  // ·(−i·√3/2)
      out[k] = t0 + s;
      out[k + m] = base + rot;
      out[k + 2 * m] = base - rot;
    }
  } else {
    std::vector<Complex> t(p);
    const std::size_t root_stride = n_ / p;  // twiddles_[q·root_stride] = exp(−2πi·q/p)
    for (std::size_t k = 0; k < m; ++k) {
      for (std::size_t r = 0; r < p; ++r) t[r] = out[r * m + k] * w[r * k * twiddle_stride];
      for (std::size_t q = 0; q < p; ++q) {
        Complex sum = t[0];
        for (std::size_t r = 1; r < p; ++r) sum += t[r] * w[((r * q) % p) * root_stride];
        out[k + q * m] = sum;
      }
    }
  }
}

void FftPlan::forward(const Complex* in, Complex* out) const { transform(in, 1, out, n_, 0, 1); }

void FftPlan::inverse(const Complex* in, Complex* out) const {
  std::vector<Complex> conjugated(n_);
  for (std::size_t j = 0; j < n_; ++j) conjugated[j] = std::conj(in[j]);
  transform(conjugated.data(), 1, out, n_, 0, 1);
  const double norm = 1.0 / static_cast<double>(n_);
  for (std::size_t j = 0; j < n_; ++j) out[j] = std::conj(out[j]) * norm;
}

RealFftPlan::RealFftPlan(std::size_t n) : n_(n), half_(n == 0 ? 1 : (n % 2 == 0 ? n / 2 : n)) {
  if (n == 0) throw std::invalid_argument("RealFftPlan: length must be at least 1");
  twiddles_ = unit_roots(n, n / 2 + 1);
}

void RealFftPlan::forward(const double* in, Complex* out) const {
  if (n_ % 2 == 1) {
    std::vector<Complex> z(n_), spectrum(n_);
    for (std::size_t j = 0; j < n_; ++j) z[j] = in[j];
    half_.forward(z.data(), spectrum.data());
    for (std::size_t k = 0; k <= n_ / 2; ++k) out[k] = spectrum[k];
    return;
  }
  // Even and odd samples packed as one complex signal; their spectra are separated by the
  // conjugate symmetry of real transforms and recombined with one twiddle.
  const std::size_t h = n_ / 2;
  std::vector<Complex> z(h), spectrum(h);
  for (std::size_t j = 0; j < h; ++j) z[j] = Complex(in[2 * j], in[2 * j + 1]);
  half_.forward(z.data(), spectrum.data());
  for (std::size_t k = 0; k <= h; ++k) {
    Complex zk = spectrum[k % h];
    Complex zc = std::conj(spectrum[(h - k) % h]);
    Complex even = 0.5 * (zk + zc);
    Complex diff = 0.5 * (zk - zc);
    Complex odd(diff.imag(), -diff.real());  // (zk − zc) / 2i
    out[k] = even + twiddles_[k] * odd;
  }
}

void RealFftPlan::inverse(const Complex* in, double* out) const {
  const std::size_t h = n_ / 2;
  if (n_ % 2 == 1) {
    std::vector<Complex> spectrum(n_), z(n_);
    spectrum[0] = in[0].real();
    for (std::size_t k = 1; k <= h; ++k) {
      spectrum[k] = in[k];
      spectrum[n_ - k] = std::conj(in[k]);
    }
    half_.inverse(spectrum.data(), z.data());
    for (std::size_t j = 0; j < n_; ++j) out[j] = z[j].real();
    return;
  }
  std::vector<Complex> spectrum(h), z(h);
  for (std::size_t k = 0; k < h; ++k) {
    // Bins 0 and n/2 of a real signal are real: their imaginary parts are dropped.
    Complex xk = k == 0 ? Complex(in[0].real(), 0.0) : in[k];
    Complex xc = k == 0 ? Complex(in[h].real(), 0.0) : std::conj(in[h - k]);
    Complex even = 0.5 * (xk + xc);
    Complex odd = 0.5 * (xk - xc) * std::conj(twiddles_[k]);
    spectrum[k] = even + Complex(-odd.imag(), odd.real());  // even + i·odd
  }
  half_.inverse(spectrum.data(), z.data());
  for (std::size_t j = 0; j < h; ++j) {
    out[2 * j] = z[j].real();
    out[2 * j + 1] = z[j].imag();
  }
}

}  // namespace spikeshard
