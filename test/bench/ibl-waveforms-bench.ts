// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * `npm run bench:ibl-waveforms -- [options]`: speed of the IBL waveform stage (the last stage of
 * every sort, coordinator/export/ibl-waveforms.ts) on a simulated recording, its ground truth
 * standing in for the sorting. Prints seconds and MB/s per part (read, preprocess, cut, finish)
 * and of the preprocessing kernels alone (destripeBatch, commonMedianReference, and destripeBatch with
 * the reference in its chain, as the extraction calls it) on one IBL chunk;
 * asserts nothing.
 *
 *   npm run bench:ibl-waveforms -- [--channels 384] [--seconds 10] [--units N] [--per-cluster 256]
 *                                  [--chunk 30000] [--repeat 3] [--threads 0] [--seed 1]
 *                                  [--dir DIR] [--hash] [--json FILE] [--cuda]
 *
 * --cuda (a CUDA device needed) also times the device kernel on the chunk (cudaDestripeBatch with
 * the reference) and runs the extraction a second time on the device (extractIblWaveforms with
 * `cuda`), printing its parts and whether its traces file and templates are byte-identical to the
 * CPU run's.
 * --dir keeps the simulation (and reuses it when its parameters match) and the traces file there;
 * without it everything goes to a temporary folder, removed at the end. --hash prints a SHA-1 of
 * the traces file and the templates, to check that a change leaves the outputs byte-identical.
 * --threads sets the native kernels' threads (0: all cores). MB/s counts the raw int16 data read
 * (all columns of the file; per chunk: the neural channels): 23 MB/s is real time for NP1.0.
 *
 * The defaults (384 channels, 10 s, the simulator's ~96 units with up to 256 waveforms) run in
 * about a minute on 2 cores, simulation included; a 10-minute sort's stage is ~60 times the
 * extraction's seconds (it scales with the recording's chunks and the waveforms cut).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  adcSampleShift,
  chooseBackend,
  commonMedianReference,
  cudaDestripeBatch,
  destripeBatch,
  inspectRecording,
  loadCpuBinding,
  sortingPositions,
} from '../../native/lib/index.js';
import { extractIblWaveforms } from '../../coordinator/export/ibl-waveforms.js';
import { readGroundTruth } from '../../coordinator/formats/ground-truth.js';
import type { SortingResult } from '../../coordinator/formats/sorting-result.js';
import { MemorySpikeFeatures } from '../../coordinator/formats/spike-features.js';
import { resolveSimulateOptions } from '../../coordinator/simulate/options.js';
import { simulate } from '../../coordinator/simulate/simulate.js';
import { silentLogger } from '../../proto/log.js';

const { values } = parseArgs({
  options: {
    channels: { type: 'string', default: '384' },
    seconds: { type: 'string', default: '10' },
    units: { type: 'string', default: '' },
    'per-cluster': { type: 'string', default: '256' },
    chunk: { type: 'string', default: '30000' },
    repeat: { type: 'string', default: '3' },
    threads: { type: 'string', default: '0' },
    seed: { type: 'string', default: '1' },
    dir: { type: 'string', default: '' },
    hash: { type: 'boolean', default: false },
    json: { type: 'string', default: '' },
    cuda: { type: 'boolean', default: false },
  },
});

const nChannels = Number(values.channels);
const durationS = Number(values.seconds);
const perCluster = Number(values['per-cluster']);
const chunkSamples = Number(values.chunk);
const repeats = Math.max(1, Number(values.repeat));
const seed = Number(values.seed);
const HALO_SAMPLES = 1024; // as the extraction's

loadCpuBinding().setThreads(Number(values.threads));
const dir = values.dir || mkdtempSync(path.join(os.tmpdir(), 'spikeshard-wfbench-'));
const simDir = path.join(dir, 'sim');
const wfDir = path.join(dir, 'wf');
const simKey = JSON.stringify({ nChannels, durationS, units: values.units, seed });

try {
  // 1. The recording (reused when --dir holds one of the same parameters).
  const keyFile = path.join(dir, 'simulation.json');
  let simulatedS = 0;
  if (!existsSync(keyFile) || readFileSync(keyFile, 'utf8') !== simKey) {
    mkdirSync(simDir, { recursive: true });
    const t0 = performance.now();
    simulate(
      resolveSimulateOptions({
        out: simDir,
        nChannels,
        durationS,
        seed,
        force: true,
        ...(values.units ? { nUnits: Number(values.units) } : {}),
      }),
      silentLogger(),
    );
    simulatedS = (performance.now() - t0) / 1000;
    writeFileSync(keyFile, simKey);
  }
  const binPath = path.join(simDir, 'sim_g0_t0.imec0.ap.bin');
  const info = await inspectRecording(binPath);
  const truth = readGroundTruth(path.join(simDir, 'ground_truth', 'imec0'));
  const result = sortingFromTruth(info, truth);
  const C = info.nChannels;
  console.log(
    `IBL waveforms bench: ${C} channels, ${(info.nSamples / info.sampleRateHz).toFixed(1)} s, ` +
      `${result.templates.count} clusters, ${result.spikes.samples.length} spikes, up to ${perCluster} each; ` +
      `threads ${values.threads}` +
      (simulatedS > 0 ? `; simulated in ${simulatedS.toFixed(1)} s` : '; simulation reused'),
  );

  // 2. The preprocessing kernels alone on one chunk plus halo, called as the extraction calls them.
  const rows = Math.min(info.nSamples, chunkSamples + 2 * HALO_SAMPLES);
  const raw = readSamples(binPath, info.nSavedChannels, rows);
  const chunkMb = (rows * C * 2) / 1e6;
  const destripeOptions = destripeOptionsOf(result);
  const kernel = new Map<string, number[]>();
  const time = <T>(label: string, f: () => T): T => {
    const t0 = performance.now();
    const r = f();
    kernel.set(label, [...(kernel.get(label) ?? []), (performance.now() - t0) / 1000]);
    return r;
  };
  const good = new Uint8Array(C).fill(1);
  for (let rep = 0; rep < repeats; rep++) {
    const filtered = time('destripeBatch', () =>
      destripeBatch({ data: raw, nChannels: C, rowStride: info.nSavedChannels }, destripeOptions),
    );
    time('commonMedianReference', () => commonMedianReference(filtered, good));
    time('destripeBatch with commonReference', () =>
      destripeBatch(
        { data: raw, nChannels: C, rowStride: info.nSavedChannels },
        { ...destripeOptions, commonReference: good },
      ),
    );
  }

  const cuda = values.cuda ? chooseBackend('cuda').cuda : undefined;
  if (values.cuda && cuda === undefined) throw new Error('--cuda: no CUDA binding');
  for (let rep = 0; cuda !== undefined && rep <= repeats; rep++) {
    const run = (): unknown =>
      cudaDestripeBatch(
        cuda,
        { data: raw, nChannels: C, rowStride: info.nSavedChannels },
        { ...destripeOptions, commonReference: good },
      );
    if (rep === 0)
      run(); // warm-up: device context and buffers
    else time('destripeBatch with commonReference (CUDA, whole block back)', run);
  }

  // 3. The whole extraction, by parts.
  const parts: Record<string, number> = {};
  const t0 = performance.now();
  const w = await extractIblWaveforms(result, wfDir, { maxPerCluster: perCluster, chunkSamples, timings: parts });
  const totalS = (performance.now() - t0) / 1000;
  const extracted = w.table.sample.reduce((n, s) => (Number.isNaN(s) ? n : n + 1), 0);
  const fileMb = (info.nSamples * info.nSavedChannels * 2) / 1e6;

  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const line = (label: string, s: number, mb: number): string =>
    label.padEnd(36) + s.toFixed(3).padStart(9) + (mb / s).toFixed(1).padStart(11);
  console.log(`one chunk: ${rows} samples × ${C} channels (${chunkMb.toFixed(1)} MB int16), median of ${repeats}`);
  console.log('kernel'.padEnd(36) + 'seconds'.padStart(9) + 'MB/s'.padStart(11));
  const kernelTable: Record<string, number> = {};
  for (const [label, xs] of kernel) {
    kernelTable[label] = median(xs);
    console.log(line(label, median(xs), chunkMb));
  }
  console.log(
    `extraction: ${extracted} waveforms of ${w.clusterIds.length} clusters, ${w.nChannels} channels × ` +
      `${w.lengthSamples} samples; recording ${fileMb.toFixed(0)} MB`,
  );
  console.log('part'.padEnd(36) + 'seconds'.padStart(9) + 'MB/s'.padStart(11));
  const other = totalS - Object.values(parts).reduce((a, b) => a + b, 0);
  for (const [label, s] of [...Object.entries(parts), ['other (selection, templates, table)', other] as const]) {
    console.log(line(label, s, fileMb));
  }
  console.log(line('total', totalS, fileMb));
  console.log(`× real time: ${(info.nSamples / info.sampleRateHz / totalS).toFixed(2)}`);
  let device: { parts: Record<string, number>; totalS: number; identical: boolean } | undefined;
  if (cuda !== undefined) {
    const gpuParts: Record<string, number> = {};
    const t1 = performance.now();
    const g = await extractIblWaveforms(result, `${wfDir}-cuda`, {
      maxPerCluster: perCluster,
      chunkSamples,
      timings: gpuParts,
      cuda,
    });
    const gpuS = (performance.now() - t1) / 1000;
    const identical =
      readFileSync(g.tracesFile).equals(readFileSync(w.tracesFile)) &&
      Buffer.from(g.templates.buffer).equals(Buffer.from(w.templates.buffer));
    console.log('part, on the device'.padEnd(36) + 'seconds'.padStart(9) + 'MB/s'.padStart(11));
    for (const [label, sec] of Object.entries(gpuParts)) console.log(line(label, sec, fileMb));
    console.log(line('total', gpuS, fileMb));
    console.log(`device output byte-identical to the CPU's: ${identical ? 'yes' : 'NO'}`);
    device = { parts: gpuParts, totalS: gpuS, identical };
    rmSync(`${wfDir}-cuda`, { recursive: true, force: true });
  }
  let hash = '';
  if (values.hash) {
    hash = createHash('sha1')
      .update(readFileSync(w.tracesFile))
      .update(new Uint8Array(w.templates.buffer, w.templates.byteOffset, w.templates.byteLength))
      .digest('hex');
    console.log(`sha1(traces, templates) ${hash}`);
  }
  const rssMb = process.resourceUsage().maxRSS / 1024;
  console.log(`peak RSS ${rssMb.toFixed(0)} MB`);
  if (values.json) {
    const report = { channels: C, seconds: durationS, clusters: w.clusterIds.length, waveforms: extracted };
    const body = { ...report, kernel: kernelTable, parts, totalS, hash, rssMb, ...(device ? { device } : {}) };
    writeFileSync(values.json, JSON.stringify(body, null, 2) + '\n');
  }
} finally {
  if (!values.dir) rmSync(dir, { recursive: true, force: true });
  else rmSync(wfDir, { recursive: true, force: true });
}

/** The first `rows` samples of all columns of a .bin. */
function readSamples(file: string, columns: number, rows: number): Int16Array {
  const bytes = readFileSync(file).subarray(0, rows * columns * 2);
  return new Int16Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

/** destripeBatch's options as the extraction sets them (IBL's high-pass, ADC shift, interpolation). */
function destripeOptionsOf(result: SortingResult): Parameters<typeof destripeBatch>[1] {
  const { probe } = result;
  const C = probe.channelMap.length;
  const type = probe.type === 'np1' || probe.type === 'np2' || probe.type === 'np2-4shank' ? probe.type : 'custom';
  const full = adcSampleShift(type, Math.max(...probe.channelMap) + 1);
  return {
    sampleRateHz: result.sampleRateHz,
    cutoffHz: 300,
    order: 3,
    gains: probe.uvPerCount,
    labels: Int32Array.from(probe.channelLabels),
    xUm: Float64Array.from({ length: C }, (_, c) => probe.sortingPositionsUm[2 * c]!),
    yUm: Float64Array.from({ length: C }, (_, c) => probe.sortingPositionsUm[2 * c + 1]!),
    shank: probe.shanks,
    sampleShift: Float64Array.from(probe.channelMap, (c) => full[c]!),
    kfilter: false,
    mute: false,
  };
}

/**
 * A SortingResult whose clusters are the true units: each template a trough on its unit's peak
 * channel (so that the peak channels are the truth's), identity whitening, the simulator's dead
 * and noisy channels labelled (so that the interpolation runs), zero features.
 */
function sortingFromTruth(
  info: Awaited<ReturnType<typeof inspectRecording>>,
  truth: ReturnType<typeof readGroundTruth>,
): SortingResult {
  const C = info.nChannels;
  const T = truth.units.length;
  const S = truth.spikeSamples.length;
  const nt0 = 61;
  const nt0min = 20;
  const K = Math.min(32, Math.max(1, T));
  const nPc = 3;
  const waveforms = new Float32Array(T * nt0 * C);
  truth.units.forEach((u, t) => (waveforms[(t * nt0 + nt0min) * C + u.peakChannel] = -1));
  const whitening = new Float64Array(C * C);
  for (let c = 0; c < C; c++) whitening[c * C + c] = 1;
  const labels = new Int8Array(C);
  const channels = (truth.generator as { channels?: { dead?: { channel: number }[]; noisy?: number[] } }).channels;
  for (const d of channels?.dead ?? []) labels[d.channel] = 1;
  for (const c of channels?.noisy ?? []) labels[c] = 2;
  const { xUm, yUm } = sortingPositions(info.geometry);
  const interleave = (x: ArrayLike<number>, y: ArrayLike<number>): Float64Array =>
    Float64Array.from({ length: 2 * C }, (_, i) => (i % 2 === 0 ? x[i >> 1]! : y[i >> 1]!));
  return {
    sampleRateHz: info.sampleRateHz,
    datPath: info.binPath,
    nChannelsDat: info.nSavedChannels,
    nSamples: info.nSamples,
    probe: {
      label: info.probeLabel,
      type: info.probeType,
      channelMap: Int32Array.from(info.neuralColumns),
      localPositionsUm: interleave(info.geometry.xUm, info.geometry.yUm),
      sortingPositionsUm: interleave(xUm, yUm),
      shanks: Int32Array.from(info.geometry.shank),
      channelLabels: labels,
      uvPerCount: Float64Array.from(info.uvPerCount),
    },
    nt0,
    nt0min,
    spikes: {
      samples: Float64Array.from(truth.spikeSamples),
      templates: Uint32Array.from(truth.spikeUnits),
      amplitudes: new Float64Array(S).fill(10),
      scores: new Float32Array(S).fill(10),
      features: new MemorySpikeFeatures(S, new Float32Array(S * K), new Float32Array(S * nPc * K)),
    },
    templates: {
      count: T,
      waveforms,
      featureInd: Uint32Array.from({ length: T * K }, (_, i) => (Math.floor(i / K) + (i % K)) % T),
      pcFeatureInd: new Uint32Array(T * K),
      similarity: new Float32Array(T * T),
      thresholds: new Float64Array(T),
      labels: Array.from({ length: T }, () => 'good' as const),
      contamPct: new Float64Array(T),
    },
    pcBasis: new Float32Array(nt0 * nPc),
    nPc,
    nFeatures: K,
    whitening,
    drift: { um: new Float64Array(1), depthsUm: new Float64Array(1), timesS: new Float64Array(1) },
    provenance: {},
  };
}
