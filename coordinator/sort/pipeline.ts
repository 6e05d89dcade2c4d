// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * One probe's sort as a sequence of rounds (design.md §3): statistics → whitening; drift
 * detection → registration; learning rounds → templates; extraction → spikes; post-processing.
 * Per-batch work goes through a BatchExecutor; every reduction happens here, in batch order, so
 * the result does not depend on how many executors ran the batches or in which order they
 * finished.
 */
import {
  learnPrototypes,
  nearestChannels,
  reduceStatistics,
  registerDrift,
  sortingPositions,
  templateSimilarity,
  type ChannelState,
  type DriftState,
  type ExtractBatchResult,
  type WindowStatistics,
  type DriftBatchResult,
  type MatchModel,
  type ProbeSetup,
  type RecordingInfo,
  type TemplateModel,
} from '../../native/lib/index.js';
import { InputError } from '../../proto/errors.js';
import { memoryFields, type Logger } from '../../proto/log.js';
import type { SortParams } from '../../proto/params.js';
import { learningRounds, planBatches, statisticsWindows, type Batch } from '../plan/batch-plan.js';
import type { BatchExecutor, ProbeTask } from './executor.js';
import {
  NT0,
  RANK,
  addBirths,
  applyBatchStatistics,
  emptyTemplates,
  type TemplateState,
  factorize,
  momentum,
  triageAndSelect,
} from './learning.js';
import {
  MemorySpikeFeatures,
  RecordSpikeFeatures,
  featurePartOf,
  type FeaturePart,
  type SpikeFeatures,
} from '../formats/spike-features.js';
import type { Checkpoints } from './run-folder.js';
import { runRound, type RoundOptions } from './rounds.js';
import type { Slots } from './slots.js';

/** Everything the engine found, before post-processing and export. */
export interface EngineOutput {
  setup: ProbeSetup;
  batches: Batch[];
  channels: ChannelState;
  drift: DriftState | null;
  model: TemplateModel;
  correlations: { similarity: Float32Array; similar: Int32Array; nSimilar: number };
  /** wPCA used for PC features, nt0 × 3. */
  pcs: Float32Array;
  /** The spikes; with a run folder their feature arrays are empty (see `features`). */
  spikes: ExtractBatchResult;
  /**
   * The spikes' feature rows. With a run folder they stay in extraction's checkpoint records and
   * are read on demand (the source holds open files until closed); without one they are `spikes`'
   * own arrays.
   */
  features: SpikeFeatures;
  timings: Record<string, number>;
}

export function probeSetup(info: RecordingInfo): ProbeSetup {
  const { xUm, yUm } = sortingPositions(info.geometry);
  return {
    nChannels: info.nChannels,
    sampleRateHz: info.sampleRateHz,
    xUm,
    yUm,
    uvPerCount: Float64Array.from(info.uvPerCount),
    used: Uint8Array.from(info.geometry.used),
    probeType: info.probeType,
    shank: Int32Array.from(info.geometry.shank),
  };
}

function firstColumns(values: Float32Array, rows: number, cols: number, keep: number): Float32Array {
  const out = new Float32Array(rows * keep);
  for (let r = 0; r < rows; r++) for (let k = 0; k < keep; k++) out[r * keep + k] = values[r * cols + k]!;
  return out;
}

/**
 * The batches' spikes in one set of arrays. Each batch's result is dropped from `parts` once
 * copied, so it can be collected while the rest is copied: at most one batch is held twice.
 */
function concatExtraction(parts: Array<ExtractBatchResult | undefined>): ExtractBatchResult {
  const total = parts.reduce((n, p) => n + (p?.samples.length ?? 0), 0);
  const first = parts.find((p) => p !== undefined && p.samples.length > 0);
  const fw = first ? first.templateFeatures.length / first.samples.length : 0;
  const fp = first ? first.pcFeatures.length / first.samples.length : 0;
  const out: ExtractBatchResult = {
    samples: new Float64Array(total),
    templates: new Int32Array(total),
    amplitudes: new Float32Array(total),
    scores: new Float32Array(total),
    templateFeatures: new Float32Array(total * fw),
    pcFeatures: new Float32Array(total * fp),
    capped: parts.some((p) => p?.capped === true),
  };
  let at = 0;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (p === undefined) continue;
    out.samples.set(p.samples, at);
    out.templates.set(p.templates, at);
    out.amplitudes.set(p.amplitudes, at);
    out.scores.set(p.scores, at);
    out.templateFeatures.set(p.templateFeatures, at * fw);
    out.pcFeatures.set(p.pcFeatures, at * fp);
    at += p.samples.length;
    parts[i] = undefined;
  }
  return out;
}

/** How a run folder and the other probes of a job take part in one probe's engine. */
export interface EngineRun {
  /** Where finished batches and rounds are saved and, on a resumed run, found. */
  checkpoints?: Checkpoints | null;
  /** Executor slots shared with the other probes sorted at the same time. */
  slots?: Slots;
  /**
   * Learning's state record is written after a round only when at least this long has passed since
   * the last write (0: after every round). @default {@link LEARNING_CHECKPOINT_S}
   */
  learningCheckpointS?: number;
}

/**
 * Seconds between learning's state records by default. On the GPU a round takes ~1.5 s and its
 * state is ~0.2 GB, so a record per round hashed and wrote ~7 GB in a 10-minute sort (8 s of
 * SHA-256 on the main thread, H100 profile 2026-11-25); a kill now costs at most this long of
 * rounds. On the CPU a round outlasts it, so every round is still saved there.
 */
export const LEARNING_CHECKPOINT_S = 10;

const batchKey = (round: string, i: number): string => `${round}/batch-${String(i).padStart(5, '0')}`;

export async function runEngine(
  info: RecordingInfo,
  recordingPath: string,
  params: SortParams,
  executor: BatchExecutor,
  log: Logger,
  allowPartialSample = false,
  run: EngineRun = {},
): Promise<EngineOutput> {
  const cp = run.checkpoints ?? null;
  /** Checkpointing of a per-batch round: each result saved as it arrives, found again on resume. */
  const perBatch = <R>(
    round: string,
    encode: (r: R) => unknown = (r) => r,
    decode: (v: unknown) => R = (v) => v as R,
  ): RoundOptions<R> => {
    const options: RoundOptions<R> = run.slots ? { slots: run.slots } : {};
    if (cp === null) return options;
    return {
      ...options,
      load: (i) => {
        const v = cp.load<unknown>(batchKey(round, i));
        return v === undefined ? undefined : decode(v);
      },
      // Renamed into place without fsync: a kill or pre-emption loses no record (the page cache
      // outlives the process), and one torn by a machine crash fails its SHA-256 on resume and its
      // batch is redone. A sync per batch cost more than the kernels of small batches (extraction
      // writes ~6 MB per 384-channel batch), and the round's state record is synced.
      save: (i, r) => cp.saveUnsynced(batchKey(round, i), encode(r)),
    };
  };
  /**
   * A round's reduced global state: loaded if an earlier run finished the round, else computed and
   * saved; the round's batch records are dropped once the state that summarises them is durable.
   */
  const roundState = async <T>(round: string, compute: () => Promise<T>): Promise<T> => {
    const earlier = cp?.load<{ state: T }>(`${round}/state`);
    if (earlier !== undefined) {
      log.info({ round, loaded: true }, `${round}: loaded from the run folder`);
      return earlier.state;
    }
    const state = await compute();
    if (cp !== null) {
      cp.save(`${round}/state`, { state }, true);
      cp.removeBatches(round);
    }
    return state;
  };
  const timings: Record<string, number> = {};
  const timed = async <T>(stage: string, f: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const r = await f();
    timings[stage] = (performance.now() - t0) / 1000;
    log.info(
      { stage, seconds: timings[stage], ...memoryFields() },
      `${stage} done in ${(timings[stage] ?? 0).toFixed(1)} s`,
    );
    return r;
  };
  const setup = probeSetup(info);
  const batches = planBatches(info.nSamples, params.batchSamples, params.haloSamples);
  const task: ProbeTask = { probe: info.probeLabel, recordingPath, allowPartialSample, setup, params, batches };
  const fs = info.sampleRateHz;

  // Channel neighbourhoods (iC) of templates, proposals and features.
  const nNeighbours = Math.min(32, setup.nChannels);
  const neighbourhoods = nearestChannels(
    Float32Array.from(setup.xUm),
    Float32Array.from(setup.yUm),
    nNeighbours,
  ).channels;

  // Round 1: channel statistics and whitening.
  const channels = await timed('statistics', () =>
    roundState('statistics', async () => {
      const windowSamples = Math.round(params.statWindowS * fs);
      const margin = Math.min(params.haloSamples, Math.floor(windowSamples / 2));
      const starts = statisticsWindows(info.nSamples, params.statWindows, windowSamples);
      const windows = starts.map((s) => ({
        readStart: Math.max(0, s - margin),
        readEnd: Math.min(info.nSamples, s + windowSamples + margin),
        marginSamples: margin,
      }));
      const stats = await runRound(
        log,
        'channel statistics',
        windows,
        executor.statisticsConcurrency ?? executor.concurrency,
        (w) => executor.statistics(task, w),
        perBatch<WindowStatistics>('statistics'),
      );
      return reduceStatistics(stats, setup, params);
    }),
  );
  const nGood = channels.good.reduce((a, b) => a + b, 0);
  const counts = [0, 0, 0, 0];
  channels.labels.forEach((l) => counts[l]!++);
  log.info(
    { good: counts[0], dead: counts[1], noisy: counts[2], outside: counts[3] },
    `channels: ${counts[0]} good, ${counts[1]} dead or unused, ${counts[2]} noisy, ${counts[3]} outside the brain`,
  );
  if (nGood === 0) {
    throw new InputError(
      info.binPath,
      `every one of the ${setup.nChannels} channels was labelled bad (dead, noisy or outside the brain); nothing to sort`,
    );
  }

  // Round 2: prototype waveforms from isolated peaks (every 5th batch), then drift.
  const minSnippets = 12;
  const prototypes = await timed('prototypes', () =>
    roundState('prototypes', async () => {
      const every = batches.filter((_, i) => i % 5 === 0);
      const parts = await runRound(
        log,
        'isolated snippets',
        every,
        executor.concurrency,
        (b) => executor.snippets(task, b, channels),
        perBatch<Float32Array>('prototypes'),
      );
      const maxSnippets = 100_000;
      const total = Math.min(
        maxSnippets,
        parts.reduce((n, p) => n + p.length / NT0, 0),
      );
      if (total < minSnippets) {
        log.warn(
          `only ${total} isolated spikes above ${params.snippetThreshold}σ: too few to learn waveforms, so no unit can be sorted`,
        );
        return null;
      }
      const pool = new Float32Array(total * NT0);
      let at = 0;
      for (const p of parts) {
        const take = Math.min(p.length, pool.length - at);
        pool.set(p.subarray(0, take), at);
        at += take;
        if (at >= pool.length) break;
      }
      return learnPrototypes(pool, { nPrototypes: 6, seed: params.seed });
    }),
  );
  if (prototypes === null) {
    const model = factorize(emptyTemplates(setup.nChannels), neighbourhoods, nNeighbours, new Float32Array(NT0 * RANK));
    return {
      setup,
      batches,
      channels,
      drift: null,
      model,
      correlations: { similarity: new Float32Array(0), similar: new Int32Array(0), nSimilar: 0 },
      pcs: new Float32Array(NT0 * 3),
      spikes: concatExtraction([]),
      features: new MemorySpikeFeatures(0, new Float32Array(0), new Float32Array(0)),
      timings,
    };
  }
  const wTemp = prototypes.wTemp;
  const pcs = firstColumns(prototypes.wPca, NT0, prototypes.nPrototypes, 3);

  let drift: DriftState | null = null;
  if (params.driftCorrection) {
    drift = await timed('drift', () =>
      roundState('drift', async () => {
        const parts = await runRound(
          log,
          'drift detection',
          batches,
          executor.concurrency,
          (b) => executor.driftDetect(task, b, channels, wTemp),
          perBatch<DriftBatchResult>('drift'),
        );
        const per = parts[0]!.histogram.length;
        const all = new Float32Array(per * parts.length);
        parts.forEach((p, i) => all.set(p.histogram, i * per));
        const reg = registerDrift(all, parts.length, { yUm: setup.yUm }, { nBlocks: params.driftBlocks });
        let maxShift = 0;
        for (const v of reg.dshiftUm) maxShift = Math.max(maxShift, Math.abs(v));
        log.info({ maxShiftUm: maxShift }, `drift: largest correction ${maxShift.toFixed(1)} µm`);
        return { nBatches: reg.nBatches, nBlocks: reg.nBlocks, dshiftUm: reg.dshiftUm, yBlockUm: reg.yBlockUm };
      }),
    );
  }

  // Round 3: learning.
  const m0 = (params.minFiringRateHz * params.batchSamples) / fs;
  const maxTemplates = params.maxTemplatesPerChannel * setup.nChannels;
  let state = emptyTemplates(setup.nChannels);
  const proposalPrototypes = { templateSamples: NT0, nPrototypes: prototypes.nPrototypes, values: wTemp };
  const initialTemporal = firstColumns(prototypes.wPca, NT0, prototypes.nPrototypes, RANK);
  const triageOptions = { minNsp: m0, maxSimilarity: 0.9, amplitudeGap: 4 * Math.sqrt(10) };
  let model: TemplateModel = factorize(state, neighbourhoods, nNeighbours, initialTemporal);
  await timed('learning', async () => {
    const final = cp?.load<{ model: TemplateModel }>('learning/final');
    if (final !== undefined) {
      model = final.model;
      log.info(
        { round: 'learning', loaded: true, templates: model.nTemplates },
        'learning: loaded from the run folder',
      );
      return;
    }
    const rounds = learningRounds(batches.length, params.learningBatches, params.learningRoundBatches, params.seed);
    const nLearn = rounds.reduce((n, r) => n + r.length, 0);
    let visited = 0;
    let r = 0;
    // The state after the last finished round is all that is needed to go on: the next round's
    // model is a deterministic function of it (factorize warm-starts from state.temporal).
    const earlier = cp?.load<{ roundsDone: number; visited: number; state: TemplateState }>('learning/state');
    if (earlier !== undefined) {
      state = earlier.state;
      r = earlier.roundsDone;
      visited = earlier.visited;
      log.info(
        { round: 'learning', roundsDone: r },
        `learning: ${r} of ${rounds.length} rounds loaded from the run folder`,
      );
    }
    // The write of the last round's state record, running while the next round is prepared and
    // its batches are matched (see below).
    let stateWrite: Promise<void> | null = null;
    const checkpointMs = 1000 * (run.learningCheckpointS ?? LEARNING_CHECKPOINT_S);
    let lastStateWrite = performance.now();
    // The batches whose requests come first after round `k`: the next round's, or extraction's
    // after the last. Their reads (and device kriging) do not depend on the model, so they are
    // started once round k has handed out its last batch: the fill of the next round's pipeline
    // then overlaps this round's drain and the global step in between.
    const firstAfter = (k: number): readonly Batch[] => {
      const next = k + 1 < rounds.length ? rounds[k + 1]!.map((bi) => batches[bi]!) : batches;
      return next.slice(0, executor.concurrency);
    };
    const prefetchAfter = (k: number): void => {
      if (executor.prefetch === undefined) return;
      for (const b of firstAfter(k)) executor.prefetch(task, b, channels, drift);
    };
    for (const round of rounds.slice(r)) {
      const prepareStart = performance.now();
      model = factorize(state, neighbourhoods, nNeighbours, initialTemporal);
      if (r > 0) model = triageAndSelect(state, model, triageOptions);
      const match: MatchModel = {
        model,
        // WtW is derived where the batches are matched (on the device for CUDA).
        crossCorrelation: null,
        deriveCrossCorrelation: true,
        similar: null,
        pcs: null,
        prototypes: proposalPrototypes,
        neighbourhoods,
        nNeighbours,
      };
      // This round's pooling updates the running means in place: the record of the previous state,
      // hashed when it was encoded, must be on disk first, or it would not match its checksum.
      await stateWrite;
      const matchStart = performance.now();
      let inRoundPoolMs = 0;
      const results = await runRound(
        log,
        `learning round ${r + 1}/${rounds.length}`,
        round,
        executor.concurrency,
        // A result is handed on (and pooled, which changes the running means in place) only once
        // the last round's state record, which holds those means, is written.
        async (bi) => {
          const res = await executor.learn(task, batches[bi]!, channels, drift, match);
          await stateWrite;
          return res;
        },
        // No per-batch records in learning: a round's batches are seconds of work, while their
        // statistics are templates × nt0 × channels float64 each (~0.2 GB at 1 200 templates ×
        // 384 channels), so writing, hashing and deleting them cost more than redoing the round
        // after a kill. Resume is per round (learning/state below).
        {
          ...(run.slots ? { slots: run.slots } : {}),
          onAllStarted: (
            (k) => () =>
              prefetchAfter(k)
          )(r),
          // Pooled in batch order as the results arrive, and their sums dropped: a batch's sums
          // are up to templates × nt0 × channels float64 (~0.2 GB at 1 300 templates × 384
          // channels), so holding a round's eight was most of a long sort's peak memory. Births
          // below need only the proposals.
          inOrder: (_, res) => {
            const poolStart = performance.now();
            applyBatchStatistics(state, res, momentum(visited++, nLearn, params.momentumStart, params.momentumEnd));
            inRoundPoolMs += performance.now() - poolStart;
            // Copies: a result decoded from a worker's message is views on one buffer, which a
            // view kept here would keep whole.
            return {
              ...res,
              active: new Int32Array(0),
              sums: new Float64Array(0),
              counts: res.counts.slice(),
              proposals: res.proposals.slice(),
              proposalChannels: res.proposalChannels.slice(),
              proposalScores: res.proposalScores.slice(),
            };
          },
        },
      );
      const poolStart = performance.now() - inRoundPoolMs;
      // As in Kilosort's last learning iteration, the final round gives birth to nothing: a newborn
      // would go to extraction as a single smoothed residual snippet that never matched a spike.
      // A recording of a single round is the exception, else it would have no template at all.
      const lastRound = r === rounds.length - 1 && r > 0;
      const born = lastRound
        ? 0
        : addBirths(state, results, {
            pcs,
            nPcs: 3,
            neighbourhoods: match.neighbourhoods,
            nNeighbours,
            initialNsp: m0,
            maxTemplates,
          });
      // Where a round's time goes: the global step before matching, matching, pooling and births.
      const seconds = (a: number, b: number): number => Math.round(b - a) / 1000;
      log.debug(
        {
          round: r,
          templates: state.dWU.length,
          born,
          prepareS: seconds(prepareStart, matchStart),
          matchS: seconds(matchStart, poolStart),
          poolS: seconds(poolStart, performance.now()),
          ...memoryFields(),
        },
        'learning round',
      );
      r++;
      // The last round's state is not written: learning/final follows it at once.
      if (cp !== null && r < rounds.length && performance.now() - lastStateWrite >= checkpointMs) {
        // Not fsynced: the state is ~0.2 GB (float64 running means) and replaced often, so a sync
        // per write cost as much as the rest of the global step. A kill or pre-emption loses
        // nothing written (the page cache is written back); a machine crash may leave a torn
        // record, which fails its checksum on resume and learning starts over: a rare loss of
        // minutes, against seconds saved on every sort. learning/final is synced.
        // Hashed now, written in the background while the next round is prepared: a kill during
        // the write leaves the previous record, so a resume redoes a little more.
        stateWrite = cp.saveUnsyncedInBackground('learning/state', { roundsDone: r, visited, state });
        lastStateWrite = performance.now();
        // Marked handled: a failed write is thrown where it is awaited, not as an unhandled rejection.
        stateWrite.catch(() => undefined);
      }
      // Batch records that a run folder written before learning stopped keeping them may hold.
      if (cp !== null) cp.remove(`learning/round-${String(r - 1).padStart(5, '0')}`);
    }
    await stateWrite;
    model = triageAndSelect(state, factorize(state, neighbourhoods, nNeighbours, initialTemporal), triageOptions);
    log.info({ templates: model.nTemplates }, `learning: ${model.nTemplates} templates`);
    if (cp !== null) {
      cp.save('learning/final', { model }, true);
      cp.remove('learning/state');
    }
  });

  // Round 4: extraction with frozen templates.
  // Only the similarity tables are made here: extraction derives WtW where it matches (below), so
  // the F² × 121 floats (0.8 GB at 1 300 templates) are neither held through extraction nor made.
  const correlations = (({ similarity, similar, nSimilar }) => ({ similarity, similar, nSimilar }))(
    templateSimilarity(model, { nSimilarMax: Math.min(32, Math.max(1, model.nTemplates)), threads: 0 }),
  );
  const widths = { template: correlations.nSimilar, pc: 3 * nNeighbours };
  const extracted = await timed('extraction', async () => {
    if (model.nTemplates === 0) return { spikes: concatExtraction([]), onDisk: null };
    const match: MatchModel = {
      model,
      crossCorrelation: null,
      deriveCrossCorrelation: true,
      similar: { nSimilar: correlations.nSimilar, similar: correlations.similar },
      pcs: { nPcs: 3, values: pcs },
      prototypes: proposalPrototypes,
      neighbourhoods,
      nNeighbours,
    };
    const options = perBatch<ExtractBatchResult>('extraction');
    const onDisk = new Array<FeaturePart>(batches.length);
    if (cp !== null) {
      // Each batch's features stay in its checkpoint record once saved (or found there on resume):
      // only the small per-spike columns are kept in memory.
      const leaveOnDisk = (i: number, r: ExtractBatchResult): ExtractBatchResult => {
        onDisk[i] = featurePartOf(cp.pathOf(batchKey('extraction', i)), r.samples.length);
        r.templateFeatures = new Float32Array(0);
        r.pcFeatures = new Float32Array(0);
        return r;
      };
      const { load, save } = options;
      options.load = (i) => {
        const r = load!(i);
        return r === undefined ? undefined : leaveOnDisk(i, r);
      };
      options.save = (i, r) => {
        save!(i, r);
        leaveOnDisk(i, r);
      };
    }
    const parts = await runRound(
      log,
      'extraction',
      batches,
      executor.concurrency,
      (b) => executor.extract(task, b, channels, drift, match),
      options,
    );
    return { spikes: concatExtraction(parts), onDisk: cp !== null ? new RecordSpikeFeatures(onDisk, widths) : null };
  });
  const { spikes } = extracted;
  // With a run folder, `spikes`' feature arrays are empty: post-processing and export read the
  // rows from the checkpoint records, so memory does not grow with them.
  const features: SpikeFeatures =
    extracted.onDisk ?? new MemorySpikeFeatures(spikes.samples.length, spikes.templateFeatures, spikes.pcFeatures);
  log.info({ spikes: spikes.samples.length }, `extraction: ${spikes.samples.length} spikes`);
  return {
    setup,
    batches,
    channels,
    drift,
    model,
    correlations,
    pcs,
    spikes,
    features,
    timings,
  };
}
