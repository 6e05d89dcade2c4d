// SPDX-License-Identifier: GPL-3.0-or-later
#ifndef SPIKESHARD_VERSION_H_
#define SPIKESHARD_VERSION_H_

namespace spikeshard {

// Bumped whenever a kernel's numerical output changes, so that run folders written by an older
// core are not resumed with a newer one (the run folder records it).
inline constexpr int kCoreVersion = 2;

}  // namespace spikeshard

#endif  // SPIKESHARD_VERSION_H_
