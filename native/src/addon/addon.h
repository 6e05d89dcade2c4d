// SPDX-License-Identifier: GPL-3.0-or-later
#ifndef SPIKESHARD_ADDON_ADDON_H_
#define SPIKESHARD_ADDON_ADDON_H_

#include <napi.h>

namespace spikeshard::addon {

// Registers the per-batch kernels (kernels.cc).
void register_kernels(Napi::Env env, Napi::Object exports);

}  // namespace spikeshard::addon

#endif  // SPIKESHARD_ADDON_ADDON_H_
