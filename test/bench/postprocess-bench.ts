// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * `npm run bench:postprocess -- [options]`: speed and memory of post-processing and export at
 * scale, without sorting anything. A synthetic EngineOutput (what extraction hands over) is built
 * deterministically from a seed, its feature rows are written to one record per batch as
 * extraction's checkpoints hold them (read back through RecordSpikeFeatures, as a sort with a run
 * folder does), then assembleSorting (duplicates, merges, splits, cut-off, per-cluster arrays),
 * writePhy and writeAlf (derived arrays, metrics, files) run on it, each step timed. Prints
 * seconds per step, spikes/s, the feature reads (count, bytes, seconds) and peak RSS; asserts
 * nothing.
 *
 *   npm run bench:postprocess -- [--channels 384] [--templates 70] [--spikes 300000] [--seconds 300]
 *                                [--seed 1] [--small | --full] [--memory] [--threads 0] [--no-scratch]
 *                                [--out DIR] [--hash] [--json FILE] [--verbose]
 *
 * The default (300 000 spikes over 5 minutes, ~4 300 per template as in a 10-minute NP1 sort,
 * a few clusters of 20 000 and more) runs in about a minute on 2 cores. --full: 700 templates,
 * 3 000 000 spikes over 600 s (the 10-minute sort's size). --small: 64 channels, 60 templates,
 * 120 000 spikes over 120 s (a few seconds). --memory keeps the features in memory
 * (MemorySpikeFeatures, a sort without a run folder). --threads: cores of the splits (0:
 * all, 1: one cluster at a time). --no-scratch: the splits gather each cluster's rows from the records
 * instead of writing their cluster-ordered copy first. --out keeps the records, phy folder and ALF
 * collection there; --hash prints one SHA-1 over the phy and ALF files (names and bytes), to
 * check that a change leaves the outputs byte-identical.
 *
 * The synthetic sort: templates on an NP1-like probe with log-normal firing rates (Poisson trains
 * with a 2 ms refractory period), ~5 % low-score contaminating spikes per template, pairs of
 * near-identical templates sharing one neuron's train (merge candidates with a refractory dip),
 * a few templates that report a copy of another's spikes (duplicates), and templates whose PC
 * features hold two populations (split candidates).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { RecordingInfo } from '../../native/lib/index.js';
import { writeAlf } from '../../coordinator/export/alf.js';
import { writePhy } from '../../coordinator/export/phy.js';
import {
  MemorySpikeFeatures,
  RecordSpikeFeatures,
  featurePartOf,
  type FeaturePart,
} from '../../coordinator/formats/spike-features.js';
import { writeRecord } from '../../coordinator/formats/record.js';
import { planBatches } from '../../coordinator/plan/batch-plan.js';
import { assembleSorting } from '../../coordinator/sort/assemble.js';
import type { SplitStats } from '../../coordinator/postprocess/splits.js';
import { NT0, RANK } from '../../coordinator/sort/learning.js';
import type { EngineOutput } from '../../coordinator/sort/pipeline.js';
import { resolveParams } from '../../proto/params.js';
import { createLogger, silentLogger } from '../../proto/log.js';
import { rng } from '../helpers/uniform.js';

export interface SyntheticSize {
  nChannels: number;
  nTemplates: number;
  nSpikes: number;
  durationS: number;
  seed: number;
  nSimilar: number;
  nNeighbours: number;
}

const SAMPLE_RATE_HZ = 30000;
const N_PC = 3;

/** Standard normal draws from a table of 65 536 (fast enough for ~10⁸ feature values). */
function normalSource(uniform: () => number): () => number {
  const table = new Float64Array(65536);
  for (let i = 0; i < table.length; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - uniform()));
    const a = 2 * Math.PI * uniform();
    table[i] = r * Math.cos(a);
    table[i + 1] = r * Math.sin(a);
  }
  return () => table[(uniform() * 65536) | 0]!;
}

/** The synthetic engine output and recording description of `size`. */
export function syntheticEngineOutput(size: SyntheticSize): { out: EngineOutput; info: RecordingInfo } {
  const { nChannels: C, nTemplates: T, durationS, nSimilar, nNeighbours: K } = size;
  const u = rng(size.seed);
  const normal = normalSource(u);
  const nSamples = Math.round(durationS * SAMPLE_RATE_HZ);

  // NP1-like geometry: two columns per row pair, 20 µm rows.
  const xUm = Float64Array.from({ length: C }, (_, c) => [43, 11, 59, 27][c % 4]!);
  const yUm = Float64Array.from({ length: C }, (_, c) => 20 * Math.floor(c / 2));
  const neighbours = new Int32Array(C * K);
  const order = Array.from({ length: C }, (_, c) => c);
  for (let c = 0; c < C; c++) {
    const d = (o: number): number => Math.hypot(xUm[o]! - xUm[c]!, yUm[o]! - yUm[c]!);
    order.sort((a, b) => d(a) - d(b) || a - b);
    for (let k = 0; k < K; k++) neighbours[c * K + k] = order[k]!;
  }

  // Templates: peak channel, waveform factors, mean amplitude. Pairs (2i, 2i+1) among the first
  // ~10 % are one neuron seen by two near-identical templates.
  const peakChannel = new Int32Array(T);
  const meanAmp = new Float64Array(T);
  const twinOf = new Int32Array(T).fill(-1);
  const bimodal = new Uint8Array(T);
  const copyOf = new Int32Array(T).fill(-1);
  const nTwinPairs = Math.floor(T / 20);
  for (let t = 0; t < T; t++) {
    peakChannel[t] = Math.floor(u() * C);
    meanAmp[t] = 8 + 22 * u();
  }
  for (let p = 0; p < nTwinPairs; p++) {
    const a = 2 * p;
    const b = a + 1;
    twinOf[a] = b;
    twinOf[b] = a;
    peakChannel[b] = peakChannel[a]!;
  }
  for (let t = 2 * nTwinPairs; t < T; t++) {
    const r = u();
    if (r < 0.06) bimodal[t] = 1;
    else if (r < 0.08 && t > 2 * nTwinPairs) {
      // A copy of the previous template's spikes, a few samples off (a second report of each event).
      copyOf[t] = t - 1;
      peakChannel[t] = peakChannel[t - 1]!;
    }
  }
  const temporal = new Float32Array(T * NT0 * RANK);
  const spatial = new Float32Array(T * C * RANK);
  for (let t = 0; t < T; t++) {
    for (let r = 0; r < RANK; r++) {
      const f = 0.2 + 0.3 * u();
      for (let i = 0; i < NT0; i++) {
        temporal[(t * NT0 + i) * RANK + r] = Math.exp(-(((i - 20) * f) ** 2) / (r + 1)) * (r % 2 ? -0.5 : 1);
      }
      for (let k = 0; k < K; k++) {
        const ch = neighbours[peakChannel[t]! * K + k]!;
        spatial[(t * C + ch) * RANK + r] = Math.exp(-k / 6) * (1 + 0.2 * normal()) * (r === 0 ? 1 : 0.3);
      }
    }
  }

  // Similarity: falls off with the distance between peak channels; twins ~0.93.
  const similarity = new Float32Array(T * T);
  for (let a = 0; a < T; a++) {
    similarity[a * T + a] = 1;
    for (let b = a + 1; b < T; b++) {
      const pa = peakChannel[a]!;
      const pb = peakChannel[b]!;
      const d = Math.hypot(xUm[pa]! - xUm[pb]!, yUm[pa]! - yUm[pb]!);
      let s = 0.95 * Math.exp(-(d * d) / (2 * 40 * 40)) * (0.5 + 0.5 * u());
      if (twinOf[a] === b || copyOf[b] === a) s = 0.9 + 0.05 * u();
      similarity[a * T + b] = s;
      similarity[b * T + a] = s;
    }
  }
  const nSim = Math.min(nSimilar, T);
  const similar = new Int32Array(T * nSim);
  const byTemplate = Array.from({ length: T }, (_, t) => t);
  for (let a = 0; a < T; a++) {
    byTemplate.sort((x, y) => (x === a ? -1 : y === a ? 1 : similarity[a * T + y]! - similarity[a * T + x]! || x - y));
    for (let k = 0; k < nSim; k++) similar[a * nSim + k] = byTemplate[k]!;
  }

  // Firing rates (log-normal), scaled to the requested spike count; copies add on top of it.
  const weight = Float64Array.from({ length: T }, (_, t) => (copyOf[t]! >= 0 ? 0 : Math.exp(0.8 * normal())));
  for (let t = 0; t < T; t++) if (twinOf[t]! >= 0 && twinOf[t]! < t) weight[t] = 0; // the pair's train is drawn once
  const totalWeight = weight.reduce((a, b) => a + b, 0);
  const refractory = Math.round(0.002 * SAMPLE_RATE_HZ);
  const spikeSample: number[] = [];
  const spikeTemplate: number[] = [];
  const spikeAmp: number[] = [];
  const spikeScore: number[] = [];
  const spikeSub: number[] = [];
  const emit = (sample: number, t: number, amp: number, score: number, sub: number): void => {
    spikeSample.push(sample);
    spikeTemplate.push(t);
    spikeAmp.push(amp);
    spikeScore.push(score);
    spikeSub.push(sub);
  };
  const nOwn = 0.95 * size.nSpikes;
  for (let t = 0; t < T; t++) {
    if (weight[t] === 0) continue;
    const populations = bimodal[t] ? 2 : 1;
    for (let pop = 0; pop < populations; pop++) {
      const rateHz = ((nOwn / durationS) * weight[t]!) / totalWeight / populations;
      const meanIsi = SAMPLE_RATE_HZ / rateHz;
      let at = Math.floor(u() * meanIsi);
      for (;;) {
        at += refractory + Math.floor(-Math.log(1 - u()) * Math.max(1, meanIsi - refractory));
        if (at >= nSamples) break;
        const owner = twinOf[t]! >= 0 && u() < 0.4 ? twinOf[t]! : t;
        const amp = Math.max(0.5, meanAmp[t]! * (1 + 0.15 * normal()));
        emit(at, owner, amp, Math.max(3.05, 0.45 * amp + 0.5 * normal()), pop);
      }
    }
  }
  // Contaminating low-score spikes at random times (cut-off material), then copies.
  const nNoise = size.nSpikes - spikeSample.length;
  for (let i = 0; i < nNoise * 0.6; i++) {
    const t = Math.floor(u() * T);
    emit(Math.floor(u() * nSamples), t, 3 + 5 * u(), 3 + 1.5 * u(), 0);
  }
  const n0 = spikeSample.length;
  for (let i = 0; i < n0; i++) {
    const t = spikeTemplate[i]!;
    if (t + 1 < T && copyOf[t + 1] === t && u() < 0.7) {
      const at = spikeSample[i]! + Math.round(8 * u() - 4);
      if (at >= 0 && at < nSamples) emit(at, t + 1, spikeAmp[i]! * 0.9, spikeScore[i]! * 0.7, 0);
    }
  }

  // Time order (ties by emission order): one sort of packed keys.
  const n = spikeSample.length;
  const bits = Math.max(1, Math.ceil(Math.log2(n + 1)));
  if (nSamples * 2 ** bits >= 2 ** 53) throw new RangeError('synthetic sort: too many spikes for the sort key');
  const keys = Float64Array.from({ length: n }, (_, i) => spikeSample[i]! * 2 ** bits + i);
  keys.sort();

  // PC-feature means per template (and a second population for bimodal ones).
  const D = N_PC * K;
  const pcMean = new Float64Array(T * 2 * D);
  for (let t = 0; t < T; t++) {
    const shift = new Float64Array(D);
    let norm = 0;
    for (let d = 0; d < D; d++) {
      shift[d] = normal();
      norm += shift[d]! ** 2;
    }
    for (let p = 0; p < N_PC; p++) {
      for (let k = 0; k < K; k++) {
        const d = p * K + k;
        const base = (p === 0 ? -6 : 2 * normal()) * Math.exp(-k / 5);
        pcMean[(t * 2 + 0) * D + d] = base;
        pcMean[(t * 2 + 1) * D + d] = base + (10 * shift[d]!) / Math.sqrt(norm);
      }
    }
  }
  const spikes: EngineOutput['spikes'] = {
    samples: new Float64Array(n),
    templates: new Int32Array(n),
    amplitudes: new Float32Array(n),
    scores: new Float32Array(n),
    templateFeatures: new Float32Array(n * nSim),
    pcFeatures: new Float32Array(n * D),
    capped: false,
  };
  for (let r = 0; r < n; r++) {
    const i = keys[r]! % 2 ** bits;
    const t = spikeTemplate[i]!;
    const amp = spikeAmp[i]!;
    spikes.samples[r] = spikeSample[i]!;
    spikes.templates[r] = t;
    spikes.amplitudes[r] = amp;
    spikes.scores[r] = spikeScore[i]!;
    for (let k = 0; k < nSim; k++) {
      const other = similar[t * nSim + k]!;
      // One neuron's projections on both twins are alike: their difference has one mode.
      const s = other === t || other === twinOf[t] ? 0.95 : similarity[t * T + other]!;
      spikes.templateFeatures[r * nSim + k] = amp * s + 0.3 * normal();
    }
    const scale = amp / meanAmp[t]!;
    const mean = (t * 2 + spikeSub[i]!) * D;
    for (let d = 0; d < D; d++) spikes.pcFeatures[r * D + d] = pcMean[mean + d]! * scale + normal();
  }

  const params = resolveParams();
  const batches = planBatches(nSamples, params.batchSamples, params.haloSamples);
  const nBlocks = 5;
  const dense = new Float64Array(C * C);
  for (let i = 0; i < C; i++) {
    dense[i * C + i] = 1;
    for (let j = Math.max(0, i - 2); j <= Math.min(C - 1, i + 2); j++) if (j !== i) dense[i * C + j] = -0.08;
  }
  const gains = new Float64Array(C).fill(2.34375);
  const out: EngineOutput = {
    setup: {
      nChannels: C,
      sampleRateHz: SAMPLE_RATE_HZ,
      xUm,
      yUm,
      uvPerCount: Float64Array.from(gains),
      used: new Uint8Array(C).fill(1),
      probeType: 'np1',
      shank: new Int32Array(C),
    },
    batches,
    channels: {
      labels: new Int32Array(C),
      good: new Uint8Array(C).fill(1),
      gains,
      whitening: {
        nChannels: C,
        nNearest: K,
        epsilon: 1e-3,
        indices: new Int32Array(C * K),
        weights: new Float32Array(C * K),
        dense,
      },
    },
    drift: {
      nBatches: batches.length,
      nBlocks,
      dshiftUm: Float64Array.from({ length: batches.length * nBlocks }, (_, i) => 5 * Math.sin(i / 50)),
      yBlockUm: Float64Array.from({ length: nBlocks }, (_, b) => ((b + 0.5) * (yUm[C - 1]! + 20)) / nBlocks),
    },
    model: {
      nTemplates: T,
      nChannels: C,
      templateSamples: NT0,
      troughSample: 20,
      rank: RANK,
      nNeighbours: K,
      temporal,
      spatial,
      meanAmplitude: Float32Array.from(meanAmp),
      peakChannel,
      neighbours,
    },
    correlations: { similarity, similar, nSimilar: nSim },
    pcs: Float32Array.from({ length: NT0 * N_PC }, (_, i) => Math.sin(i)),
    spikes,
    features: new MemorySpikeFeatures(spikes.samples.length, spikes.templateFeatures, spikes.pcFeatures),
    timings: {},
  };
  const info: RecordingInfo = {
    format: 'spikeglx',
    binPath: path.join(os.tmpdir(), 'postprocess-bench-absent.ap.bin'),
    metaPath: path.join(os.tmpdir(), 'postprocess-bench-absent.ap.meta'),
    probeLabel: 'imec0',
    probeType: 'np1',
    probeTypeCode: 0,
    probeName: 'Neuropixels 1.0 (synthetic)',
    nSavedChannels: C + 1,
    nChannels: C,
    neuralColumns: Int32Array.from({ length: C }, (_, c) => c),
    syncColumn: C,
    sampleRateHz: SAMPLE_RATE_HZ,
    nSamples,
    durationS,
    fileBytes: nSamples * (C + 1) * 2,
    uvPerCount: Float64Array.from(gains),
    geometry: {
      xUm,
      yUm,
      shank: new Int32Array(C),
      used: new Uint8Array(C).fill(1),
      nShanks: 1,
      shankPitchUm: 0,
      source: 'imroTbl',
    },
    problems: [],
  };
  return { out, info };
}

/**
 * Writes each batch's feature rows to `dir` as one record (keys templateFeatures and pcFeatures,
 * as extraction's checkpoint records), empties the engine output's feature arrays and points its
 * `features` at the records.
 */
export function moveFeaturesToRecords(out: EngineOutput, dir: string): RecordSpikeFeatures {
  mkdirSync(dir, { recursive: true });
  const { samples, templateFeatures, pcFeatures } = out.spikes;
  const n = samples.length;
  const templateWidth = n === 0 ? 0 : templateFeatures.length / n;
  const pcWidth = n === 0 ? 0 : pcFeatures.length / n;
  const parts: FeaturePart[] = [];
  let first = 0;
  out.batches.forEach((batch, b) => {
    let end = first;
    while (end < n && samples[end]! < batch.ownEnd) end++;
    const file = path.join(dir, `extraction-${String(b).padStart(5, '0')}.rec`);
    writeRecord(
      file,
      'extraction',
      {
        templateFeatures: templateFeatures.subarray(first * templateWidth, end * templateWidth),
        pcFeatures: pcFeatures.subarray(first * pcWidth, end * pcWidth),
      },
      { sync: false },
    );
    parts.push(featurePartOf(file, end - first));
    first = end;
  });
  if (first !== n) throw new RangeError(`synthetic sort: ${n - first} spikes lie after the last batch`);
  out.spikes.templateFeatures = new Float32Array(0);
  out.spikes.pcFeatures = new Float32Array(0);
  const features = new RecordSpikeFeatures(parts, { template: templateWidth, pc: pcWidth });
  out.features = features;
  return features;
}

/** SHA-1 over the relative names and bytes of every file under `dir`, in name order. */
export function folderHash(dir: string): string {
  const hash = createHash('sha1');
  const walk = (rel: string): void => {
    for (const name of readdirSync(path.join(dir, rel)).sort()) {
      const r = path.join(rel, name);
      if (statSync(path.join(dir, r)).isDirectory()) walk(r);
      else
        hash
          .update(r)
          .update('\0')
          .update(readFileSync(path.join(dir, r)));
    }
  };
  walk('');
  return hash.digest('hex');
}

/** MiB of /proc/self/status's VmRSS, RssAnon and VmHWM (peak since the last `resetPeak`); zeros off Linux. */
function procMemory(): { rss: number; anon: number; peak: number } {
  let text = '';
  try {
    text = readFileSync('/proc/self/status', 'latin1');
  } catch {
    return { rss: 0, anon: 0, peak: 0 };
  }
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB$`, 'm').exec(text)?.[1] ?? 0) / 1024;
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), peak: kb('VmHWM') };
}

/** Resets VmHWM to the current RSS (Linux: /proc/self/clear_refs 5), so each step's own peak can be read. */
function resetPeak(): void {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
  } catch {
    // Not Linux, or not allowed: the peaks are then running maxima.
  }
}

/** Each step's memory: RSS and its anonymous part at the end, and the step's own peak, in MiB. */
class StepMemory {
  readonly rows: Array<{ step: string; rss: number; anon: number; peak: number; heap: number; buffers: number }> = [];
  readonly base = procMemory();

  constructor() {
    resetPeak();
  }

  mark(step: string): void {
    const peak = procMemory().peak;
    // After a full collection, so that rss and buffers show what is still held, not garbage.
    (globalThis as { gc?: () => void }).gc?.();
    const { heapUsed, arrayBuffers } = process.memoryUsage();
    this.rows.push({ step, ...procMemory(), peak, heap: heapUsed / 2 ** 20, buffers: arrayBuffers / 2 ** 20 });
    resetPeak();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      channels: { type: 'string', default: '384' },
      templates: { type: 'string', default: '' },
      spikes: { type: 'string', default: '' },
      seconds: { type: 'string', default: '' },
      seed: { type: 'string', default: '1' },
      small: { type: 'boolean', default: false },
      full: { type: 'boolean', default: false },
      memory: { type: 'boolean', default: false },
      threads: { type: 'string', default: '0' },
      'no-scratch': { type: 'boolean', default: false },
      out: { type: 'string', default: '' },
      hash: { type: 'boolean', default: false },
      json: { type: 'string', default: '' },
      verbose: { type: 'boolean', default: false },
    },
  });
  const preset = values.small
    ? { nChannels: 64, nTemplates: 60, nSpikes: 120_000, durationS: 120 }
    : values.full
      ? { nChannels: 384, nTemplates: 700, nSpikes: 3_000_000, durationS: 600 }
      : { nChannels: Number(values.channels), nTemplates: 70, nSpikes: 300_000, durationS: 300 };
  const size: SyntheticSize = {
    nChannels: preset.nChannels,
    nTemplates: values.templates ? Number(values.templates) : preset.nTemplates,
    nSpikes: values.spikes ? Number(values.spikes) : preset.nSpikes,
    durationS: values.seconds ? Number(values.seconds) : preset.durationS,
    seed: Number(values.seed),
    nSimilar: 32,
    nNeighbours: 32,
  };
  const seconds: Record<string, number> = {};
  let t0 = performance.now();
  const { out, info } = syntheticEngineOutput(size);
  seconds['synthesize'] = (performance.now() - t0) / 1000;
  const nInput = out.spikes.samples.length;
  const inputBytes = out.spikes.templateFeatures.byteLength + out.spikes.pcFeatures.byteLength;

  const work = values.out || mkdtempSync(path.join(os.tmpdir(), 'spikeshard-postprocess-bench-'));
  mkdirSync(work, { recursive: true });
  let records: RecordSpikeFeatures | null = null;
  if (!values.memory) {
    t0 = performance.now();
    records = moveFeaturesToRecords(out, path.join(work, 'records'));
    seconds['records'] = (performance.now() - t0) / 1000;
  }
  const rssAfterInput = process.memoryUsage().rss;
  // What post-processing and export hold, measured from here: the synthesis's garbage collected first.
  (globalThis as { gc?: () => void }).gc?.();
  const memory = new StepMemory();
  const steps: Record<string, number> = {};
  const zeroReads = { reads: 0, bytes: 0, seconds: 0 };
  const readsAt = (): typeof zeroReads => ({ ...(records?.stats ?? zeroReads) });
  const readsBefore = readsAt();
  t0 = performance.now();
  const splitStats = {} as SplitStats;
  const cpuBefore = process.cpuUsage();
  const stepCpu: Record<string, number> = {};
  let cpuSoFar = 0;
  const result = await assembleSorting(
    out,
    info,
    resolveParams(),
    values.verbose ? createLogger({ pretty: false }) : silentLogger(),
    { bench: 'postprocess' },
    steps,
    {
      threads: Number(values.threads),
      scratchDir: values['no-scratch'] ? null : path.join(work, 'scratch'),
      splitStats,
      onStep: (step) => {
        // CPU seconds of each step, all threads (less sensitive than wall time to a busy machine).
        const used = process.cpuUsage(cpuBefore);
        const sinceStart = (used.user + used.system) / 1e6;
        stepCpu[step] = sinceStart - cpuSoFar;
        cpuSoFar = sinceStart;
        memory.mark(step);
      },
    },
  );
  seconds['assemble'] = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  seconds['assembleCpu'] = (cpu.user + cpu.system) / 1e6;
  const assembleReads = readsAt();
  t0 = performance.now();
  writePhy(path.join(work, 'phy'), result, { overwrite: true });
  seconds['phy'] = (performance.now() - t0) / 1000;
  memory.mark('phy');
  const alfSteps: Record<string, number> = {};
  t0 = performance.now();
  writeAlf(path.join(work, 'alf'), result, {
    runId: 'bench',
    overwrite: true,
    timings: alfSteps,
    onPart: (part) => memory.mark(`alf ${part}`),
  });
  seconds['alf'] = (performance.now() - t0) / 1000;
  const exportReads = readsAt();
  result.spikes.features.close();
  const total = seconds['assemble'] + seconds['phy'] + seconds['alf'];
  const maxRssMb = process.resourceUsage().maxRSS / 1024;

  const cpus = os.cpus();
  const machine = `${cpus[0]?.model ?? 'unknown CPU'} × ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB`;
  console.log(`machine       ${machine}, node ${process.version}`);
  console.log(
    `input         ${size.nChannels} channels, ${size.nTemplates} templates, ${nInput} spikes over ${size.durationS} s, ` +
      `seed ${size.seed}; features ${(inputBytes / 2 ** 20).toFixed(0)} MiB ${records ? `in ${out.batches.length} records` : 'in memory'} ` +
      `(RSS then ${(rssAfterInput / 2 ** 20).toFixed(0)} MiB)`,
  );
  console.log(`synthesize    ${seconds['synthesize'].toFixed(1).padStart(7)} s`);
  if (seconds['records'] !== undefined) console.log(`write records ${seconds['records'].toFixed(1).padStart(7)} s`);
  const row = (name: string, s: number): void =>
    console.log(
      `${name.padEnd(13)} ${s.toFixed(2).padStart(7)} s  ${(nInput / s / 1e6).toFixed(2).padStart(7)} M spikes/s`,
    );
  row('assemble', seconds['assemble']);
  console.log(`  (CPU time   ${seconds['assembleCpu'].toFixed(2).padStart(7)} s, all threads)`);
  for (const [k, v] of Object.entries(steps)) {
    row(`  ${k}`, v);
    if (stepCpu[k] !== undefined) console.log(`    (CPU time ${stepCpu[k].toFixed(2).padStart(7)} s)`);
  }
  row('phy', seconds['phy']);
  row('alf', seconds['alf']);
  for (const [k, v] of Object.entries(alfSteps)) row(`  ${k}`, v);
  row('total', total);
  const readRow = (name: string, a: typeof zeroReads, b: typeof zeroReads): void =>
    console.log(
      `${name.padEnd(13)} ${String(b.reads - a.reads).padStart(9)} reads ${((b.bytes - a.bytes) / 2 ** 20).toFixed(0).padStart(7)} MiB ` +
        `${(b.seconds - a.seconds).toFixed(2).padStart(7)} s`,
    );
  if (records) {
    readRow('reads: assemble', readsBefore, assembleReads);
    readRow('reads: export', assembleReads, exportReads);
  }
  if (splitStats.scratch) {
    const w = splitStats.scratch;
    console.log(
      `split copy    ${String(w.writes).padStart(9)} writes ${(w.bytes / 2 ** 20).toFixed(0).padStart(6)} MiB ${w.seconds.toFixed(2).padStart(7)} s (scan and writes)`,
    );
    readRow('split reads', zeroReads, splitStats.reads);
  }
  console.log(
    `splits        ${splitStats.clusters} clusters looked at, up to ${splitStats.concurrency} at once ` +
      `(up to ${splitStats.pursuitThreads} threads in one pursuit), ` +
      `at most ${(splitStats.peakBytes / 2 ** 20).toFixed(0)} MiB of clusters at once; ` +
      `${splitStats.computeSeconds.toFixed(2)} s of pursuit in all, ${splitStats.longestClusterSeconds.toFixed(2)} s the longest cluster`,
  );
  console.log(
    `result        ${result.templates.count} clusters (${result.templates.labels.filter((l) => l === 'good').length} good), ${result.spikes.samples.length} spikes`,
  );
  console.log(`peak RSS      ${maxRssMb.toFixed(0)} MiB (the whole process, synthesis included)`);
  const mib = (x: number): string => x.toFixed(0).padStart(6);
  console.log(
    `memory        from RSS ${mib(memory.base.rss)} MiB (anon ${mib(memory.base.anon)}) after the input; ` +
      `(run with --expose-gc to collect the synthesis first); per step, MiB:`,
  );
  console.log(`  ${'step'.padEnd(14)}   peak    rss   anon   heap buffers (JS heap used, array buffers)`);
  for (const r of memory.rows) {
    console.log(`  ${r.step.padEnd(14)} ${mib(r.peak)} ${mib(r.rss)} ${mib(r.anon)} ${mib(r.heap)} ${mib(r.buffers)}`);
  }
  if (values.out) rmSync(path.join(work, 'records'), { recursive: true, force: true });
  const digest = values.hash ? folderHash(work) : null;
  if (digest !== null) console.log(`outputs sha1  ${digest}`);
  if (values.json) {
    const report = {
      machine,
      node: process.version,
      size,
      nInput,
      features: records ? 'records' : 'memory',
      seconds,
      steps,
      stepCpuSeconds: stepCpu,
      alfSteps,
      total,
      reads: { assemble: assembleReads, export: exportReads },
      splitStats,
      maxRssMb,
      memory: { base: memory.base, steps: memory.rows },
      digest,
    };
    writeFileSync(values.json, JSON.stringify(report, null, 2) + '\n');
  }
  if (!values.out) rmSync(work, { recursive: true, force: true });
}

if (process.argv[1] !== undefined && import.meta.url.endsWith(path.basename(process.argv[1]))) await main();
