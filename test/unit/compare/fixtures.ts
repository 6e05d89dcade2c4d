// SPDX-License-Identifier: GPL-3.0-or-later
/** Small hand-made ground truths and sorting folders for the compare tests. */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { writeGroundTruth, type GroundTruth } from '../../../coordinator/formats/ground-truth.js';
import { writeNpy } from '../../../coordinator/formats/npy.js';
import { buildSpikeTrains, type SpikeTrains } from '../../../coordinator/compare/index.js';

/** Spikes as (sample, unit id) pairs, in any order. */
export type Spikes = Array<[number, number]>;

export function trains(unitIds: number[], spikes: Spikes): SpikeTrains {
  return buildSpikeTrains(
    unitIds,
    Float64Array.from(spikes.map((s) => s[0])),
    spikes.map((s) => s[1]),
  );
}

/** `count` spikes of one unit, `step` samples apart, from `start`. */
export function regular(unit: number, start: number, count: number, step = 1000): Spikes {
  return Array.from({ length: count }, (_, k) => [start + k * step, unit] as [number, number]);
}

/** A truth with the given units (id, snr) and spikes; the spikes are sorted as the format requires. */
export function makeTruth(
  units: Array<{ id: number; snr: number }>,
  spikes: Spikes,
  sampleRateHz = 30000,
): GroundTruth {
  const sorted = [...spikes].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return {
    sampleRateHz,
    nSamples: 10_000_000,
    recording: '../recording/sim_g0_t0.imec0.ap.bin',
    probeType: 'np1',
    seed: 1,
    units: units.map((u) => ({
      id: u.id,
      xUm: 0,
      yUm: 0,
      zUm: 20,
      peakChannel: 0,
      snr: u.snr,
      amplitudeUv: 100,
      firingRateHz: 1,
      spikeCount: sorted.filter((s) => s[1] === u.id).length,
    })),
    spikeSamples: Float64Array.from(sorted.map((s) => s[0])),
    spikeUnits: Int32Array.from(sorted.map((s) => s[1])),
    drift: { timesS: new Float64Array([0]), depthsUm: new Float64Array([0]), um: new Float64Array([0]) },
    generator: { name: 'test' },
  };
}

/** Writes a truth in a simulate-like layout: <root>/ground_truth/<probe>/. Returns the truth folder. */
export function writeSimulateOutput(root: string, probe: string, truth: GroundTruth): string {
  const dir = path.join(root, 'ground_truth', probe);
  writeGroundTruth(dir, truth);
  return dir;
}

export interface PhyOptions {
  sampleRateHz?: number;
  /** Cluster id → label, written to `labelFile`. */
  labels?: Map<number, string>;
  labelFile?: 'cluster_KSLabel.tsv' | 'cluster_group.tsv';
  /** Header of the label column (default KSLabel for cluster_KSLabel.tsv, group for cluster_group.tsv). */
  labelColumn?: string;
  /** Write spike_templates.npy instead of spike_clusters.npy. */
  templatesOnly?: boolean;
}

/** A phy folder as Kilosort writes it: uint64 spike_times, uint32 clusters, params.py, CRLF tsv. */
export function writePhy(dir: string, spikes: Spikes, options: PhyOptions = {}): void {
  mkdirSync(dir, { recursive: true });
  const sorted = [...spikes].sort((a, b) => a[0] - b[0]);
  writeNpy(path.join(dir, 'spike_times.npy'), BigUint64Array.from(sorted.map((s) => BigInt(s[0]))));
  writeNpy(
    path.join(dir, options.templatesOnly ? 'spike_templates.npy' : 'spike_clusters.npy'),
    Uint32Array.from(sorted.map((s) => s[1])),
  );
  writeFileSync(
    path.join(dir, 'params.py'),
    [
      "dat_path = '../recording/sim_g0_t0.imec0.ap.bin'",
      'n_channels_dat = 385',
      "dtype = 'int16'",
      'offset = 0',
      `sample_rate = ${(options.sampleRateHz ?? 30000).toFixed(0)}.  # Hz`,
      'hp_filtered = False',
      '',
    ].join('\n'),
  );
  if (options.labels) {
    const file = options.labelFile ?? 'cluster_KSLabel.tsv';
    const column = options.labelColumn ?? (file === 'cluster_group.tsv' ? 'group' : 'KSLabel');
    const rows = [`cluster_id\t${column}`, ...[...options.labels].map(([id, l]) => `${id}\t${l}`)];
    writeFileSync(path.join(dir, file), rows.join('\r\n') + '\r\n');
  }
}

/** An ALF collection: uint64 spikes.samples (or float64 spikes.times), uint16 spikes.clusters. */
export function writeAlf(
  dir: string,
  spikes: Spikes,
  options: { timesHz?: number; labels?: Map<number, string> } = {},
): void {
  mkdirSync(dir, { recursive: true });
  const sorted = [...spikes].sort((a, b) => a[0] - b[0]);
  if (options.timesHz !== undefined) {
    const hz = options.timesHz;
    writeNpy(path.join(dir, 'spikes.times.npy'), Float64Array.from(sorted.map((s) => s[0] / hz)));
  } else {
    writeNpy(path.join(dir, 'spikes.samples.npy'), BigUint64Array.from(sorted.map((s) => BigInt(s[0]))));
  }
  writeNpy(path.join(dir, 'spikes.clusters.npy'), Uint16Array.from(sorted.map((s) => s[1])));
  if (options.labels) {
    const rows = ['cluster_id\tKSLabel', ...[...options.labels].map(([id, l]) => `${id}\t${l}`)];
    writeFileSync(path.join(dir, 'cluster_KSLabel.tsv'), rows.join('\n') + '\n');
  }
}
