// SPDX-License-Identifier: GPL-3.0-or-later
// Drift-detection glue of the CUDA addon: driftDetectSpikes (the CPU binding's arguments and
// result) and the fused preprocessDriftDetectSpikes (raw int16 batch in, spikes out).
#ifndef SPIKESHARD_ADDON_CUDA_DRIFT_H_
#define SPIKESHARD_ADDON_CUDA_DRIFT_H_

#include <napi.h>

namespace spikeshard::addon_cuda {

void register_drift(Napi::Env env, Napi::Object exports);

}  // namespace spikeshard::addon_cuda

#endif  // SPIKESHARD_ADDON_CUDA_DRIFT_H_
