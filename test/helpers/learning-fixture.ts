// SPDX-License-Identifier: GPL-3.0-or-later
/** Shared inputs of the learning-step tests and bench: a probe's neighbourhoods and temporal shapes. */
import { nearestChannels } from '../../native/lib/index.js';
import { NT0, NT0MIN, RANK } from '../../coordinator/sort/learning.js';

/**
 * The `nNeighbours` nearest channels of each channel (nChannels × nNeighbours) on an NP1-like
 * staggered layout: four x positions (43, 11, 59, 27 µm) in turn, two sites per 20 µm row.
 */
export function staggeredNeighbourhoods(nChannels: number, nNeighbours: number): Int32Array {
  const xUm = Float32Array.from({ length: nChannels }, (_, c) => [43, 11, 59, 27][c % 4]!);
  const yUm = Float32Array.from({ length: nChannels }, (_, c) => 20 * Math.floor(c / 2));
  return nearestChannels(xUm, yUm, nNeighbours).channels;
}

/** NT0 × RANK temporal components like learned ones: the trough, its derivative, a slow wave. */
export function learnedLikeTemporal(): Float32Array {
  const temporal = new Float32Array(NT0 * RANK);
  for (let t = 0; t < NT0; t++) {
    const g = Math.exp(-((t - NT0MIN) ** 2) / 8);
    temporal[t * RANK] = g;
    temporal[t * RANK + 1] = ((t - NT0MIN) * g) / 3;
    temporal[t * RANK + 2] = 0.1 * Math.sin(t / 5);
  }
  return temporal;
}
