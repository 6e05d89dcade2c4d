// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * From the engine's spikes to a finished sorting: merges, splits, the score cut-off with good/mua
 * labels, renumbering, and the arrays the phy and ALF writers need.
 */
import { releaseFreedMemory, type RecordingInfo } from '../../native/lib/index.js';
import type { Logger } from '../../proto/log.js';
import type { SortParams } from '../../proto/params.js';
import type { SortingResult } from '../formats/sorting-result.js';
import { SelectedSpikeFeatures } from '../formats/spike-features.js';
import { amplitudeCutoff } from '../postprocess/cutoff.js';
import { removeDuplicates } from '../postprocess/duplicates.js';
import { findMerges } from '../postprocess/merges.js';
import { splitClusters, type SplitStats } from '../postprocess/splits.js';
import { NT0, NT0MIN, RANK } from './learning.js';
import type { EngineOutput } from './pipeline.js';

/** The small per-spike columns (the feature rows are read through a SpikeFeatures source). */
type Spikes = Pick<EngineOutput['spikes'], 'samples' | 'templates' | 'amplitudes' | 'scores'>;

/** The spikes whose `keep` entry is 1, every small column filtered alike. */
function selectSpikes(spikes: Spikes, keep: Uint8Array): Spikes {
  let n = 0;
  for (const k of keep) n += k;
  if (n === keep.length) return spikes;
  const out: Spikes = {
    samples: new Float64Array(n),
    templates: new Int32Array(n),
    amplitudes: new Float32Array(n),
    scores: new Float32Array(n),
  };
  let at = 0;
  for (let i = 0; i < keep.length; i++) {
    if (!keep[i]) continue;
    out.samples[at] = spikes.samples[i]!;
    out.templates[at] = spikes.templates[i]!;
    out.amplitudes[at] = spikes.amplitudes[i]!;
    out.scores[at] = spikes.scores[i]!;
    at++;
  }
  return out;
}

const N_PC = 3;
/** Largest lag between two reports of one event (0.4 ms, the scorer's match window). */
const DUPLICATE_LAG_S = 0.4e-3;

/** How post-processing runs; none of it changes the result. */
export interface AssembleOptions {
  /** Cores of the splits (clusters split side by side on native threads; 0: all). @default 0 */
  threads?: number;
  /**
   * Folder (in the run folder) for the splits' cluster-ordered copy of the PC rows, deleted when
   * done; null: each cluster's rows are gathered from the feature source.
   */
  scratchDir?: string | null;
  /** Filled with what the splits cost (benchmarks). */
  splitStats?: SplitStats;
  /** Called as each step ends, after its timing (benchmarks sample memory there). */
  onStep?: (step: string) => void;
}

/**
 * The finished sorting of one probe. Feature rows are never held whole: merges and splits gather
 * one cluster's rows at a time from `out.features`, and the result's `spikes.features` is a view
 * of it selecting the kept spikes (reading it reads `out.features`; closing it closes that).
 * `timings`, when given, receives the seconds of each step (duplicates, merges, splits, cutoff,
 * clusterArrays).
 */
export async function assembleSorting(
  out: EngineOutput,
  info: RecordingInfo,
  params: SortParams,
  log: Logger,
  provenance: Record<string, unknown>,
  timings: Record<string, number> | null = null,
  run: AssembleOptions = {},
): Promise<SortingResult> {
  let stepStart = performance.now();
  const stepDone = (step: string): void => {
    const now = performance.now();
    if (timings !== null) timings[step] = (now - stepStart) / 1000;
    run.onStep?.(step);
    stepStart = performance.now();
  };
  const { model, setup } = out;
  const fs = setup.sampleRateHz;
  const nC = setup.nChannels;
  const nT = model.nTemplates;
  const nN = model.nNeighbours;
  // Second reports of one event by another template go first (duplicates.ts): merges cannot join such pairs.
  const duplicates = removeDuplicates(out.spikes.samples, out.spikes.templates, out.spikes.scores, nT, {
    maxLagSamples: Math.round(DUPLICATE_LAG_S * fs),
    minFraction: 0.5,
  });
  const spikes = selectSpikes(out.spikes, duplicates.keep);
  const features = new SelectedSpikeFeatures(out.features, duplicates.keep);
  const nS = spikes.samples.length;
  const spikeTemplates = Uint32Array.from(spikes.templates);
  const pcFeatureInd = new Uint32Array(nT * nN);
  for (let j = 0; j < nT; j++) {
    const peak = model.peakChannel[j]!;
    for (let i = 0; i < nN; i++) pcFeatureInd[j * nN + i] = model.neighbours[peak * nN + i]!;
  }
  stepDone('duplicates');

  // Merges and splits.
  const merged = findMerges(
    spikes.samples,
    spikeTemplates,
    nT,
    out.correlations.similarity,
    {
      sampleRateHz: fs,
      similarityThreshold: params.mergeSimilarity,
      maxContamination: 0.2,
      maxPValue: 0.05,
      maxBimodality: 0.5,
    },
    {
      source: features,
      similar: out.correlations.similar,
      nSimilar: out.correlations.nSimilar,
      spikeTemplates,
    },
  );
  stepDone('merges');
  const splitStats = run.splitStats ?? ({} as SplitStats);
  const split = await splitClusters(
    {
      samples: spikes.samples,
      clusters: merged.clusters,
      nClusters: nT,
      spikeTemplates,
      pcFeatures: features,
      pcFeatureInd,
      nPc: N_PC,
      nFeatures: nN,
    },
    {
      sampleRateHz: fs,
      minConfidence: params.splitConfidence,
      minSpikes: 300,
      minFraction: 0.05,
      detrendSigmaSpikes: 250,
      maxTimeSegregation: 0.3,
    },
    { threads: run.threads ?? 0, scratchDir: run.scratchDir ?? null, stats: splitStats },
  );
  // The splits' native threads leave freed memory in glibc's per-thread arenas, kept for reuse by
  // threads that may never come (with the former worker threads, ~100 MB per worker at 10 minutes
  // stayed in the RSS under the cut-off and the export; benchmarks.md, "Peak memory against
  // recording length").
  releaseFreedMemory();
  stepDone('splits');
  log.debug(
    { splitStats },
    `splits: ${splitStats.clusters} clusters looked at, up to ${splitStats.concurrency} at once, ` +
      `${splitStats.reads.reads} reads of ${(splitStats.reads.bytes / 2 ** 20).toFixed(0)} MiB`,
  );
  log.info(
    { duplicates: duplicates.pairs, merges: merged.merges.length, splits: split.splits.length },
    `post-processing: ${duplicates.pairs.length} duplicate pairs (${out.spikes.samples.length - spikes.samples.length} spikes), ${merged.merges.length} merges, ${split.splits.length} splits`,
  );

  // Cut-off and labels.
  const cut = amplitudeCutoff(
    spikes.samples,
    split.clusters,
    spikes.scores,
    split.nClusters,
    {
      sampleRateHz: fs,
      startThreshold: params.learnThreshold,
      endThreshold: params.extractThreshold,
      step: 0.5,
      tolerance: params.contaminationGood,
      maxPValue: 0.05,
      maxMissingFraction: params.maxMissingGood,
    },
    spikes.amplitudes,
  );
  stepDone('cutoff');

  // Every cluster's origin: the template whose waveform, neighbours and features it keeps.
  const origin = new Int32Array(split.nClusters);
  for (let j = 0; j < nT; j++) origin[j] = j;
  for (const s of split.splits) origin[s.child] = s.reference;
  // Each cluster's split partners (parents and children), looked up for every pair of kept clusters.
  const splitPartners: number[][] = Array.from({ length: split.nClusters }, () => []);
  for (const s of split.splits) {
    splitPartners[s.parent]!.push(s.child);
    splitPartners[s.child]!.push(s.parent);
  }

  // Keep clusters that still own spikes, renumbered in order.
  const kept = new Int32Array(split.nClusters).fill(-1);
  const counts = new Int32Array(split.nClusters);
  for (let i = 0; i < nS; i++) if (cut.keep[i]) counts[split.clusters[i]!]!++;
  let nK = 0;
  for (let c = 0; c < split.nClusters; c++) if (counts[c]! > 0) kept[c] = nK++;
  const oldOf = new Int32Array(nK);
  for (let c = 0; c < split.nClusters; c++) if (kept[c]! >= 0) oldOf[kept[c]!] = c;
  const nKeptSpikes = counts.reduce((a, b) => a + b, 0);
  log.info(
    { clusters: nK, good: oldOf.filter((c) => cut.good[c]).length, spikes: nKeptSpikes },
    `${nK} clusters (${oldOf.filter((c) => cut.good[c]).length} good), ${nKeptSpikes} spikes`,
  );

  const nSim = out.correlations.nSimilar;
  const K = nN;
  const sel = {
    samples: new Float64Array(nKeptSpikes),
    templates: new Uint32Array(nKeptSpikes),
    amplitudes: new Float64Array(nKeptSpikes),
    scores: new Float32Array(nKeptSpikes),
    // phy's template features have K columns (templates.featureInd): nSimilar found, zero-padded or cut.
    features: new SelectedSpikeFeatures(features, cut.keep, K),
  };
  let at = 0;
  for (let i = 0; i < nS; i++) {
    if (!cut.keep[i]) continue;
    sel.samples[at] = spikes.samples[i]!;
    sel.templates[at] = kept[split.clusters[i]!]!;
    sel.amplitudes[at] = spikes.amplitudes[i]!;
    sel.scores[at] = spikes.scores[i]!;
    at++;
  }

  // Per-cluster arrays.
  const waveforms = new Float32Array(nK * NT0 * nC);
  const featureInd = new Uint32Array(nK * K);
  const pcInd = new Uint32Array(nK * K);
  const similarity = new Float32Array(nK * nK);
  const thresholds = new Float64Array(nK);
  const contamPct = new Float64Array(nK);
  const labels: Array<'good' | 'mua'> = [];
  const { temporal, spatial } = model;
  const channels = new Int32Array(nC);
  for (let k = 0; k < nK; k++) {
    const c = oldOf[k]!;
    const j = origin[c]!;
    // A channel whose spatial factors are all ±0 gets +0 (0 + ±0 + … is +0) as long as the temporal
    // factors are finite: such channels (most, when templates live near their peak) are left at
    // the array's +0 instead of summed.
    let finite = true;
    for (let i = j * NT0 * RANK; i < (j + 1) * NT0 * RANK; i++) if (!Number.isFinite(temporal[i]!)) finite = false;
    let nActive = 0;
    for (let ch = 0; ch < nC; ch++) {
      let zero = finite;
      for (let r = 0; r < RANK && zero; r++) if (spatial[(j * nC + ch) * RANK + r] !== 0) zero = false;
      if (!zero) channels[nActive++] = ch;
    }
    for (let t = 0; t < NT0; t++) {
      const tAt = (j * NT0 + t) * RANK;
      const wAt = (k * NT0 + t) * nC;
      for (let a = 0; a < nActive; a++) {
        const ch = channels[a]!;
        const sAt = (j * nC + ch) * RANK;
        let v = 0;
        for (let r = 0; r < RANK; r++) v += temporal[tAt + r]! * spatial[sAt + r]!;
        waveforms[wAt + ch] = v;
      }
    }
    for (let i = 0; i < K; i++) {
      featureInd[k * K + i] = i < nSim ? out.correlations.similar[j * nSim + i]! : j;
      pcInd[k * K + i] = pcFeatureInd[j * nN + i]!;
    }
    thresholds[k] = cut.thresholds[c]!;
    contamPct[k] = 100 * cut.contamination[c]!;
    labels.push(cut.good[c] ? 'good' : 'mua');
  }
  // template features refer to template ids of the frozen model; map them to cluster ids where a cluster keeps that template
  const clusterOfTemplate = new Int32Array(nT).fill(-1);
  for (let k = 0; k < nK; k++)
    if (oldOf[k]! < nT && clusterOfTemplate[oldOf[k]!] === -1) clusterOfTemplate[oldOf[k]!] = k;
  for (let i = 0; i < featureInd.length; i++) {
    const mapped = clusterOfTemplate[featureInd[i]!]!;
    featureInd[i] = mapped >= 0 ? mapped : Math.floor(i / K);
  }
  const partnerOfRow = new Int32Array(split.nClusters).fill(-1); // a for the split partners of row a's cluster
  for (let a = 0; a < nK; a++) {
    const ca = oldOf[a]!;
    for (const p of splitPartners[ca]!) partnerOfRow[p] = a;
    const row = origin[ca]! * nT;
    for (let b = 0; b < nK; b++) {
      const cb = oldOf[b]!;
      similarity[a * nK + b] = a === b || partnerOfRow[cb] === a ? 1 : out.correlations.similarity[row + origin[cb]!]!;
    }
  }

  const whitening = new Float64Array(nC * nC);
  for (let i = 0; i < nC; i++) {
    for (let j = 0; j < nC; j++)
      whitening[i * nC + j] = out.channels.gains[i]! * out.channels.whitening.dense[i * nC + j]!;
  }
  const nB = out.batches.length;
  const nBlocks = out.drift?.nBlocks ?? 1;
  const timesS = Float64Array.from(out.batches, (b) => (b.ownStart + b.ownEnd) / 2 / fs);
  const localPositions = new Float64Array(nC * 2);
  const sortingPositions = new Float64Array(nC * 2);
  for (let ch = 0; ch < nC; ch++) {
    localPositions[2 * ch] = info.geometry.xUm[ch]!;
    localPositions[2 * ch + 1] = info.geometry.yUm[ch]!;
    sortingPositions[2 * ch] = setup.xUm[ch]!;
    sortingPositions[2 * ch + 1] = setup.yUm[ch]!;
  }
  stepDone('clusterArrays');
  return {
    sampleRateHz: fs,
    datPath: info.binPath,
    nChannelsDat: info.nSavedChannels,
    nSamples: info.nSamples,
    probe: {
      label: info.probeLabel,
      type: info.probeType,
      channelMap: Int32Array.from(info.neuralColumns),
      localPositionsUm: localPositions,
      sortingPositionsUm: sortingPositions,
      shanks: Int32Array.from(info.geometry.shank),
      channelLabels: Int8Array.from(out.channels.labels),
      uvPerCount: Float64Array.from(info.uvPerCount),
    },
    nt0: NT0,
    nt0min: NT0MIN,
    spikes: sel,
    templates: { count: nK, waveforms, featureInd, pcFeatureInd: pcInd, similarity, thresholds, labels, contamPct },
    pcBasis: out.pcs,
    nPc: N_PC,
    nFeatures: K,
    whitening,
    drift: {
      um: out.drift ? Float64Array.from(out.drift.dshiftUm) : new Float64Array(nB * nBlocks),
      depthsUm: out.drift
        ? Float64Array.from(out.drift.yBlockUm)
        : Float64Array.of((Math.min(...setup.yUm) + Math.max(...setup.yUm)) / 2),
      timesS,
    },
    provenance,
  };
}
