// SPDX-License-Identifier: GPL-3.0-or-later
// Random streams of the simulator. Every (seed, chunk, channel, purpose) gets its own stream, so
// a chunk can be synthesised by any thread in any order and still give the same bytes.
#ifndef SPIKESHARD_CORE_SIMULATE_RANDOM_H_
#define SPIKESHARD_CORE_SIMULATE_RANDOM_H_

#include <cmath>
#include <cstdint>

namespace spikeshard::sim {

// SplitMix64 finaliser: a bijective 64-bit mixer, used to derive stream seeds and to expand
// one seed into a generator state.
inline std::uint64_t mix64(std::uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Stream identifiers; values are part of the output format (changing them changes every file).
enum class Stream : std::uint64_t { noise = 1, common = 2, lfp = 3, initial = 4 };

inline std::uint64_t stream_seed(std::uint64_t seed, std::uint64_t chunk, std::uint64_t index, Stream purpose) {
  std::uint64_t h = mix64(seed);
  h = mix64(h ^ static_cast<std::uint64_t>(purpose));
  h = mix64(h ^ chunk);
  return mix64(h ^ index);
}

// xoshiro256** (Blackman & Vigna): fast, 256-bit state, good statistical quality.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) {
    std::uint64_t z = seed;
    for (auto& word : s_) {
      z = mix64(z);
      word = z;
    }
  }

  std::uint64_t next() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  // Standard normal by the ziggurat method (Marsaglia & Tsang 2000, 256 layers): one 64-bit draw
  // on ~99 % of calls, exact tails.
  double normal();

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4];
};

namespace detail {

struct Ziggurat {
  static constexpr int kLayers = 256;
  static constexpr double kR = 3.6541528853610088;   // start of the tail
  static constexpr double kV = 4.92867323399e-3;     // area of every layer
  double x[kLayers + 1];                               // layer k spans [0, x[k]] × [f(x[k]), f(x[k+1])]
  double fx[kLayers + 1];
  Ziggurat() {
    const auto f = [](double v) { return std::exp(-0.5 * v * v); };
    x[0] = kV / f(kR);
    x[1] = kR;
    for (int k = 1; k < kLayers - 1; ++k) x[k + 1] = std::sqrt(-2.0 * std::log(f(x[k]) + kV / x[k]));
    x[kLayers] = 0.0;
    for (int k = 0; k <= kLayers; ++k) fx[k] = f(x[k]);
  }
};

inline const Ziggurat& ziggurat() {
  static const Ziggurat z;
  return z;
}

}  // namespace detail

inline double Rng::normal() {
  const detail::Ziggurat& zg = detail::ziggurat();
  for (;;) {
    const std::uint64_t bits = next();
    const int layer = static_cast<int>(bits & 0xff);
    const double sign = (bits & 0x100) != 0 ? -1.0 : 1.0;
    const double u = static_cast<double>(bits >> 11) * 0x1.0p-53;
    const double z = u * zg.x[layer];
    if (z < zg.x[layer + 1]) return sign * z;
    if (layer == 0) {
      // Tail beyond r (Marsaglia 1964).
      double t, y;
      do {
        t = -std::log(1.0 - uniform()) / detail::Ziggurat::kR;
        y = -std::log(1.0 - uniform());
      } while (2.0 * y < t * t);
      return sign * (detail::Ziggurat::kR + t);
    }
    const double height = zg.fx[layer] + uniform() * (zg.fx[layer + 1] - zg.fx[layer]);
    if (height < std::exp(-0.5 * z * z)) return sign * z;
  }
}

}  // namespace spikeshard::sim

#endif  // SPIKESHARD_CORE_SIMULATE_RANDOM_H_
