// SPDX-License-Identifier: GPL-3.0-or-later
#ifndef SPIKESHARD_ADDON_ADDON_H_
#define SPIKESHARD_ADDON_ADDON_H_

#include <napi.h>

namespace spikeshard::addon {

// Each area of the core registers its bindings from its own file (<area>.cc).
void register_preprocess(Napi::Env env, Napi::Object exports);
void register_drift(Napi::Env env, Napi::Object exports);
void register_matching(Napi::Env env, Napi::Object exports);
void register_simulate(Napi::Env env, Napi::Object exports);
void register_postprocess(Napi::Env env, Napi::Object exports);
void register_recording(Napi::Env env, Napi::Object exports);
void register_export(Napi::Env env, Napi::Object exports);

}  // namespace spikeshard::addon

#endif  // SPIKESHARD_ADDON_ADDON_H_
