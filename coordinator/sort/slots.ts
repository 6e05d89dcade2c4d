// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * A first-come-first-served limit on requests in flight, shared by every probe of a job: each
 * probe's rounds queue for the same executor slots in the order they ask, so probes sorted
 * together advance at the same pace and none starves another.
 */
export class Slots {
  private inFlight = 0;
  private readonly waiting: Array<() => void> = [];

  /** @param capacity read on every release, so an executor whose worker count changes is followed */
  constructor(private readonly capacity: () => number) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.inFlight >= Math.max(1, this.capacity()) || this.waiting.length > 0) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.inFlight++;
    }
    try {
      return await work();
    } finally {
      this.release();
    }
  }

  private release(): void {
    this.inFlight--;
    while (this.waiting.length > 0 && this.inFlight < Math.max(1, this.capacity())) {
      this.inFlight++;
      this.waiting.shift()!();
    }
  }
}
