// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Channel statistics of several windows at once, in worker threads. A window's statistics are a
 * chain of native kernels that run synchronously on the calling thread and use many cores poorly
 * (short passes over a 0.4-s window, some serial), so on a machine with many cores the windows are
 * computed side by side. Each result is a pure function of its window: the same as in process,
 * whatever thread computed it and in whatever order the windows finish.
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import {
  releaseFreedMemory,
  type ProbeWork,
  type StatisticsWindow,
  type WindowStatistics,
} from '../../native/lib/index.js';
import { integerFromEnvironment } from '../../proto/errors.js';

/** One window sent to a worker. */
export interface StatisticsTask {
  id: number;
  work: ProbeWork;
  window: StatisticsWindow;
}

/** A worker's answer: the window's statistics, or why it failed (the caller redoes it in process for the typed error). */
export type StatisticsReply = { id: number; result: WindowStatistics } | { id: number; error: string };

/** Cores per statistics worker: a window's kernels still use a few threads each. */
const CORES_PER_WORKER = 4;
/** At most this many workers: each holds a window's temporaries (~110 MB at 384 channels). */
const MAX_WORKERS = 4;
/** Idle workers are stopped after this long, so they hold no memory through the later rounds. */
const IDLE_STOP_MS = 1000;

/**
 * Statistics workers for `threads` cores (0: all): none below 2 × CORES_PER_WORKER cores. The
 * environment variable SPIKESHARD_STATISTICS_WORKERS sets the count (0: on the calling thread),
 * for measuring one against the other.
 */
export function statisticsWorkerCount(threads: number, env: NodeJS.ProcessEnv = process.env): number {
  const fromEnv = integerFromEnvironment(env, 'SPIKESHARD_STATISTICS_WORKERS', 0, 64);
  if (fromEnv !== undefined) return fromEnv;
  const cores = threads > 0 ? threads : os.availableParallelism();
  const n = Math.min(MAX_WORKERS, Math.floor(cores / CORES_PER_WORKER));
  return n >= 2 ? n : 0;
}

interface Pending {
  resolve: (result: WindowStatistics) => void;
  reject: (error: Error) => void;
}

export class StatisticsThreads {
  private workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly queue: StatisticsTask[] = [];
  private readonly pending = new Map<number, Pending>();
  private readonly busy = new Map<Worker, number>();
  private nextId = 0;
  private idleTimer: NodeJS.Timeout | null = null;

  /**
   * @param count worker threads (at least 1)
   * @param threads native threads of each worker's kernels (the calling engine's setting)
   */
  constructor(
    readonly count: number,
    private readonly threads: number,
  ) {
    if (!Number.isSafeInteger(count) || count < 1)
      throw new RangeError(`StatisticsThreads: count ${count}, expected >= 1`);
  }

  /** The window's statistics; rejects with the worker's message when it failed there. */
  run(work: ProbeWork, window: StatisticsWindow): Promise<WindowStatistics> {
    if (this.idleTimer !== null) {
      clearTimeout(this.idleTimer);
      this.idleTimer = null;
    }
    if (this.workers.length === 0) this.start();
    const id = this.nextId++;
    return new Promise<WindowStatistics>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.queue.push({ id, work, window });
      this.pump();
    });
  }

  private start(): void {
    for (let i = 0; i < this.count; i++) {
      const worker = new Worker(new URL('./statistics-worker.js', import.meta.url), {
        workerData: { threads: this.threads },
      });
      worker.on('message', (reply: StatisticsReply) => {
        this.busy.delete(worker);
        this.idle.push(worker);
        const p = this.pending.get(reply.id);
        this.pending.delete(reply.id);
        if ('error' in reply) p?.reject(new Error(reply.error));
        else p?.resolve(reply.result);
        this.pump();
      });
      const fail = (error: Error): void => {
        // The window this worker held fails; the others go on in the remaining workers.
        const id = this.busy.get(worker);
        this.busy.delete(worker);
        this.workers = this.workers.filter((w) => w !== worker);
        const at = this.idle.indexOf(worker);
        if (at >= 0) this.idle.splice(at, 1);
        if (id !== undefined) {
          this.pending.get(id)?.reject(error);
          this.pending.delete(id);
        }
        if (this.workers.length === 0) {
          for (const task of this.queue.splice(0)) {
            this.pending.get(task.id)?.reject(error);
            this.pending.delete(task.id);
          }
        }
      };
      worker.on('error', fail);
      worker.on('exit', (code) => fail(new Error(`a statistics worker stopped (exit code ${code})`)));
      this.workers.push(worker);
      this.idle.push(worker);
    }
  }

  private pump(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const worker = this.idle.pop()!;
      const task = this.queue.shift()!;
      this.busy.set(worker, task.id);
      worker.postMessage(task);
    }
    if (this.pending.size === 0 && this.workers.length > 0 && this.idleTimer === null) {
      this.idleTimer = setTimeout(() => void this.close(), IDLE_STOP_MS);
      this.idleTimer.unref();
    }
  }

  /** Stops the workers (a later run starts them again). */
  async close(): Promise<void> {
    if (this.idleTimer !== null) {
      clearTimeout(this.idleTimer);
      this.idleTimer = null;
    }
    const workers = this.workers;
    this.workers = [];
    this.idle.length = 0;
    this.busy.clear();
    for (const w of workers) w.removeAllListeners('exit');
    await Promise.all(workers.map((w) => w.terminate()));
    // Each worker's native allocations went to a malloc arena of its own, which glibc keeps after
    // the thread ends: without this, ~80 MB per worker stayed in the RSS for the rest of the sort.
    if (workers.length > 0) releaseFreedMemory();
  }
}
