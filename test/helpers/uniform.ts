// SPDX-License-Identifier: GPL-3.0-or-later
/** Test and benchmark inputs: a small deterministic generator, the same sequence everywhere. */

/** splitmix32: uniform values in [0, 1) from `seed`. */
export function rng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    z ^= z >>> 16;
    return (z >>> 0) / 4294967296;
  };
}
