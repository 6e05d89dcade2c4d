// SPDX-License-Identifier: GPL-3.0-or-later
#include "addon.h"

namespace spikeshard::addon {

void register_simulate(Napi::Env /*env*/, Napi::Object /*exports*/) {}

}  // namespace spikeshard::addon
