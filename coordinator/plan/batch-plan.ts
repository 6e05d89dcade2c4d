// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Batch planning: pure functions from (recording length, parameters) to the batches every round
 * works on. A batch owns the half-open sample range [ownStart, ownEnd); it is read with a halo on
 * each side (clipped at the file ends), and a spike belongs to the batch that owns its trough
 * sample, so none is lost or counted twice at a boundary.
 */
import type { BatchSpan } from '../../native/lib/index.js';
import { ParameterError } from '../../proto/errors.js';
import { SeededRandom } from './random.js';

/** A planned batch (the engine's BatchSpan). */
export type Batch = BatchSpan;

export function planBatches(nSamples: number, batchSamples: number, haloSamples: number): Batch[] {
  if (!Number.isSafeInteger(nSamples) || nSamples <= 0) {
    throw new ParameterError(`recording length must be a positive whole number of samples, got ${nSamples}`);
  }
  if (nSamples < batchSamples) {
    throw new ParameterError(
      `the recording has ${nSamples} samples, shorter than one batch (${batchSamples} samples); lower --batch-samples or use a longer recording`,
    );
  }
  const batches: Batch[] = [];
  for (let index = 0, ownStart = 0; ownStart < nSamples; index++, ownStart += batchSamples) {
    const ownEnd = Math.min(nSamples, ownStart + batchSamples);
    batches.push({
      index,
      ownStart,
      ownEnd,
      readStart: Math.max(0, ownStart - haloSamples),
      readEnd: Math.min(nSamples, ownEnd + haloSamples),
    });
  }
  return batches;
}

/**
 * The learning schedule: which batches each learning round matches, in order. Batches are drawn
 * evenly over the recording (all of them when `learningBatches` is 0), shuffled with the seed, and
 * cut into rounds of `roundBatches`. It depends only on these numbers, never on the workers.
 */
export function learningRounds(
  nBatches: number,
  learningBatches: number,
  roundBatches: number,
  seed: number,
): number[][] {
  const count = learningBatches === 0 ? nBatches : Math.min(nBatches, learningBatches);
  const chosen = Array.from({ length: count }, (_, i) => Math.floor(((i + 0.5) * nBatches) / count));
  new SeededRandom(seed).shuffle(chosen);
  const rounds: number[][] = [];
  for (let i = 0; i < chosen.length; i += roundBatches) rounds.push(chosen.slice(i, i + roundBatches));
  return rounds;
}

/** Batches spread evenly over the recording for statistics (start sample of each window). */
export function statisticsWindows(nSamples: number, windows: number, windowSamples: number): number[] {
  const usable = nSamples - windowSamples;
  if (usable < 0) return [0];
  const n = Math.min(windows, Math.max(1, Math.floor(nSamples / windowSamples)));
  return Array.from({ length: n }, (_, i) => Math.round(n === 1 ? usable / 2 : (i * usable) / (n - 1)));
}
