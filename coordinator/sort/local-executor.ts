// SPDX-License-Identifier: GPL-3.0-or-later
/** The in-process executor: the engine on this machine's cores (or its GPU), one computation at a time. */
import { RunError, integerFromEnvironment } from '../../proto/errors.js';
import type { Logger } from '../../proto/log.js';
import {
  BatchEngine,
  engineBackend,
  type BackendChoice,
  ownerSegments,
  type ChannelState,
  type DriftBatchResult,
  type DriftState,
  type ExtractBatchResult,
  type LearnBatchResult,
  type MatchModel,
  type NativeCudaBinding,
  type ProbeWork,
  type WindowStatistics,
} from '../../native/lib/index.js';
import type { Batch } from '../plan/batch-plan.js';
import type { BatchExecutor, ProbeTask, RunBackend, StatisticsWindow } from './executor.js';
import { StatisticsThreads, statisticsWorkerCount } from './statistics-threads.js';

export interface LocalExecutorOptions {
  /**
   * Worker threads that compute statistics windows side by side (0: on this thread). @default
   * {@link statisticsWorkerCount} of the threads (none below 8 cores)
   */
  statisticsWorkers?: number;
  /**
   * Learning and extraction batches read ahead of their requests (0: none). @default
   * {@link prefetchBatchCount} of the executor's concurrency
   */
  prefetchBatches?: number;
  /** Requests in flight. @default {@link requestsInFlight} */
  requestsInFlight?: number;
}

/**
 * Requests the local executor keeps in flight: 2, or SPIKESHARD_REQUESTS_IN_FLIGHT (for before/after
 * runs with several CUDA contexts, SPIKESHARD_CUDA_CONTEXTS).
 */
export function requestsInFlight(env: NodeJS.ProcessEnv = process.env): number {
  return integerFromEnvironment(env, 'SPIKESHARD_REQUESTS_IN_FLIGHT', 1, 16) ?? 2;
}

/**
 * Batches read ahead: the requests in flight, or SPIKESHARD_PREFETCH_BATCHES (0 turns the read-ahead
 * off, for before/after runs).
 */
export function prefetchBatchCount(concurrency: number, env: NodeJS.ProcessEnv = process.env): number {
  return integerFromEnvironment(env, 'SPIKESHARD_PREFETCH_BATCHES', 0, 64) ?? concurrency;
}

/** The part of a task that travels with each request (the batch plan stays with the coordinator). */
export function probeWork(task: ProbeTask): ProbeWork {
  return {
    probe: task.probe,
    recordingPath: task.recordingPath,
    allowPartialSample: task.allowPartialSample,
    setup: task.setup,
    params: task.params,
  };
}

export class LocalExecutor implements BatchExecutor {
  /**
   * Two requests in flight: the engine's native calls run synchronously on this thread, so two
   * never compute at once, but the next batch's file read (fs on the libuv pool, and a `.cbin`'s
   * inflate) proceeds while this one computes. Costs one more batch of samples and its result.
   */
  readonly concurrency: number;
  /** Statistics windows in flight: one per statistics worker, else {@link concurrency}. */
  readonly statisticsConcurrency: number;
  private readonly engine: BatchEngine;
  private readonly choice: Pick<BackendChoice, 'backend' | 'cuda' | 'reason'>;
  private readonly statisticsThreads: StatisticsThreads | null;
  private readonly log: Logger | undefined;

  /** @param backend a {@link chooseBackend} result; default the CPU. */
  constructor(
    threads = 0,
    backend?: Pick<BackendChoice, 'backend' | 'cuda' | 'reason'>,
    log?: Logger,
    options: LocalExecutorOptions = {},
  ) {
    this.choice = backend ?? { backend: 'cpu', reason: 'cpu requested' };
    this.log = log;
    this.concurrency = options.requestsInFlight ?? requestsInFlight();
    const workers = options.statisticsWorkers ?? statisticsWorkerCount(threads);
    this.statisticsThreads = workers > 0 ? new StatisticsThreads(workers, threads) : null;
    this.statisticsConcurrency = workers > 0 ? workers : this.concurrency;
    this.engine = new BatchEngine({
      threads,
      backend: engineBackend(this.choice),
      maxPrefetched: options.prefetchBatches ?? prefetchBatchCount(this.concurrency),
      ...(log ? { log } : {}),
    });
  }

  /**
   * The CUDA binding the engine runs on when it has IBL's waveform entry (destripeCutWaveformsAsync),
   * for that in-process work beside the batches; undefined when the engine runs on the CPU or its
   * binding has no such entry (a build before it): then the waveforms are cut on the CPU, and the
   * stage's log line says so.
   */
  get waveformDevice(): Pick<NativeCudaBinding, 'destripeCutWaveformsAsync'> | undefined {
    if (this.choice.backend !== 'cuda') return undefined;
    const cuda = this.choice.cuda;
    if (cuda === undefined) throw new RunError('backend cuda chosen without its CUDA binding');
    return typeof cuda.destripeCutWaveformsAsync === 'function' ? cuda : undefined;
  }

  backendSummary(preprocessing: 'ks25' | 'ibl'): RunBackend {
    const d = this.engine.describeBackend(preprocessing);
    const memory = this.choice.cuda?.deviceMemory?.();
    return {
      backends: [d.backend],
      preprocessing: d.preprocessing,
      matching: d.matching,
      reason: this.choice.reason,
      ...(memory ? { gpuMemoryBytes: memory.bytesInUse } : {}),
    };
  }

  statistics(task: ProbeTask, window: StatisticsWindow): Promise<WindowStatistics> {
    const req = { work: probeWork(task), window };
    const threads = this.statisticsThreads;
    if (threads === null) return this.engine.statistics(req);
    // A window that failed in a worker is redone here: a bad window then fails with the
    // in-process error (its type carries the exit code), and a worker's own failure is said.
    return threads.run(req.work, window).catch(async (error: unknown) => {
      const result = await this.engine.statistics(req);
      this.log?.warn(
        { window, error: String(error) },
        'a statistics worker failed on a window that succeeds in process; computed here',
      );
      return result;
    });
  }

  snippets(task: ProbeTask, batch: Batch, channels: ChannelState): Promise<Float32Array> {
    return this.engine.snippets({ work: probeWork(task), batch, channels });
  }

  driftDetect(task: ProbeTask, batch: Batch, channels: ChannelState, wTemp: Float32Array): Promise<DriftBatchResult> {
    return this.engine.driftDetect({ work: probeWork(task), batch, channels, wTemp });
  }

  learn(
    task: ProbeTask,
    batch: Batch,
    channels: ChannelState,
    drift: DriftState | null,
    model: MatchModel,
  ): Promise<LearnBatchResult> {
    const segments = ownerSegments(task.batches, batch);
    return this.engine.learn({ work: probeWork(task), batch, segments, channels, drift, model });
  }

  extract(
    task: ProbeTask,
    batch: Batch,
    channels: ChannelState,
    drift: DriftState | null,
    model: MatchModel,
  ): Promise<ExtractBatchResult> {
    const segments = ownerSegments(task.batches, batch);
    return this.engine.extract({ work: probeWork(task), batch, segments, channels, drift, model });
  }

  prefetch(task: ProbeTask, batch: Batch, channels: ChannelState, drift: DriftState | null): void {
    const segments = ownerSegments(task.batches, batch);
    this.engine.prefetch({ work: probeWork(task), batch, segments, channels, drift });
  }

  releaseBuffers(): void {
    this.engine.releaseBuffers();
  }

  async close(): Promise<void> {
    await this.statisticsThreads?.close();
    return this.engine.close();
  }
}
