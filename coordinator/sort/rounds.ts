// SPDX-License-Identifier: GPL-3.0-or-later
/** Runs one round's requests through an executor and returns the results in request order. */
import type { Logger } from '../../proto/log.js';
import { Progress } from '../progress.js';
import type { Slots } from './slots.js';

export interface RoundOptions<R> {
  /** The result of an item that finished in an earlier run (from the run folder), or undefined. */
  load?: (index: number) => R | undefined;
  /** Called as each result arrives, before the round goes on (to checkpoint it). */
  save?: (index: number, result: R) => void;
  /** Executor slots shared with the other probes of the job. */
  slots?: Slots;
  /**
   * Called once per item in index order, as soon as it and every earlier item have a result; what
   * it returns is kept in the item's place. Lets a caller fold large results into its state as they
   * arrive (in the order that makes the fold deterministic) and keep only what it still needs, so
   * that a round holds about `concurrency` large results instead of all of them.
   */
  inOrder?: (index: number, result: R) => R;
  /**
   * Called once, when the last item has been handed to the executor (or at once when every item was
   * loaded): the round only waits for results from then on, so a caller can start preparing the
   * next round's first items.
   */
  onAllStarted?: () => void;
}

export async function runRound<I, R>(
  log: Logger,
  label: string,
  items: readonly I[],
  concurrency: number,
  work: (item: I, index: number) => Promise<R>,
  options: RoundOptions<R> = {},
): Promise<R[]> {
  const results = new Array<R>(items.length);
  const done = new Array<boolean>(items.length).fill(false);
  let delivered = 0;
  const deliver = (): void => {
    if (options.inOrder === undefined) return;
    for (; delivered < items.length && done[delivered]; delivered++)
      results[delivered] = options.inOrder(delivered, results[delivered]!);
  };
  const todo: number[] = [];
  for (let i = 0; i < items.length; i++) {
    const earlier = options.load?.(i);
    if (earlier === undefined) todo.push(i);
    else {
      results[i] = earlier;
      done[i] = true;
    }
  }
  deliver();
  if (todo.length === 0) {
    options.onAllStarted?.();
    log.info(
      { round: label, loaded: items.length, computed: 0 },
      `${label}: all ${items.length} loaded from the run folder`,
    );
    return results;
  }
  const progress = new Progress(log, label, items.length, { unit: 'batches' });
  progress.skip(items.length - todo.length);
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(concurrency, todo.length)) }, async () => {
    for (;;) {
      const k = next++;
      if (k >= todo.length) return;
      const i = todo[k]!;
      const call = (): Promise<R> => work(items[i]!, i);
      const pending = options.slots ? options.slots.run(call) : call();
      if (k === todo.length - 1) options.onAllStarted?.();
      const r = await pending;
      options.save?.(i, r);
      results[i] = r;
      done[i] = true;
      deliver();
      progress.advance();
    }
  });
  await Promise.all(lanes);
  progress.finish();
  return results;
}
