// SPDX-License-Identifier: GPL-3.0-or-later
/** Raw bindings of the drift area of the native core (native/src/addon/drift.cc). */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface DriftBinding {}
