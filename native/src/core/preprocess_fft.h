// SPDX-License-Identifier: GPL-3.0-or-later
// A small mixed-radix FFT for the CPU core (no FFT library is assumed where we run). Any length
// works: factors 4, 2 and 3 have dedicated butterflies, other prime factors use a generic O(p²)
// butterfly, so lengths with large prime factors are slow but correct. Twiddles are
// computed directly with cos/sin in double (no recurrences), so the error stays ~1e-15·log n.
// Plans are immutable after construction and can be shared between threads.
#ifndef SPIKESHARD_PREPROCESS_FFT_H_
#define SPIKESHARD_PREPROCESS_FFT_H_

#include <complex>
#include <cstddef>
#include <vector>

namespace spikeshard {

class FftPlan {
 public:
  explicit FftPlan(std::size_t n);
  std::size_t size() const { return n_; }
  // out[k] = Σ_j in[j]·exp(−2πi·jk/n). in and out must not overlap.
  void forward(const std::complex<double>* in, std::complex<double>* out) const;
  // out[j] = (1/n)·Σ_k in[k]·exp(+2πi·jk/n), so inverse(forward(x)) = x.
  void inverse(const std::complex<double>* in, std::complex<double>* out) const;

 private:
  void transform(const std::complex<double>* in, std::size_t in_stride, std::complex<double>* out, std::size_t n,
                 std::size_t factor_index, std::size_t twiddle_stride) const;
  std::size_t n_;
  std::vector<std::size_t> factors_;
  std::vector<std::complex<double>> twiddles_;  // exp(−2πi·j/n), j = 0..n−1
};

// Transform of a real signal: the n/2 + 1 non-negative-frequency bins. Even lengths use one
// complex transform of length n/2; odd lengths a complex transform of length n.
class RealFftPlan {
 public:
  explicit RealFftPlan(std::size_t n);
  std::size_t size() const { return n_; }
  // out: n/2 + 1 bins, out[k] = Σ_j in[j]·exp(−2πi·jk/n).
  void forward(const double* in, std::complex<double>* out) const;
  // in: n/2 + 1 bins of a real signal's spectrum (imaginary parts of bin 0 and, for even n, bin
  // n/2 are ignored); out: n samples, normalised so that inverse(forward(x)) = x.
  void inverse(const std::complex<double>* in, double* out) const;

 private:
  std::size_t n_;
  FftPlan half_;  // length n/2 (even n) or n (odd n)
  std::vector<std::complex<double>> twiddles_;  // exp(−2πi·k/n), k = 0..n/2
};

}  // namespace spikeshard

#endif  // SPIKESHARD_PREPROCESS_FFT_H_
