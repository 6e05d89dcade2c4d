// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Raw batch arrays kept for the next batch. A fresh 50 MB array per batch is a fresh mapping whose
 * pages fault in, zeroed by the kernel, on first write and are unmapped again when collected: on
 * the 2-core dev machine that cost more than the read itself (a 384-channel batch read natively
 * in ≈ 13 ms into a reused array, ≈ 60 ms into a fresh one). The engine gives an array back once
 * the batch's kernels are done with it; batches of one length (all but the first and last) then
 * reuse the same few arrays.
 */

/** Whole Int16Arrays by length, at most `maxArrays` of them held. */
export class RawArrayPool {
  private readonly free = new Map<number, Int16Array[]>();
  private held = 0;

  constructor(private readonly maxArrays: number) {}

  /** An array of exactly `length` values given back earlier (its values are stale), or undefined. */
  take(length: number): Int16Array | undefined {
    const list = this.free.get(length);
    const array = list?.pop();
    if (array !== undefined) this.held--;
    if (list !== undefined && list.length === 0) this.free.delete(length);
    return array;
  }

  /**
   * Keeps `array` for a later {@link take}, when it is a whole buffer of its own and fewer than
   * maxArrays are held. The caller must not use it afterwards.
   */
  give(array: Int16Array): void {
    if (this.held >= this.maxArrays || array.length === 0) return;
    if (array.byteOffset !== 0 || array.byteLength !== array.buffer.byteLength) return;
    const list = this.free.get(array.length);
    if (list?.some((a) => a.buffer === array.buffer)) return;
    if (list === undefined) this.free.set(array.length, [array]);
    else list.push(array);
    this.held++;
  }

  /** Arrays held now. */
  get size(): number {
    return this.held;
  }

  clear(): void {
    this.free.clear();
    this.held = 0;
  }
}
