// SPDX-License-Identifier: GPL-3.0-or-later
/** The in-process executor: the engine on this machine's cores (or its GPU), one computation at a time. */
import { RunError } from '../../proto/errors.js';
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
  readonly concurrency = 2;
  private readonly engine: BatchEngine;
  private readonly choice: Pick<BackendChoice, 'backend' | 'cuda' | 'reason'>;

  /** @param backend a {@link chooseBackend} result; default the CPU. */
  constructor(threads = 0, backend?: Pick<BackendChoice, 'backend' | 'cuda' | 'reason'>, log?: Logger) {
    this.choice = backend ?? { backend: 'cpu', reason: 'cpu requested' };
    this.engine = new BatchEngine({ threads, backend: engineBackend(this.choice), ...(log ? { log } : {}) });
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
    return this.engine.statistics({ work: probeWork(task), window });
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

  close(): Promise<void> {
    return this.engine.close();
  }
}
