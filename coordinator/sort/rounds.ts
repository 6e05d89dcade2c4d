// SPDX-License-Identifier: GPL-3.0-or-later
/** Runs one round's requests through an executor and returns the results in request order. */
import type { Logger } from '../../proto/log.js';
import { Progress } from '../progress.js';

export async function runRound<I, R>(
  log: Logger,
  label: string,
  items: readonly I[],
  concurrency: number,
  work: (item: I, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  const progress = new Progress(log, label, items.length, { unit: 'batches' });
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      results[i] = await work(items[i]!, i);
      progress.advance();
    }
  });
  await Promise.all(lanes);
  progress.finish();
  return results;
}
