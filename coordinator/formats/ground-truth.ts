// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * The ground-truth folder written by `spikeshard simulate` and read by `spikeshard compare`.
 *
 * Layout (all arrays little-endian .npy, C order):
 *   truth.json          everything scalar: format version, sample rate, sample count, probe, seed,
 *                       generator parameters, and one record per true unit (GroundTruthUnit)
 *   spikes.samples.npy  int64 (S,)   sample index of each spike's trough, ascending
 *   spikes.units.npy    int32 (S,)   unit id of each spike (an id of truth.json's units)
 *   drift.times.npy     float64 (N,) s, times at which the drift is given
 *   drift.depths.npy    float64 (D,) µm, probe depths at which the drift is given
 *   drift.um.npy        float64 (N, D) µm, displacement of tissue at that depth and time
 *                       (positive = units appear higher on the probe)
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { InputError, expected } from '../../proto/errors.js';
import { readNpy, toFloat64, writeNpy } from './npy.js';
import { writeFileAtomic } from './atomic.js';

export const GROUND_TRUTH_FORMAT = 'spikeshard-ground-truth/1';

export interface GroundTruthUnit {
  id: number;
  /** Position of the soma relative to the probe: x across, y along the probe (depth), z off the plane; µm, at time 0. */
  xUm: number;
  yUm: number;
  zUm: number;
  /** Channel (index among the neural channels) with the largest trough at time 0. */
  peakChannel: number;
  /** Largest trough amplitude over channels divided by that channel's spike-band noise RMS. */
  snr: number;
  /** Trough amplitude on the peak channel, µV (positive number). */
  amplitudeUv: number;
  firingRateHz: number;
  spikeCount: number;
}

export interface GroundTruth {
  sampleRateHz: number;
  nSamples: number;
  /** The recording this truth belongs to, relative to the truth folder. */
  recording: string;
  probeType: string;
  seed: number;
  units: GroundTruthUnit[];
  /** Trough sample of each spike, ascending. */
  spikeSamples: Float64Array;
  spikeUnits: Int32Array;
  drift: { timesS: Float64Array; depthsUm: Float64Array; um: Float64Array };
  /** Generator name, version and parameters, kept for provenance. */
  generator: Record<string, unknown>;
}

interface TruthJson {
  format: string;
  sampleRateHz: number;
  nSamples: number;
  recording: string;
  probeType: string;
  seed: number;
  units: GroundTruthUnit[];
  generator: Record<string, unknown>;
}

export function writeGroundTruth(dir: string, gt: GroundTruth): void {
  if (gt.spikeSamples.length !== gt.spikeUnits.length) {
    throw new RangeError(`ground truth: ${gt.spikeSamples.length} spike samples but ${gt.spikeUnits.length} unit ids`);
  }
  const nTimes = gt.drift.timesS.length;
  const nDepths = gt.drift.depthsUm.length;
  if (gt.drift.um.length !== nTimes * nDepths) {
    throw new RangeError(`ground truth: drift.um has ${gt.drift.um.length} values, expected ${nTimes}×${nDepths}`);
  }
  mkdirSync(dir, { recursive: true });
  const samples = new BigInt64Array(gt.spikeSamples.length);
  for (let i = 0; i < samples.length; i++) samples[i] = BigInt(gt.spikeSamples[i]!);
  writeNpy(path.join(dir, 'spikes.samples.npy'), samples);
  writeNpy(path.join(dir, 'spikes.units.npy'), gt.spikeUnits);
  writeNpy(path.join(dir, 'drift.times.npy'), gt.drift.timesS);
  writeNpy(path.join(dir, 'drift.depths.npy'), gt.drift.depthsUm);
  writeNpy(path.join(dir, 'drift.um.npy'), gt.drift.um, [nTimes, nDepths]);
  const json: TruthJson = {
    format: GROUND_TRUTH_FORMAT,
    sampleRateHz: gt.sampleRateHz,
    nSamples: gt.nSamples,
    recording: gt.recording,
    probeType: gt.probeType,
    seed: gt.seed,
    units: gt.units,
    generator: gt.generator,
  };
  // truth.json last: its presence marks a complete folder.
  writeFileAtomic(path.join(dir, 'truth.json'), JSON.stringify(json, null, 2) + '\n');
}

/** True if `dir` looks like a ground-truth folder (has truth.json). */
export function isGroundTruthDir(dir: string): boolean {
  return existsSync(path.join(dir, 'truth.json'));
}

export function readGroundTruth(dir: string): GroundTruth {
  const jsonPath = path.join(dir, 'truth.json');
  if (!existsSync(jsonPath)) {
    throw new InputError(dir, 'not a ground-truth folder: truth.json is missing (made by `spikeshard simulate`)');
  }
  let json: TruthJson;
  try {
    json = JSON.parse(readFileSync(jsonPath, 'utf8')) as TruthJson;
  } catch (err) {
    throw new InputError(jsonPath, `invalid JSON: ${(err as Error).message}`, { cause: err });
  }
  if (json.format !== GROUND_TRUTH_FORMAT) {
    throw new InputError(jsonPath, `format ${expected(GROUND_TRUTH_FORMAT, json.format)}`);
  }
  for (const key of ['sampleRateHz', 'nSamples'] as const) {
    if (typeof json[key] !== 'number' || !(json[key] > 0)) {
      throw new InputError(jsonPath, `${key} ${expected('a positive number', json[key])}`);
    }
  }
  if (!Array.isArray(json.units)) throw new InputError(jsonPath, `units ${expected('an array', json.units)}`);
  const need = (name: string): string => {
    const p = path.join(dir, name);
    if (!existsSync(p)) throw new InputError(dir, `ground-truth file ${name} is missing`);
    return p;
  };
  const samplesFile = need('spikes.samples.npy');
  const unitsFile = need('spikes.units.npy');
  const spikeSamples = toFloat64(readNpy(samplesFile), samplesFile);
  const unitsArr = readNpy(unitsFile).data;
  if (!(unitsArr instanceof Int32Array))
    throw new InputError(unitsFile, `dtype ${expected('<i4', unitsArr.constructor.name)}`);
  if (unitsArr.length !== spikeSamples.length) {
    throw new InputError(unitsFile, `${unitsArr.length} unit ids for ${spikeSamples.length} spike samples`);
  }
  const timesS = toFloat64(readNpy(need('drift.times.npy')));
  const depthsUm = toFloat64(readNpy(need('drift.depths.npy')));
  const um = toFloat64(readNpy(need('drift.um.npy')));
  return {
    sampleRateHz: json.sampleRateHz,
    nSamples: json.nSamples,
    recording: json.recording,
    probeType: json.probeType,
    seed: json.seed,
    units: json.units,
    spikeSamples,
    spikeUnits: unitsArr,
    drift: { timesS, depthsUm, um },
    generator: json.generator,
  };
}
