// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Who runs a round's per-batch work. The pipeline sees only this interface: the in-process
 * executor (local-executor.ts) calls the engine directly; the gRPC executor (issue 4) sends the
 * same requests to workers. Every method is a pure function of (recording bytes, state), so a
 * request may be retried or sent elsewhere without changing the result.
 */
import type {
  ChannelState,
  DriftBatchResult,
  DriftState,
  ExtractBatchResult,
  LearnBatchResult,
  MatchModel,
  ProbeWork,
  StatisticsWindow,
  WindowStatistics,
} from '../../native/lib/index.js';
import type { Batch } from '../plan/batch-plan.js';

/** One probe's sort as an executor sees it: the per-batch work plus the whole batch plan. */
export interface ProbeTask extends ProbeWork {
  /** Every batch of the probe (the drift shift of a halo is its owner's). */
  batches: readonly Batch[];
}

export type { StatisticsWindow };

/** Where a probe's per-batch kernels ran (run.json). */
export interface RunBackend {
  /** 'cpu' or 'cuda' in process; with workers, the set of backends the workers reported. */
  backends: string[];
  /** Where preprocessing + drift shift ran (with workers: only for ibl, which always runs on the CPU), and matching pursuit (in process). */
  preprocessing?: string;
  matching?: string;
  /** In process: why this backend (chooseBackend's reason). */
  reason?: string;
  /** In process with CUDA: device memory the backend's context held at the end (its peak: buffers only grow). */
  gpuMemoryBytes?: number;
}

export interface BatchExecutor {
  /** Requests a caller should keep in flight (2 for the in-process executor: one computing, one reading). */
  readonly concurrency: number;
  /**
   * Statistics windows to keep in flight, when not {@link concurrency}: an executor that computes
   * windows side by side on the host (they are CPU-bound even with a GPU) wants more of them.
   */
  readonly statisticsConcurrency?: number;
  statistics(task: ProbeTask, window: StatisticsWindow): Promise<WindowStatistics>;
  snippets(task: ProbeTask, batch: Batch, channels: ChannelState): Promise<Float32Array>;
  driftDetect(task: ProbeTask, batch: Batch, channels: ChannelState, wTemp: Float32Array): Promise<DriftBatchResult>;
  learn(
    task: ProbeTask,
    batch: Batch,
    channels: ChannelState,
    drift: DriftState | null,
    model: MatchModel,
  ): Promise<LearnBatchResult>;
  extract(
    task: ProbeTask,
    batch: Batch,
    channels: ChannelState,
    drift: DriftState | null,
    model: MatchModel,
  ): Promise<ExtractBatchResult>;
  /**
   * Optional hint: this learning or extraction batch will be requested soon; an executor may read it
   * (and prepare what does not depend on the model) ahead. Holds a bounded number of batches; the
   * result of the later request is the same with or without it.
   */
  prefetch?(task: ProbeTask, batch: Batch, channels: ChannelState, drift: DriftState | null): void;
  /**
   * Optional: a probe's batch rounds are done; buffers kept for coming batches (reused raw arrays,
   * batches read ahead) may go. Later requests still work; they allocate again.
   */
  releaseBuffers?(): void;
  close(): Promise<void>;
  /** Where this probe's batches ran, for run.json (after the probe's rounds). */
  backendSummary?(preprocessing: 'ks25' | 'ibl'): RunBackend;
}
