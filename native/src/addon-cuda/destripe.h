// SPDX-License-Identifier: GPL-3.0-or-later
// IBL waveform glue of the CUDA addon: destripeBatch (the CPU binding's arguments and result, for
// the waveform path's settings) and destripeCutWaveforms / destripeCutWaveformsAsync (a raw chunk
// in, only its cut waveforms out).
#ifndef SPIKESHARD_ADDON_CUDA_DESTRIPE_H_
#define SPIKESHARD_ADDON_CUDA_DESTRIPE_H_

#include <napi.h>

namespace spikeshard::addon_cuda {

void register_destripe(Napi::Env env, Napi::Object exports);

}  // namespace spikeshard::addon_cuda

#endif  // SPIKESHARD_ADDON_CUDA_DESTRIPE_H_
