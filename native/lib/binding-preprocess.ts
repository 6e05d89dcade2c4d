// SPDX-License-Identifier: GPL-3.0-or-later
/** Raw bindings of the preprocess area of the native core (native/src/addon/preprocess.cc). */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface PreprocessBinding {}
