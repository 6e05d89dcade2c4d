// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Names of template models for the CUDA backend's device-resident model: the device context keeps
 * the last model it was given under a key and skips its upload (templates, their tables and the
 * F × F × (2·nt0 − 1) cross-correlations: 730 MB at 1230 templates) when the next batch carries the
 * same key. A learning round matches all its batches against one MatchModel and extraction against
 * another, so the object itself is the name: a model is never modified once built (each round
 * builds a new one), and in a worker the state cache hands every request of a round the same object.
 */
import type { MatchModel } from './match-round.js';

const keys = new WeakMap<MatchModel, number>();
let lastKey = 0;

/**
 * The device key of `match`: the same number for the same object, a new one (1, 2, …, unique in
 * this process, as the device context is) for every other object. Host pointers cannot serve: the
 * arrays of a freed model may be reallocated at the same addresses for the next one.
 */
export function deviceModelKey(match: MatchModel): number {
  let key = keys.get(match);
  if (key === undefined) {
    key = ++lastKey;
    keys.set(match, key);
  }
  return key;
}
