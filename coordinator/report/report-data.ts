// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * What the HTML report shows, read back from a finished run folder: run.json (probes, timings per
 * stage) and each probe's ALF collection. Nothing comes from the sorter's memory, so the report
 * can be made again from any run folder, on any machine.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '../../proto/errors.js';
import { readNpy, toFloat64 } from '../formats/npy.js';

/** Spikes drawn in the drift map at most, per probe (an even subsample of the spikes in time). */
export const REPORT_MAX_SPIKES = 60000;

/** One probe's part of the report. Per-spike arrays are subsampled; values are rounded for size. */
export interface ProbeReport {
  label: string;
  collection: string;
  durationS: number;
  nSpikes: number;
  /** Subsampled spikes: time s, depth µm, amplitude µV. */
  spikes: { timesS: number[]; depthsUm: number[]; ampsUv: number[] };
  /** Drift estimate: batch times s, block centre depths µm, shifts µm [batch][block]. */
  drift: { timesS: number[]; depthsUm: number[]; um: number[][] };
  /** Per channel: x, y µm, label (0 good, 1 dead, 2 noisy, 3 outside), noise µV (null when not written). */
  channels: { xUm: number[]; yUm: number[]; labels: number[]; noiseUv: number[] | null };
  /** Per unit: depth µm, mean amplitude µV, firing rate Hz, spike count, Kilosort label. */
  units: { depthsUm: number[]; ampsUv: number[]; firingRatesHz: number[]; spikeCounts: number[]; ksLabels: string[] };
  /** Seconds per stage, in run order (empty when run.json has none). */
  timings: Array<[string, number]>;
}

export interface RunReport {
  runFolder: string;
  runId: string | null;
  startedAt: string | null;
  version: string | null;
  recording: string | null;
  probes: ProbeReport[];
}

interface RunJson {
  spikeshard?: string;
  runId?: string;
  startedAt?: string;
  recording?: string;
  probes?: Array<{ label?: string; samples?: number }>;
  results?: Array<{ probe?: string; alf?: string; timings?: Record<string, number> }>;
}

const round = (x: number, digits: number): number => {
  if (!Number.isFinite(x)) return NaN;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};

function load(collection: string, name: string): Float64Array {
  const file = path.join(collection, name);
  return toFloat64(readNpy(file), file);
}

function loadOptional(collection: string, name: string): Float64Array | null {
  return existsSync(path.join(collection, name)) ? load(collection, name) : null;
}

function readKsLabels(collection: string, nUnits: number): string[] {
  const file = path.join(collection, 'cluster_KSLabel.tsv');
  if (!existsSync(file)) return new Array<string>(nUnits).fill('');
  const labels = new Array<string>(nUnits).fill('');
  for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
    const [id, label] = line.split('\t');
    const j = Number(id);
    if (line.trim() !== '' && Number.isInteger(j) && j >= 0 && j < nUnits) labels[j] = (label ?? '').trim();
  }
  return labels;
}

/** Reads one ALF collection into a probe report; `timings` from run.json. */
export function readProbeReport(
  label: string,
  collection: string,
  timings: Record<string, number>,
  maxSpikes = REPORT_MAX_SPIKES,
): ProbeReport {
  if (!existsSync(path.join(collection, 'spikes.times.npy'))) {
    throw new InputError(collection, 'not an ALF collection: spikes.times.npy is missing');
  }
  const times = load(collection, 'spikes.times.npy');
  const depths = load(collection, 'spikes.depths.npy');
  const amps = load(collection, 'spikes.amps.npy');
  const clusters = load(collection, 'spikes.clusters.npy');
  const S = times.length;
  if (depths.length !== S || amps.length !== S || clusters.length !== S) {
    throw new InputError(
      collection,
      `spikes.* lengths differ: times ${S}, depths ${depths.length}, amps ${amps.length}, clusters ${clusters.length}`,
    );
  }
  const step = Math.max(1, Math.ceil(S / maxSpikes));
  const pick: number[] = [];
  for (let s = 0; s < S; s += step) pick.push(s);

  const unitDepths = load(collection, 'clusters.depths.npy');
  const unitAmps = load(collection, 'clusters.amps.npy');
  const T = unitDepths.length;
  const counts = new Array<number>(T).fill(0);
  for (const c of clusters) if (c >= 0 && c < T) counts[c]! += 1;
  const durationS = S > 1 ? times[S - 1]! - times[0]! : 0;

  const driftUm = load(collection, 'drift.um.npy');
  const driftTimes = load(collection, 'drift.times.npy');
  const driftDepths = load(collection, 'drift_depths.um.npy');
  const B = driftTimes.length;
  const nBlocks = driftDepths.length;
  const coords = load(collection, 'channels.localCoordinates.npy');
  const C = coords.length / 2;
  const noise = loadOptional(collection, '_spikeshard_channels.noiseRms.npy');
  return {
    label,
    collection,
    durationS,
    nSpikes: S,
    spikes: {
      timesS: pick.map((s) => round(times[s]!, 4)),
      depthsUm: pick.map((s) => round(depths[s]!, 1)),
      ampsUv: pick.map((s) => round(amps[s]! * 1e6, 1)),
    },
    drift: {
      timesS: Array.from(driftTimes, (t) => round(t, 3)),
      depthsUm: Array.from(driftDepths, (d) => round(d, 1)),
      um: Array.from({ length: B }, (_, b) =>
        Array.from({ length: nBlocks }, (_, k) => round(driftUm[b * nBlocks + k]!, 2)),
      ),
    },
    channels: {
      xUm: Array.from({ length: C }, (_, c) => coords[2 * c]!),
      yUm: Array.from({ length: C }, (_, c) => coords[2 * c + 1]!),
      labels: Array.from(loadOptional(collection, 'channels.labels.npy') ?? new Float64Array(C)),
      noiseUv: noise === null ? null : Array.from(noise, (v) => round(v * 1e6, 2)),
    },
    units: {
      depthsUm: Array.from(unitDepths, (d) => round(d, 1)),
      ampsUv: Array.from(unitAmps, (a) => round(a * 1e6, 1)),
      firingRatesHz: counts.map((n) => (durationS > 0 ? round(n / durationS, 3) : NaN)),
      spikeCounts: counts,
      ksLabels: readKsLabels(collection, T),
    },
    timings: Object.entries(timings).filter(([, s]) => Number.isFinite(s)),
  };
}

/**
 * Everything the report shows for the run folder `runFolder`: the probes listed in run.json's
 * results (their ALF collection at the recorded path, or under runFolder/alf/ when the folder
 * has moved), or, without run.json, every collection under runFolder/alf/.
 */
export function readRunReport(runFolder: string): RunReport {
  if (!existsSync(runFolder) || !statSync(runFolder).isDirectory()) {
    throw new InputError(runFolder, 'not a folder (expected the output folder of spikeshard sort)');
  }
  const runJsonFile = path.join(runFolder, 'run.json');
  let run: RunJson = {};
  if (existsSync(runJsonFile)) {
    try {
      run = JSON.parse(readFileSync(runJsonFile, 'utf8')) as RunJson;
    } catch (err) {
      throw new InputError(runJsonFile, `not valid JSON: ${(err as Error).message}`, { cause: err });
    }
  }
  const probes: ProbeReport[] = [];
  const alfRoot = path.join(runFolder, 'alf');
  if (Array.isArray(run.results) && run.results.length > 0) {
    for (const r of run.results) {
      const label = r.probe ?? '?';
      const recorded = r.alf ?? '';
      const moved = path.join(alfRoot, path.basename(recorded));
      const collection = existsSync(path.join(recorded, 'spikes.times.npy')) ? recorded : moved;
      probes.push(readProbeReport(label, collection, r.timings ?? {}));
    }
  } else if (existsSync(alfRoot)) {
    for (const name of readdirSync(alfRoot).sort()) {
      const collection = path.join(alfRoot, name);
      if (existsSync(path.join(collection, 'spikes.times.npy'))) probes.push(readProbeReport(name, collection, {}));
    }
  }
  if (probes.length === 0) {
    throw new InputError(runFolder, 'no finished probe: run.json lists no results and alf/ holds no collection');
  }
  return {
    runFolder: path.resolve(runFolder),
    runId: run.runId ?? null,
    startedAt: run.startedAt ?? null,
    version: run.spikeshard ?? null,
    recording: run.recording ?? null,
    probes,
  };
}
