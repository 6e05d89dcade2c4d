// SPDX-License-Identifier: GPL-3.0-or-later
// Vector helpers shared by the matching and proposal kernels (internal to src/core).
//
// Hot kernels get an AVX2 build next to the baseline one, picked at load time. They are written
// with 8-lane vectors that run across independent outputs (window starts): lanes never mix, no FMA
// is enabled and no sum is reordered, so every build (8-wide AVX2, 2×4-wide SSE2, scalar) gives
// bitwise the same numbers.
#ifndef SPIKESHARD_CORE_MATCHING_SIMD_H_
#define SPIKESHARD_CORE_MATCHING_SIMD_H_

#include <cstddef>

// SPIKESHARD_NO_CLONES builds the baseline only (used to check that both builds agree).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(SPIKESHARD_NO_CLONES)
#define SPIKESHARD_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define SPIKESHARD_CLONES
#endif

namespace spikeshard::simd {

typedef float Lanes __attribute__((vector_size(32)));
inline constexpr std::size_t kLanes = 8;

}  // namespace spikeshard::simd

#endif  // SPIKESHARD_CORE_MATCHING_SIMD_H_
