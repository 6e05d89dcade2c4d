// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * The per-batch composition of every round (read the batch, whiten, shift, run the kernels), in
 * one place for the in-process executor and the worker. It keeps no state between requests apart
 * from open recordings, which it can always reopen.
 */
import type { Logger } from '../../../proto/log.js';
import {
  cudaPreprocessShiftMatchBatch,
  cudaPreprocessShiftMatchBatchAsync,
  type BackendChoice,
  type BackendName,
  type BlockKriging,
  type DeviceProposalRequest,
} from '../backend.js';
import type { NativeCudaBinding, NativeCudaMatchOptions } from '../binding-cuda.js';
import { loadCpuBinding } from '../load.js';
import type { BatchMatcher, MatchOptions } from '../matching.js';
import type { FloatBlock } from '../preprocess.js';
import { openRecording, type Recording } from '../recording/recording.js';
import {
  blockKrigingAsync,
  cudaWhitenShiftBlock,
  preprocessOptions,
  shiftBlock,
  whitenBlock,
  type CudaPreprocessBinding,
} from './batch.js';
import {
  cudaDriftBatchAsync,
  driftBatch,
  prototypeSnippets,
  type CudaDriftBinding,
  type DriftBatchResult,
} from './drift-round.js';
import {
  extractBatch,
  extractWith,
  learnBatch,
  learnWith,
  type BatchMatchRun,
  type ExtractBatchResult,
  type LearnBatchResult,
  type MatchModel,
} from './match-round.js';
import { deviceModelKey } from './model-key.js';
import { RawArrayPool } from './raw-arrays.js';
import type { DriftDetectRequest, MatchRequest, ProbeWork, SnippetsRequest, StatisticsRequest } from './requests.js';
import { windowStatistics, type WindowStatistics } from './statistics.js';
import type { BatchSpan, ChannelState, DriftState } from './types.js';

/** What {@link BatchEngine.prefetch} needs of a learning or extraction request: all but the model. */
export type PrefetchRequest = Omit<MatchRequest, 'model'>;

/** A batch's model-independent inputs, read (and, for the fused device path, its kriging computed) ahead. */
interface Prefetched {
  /** The shift the kriging was computed for: reused only by a request with the same drift and params objects and segments. */
  drift: DriftState | null;
  params: ProbeWork['params'];
  segments: string;
  /** The raw batch, and its kriging (null: not computed ahead). */
  ready: Promise<{ data: Int16Array; kriging: { value: BlockKriging } | null }>;
}

const segmentsKey = (segments: PrefetchRequest['segments']): string =>
  segments.map((s) => `${s.batch}:${s.start}:${s.end}`).join(',');

/** The fused raw-to-spikes entry of the CUDA binding. */
type FusedMatchBinding = Pick<NativeCudaBinding, 'preprocessShiftMatchBatch' | 'fusedProposals'> &
  Partial<Pick<NativeCudaBinding, 'preprocessShiftMatchBatchAsync'>>;

/**
 * Where the engine's per-batch kernels run. With CUDA, preprocessing and the drift shift run on the
 * GPU (fused); learning and extraction run end to end on the device (raw int16 in, spikes and
 * statistics out) when the binding has preprocessShiftMatchBatch, else matching pursuit runs on
 * its matchBatch when it has one, else on the CPU; the rest on the CPU.
 */
export type EngineBackend =
  | { readonly backend: 'cpu' }
  | {
      readonly backend: 'cuda';
      readonly cuda: CudaPreprocessBinding &
        Partial<BatchMatcher> &
        Partial<FusedMatchBinding> &
        Partial<CudaDriftBinding>;
    };

/** The engine backend of a {@link chooseBackend} result. */
export function engineBackend(choice: Pick<BackendChoice, 'backend' | 'cuda'>): EngineBackend {
  if (choice.backend === 'cpu') return { backend: 'cpu' };
  if (!choice.cuda) throw new RangeError('engineBackend: a cuda choice without its binding');
  return { backend: 'cuda', cuda: choice.cuda };
}

/** Which kernels of an engine run where: one line for logs and run.json. */
export interface EngineBackendSummary {
  backend: BackendName;
  preprocessing: BackendName;
  matching: BackendName;
}

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
  /** @default { backend: 'cpu' } */
  backend?: EngineBackend;
  /** Where the engine says (once) that a step runs on the CPU although CUDA was chosen. */
  log?: Logger;
  /** Batches {@link BatchEngine.prefetch} holds at most (a 384-channel batch is 52 MB of int16). @default 2 */
  maxPrefetched?: number;
  /** Raw batch arrays kept for reuse by later reads (0: a fresh array per batch). @default 4 */
  maxPooledArrays?: number;
  /** `.cbin` chunks its readers decode ahead (OpenRecordingOptions.cbinPrefetchChunks). @default the reader's */
  cbinPrefetchChunks?: number;
  /** Bytes of decoded `.cbin` chunks its readers keep (OpenRecordingOptions.cbinCacheBytes). @default the reader's */
  cbinCacheBytes?: number;
}

export class BatchEngine {
  private readonly open = new Map<string, Promise<Recording>>();
  private readonly maxOpen: number;
  private readonly backend: EngineBackend;
  private readonly matcher: BatchMatcher | undefined;
  private readonly fusedMatch: FusedMatchBinding | undefined;
  private readonly fusedDrift: CudaDriftBinding | undefined;
  private iblNoted = false;
  /** Batches read ahead, by {@link prefetchKey}, oldest first; each is taken by its request. */
  private readonly ahead = new Map<string, Prefetched>();
  /**
   * Seconds by `kind.phase` (logged at close, debug): for each asynchronous step (device calls
   * `*.device`, kriging solves `*.kriging`) the time from the call to its result, queueing behind
   * other requests' work included.
   */
  private readonly phaseSeconds = new Map<string, number>();
  /** Raw arrays of finished batches, read into again (no page faults of a fresh array). */
  private readonly rawArrays: RawArrayPool;

  /** Runs `f`, adding the wall time from the call until its promise settles to `phase`. */
  private async timedAsync<T>(phase: string, f: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await f();
    } finally {
      this.phaseSeconds.set(phase, (this.phaseSeconds.get(phase) ?? 0) + (performance.now() - t0) / 1000);
    }
  }

  constructor(private readonly options: BatchEngineOptions) {
    loadCpuBinding().setThreads(options.threads);
    this.maxOpen = options.maxOpen ?? 8;
    this.rawArrays = new RawArrayPool(options.maxPooledArrays ?? 4);
    this.backend = options.backend ?? { backend: 'cpu' };
    const cuda = this.backend.backend === 'cuda' ? this.backend.cuda : undefined;
    // Feature-detected: a CUDA build without matching pursuit matches on the CPU.
    this.matcher = typeof cuda?.matchBatch === 'function' ? (cuda as BatchMatcher) : undefined;
    this.fusedMatch = typeof cuda?.preprocessShiftMatchBatch === 'function' ? (cuda as FusedMatchBinding) : undefined;
    this.fusedDrift = typeof cuda?.preprocessDriftDetectSpikes === 'function' ? (cuda as CudaDriftBinding) : undefined;
    if (cuda) {
      const where = this.fusedMatch
        ? 'CUDA (fused with preprocessing: raw batches in, spikes and statistics out)'
        : this.matcher
          ? 'CUDA'
          : 'the CPU (this CUDA build has no matchBatch)';
      options.log?.info(
        {
          preprocessing: 'cuda',
          matching: this.matcher || this.fusedMatch ? 'cuda' : 'cpu',
          driftDetection: this.fusedDrift ? 'cuda' : 'cpu',
        },
        `engine: preprocessing and drift shift on CUDA, matching pursuit on ${where}, drift detection on ${
          this.fusedDrift ? 'CUDA (fused with preprocessing)' : 'the CPU'
        }`,
      );
    }
  }

  /** Which backend runs preprocessing and matching (ibl preprocessing always runs on the CPU). */
  describeBackend(preprocessing: 'ks25' | 'ibl' = 'ks25'): EngineBackendSummary {
    const b = this.backend.backend;
    const matching = this.matcher || this.fusedMatch ? 'cuda' : 'cpu';
    return { backend: b, preprocessing: preprocessing === 'ibl' ? 'cpu' : b, matching };
  }

  /** The CUDA preprocessing binding for these params, or undefined for the CPU path. */
  private cudaFor(work: ProbeWork): CudaPreprocessBinding | undefined {
    if (this.backend.backend !== 'cuda') return undefined;
    if (work.params.preprocessing === 'ibl') {
      if (!this.iblNoted) {
        this.iblNoted = true;
        this.options.log?.warn(
          { preprocessing: 'ibl', backend: 'cuda' },
          'preprocessing ibl has no CUDA version: preprocessing and drift shift run on the CPU',
        );
      }
      return undefined;
    }
    return this.backend.cuda;
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
    const rec = await openRecording(work.recordingPath, {
      allowPartialSample: work.allowPartialSample,
      ...(this.options.cbinPrefetchChunks !== undefined ? { cbinPrefetchChunks: this.options.cbinPrefetchChunks } : {}),
      ...(this.options.cbinCacheBytes !== undefined ? { cbinCacheBytes: this.options.cbinCacheBytes } : {}),
    });
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
    return this.preprocessed(work, batch, channels, null);
  }

  private async preprocessed(
    work: ProbeWork,
    batch: BatchSpan,
    channels: ChannelState,
    shift: Pick<MatchRequest, 'segments' | 'drift'> | null,
  ): Promise<FloatBlock> {
    const data = (await this.takePrefetched(work, batch))?.data ?? (await this.read(work, batch));
    const raw = { data, firstSample: batch.readStart, nSamples: batch.readEnd - batch.readStart };
    const drift = shift?.drift ?? null;
    const cuda = this.cudaFor(work);
    if (cuda) {
      const blockShift = shift && drift ? { segments: shift.segments, drift, params: work.params } : null;
      const whitened = cudaWhitenShiftBlock(cuda, raw, work.setup, channels, work.params, blockShift);
      this.rawArrays.give(data);
      return whitened;
    }
    const block = whitenBlock(raw, work.setup, channels, work.params);
    this.rawArrays.give(data);
    if (shift && drift) shiftBlock(block, batch.readStart, shift.segments, drift, work.setup, work.params);
    return block;
  }

  /** The raw batch, into an array of an earlier batch when one of its length was given back. */
  private async read(work: ProbeWork, batch: BatchSpan): Promise<Int16Array> {
    const rec = await this.recording(work);
    return this.readInto(rec, batch.readStart, batch.readEnd);
  }

  private readInto(rec: Recording, readStart: number, readEnd: number): Promise<Int16Array> {
    return rec.read(readStart, readEnd, this.rawArrays.take((readEnd - readStart) * rec.info.nChannels));
  }

  /**
   * The kriging matrices of a fused device run (undefined: no drift correction), solved off the
   * JavaScript thread; they depend only on the batch's span, so they are solved while it is read.
   */
  private matchKriging(req: PrefetchRequest, phase = 'match.kriging'): Promise<BlockKriging> {
    const { work, drift, batch } = req;
    if (!drift) return Promise.resolve(undefined);
    const span = { firstSample: batch.readStart, nSamples: batch.readEnd - batch.readStart };
    return this.timedAsync(phase, () =>
      blockKrigingAsync(span, work.setup, { segments: req.segments, drift, params: work.params }),
    );
  }

  private prefetchKey(work: ProbeWork, batch: BatchSpan): string {
    return `${work.allowPartialSample ? 1 : 0}:${batch.readStart}:${batch.readEnd}:${work.recordingPath}`;
  }

  /**
   * Starts reading a learning or extraction batch before its request comes (the rounds' reads and
   * kriging matrices do not depend on the model, so the next round's first batches can be prepared
   * while this one finishes and the global step runs). With the fused CUDA path the kriging
   * matrices are computed too once the read is done. At most `maxPrefetched` batches are held; a
   * new one evicts the oldest, which its request then reads itself.
   */
  prefetch(req: PrefetchRequest): void {
    const key = this.prefetchKey(req.work, req.batch);
    if (this.ahead.has(key)) return;
    const max = this.options.maxPrefetched ?? 2;
    if (max <= 0) return;
    while (this.ahead.size >= max) this.ahead.delete(this.ahead.keys().next().value as string);
    const fused = this.fusedMatch !== undefined && this.cudaFor(req.work) !== undefined;
    const { batch } = req;
    const kriging = fused
      ? this.matchKriging(req, 'prefetch.kriging').then((value) => ({ value }))
      : Promise.resolve(null);
    const ready = Promise.all([this.read(req.work, batch), kriging]).then(([data, k]) => ({ data, kriging: k }));
    // A failed read ahead is dropped, not reported here: the batch's request reads it again and
    // reports its own error.
    const entry: Prefetched = { drift: req.drift, params: req.work.params, segments: segmentsKey(req.segments), ready };
    ready.catch(() => {
      if (this.ahead.get(key) === entry) this.ahead.delete(key);
    });
    this.ahead.set(key, entry);
  }

  /**
   * The prefetched batch for this request, removed from the cache; undefined when none (or it
   * failed). Its kriging is dropped unless it was computed for this request's shift.
   */
  private async takePrefetched(
    work: ProbeWork,
    batch: BatchSpan,
    shift?: PrefetchRequest,
  ): Promise<{ data: Int16Array; kriging: { value: BlockKriging } | null } | undefined> {
    const key = this.prefetchKey(work, batch);
    const entry = this.ahead.get(key);
    if (entry === undefined) return undefined;
    this.ahead.delete(key);
    const got = await entry.ready.catch(() => undefined);
    if (got === undefined) return undefined;
    const same =
      shift !== undefined &&
      entry.drift === shift.drift &&
      entry.params === shift.work.params &&
      entry.segments === segmentsKey(shift.segments);
    return same ? got : { data: got.data, kriging: null };
  }

  private shifted(req: MatchRequest): Promise<FloatBlock> {
    return this.preprocessed(req.work, req.batch, req.channels, req);
  }

  async statistics(req: StatisticsRequest): Promise<WindowStatistics> {
    const rec = await this.recording(req.work);
    const { readStart, readEnd, marginSamples } = req.window;
    const data = await this.readInto(rec, readStart, readEnd);
    const statistics = windowStatistics(
      { data, firstSample: readStart, nSamples: readEnd - readStart },
      marginSamples,
      req.work.setup,
      req.work.params,
    );
    this.rawArrays.give(data);
    return statistics;
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
    const own = batch.ownStart - batch.readStart;
    const ownEnd = own + (batch.ownEnd - batch.ownStart);
    if (this.fusedDrift && this.cudaFor(req.work)) {
      // Raw int16 up, spikes down: the whitened block stays on the device.
      const { work } = req;
      const rec = await this.recording(work);
      const data = await this.readInto(rec, batch.readStart, batch.readEnd);
      const raw = { data, firstSample: batch.readStart, nSamples: batch.readEnd - batch.readStart };
      const options = preprocessOptions(work.setup, req.channels, work.params);
      const fused = this.fusedDrift;
      const result = await this.timedAsync('drift.device', () =>
        cudaDriftBatchAsync(fused, raw, options, own, ownEnd, work.setup, req.wTemp, work.params.driftDetectThreshold),
      );
      this.rawArrays.give(data);
      return result;
    }
    const block = await this.whitened(req.work, batch, req.channels);
    return driftBatch(
      block,
      batch.readStart,
      own,
      ownEnd,
      req.work.setup,
      req.wTemp,
      req.work.params.driftDetectThreshold,
    );
  }

  /**
   * The fused device run of a learning or extraction batch (raw int16 read here, everything else on
   * the GPU), or undefined when this batch takes the block path: CPU backend, ibl preprocessing, a
   * CUDA build without the fused entry, or no templates yet (the residual is the whitened block).
   */
  private async fusedRun(req: MatchRequest): Promise<{ run: BatchMatchRun; data: Int16Array } | undefined> {
    const fused = this.fusedMatch;
    if (!fused || !this.cudaFor(req.work) || req.model.model.nTemplates === 0) return undefined;
    const { work, batch } = req;
    const early = await this.takePrefetched(work, batch, req);
    // The kriging is a pure function of the batch span and the shift, so one computed ahead is the same.
    const solving = early?.kriging ? Promise.resolve(early.kriging.value) : this.matchKriging(req);
    const data = early?.data ?? (await this.read(work, batch));
    const kriging = await solving;
    const options = preprocessOptions(work.setup, req.channels, work.params);
    const halo = { haloSamples: batch.ownStart - batch.readStart, ownSamples: batch.ownEnd - batch.ownStart };
    // Off the JavaScript thread when the build has the async entry: the next batch's read, kriging
    // and the last result's pooling then overlap this batch's device work.
    const asyncEntry = fused.preprocessShiftMatchBatchAsync;
    const run = (matchOptions: MatchOptions, returnResidual: boolean, proposals?: DeviceProposalRequest) => {
      const args = [
        { data, nChannels: work.setup.nChannels },
        options,
        kriging,
        halo,
        req.model.model,
        matchOptions,
        returnResidual,
        deviceModelKey(req.model),
        proposals,
      ] as const;
      return asyncEntry
        ? cudaPreprocessShiftMatchBatchAsync({ preprocessShiftMatchBatchAsync: asyncEntry }, ...args)
        : cudaPreprocessShiftMatchBatch(fused, ...args);
    };
    // A build whose fused entry proposes templates spares learning the residual's download.
    return { run: Object.assign(run, { proposesOnDevice: fused.fusedProposals === true }), data };
  }

  async learn(req: MatchRequest): Promise<LearnBatchResult> {
    const { batch } = req;
    const fused = await this.fusedRun(req);
    if (fused) {
      const geometry = {
        nSamples: batch.readEnd - batch.readStart,
        nChannels: req.work.setup.nChannels,
        haloSamples: batch.ownStart - batch.readStart,
        ownSamples: batch.ownEnd - batch.ownStart,
      };
      const result = await this.timedAsync('learn.device', () =>
        learnWith(fused.run, geometry, req.model, req.work.params),
      );
      this.rawArrays.give(fused.data);
      return result;
    }
    const block = await this.shifted(req);
    return learnBatch(
      block,
      batch.ownStart - batch.readStart,
      batch.ownEnd - batch.ownStart,
      req.model,
      req.work.params,
      this.matcherFor(req.model),
    );
  }

  async extract(req: MatchRequest): Promise<ExtractBatchResult> {
    const { batch } = req;
    const fused = await this.fusedRun(req);
    if (fused) {
      const result = await this.timedAsync('extract.device', () =>
        extractWith(fused.run, batch.ownStart, req.model, req.work.params),
      );
      this.rawArrays.give(fused.data);
      return result;
    }
    const block = await this.shifted(req);
    return extractBatch(
      block,
      batch.ownStart,
      batch.ownStart - batch.readStart,
      batch.ownEnd - batch.ownStart,
      req.model,
      req.work.params,
      this.matcherFor(req.model),
    );
  }

  /**
   * Drops the raw arrays kept for reuse and the batches read ahead (~0.2 GB at 384 channels), e.g.
   * once a probe's rounds are done: post-processing and export would carry them to the end.
   */
  releaseBuffers(): void {
    this.rawArrays.clear();
    this.ahead.clear();
  }

  /**
   * The CUDA matchBatch with `match`'s device key (its batches reuse the model on the device), or
   * undefined for the CPU's.
   */
  private matcherFor(match: MatchModel): BatchMatcher | undefined {
    const matcher = this.matcher;
    if (!matcher) return undefined;
    const modelKey = deviceModelKey(match);
    return {
      matchBatch: (samples, nSamples, nChannels, model, options) => {
        const keyed: NativeCudaMatchOptions = { ...options, modelKey };
        return matcher.matchBatch(samples, nSamples, nChannels, model, keyed);
      },
    };
  }

  /** Raw batch arrays held for reuse now (for tests and diagnostics). */
  get pooledRawArrays(): number {
    return this.rawArrays.size;
  }

  /** Closes every open recording; the engine can still be used (it reopens them). */
  async close(): Promise<void> {
    if (this.phaseSeconds.size > 0) {
      const seconds = Object.fromEntries([...this.phaseSeconds].map(([k, v]) => [k, Math.round(v * 1000) / 1000]));
      this.options.log?.debug({ seconds }, 'engine: seconds in request phases');
      this.phaseSeconds.clear();
    }
    this.ahead.clear();
    this.rawArrays.clear();
    const all = [...this.open.values()];
    this.open.clear();
    for (const r of all) await (await r.catch(() => null))?.close();
  }
}
