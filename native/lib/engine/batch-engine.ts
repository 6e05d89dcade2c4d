// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * The per-batch composition of every round (read the batch, whiten, shift, run the kernels), in
 * one place for the in-process executor and the worker. It keeps no state between requests apart
 * from open recordings, which it can always reopen.
 */
import { loadCpuBinding } from '../load.js';
import type { FloatBlock } from '../preprocess.js';
import { openRecording, type Recording } from '../recording/recording.js';
import { shiftBlock, whitenBlock } from './batch.js';
import { driftBatch, prototypeSnippets, type DriftBatchResult } from './drift-round.js';
import { extractBatch, learnBatch, type ExtractBatchResult, type LearnBatchResult } from './match-round.js';
import type { DriftDetectRequest, MatchRequest, ProbeWork, SnippetsRequest, StatisticsRequest } from './requests.js';
import { windowStatistics, type WindowStatistics } from './statistics.js';
import type { BatchSpan, ChannelState } from './types.js';

export interface BatchEngineOptions {
  /** CPU threads of the native kernels; 0 = all cores. */
  threads: number;
  /**
   * Called with the files a recording reads (the path given, the .bin and the metadata file)
   * before its first read; throws to refuse them. Workers check them against their data roots.
   */
  authorize?: (files: readonly string[]) => Promise<void>;
  /** Open recordings kept at once. @default 8 */
  maxOpen?: number;
}

export class BatchEngine {
  private readonly open = new Map<string, Promise<Recording>>();
  private readonly maxOpen: number;

  constructor(private readonly options: BatchEngineOptions) {
    loadCpuBinding().setThreads(options.threads);
    this.maxOpen = options.maxOpen ?? 8;
  }

  private recording(work: ProbeWork): Promise<Recording> {
    const key = `${work.allowPartialSample ? 1 : 0}:${work.recordingPath}`;
    let r = this.open.get(key);
    if (!r) {
      r = this.openChecked(work);
      this.open.set(key, r);
      // A failed open is not cached: the next request tries again and reports its own error.
      r.catch(() => this.open.delete(key));
      if (this.open.size > this.maxOpen) {
        const [oldestKey, oldest] = this.open.entries().next().value as [string, Promise<Recording>];
        this.open.delete(oldestKey);
        oldest.then((rec) => rec.close()).catch(() => undefined);
      }
    }
    return r;
  }

  private async openChecked(work: ProbeWork): Promise<Recording> {
    if (this.options.authorize) await this.options.authorize([work.recordingPath]);
    const rec = await openRecording(work.recordingPath, { allowPartialSample: work.allowPartialSample });
    if (this.options.authorize) {
      try {
        await this.options.authorize([rec.info.binPath, rec.info.metaPath]);
      } catch (err) {
        await rec.close();
        throw err;
      }
    }
    return rec;
  }

  private async whitened(work: ProbeWork, batch: BatchSpan, channels: ChannelState): Promise<FloatBlock> {
    const rec = await this.recording(work);
    const data = await rec.read(batch.readStart, batch.readEnd);
    return whitenBlock(
      { data, firstSample: batch.readStart, nSamples: batch.readEnd - batch.readStart },
      work.setup,
      channels,
      work.params,
    );
  }

  private async shifted(req: MatchRequest): Promise<FloatBlock> {
    const block = await this.whitened(req.work, req.batch, req.channels);
    if (req.drift !== null)
      shiftBlock(block, req.batch.readStart, req.segments, req.drift, req.work.setup, req.work.params);
    return block;
  }

  async statistics(req: StatisticsRequest): Promise<WindowStatistics> {
    const rec = await this.recording(req.work);
    const { readStart, readEnd, marginSamples } = req.window;
    const data = await rec.read(readStart, readEnd);
    return windowStatistics(
      { data, firstSample: readStart, nSamples: readEnd - readStart },
      marginSamples,
      req.work.setup,
      req.work.params,
    );
  }

  async snippets(req: SnippetsRequest): Promise<Float32Array> {
    const block = await this.whitened(req.work, req.batch, req.channels);
    const own = req.batch.ownStart - req.batch.readStart;
    return prototypeSnippets(
      block,
      own,
      own + (req.batch.ownEnd - req.batch.ownStart),
      req.work.params.snippetThreshold,
    );
  }

  async driftDetect(req: DriftDetectRequest): Promise<DriftBatchResult> {
    const { batch } = req;
    const block = await this.whitened(req.work, batch, req.channels);
    const own = batch.ownStart - batch.readStart;
    return driftBatch(
      block,
      batch.readStart,
      own,
      own + (batch.ownEnd - batch.ownStart),
      req.work.setup,
      req.wTemp,
      req.work.params.driftDetectThreshold,
    );
  }

  async learn(req: MatchRequest): Promise<LearnBatchResult> {
    const block = await this.shifted(req);
    const { batch } = req;
    return learnBatch(
      block,
      batch.ownStart - batch.readStart,
      batch.ownEnd - batch.ownStart,
      req.model,
      req.work.params,
    );
  }

  async extract(req: MatchRequest): Promise<ExtractBatchResult> {
    const block = await this.shifted(req);
    const { batch } = req;
    return extractBatch(
      block,
      batch.ownStart,
      batch.ownStart - batch.readStart,
      batch.ownEnd - batch.ownStart,
      req.model,
      req.work.params,
    );
  }

  /** Closes every open recording; the engine can still be used (it reopens them). */
  async close(): Promise<void> {
    const all = [...this.open.values()];
    this.open.clear();
    for (const r of all) await (await r.catch(() => null))?.close();
  }
}
