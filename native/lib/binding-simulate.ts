// SPDX-License-Identifier: GPL-3.0-or-later
/** Raw bindings of the simulate area of the native core (native/src/addon/simulate.cc). */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface SimulateBinding {}
