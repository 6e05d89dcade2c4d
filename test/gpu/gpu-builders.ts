// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Builders shared by the GPU tests (matching, resident, proposals, engine, drift): the binding
 * under test, planted batches, the preprocessing inputs and CPU chain of the fused entries, the
 * learning model on noise, prototypes, a simulated recording cut into engine batches, and a
 * bitwise comparison of result objects. The seeded inputs themselves come from gpu-fixture.ts.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  discoverSession,
  inspectRecording,
  type BatchSpan,
  type ChannelState,
  type NativeCudaBinding,
  type ProbeSetup,
  type ProbeWork,
  type RecordingInfo,
} from '../../native/lib/index.js';
import type { NativeCpuBinding } from '../../native/lib/binding.js';
import type { CudaLoadResult } from '../../native/lib/load.js';
import {
  DEFAULT_MATCH_OPTIONS,
  templateCorrelations,
  type MatchOptions,
  type TemplateCorrelations,
  type TemplateModel,
} from '../../native/lib/matching.js';
import { defaultParams, type SortParams } from '../../proto/params.js';
import { probeSetup } from '../../coordinator/sort/pipeline.js';
import { runCli } from '../helpers/cli.js';
import {
  cudaOrSkipReason,
  gains,
  gaussian,
  goodMask,
  krigingMatrix,
  random,
  randomModel,
  whitening,
} from './gpu-fixture.js';

const nt0 = 61;

/** The CUDA backend under test, the skip reason without a device, and a getter that throws the loader's reason. */
export function cudaUnderTest(): { loaded: CudaLoadResult; skip: string | false; gpu: () => NativeCudaBinding } {
  const { cuda: loaded, skip } = cudaOrSkipReason();
  const gpu = (): NativeCudaBinding => {
    if (!loaded.ok) throw new Error(loaded.reason);
    return loaded.binding;
  };
  return { loaded, skip, gpu };
}

/** Unit noise plus `spikes` planted templates at meanAmplitude·[0.8, 1.2); also returns the planted starts. */
export function plantedBatch(
  m: TemplateModel,
  nSamples: number,
  spikes: number,
  seed: number,
): { samples: Float32Array; planted: { start: number; id: number }[] } {
  const next = random(seed);
  const nc = m.nChannels;
  const samples = new Float32Array(nSamples * nc);
  for (let i = 0; i < samples.length; i++) samples[i] = gaussian(next);
  const planted: { start: number; id: number }[] = [];
  for (let s = 0; s < spikes; s++) {
    const id = Math.floor(next() * m.nTemplates);
    const start = Math.floor(next() * (nSamples - nt0));
    const a = (m.meanAmplitude[id] ?? 0) * (0.8 + 0.4 * next());
    planted.push({ start, id });
    for (let t = 0; t < nt0; t++) {
      for (let c = 0; c < nc; c++) {
        let v = 0;
        for (let k = 0; k < m.rank; k++) {
          v += (m.temporal[(id * nt0 + t) * m.rank + k] ?? 0) * (m.spatial[(id * nc + c) * m.rank + k] ?? 0);
        }
        samples[(start + t) * nc + c] = (samples[(start + t) * nc + c] ?? 0) + a * v;
      }
    }
  }
  return { samples, planted };
}

type Typed = Float32Array | Float64Array | Int32Array;

/**
 * Fields of two results that differ in any bit (typed arrays by bytes, others by value); an absent
 * field counts as null. `skipFields` are not compared.
 */
export function bitwiseDifferences(a: object, b: object, skipFields: readonly string[] = []): string[] {
  const out: string[] = [];
  const av = a as Record<string, unknown>;
  const bv = b as Record<string, unknown>;
  for (const key of new Set([...Object.keys(av), ...Object.keys(bv)])) {
    if (skipFields.includes(key)) continue;
    const x = av[key] ?? null;
    const y = bv[key] ?? null;
    if (ArrayBuffer.isView(x) || ArrayBuffer.isView(y)) {
      const same =
        ArrayBuffer.isView(x) &&
        ArrayBuffer.isView(y) &&
        x.constructor === y.constructor &&
        Buffer.compare(
          Buffer.from(x.buffer, x.byteOffset, x.byteLength),
          Buffer.from(y.buffer, y.byteOffset, y.byteLength),
        ) === 0;
      if (!same) {
        const len = (v: unknown): string => (ArrayBuffer.isView(v) ? String((v as Typed).length) : 'none');
        out.push(`${key} (${len(x)} vs ${len(y)})`);
      }
    } else if (!Object.is(x, y)) {
      out.push(`${key} (${JSON.stringify(x)} vs ${JSON.stringify(y)})`);
    }
  }
  return out;
}

/**
 * The preprocessing inputs of a fused-entry test on nChannels channels: whitening (seed), gains
 * (seed + 1) and kriging matrix (seed + 2) from gpu-fixture, every `badEvery`-th channel bad, the
 * 300 Hz order-3 high-pass at 30 kHz and a scale that brings the whitened noise near unit variance.
 * `preprocessOptions` is the same in the typed wrappers' form.
 */
export function preprocessInputs(nChannels: number, nNearest: number, badEvery: number, seed: number) {
  const w = whitening(nChannels, nNearest, seed);
  const g0 = gains(nChannels, seed + 1);
  const good = goodMask(nChannels, badEvery);
  const kriging = krigingMatrix(nChannels, seed + 2);
  const highpass = { order: 3, cutoffHz: 300, sampleRateHz: 30000 };
  const scale = 0.02;
  const preprocessOptions = {
    ...highpass,
    gains: g0,
    good,
    whitening: {
      nChannels,
      nNearest: w.nNearest,
      epsilon: 0,
      indices: w.indices,
      weights: w.weights,
      dense: new Float64Array(0),
    },
    scale,
    commonReference: true,
  };
  return { nChannels, w, gains: g0, good, kriging, highpass, scale, preprocessOptions };
}

export type PreprocessInputs = ReturnType<typeof preprocessInputs>;

/** The CPU chain the fused entries repeat: preprocessBatch of `raw`, then the kriging matrix applied. */
export function cpuPreprocessShift(
  cpu: NativeCpuBinding,
  p: PreprocessInputs,
  raw: Int16Array,
  nSamples: number,
  rowStride: number,
): { white: Float32Array; shifted: Float32Array } {
  const { nChannels } = p;
  const white = cpu.preprocessBatch({
    raw,
    nSamples,
    nChannels,
    rowStride,
    gains: p.gains,
    good: p.good,
    ...p.w,
    ...p.highpass,
    scale: p.scale,
    commonReference: true,
  });
  const shifted = new Float32Array(white.length);
  cpu.driftApplyKriging(white, nChannels, p.kriging, shifted);
  return { white, shifted };
}

/**
 * A 20-template model on 64 channels (seed 55) with learning options for unplanted noise: a weak
 * amplitude prior and a low threshold make it find ~20 spikes per batch.
 */
export function noiseLearningModel(): { m: TemplateModel; corr: TemplateCorrelations; learning: MatchOptions } {
  const m = randomModel(20, 64, 16, 55);
  const corr = templateCorrelations(m, { nSimilarMax: 8, threads: 0 });
  const learning: MatchOptions = {
    ...DEFAULT_MATCH_OPTIONS,
    threshold: 3,
    learnThreshold: 3.5,
    amplitudePrior: 0.01,
    crossCorrelation: corr.crossCorrelation,
  };
  return { m, corr, learning };
}

/** A simulated recording in `dir`/sim, ready for the engines: its batches, channel state and work. */
export interface SimulatedRun {
  info: RecordingInfo;
  setup: ProbeSetup;
  params: SortParams;
  channels: ChannelState;
  batches: BatchSpan[];
  work: ProbeWork;
}

/**
 * Simulates `seconds` of `units` units on nChannels channels (the CLI), then cuts it into batches of
 * 30 000 own samples with 1024-sample halos. The channel state: every channel good, the recording's
 * gains, the fixture's 8-nearest whitening (seed 3) with its weights times `whiteningScale`.
 */
export async function simulatedRun(
  dir: string,
  nChannels: number,
  seconds: number,
  units: number,
  whiteningScale: number,
): Promise<SimulatedRun> {
  const sim = path.join(dir, 'sim');
  const s = runCli([
    'simulate',
    sim,
    '--channels',
    String(nChannels),
    '--seconds',
    String(seconds),
    '--units',
    String(units),
  ]);
  assert.equal(s.status, 0, s.stderr);
  const info = await inspectRecording((await discoverSession(sim)).probes[0]!);
  const setup = probeSetup(info);
  assert.equal(setup.nChannels, nChannels);
  const params = defaultParams();
  const w = whitening(nChannels, 8, 3);
  const channels: ChannelState = {
    labels: new Int32Array(nChannels),
    good: new Uint8Array(nChannels).fill(1),
    gains: Float64Array.from(setup.uvPerCount),
    whitening: {
      nChannels,
      nNearest: w.nNearest,
      epsilon: 0,
      indices: w.indices,
      weights: w.weights.map((v) => whiteningScale * v),
      dense: new Float64Array(0),
    },
  };
  const total = info.nSamples;
  const own = 30_000;
  const halo = 1024;
  const batches: BatchSpan[] = [];
  for (let i = 0, start = 0; start < total; i++, start += own) {
    const ownEnd = Math.min(total, start + own);
    batches.push({
      index: i,
      ownStart: start,
      ownEnd,
      readStart: Math.max(0, start - halo),
      readEnd: Math.min(total, ownEnd + halo),
    });
  }
  const work: ProbeWork = { probe: 'imec0', recordingPath: info.binPath, allowPartialSample: false, setup, params };
  return { info, setup, params, channels, batches, work };
}
