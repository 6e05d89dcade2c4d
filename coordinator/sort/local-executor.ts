// SPDX-License-Identifier: GPL-3.0-or-later
/** The in-process executor: reads each batch itself and runs the engine on this machine's cores. */
import {
  driftBatch,
  extractBatch,
  learnBatch,
  loadCpuBinding,
  openRecording,
  prototypeSnippets,
  shiftBlock,
  whitenBlock,
  windowStatistics,
  type ChannelState,
  type DriftBatchResult,
  type ExtractBatchResult,
  type LearnBatchResult,
  type MatchModel,
  type WindowStatistics,
  type DriftState,
  type FloatBlock,
  type Recording,
} from '../../native/lib/index.js';
import type { Batch } from '../plan/batch-plan.js';
import type { BatchExecutor, ProbeTask, StatisticsWindow } from './executor.js';

export class LocalExecutor implements BatchExecutor {
  readonly concurrency = 1;
  private readonly open = new Map<string, Promise<Recording>>();

  constructor(threads = 0) {
    loadCpuBinding().setThreads(threads);
  }

  private recording(task: ProbeTask): Promise<Recording> {
    let r = this.open.get(task.recordingPath);
    if (!r) {
      r = openRecording(task.recordingPath, { allowPartialSample: task.allowPartialSample });
      this.open.set(task.recordingPath, r);
    }
    return r;
  }

  private async whitened(task: ProbeTask, batch: Batch, channels: ChannelState): Promise<FloatBlock> {
    const rec = await this.recording(task);
    const data = await rec.read(batch.readStart, batch.readEnd);
    return whitenBlock(
      { data, firstSample: batch.readStart, nSamples: batch.readEnd - batch.readStart },
      task.setup,
      channels,
      task.params,
    );
  }

  private async shifted(
    task: ProbeTask,
    batch: Batch,
    channels: ChannelState,
    drift: DriftState | null,
  ): Promise<FloatBlock> {
    const block = await this.whitened(task, batch, channels);
    if (drift !== null) {
      const segments = task.batches
        .filter((b) => b.ownEnd > batch.readStart && b.ownStart < batch.readEnd)
        .map((b) => ({ batch: b.index, start: b.ownStart, end: b.ownEnd }));
      shiftBlock(block, batch.readStart, segments, drift, task.setup, task.params);
    }
    return block;
  }

  async statistics(task: ProbeTask, window: StatisticsWindow): Promise<WindowStatistics> {
    const rec = await this.recording(task);
    const data = await rec.read(window.readStart, window.readEnd);
    return windowStatistics(
      { data, firstSample: window.readStart, nSamples: window.readEnd - window.readStart },
      window.marginSamples,
      task.setup,
      task.params,
    );
  }

  async snippets(task: ProbeTask, batch: Batch, channels: ChannelState): Promise<Float32Array> {
    const block = await this.whitened(task, batch, channels);
    const own = batch.ownStart - batch.readStart;
    return prototypeSnippets(block, own, own + (batch.ownEnd - batch.ownStart), task.params.snippetThreshold);
  }

  async driftDetect(
    task: ProbeTask,
    batch: Batch,
    channels: ChannelState,
    wTemp: Float32Array,
  ): Promise<DriftBatchResult> {
    const block = await this.whitened(task, batch, channels);
    const own = batch.ownStart - batch.readStart;
    return driftBatch(
      block,
      batch.readStart,
      own,
      own + (batch.ownEnd - batch.ownStart),
      task.setup,
      wTemp,
      task.params.driftDetectThreshold,
    );
  }

  async learn(
    task: ProbeTask,
    batch: Batch,
    channels: ChannelState,
    drift: DriftState | null,
    model: MatchModel,
  ): Promise<LearnBatchResult> {
    const block = await this.shifted(task, batch, channels, drift);
    return learnBatch(block, batch.ownStart - batch.readStart, batch.ownEnd - batch.ownStart, model, task.params);
  }

  async extract(
    task: ProbeTask,
    batch: Batch,
    channels: ChannelState,
    drift: DriftState | null,
    model: MatchModel,
  ): Promise<ExtractBatchResult> {
    const block = await this.shifted(task, batch, channels, drift);
    return extractBatch(
      block,
      batch.ownStart,
      batch.ownStart - batch.readStart,
      batch.ownEnd - batch.ownStart,
      model,
      task.params,
    );
  }

  async close(): Promise<void> {
    for (const r of this.open.values()) await (await r).close();
    this.open.clear();
  }
}
