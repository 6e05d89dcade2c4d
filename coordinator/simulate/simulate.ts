// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * `spikeshard simulate`: writes a session of simulated Neuropixels recordings with their ground
 * truth. Per probe: plan (probe-plan.ts), measure the background noise and set the units'
 * amplitudes (calibrate.ts), draw the spike trains, then synthesise the .ap.bin chunk by chunk
 * in the native core and stream it to a temporary file that is renamed when complete, write the
 * .ap.meta, and last the ground-truth folder (whose truth.json marks it complete).
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  statfsSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { simInitState, simSynthesizeChunk } from '../../native/lib/index.js';
import { InputError, ParameterError } from '../../proto/errors.js';
import type { Logger } from '../../proto/log.js';
import { writeFileAtomic } from '../formats/atomic.js';
import { writeGroundTruth, type GroundTruthUnit } from '../formats/ground-truth.js';
import { writeNpy } from '../formats/npy.js';
import { Progress } from '../progress.js';
import { VERSION } from '../version.js';
import { calibrateUnits, measureNoise, type Calibration } from './calibrate.js';
import { ChunkSpikes, mergeTrains } from './chunks.js';
import { SPIKE_BAND_CUTOFF_HZ } from './noise-model.js';
import type { SimulateOptions } from './options.js';
import { SIM_CHUNK_SAMPLES, SYNC_BIT, planProbe, probeLabel, type ProbePlan } from './probe-plan.js';
import { Random } from './random.js';
import { drawSpikeTrain } from './spike-trains.js';

/** Folder of the ground truth inside the output folder; one subfolder per probe. */
export const TRUTH_FOLDER = 'ground_truth';

const OWN_FILE = /^(sim_g0_t0\.imec\d+\.ap\.(bin|meta)|\.sim_g0_t0\.imec\d+\.ap\.bin\..*\.tmp)$/;

export interface ProbeSummary {
  label: string;
  binPath: string;
  metaPath: string;
  truthDir: string;
  nUnits: number;
  nSpikes: number;
  /** True units with SNR < 5, 5–8 and ≥ 8. */
  snrBins: [number, number, number];
  deadChannels: number[];
  noisyChannels: number[];
  medianNoiseUv: number;
}

export interface SimulateSummary {
  out: string;
  durationS: number;
  probes: ProbeSummary[];
  elapsedS: number;
}

/** Checks the output folder; with force, removes what an earlier simulation wrote there. */
function prepareOut(options: SimulateOptions): void {
  const out = options.out;
  if (existsSync(out)) {
    if (!statSync(out).isDirectory()) throw new ParameterError(`simulate: ${out} exists and is not a folder`);
    const entries = readdirSync(out);
    if (entries.length > 0 && !options.force) {
      const shown = entries.slice(0, 3).join(', ') + (entries.length > 3 ? ', …' : '');
      throw new ParameterError(
        `simulate: output folder ${out} is not empty (${entries.length} entries: ${shown}); ` +
          'choose a new folder, or pass --force to replace the simulation in it',
      );
    }
    // Only what a simulation writes goes; anything else of the user's stays.
    for (const name of entries) if (OWN_FILE.test(name)) unlinkSync(path.join(out, name));
    const truth = path.join(out, TRUTH_FOLDER);
    if (existsSync(truth)) {
      for (const name of readdirSync(truth)) {
        if (/^imec\d+$/.test(name)) rmSync(path.join(truth, name), { recursive: true, force: true });
      }
    }
  }
  mkdirSync(out, { recursive: true });
}

function checkDiskSpace(options: SimulateOptions, bytes: number): void {
  const fsStats = statfsSync(options.out);
  const free = fsStats.bavail * fsStats.bsize;
  if (bytes > free) {
    const gb = (b: number): string => `${(b / 1e9).toFixed(2)} GB`;
    throw new InputError(options.out, `the simulation needs ${gb(bytes)} but only ${gb(free)} are free there`);
  }
}

/** Streams the .ap.bin to a temporary name, then renames it; returns wall seconds spent synthesising. */
function writeRecording(plan: ProbePlan, spikes: ChunkSpikes, binPath: string, progress: Progress): number {
  const nSaved = plan.nChannels + 1;
  const tmp = path.join(path.dirname(binPath), `.${path.basename(binPath)}.${process.pid}.tmp`);
  const buffer = new Int16Array(SIM_CHUNK_SAMPLES * nSaved);
  const state = simInitState(plan.setup);
  const fd = openSync(tmp, 'w');
  let synthS = 0;
  try {
    const nChunks = Math.ceil(plan.nSamples / SIM_CHUNK_SAMPLES);
    for (let k = 0; k < nChunks; k++) {
      const start = k * SIM_CHUNK_SAMPLES;
      const n = Math.min(SIM_CHUNK_SAMPLES, plan.nSamples - start);
      const t0 = performance.now();
      simSynthesizeChunk(plan.setup, k, start, n, spikes.forChunk(k, start, n), state, buffer);
      synthS += (performance.now() - t0) / 1000;
      const bytes = new Uint8Array(buffer.buffer, 0, n * nSaved * 2);
      let written = 0;
      while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
      progress.advance(n / plan.setup.sampleRateHz);
    }
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, binPath);
  return synthS;
}

function truthUnits(plan: ProbePlan, cal: Calibration, counts: number[], durationS: number): GroundTruthUnit[] {
  return plan.units.map((u, i) => ({
    id: u.id,
    xUm: u.xUm,
    yUm: u.yUm,
    zUm: u.zUm,
    peakChannel: cal.units[i]!.peakChannel,
    snr: cal.units[i]!.snr,
    amplitudeUv: cal.units[i]!.amplitudeUv,
    firingRateHz: counts[i]! / durationS,
    spikeCount: counts[i]!,
  }));
}

function simulateProbe(options: SimulateOptions, index: number, log: Logger): ProbeSummary {
  const plan = planProbe(options, index);
  const fs = options.sampleRateHz;
  const binPath = path.join(options.out, plan.binName);
  const metaPath = path.join(options.out, plan.metaName);
  const truthDir = path.join(options.out, TRUTH_FOLDER, probeLabel(index));

  const background = new ChunkSpikes(plan, options.seed, mergeTrains([], fs), []);
  const cal = calibrateUnits(plan, measureNoise(plan, background));

  // Trains keep every waveform inside the file, so every true spike is complete.
  const startS = (plan.grid.preSamples + 1) / fs;
  const endS = (plan.nSamples - plan.grid.postSamples - 1) / fs;
  const trains = plan.units.map((u) =>
    drawSpikeTrain(new Random(options.seed, 'probe', index, 'train', u.id), u.firing, startS, Math.max(startS, endS)),
  );
  const merged = mergeTrains(trains, fs);
  const spikes = new ChunkSpikes(plan, options.seed, merged, cal.units);
  log.info(
    { probe: plan.label, units: plan.units.length, spikes: merged.unit.length, hashUnits: plan.hash.xUm.length },
    `simulating ${plan.label}: ${plan.units.length} units (${merged.unit.length} spikes), ` +
      `${plan.hash.xUm.length} background units, ${options.nChannels} channels, ${options.durationS} s`,
  );

  const progress = new Progress(log, `simulate ${plan.label}`, options.durationS, { unit: 'seconds simulated' });
  const t0 = performance.now();
  const synthS = writeRecording(plan, spikes, binPath, progress);
  progress.finish();
  const totalS = (performance.now() - t0) / 1000;
  log.info(
    { probe: plan.label, synthesisS: synthS, totalS, realTimeFactor: totalS / options.durationS },
    `${plan.label}: ${options.durationS} s written in ${totalS.toFixed(1)} s ` +
      `(${(totalS / options.durationS).toFixed(3)} × real time; synthesis ${synthS.toFixed(1)} s)`,
  );
  writeFileAtomic(metaPath, plan.metaText);

  // Ground truth: trough samples (soma time + the unit's trough offset), merged in time order.
  const nSpikes = merged.unit.length;
  const spikeSamples = new Float64Array(nSpikes);
  const counts = new Array<number>(plan.units.length).fill(0);
  for (let i = 0; i < nSpikes; i++) {
    const u = merged.unit[i]!;
    spikeSamples[i] = Math.round(merged.somaSample[i]! + cal.units[u]!.troughOffsetSamples);
    counts[u]!++;
  }
  const order = Array.from({ length: nSpikes }, (_, i) => i).sort(
    (a, b) => spikeSamples[a]! - spikeSamples[b]! || merged.unit[a]! - merged.unit[b]!,
  );
  mkdirSync(truthDir, { recursive: true });
  const templates = new Float32Array(plan.units.length * cal.templateSamples * plan.nChannels);
  cal.units.forEach((c, i) => templates.set(c.template, i * c.template.length));
  writeNpy(path.join(truthDir, 'templates.npy'), templates, [plan.units.length, cal.templateSamples, plan.nChannels]);
  const units = truthUnits(plan, cal, counts, options.durationS);
  const dead = plan.channels.state.flatMap((s, c) => (s === 'dead' ? [c] : []));
  const noisy = plan.channels.state.flatMap((s, c) => (s === 'noisy' ? [c] : []));
  writeGroundTruth(truthDir, {
    sampleRateHz: fs,
    nSamples: plan.nSamples,
    recording: path.relative(truthDir, binPath),
    probeType: options.probeType,
    seed: options.seed,
    units,
    spikeSamples: Float64Array.from(order, (i) => spikeSamples[i]!),
    spikeUnits: Int32Array.from(order, (i) => merged.unit[i]!),
    drift: plan.drift.trace(),
    generator: generatorRecord(options, plan, cal),
  });

  const snrBins: [number, number, number] = [0, 0, 0];
  for (const u of units) snrBins[u.snr < 5 ? 0 : u.snr < 8 ? 1 : 2]++;
  const goodNoise = plan.channels.state
    .flatMap((s, c) => (s === 'good' ? [cal.noiseRmsUv[c]!] : []))
    .sort((a, b) => a - b);
  return {
    label: plan.label,
    binPath,
    metaPath,
    truthDir,
    nUnits: units.length,
    nSpikes,
    snrBins,
    deadChannels: dead,
    noisyChannels: noisy,
    medianNoiseUv: goodNoise[goodNoise.length >> 1] ?? NaN,
  };
}

function round(v: number, digits = 4): number {
  return Number(v.toPrecision(digits));
}

/** Provenance and everything a later analysis may want that the truth format has no field for. */
function generatorRecord(options: SimulateOptions, plan: ProbePlan, cal: Calibration): Record<string, unknown> {
  return {
    name: 'spikeshard simulate',
    version: VERSION,
    probeIndex: plan.index,
    options: { ...options, out: undefined, force: undefined, threads: undefined },
    chunkSamples: SIM_CHUNK_SAMPLES,
    uvPerCount: plan.uvPerCount,
    syncBit: SYNC_BIT,
    positions:
      'µm; x across the probe (+ shank × shank pitch), y along it (SpikeGLX: 0 at the bottom row), z off its plane',
    snrDefinition:
      'largest spike-band trough over live channels of the unit template at t = 0 divided by that channel’s spike-band ' +
      `noise RMS; spike band = zero-phase 3rd-order Butterworth high-pass at ${SPIKE_BAND_CUTOFF_HZ} Hz; noise RMS ` +
      'measured on the first chunk synthesised without the true units (first and last 20 ms left out)',
    templates: {
      file: 'templates.npy',
      shape: '(units, samples, channels)',
      troughIndex: cal.templatePre,
      units: 'µV, spike band, at t = 0, scale 1',
    },
    channels: {
      noiseRmsUv: Array.from(cal.noiseRmsUv, (v) => round(v)),
      dead: plan.channels.state.flatMap((s, c) =>
        s === 'dead' ? [{ channel: c, reason: plan.channels.deadReason[c] }] : [],
      ),
      noisy: plan.channels.state.flatMap((s, c) => (s === 'noisy' ? [c] : [])),
      dcUv: Array.from(plan.channels.dcUv, (v) => round(v)),
    },
    commonMode: { spikeBandUv: plan.common.spikeBandUv },
    lfp: plan.lfp.names.map((name, j) => ({
      name,
      centreHz: round(plan.lfp.sources[3 * j]!),
      bandwidthHz: plan.lfp.sources[3 * j + 1],
      rmsUv: round(plan.lfp.sources[3 * j + 2]!),
    })),
    hash: { units: plan.hash.xUm.length, totalRateHz: round(plan.hash.totalRateHz) },
    drift: plan.drift.params,
    units: plan.units.map((u, i) => ({
      id: u.id,
      family: u.family,
      snrTarget: round(u.snrTarget),
      troughOffsetSamples: cal.units[i]!.troughOffsetSamples,
      plannedRateHz: round(u.firing.rateHz),
      refractoryMs: round(u.firing.refractoryMs),
      burstProbability: round(u.firing.burstProbability),
      burstMaxExtra: u.firing.burstMaxExtra,
      burstShrink: round(u.firing.burstShrink),
      amplitudeJitter: round(u.firing.amplitudeJitter),
      shape: u.shape,
    })),
  };
}

/** Runs a whole simulation. Throws ParameterError for an unusable output folder. */
export function simulate(options: SimulateOptions, log: Logger): SimulateSummary {
  const t0 = performance.now();
  prepareOut(options);
  const nSamples = Math.round(options.durationS * options.sampleRateHz);
  checkDiskSpace(options, options.nProbes * nSamples * (options.nChannels + 1) * 2 + 64e6);
  const probes: ProbeSummary[] = [];
  for (let k = 0; k < options.nProbes; k++) probes.push(simulateProbe(options, k, log));
  return { out: options.out, durationS: options.durationS, probes, elapsedS: (performance.now() - t0) / 1000 };
}
