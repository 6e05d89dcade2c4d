// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Reads the spikes of a sorting to be scored: a phy / Kilosort output folder (formats.md §3.2) or
 * an IBL ALF collection (§4.2). Only what scoring needs is read: spike samples, cluster ids,
 * the sample rate where the folder states one, and good/mua labels where a table gives them.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InputError, ParameterError, expected } from '../../proto/errors.js';
import { readNpy, type NpyArray } from '../formats/npy.js';

export type SortingFormat = 'phy' | 'alf';

/** The spikes of a tested sorting, one entry per spike, in file order. */
export interface TestedSorting {
  dir: string;
  format: SortingFormat;
  /** params.py's sample_rate (phy); null for ALF, which does not state one. */
  sampleRateHz: number | null;
  /** (S,) sample index of each spike (integers). */
  spikeSamples: Float64Array;
  /** (S,) cluster id of each spike. */
  spikeClusters: Float64Array;
  /** Clusters that have at least one spike, ascending. */
  clusterIds: number[];
  /** Label per entry of clusterIds ('good', 'mua', 'noise', ...), null where no table gives one. */
  labels: (string | null)[];
  /** The table the labels came from, null when there is none. */
  labelSource: string | null;
  /** How the spike samples were obtained, e.g. 'spike_times.npy' or 'spikes.times.npy × 30000 Hz (rounded)'. */
  samplesSource: string;
}

const PHY_MARKERS = ['spike_times.npy', 'spike_clusters.npy', 'spike_templates.npy'];
const ALF_MARKERS = ['spikes.clusters.npy', 'spikes.samples.npy', 'spikes.times.npy'];

/** Which format a folder holds; 'auto' decides from the files present. */
export function detectSortingFormat(dir: string, requested: SortingFormat | 'auto' = 'auto'): SortingFormat {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new InputError(dir, 'no such folder (expected a phy output folder or an ALF collection)');
  }
  if (requested !== 'auto') return requested;
  const isPhy = PHY_MARKERS.some((f) => existsSync(path.join(dir, f)));
  const isAlf = ALF_MARKERS.some((f) => existsSync(path.join(dir, f)));
  if (isPhy && isAlf) {
    throw new InputError(
      dir,
      'holds both phy files (spike_times.npy, ...) and ALF files (spikes.*.npy); choose one with --format',
    );
  }
  if (isPhy) return 'phy';
  if (isAlf) return 'alf';
  throw new InputError(
    dir,
    'neither a phy folder (spike_times.npy, spike_clusters.npy or spike_templates.npy, params.py) ' +
      'nor an ALF collection (spikes.samples.npy or spikes.times.npy, spikes.clusters.npy)',
  );
}

/**
 * Reads a phy or ALF folder. `fallbackSampleRateHz` converts ALF `spikes.times.npy` (s) to samples
 * when `spikes.samples.npy` is absent.
 */
export function readTestedSorting(
  dir: string,
  options: { format?: SortingFormat | 'auto'; fallbackSampleRateHz?: number } = {},
): TestedSorting {
  const format = detectSortingFormat(dir, options.format ?? 'auto');
  return format === 'phy' ? readPhy(dir) : readAlf(dir, options.fallbackSampleRateHz);
}

function readPhy(dir: string): TestedSorting {
  const timesFile = path.join(dir, 'spike_times.npy');
  if (!existsSync(timesFile)) throw new InputError(dir, 'phy file spike_times.npy is missing');
  let clustersName = 'spike_clusters.npy';
  if (!existsSync(path.join(dir, clustersName))) clustersName = 'spike_templates.npy';
  const clustersFile = path.join(dir, clustersName);
  if (!existsSync(clustersFile)) {
    throw new InputError(dir, 'phy files spike_clusters.npy and spike_templates.npy are both missing (one is needed)');
  }
  const paramsFile = path.join(dir, 'params.py');
  if (!existsSync(paramsFile)) throw new InputError(dir, 'phy file params.py is missing (it gives sample_rate)');
  const params = parsePythonAssignments(readFileSync(paramsFile, 'utf8'));
  const rateText = params.get('sample_rate');
  const sampleRateHz = rateText === undefined ? NaN : Number(rateText.replace(/_/g, ''));
  if (rateText === undefined) throw new InputError(paramsFile, 'sample_rate is not assigned');
  if (!(sampleRateHz > 0) || !Number.isFinite(sampleRateHz)) {
    throw new InputError(paramsFile, `sample_rate ${expected('a positive number', rateText)}`);
  }
  // As SpikeInterface's phy reader (astype(int)): float sample indices are truncated.
  const spikeSamples = sampleIndices(readVector(timesFile), timesFile, 'truncate');
  const spikeClusters = clusterIds(readVector(clustersFile), clustersFile);
  if (spikeClusters.length !== spikeSamples.length) {
    throw new InputError(clustersFile, `${spikeClusters.length} cluster ids for ${spikeSamples.length} spike times`);
  }
  const ids = uniqueSorted(spikeClusters);
  let labelSource: string | null = null;
  let table = new Map<number, string>();
  const groupFile = path.join(dir, 'cluster_group.tsv');
  const ksFile = path.join(dir, 'cluster_KSLabel.tsv');
  if (existsSync(groupFile)) {
    // Kilosort 2.5 MATLAB writes cluster_group.tsv as a copy of KSLabel, header included.
    table = readLabelTable(groupFile, ['group', 'KSLabel']);
    labelSource = 'cluster_group.tsv';
  } else if (existsSync(ksFile)) {
    table = readLabelTable(ksFile, ['KSLabel']);
    labelSource = 'cluster_KSLabel.tsv';
  }
  return {
    dir,
    format: 'phy',
    sampleRateHz,
    spikeSamples,
    spikeClusters,
    clusterIds: ids,
    labels: ids.map((id) => table.get(id) ?? null),
    labelSource,
    samplesSource: 'spike_times.npy',
  };
}

function readAlf(dir: string, fallbackSampleRateHz: number | undefined): TestedSorting {
  const clustersFile = path.join(dir, 'spikes.clusters.npy');
  if (!existsSync(clustersFile)) throw new InputError(dir, 'ALF file spikes.clusters.npy is missing');
  const samplesFile = path.join(dir, 'spikes.samples.npy');
  const timesFile = path.join(dir, 'spikes.times.npy');
  let spikeSamples: Float64Array;
  let samplesSource: string;
  if (existsSync(samplesFile)) {
    spikeSamples = sampleIndices(readVector(samplesFile), samplesFile, 'truncate');
    samplesSource = 'spikes.samples.npy';
  } else if (existsSync(timesFile)) {
    if (fallbackSampleRateHz === undefined || !(fallbackSampleRateHz > 0)) {
      throw new ParameterError(`${dir}: spikes.times.npy needs a sample rate to become samples, none was given`);
    }
    const seconds = sampleIndices(readVector(timesFile), timesFile, 'keep');
    spikeSamples = new Float64Array(seconds.length);
    for (let s = 0; s < seconds.length; s++) spikeSamples[s] = Math.round(seconds[s]! * fallbackSampleRateHz);
    samplesSource = `spikes.times.npy × ${fallbackSampleRateHz} Hz (rounded)`;
  } else {
    throw new InputError(dir, 'ALF files spikes.samples.npy and spikes.times.npy are both missing (one is needed)');
  }
  const spikeClusters = clusterIds(readVector(clustersFile), clustersFile);
  if (spikeClusters.length !== spikeSamples.length) {
    throw new InputError(clustersFile, `${spikeClusters.length} cluster ids for ${spikeSamples.length} spikes`);
  }
  const ids = uniqueSorted(spikeClusters);
  const ksFile = path.join(dir, 'cluster_KSLabel.tsv');
  const table = existsSync(ksFile) ? readLabelTable(ksFile, ['KSLabel']) : new Map<number, string>();
  return {
    dir,
    format: 'alf',
    sampleRateHz: null,
    spikeSamples,
    spikeClusters,
    clusterIds: ids,
    labels: ids.map((id) => table.get(id) ?? null),
    labelSource: existsSync(ksFile) ? 'cluster_KSLabel.tsv' : null,
    samplesSource,
  };
}

/** Reads a 1-D array; (S, 1) and (1, S) are accepted as phy sometimes stores them. */
function readVector(file: string): NpyArray {
  const arr = readNpy(file);
  const nonUnit = arr.shape.filter((d) => d !== 1);
  if (arr.shape.length === 0 || nonUnit.length > 1) {
    throw new InputError(file, `shape ${expected('a vector (S,)', `(${arr.shape.join(', ')})`)}`);
  }
  if (arr.data instanceof Uint8Array && arr.dtype === '|b1')
    throw new InputError(file, `dtype ${expected('numbers', 'bool')}`);
  return arr;
}

/** Sample indices as float64 integers; floats are truncated or kept (times in seconds). */
function sampleIndices(arr: NpyArray, file: string, floats: 'truncate' | 'keep'): Float64Array {
  const out = new Float64Array(arr.data.length);
  const data = arr.data;
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    // Through 32-bit halves: converting millions of BigInts one by one takes seconds.
    const signed = data instanceof BigInt64Array;
    const words = new Uint32Array(data.buffer, data.byteOffset, 2 * data.length);
    const [low, high] = os.endianness() === 'LE' ? [0, 1] : [1, 0];
    for (let s = 0; s < out.length; s++) {
      const hi = words[2 * s + high]!;
      const hiValue = signed && hi >= 0x80000000 ? hi - 0x100000000 : hi;
      const v = hiValue * 0x100000000 + words[2 * s + low]!;
      if (!Number.isSafeInteger(v)) {
        throw new InputError(file, `value ${data[s]} at index ${s} is too large for a sample index`);
      }
      out[s] = v;
    }
    return out;
  }
  const isFloat = data instanceof Float32Array || data instanceof Float64Array;
  for (let s = 0; s < out.length; s++) {
    const v = data[s]!;
    if (!Number.isFinite(v)) throw new InputError(file, `value ${v} at index ${s} ${expected('a finite number', v)}`);
    out[s] = isFloat && floats === 'truncate' ? Math.trunc(v) : v;
  }
  return out;
}

/** Cluster ids: non-negative integers of any integer dtype (floats only if integral). */
function clusterIds(arr: NpyArray, file: string): Float64Array {
  const values = sampleIndices(arr, file, 'keep');
  for (let s = 0; s < values.length; s++) {
    const v = values[s]!;
    if (!Number.isSafeInteger(v) || v < 0) {
      throw new InputError(file, `cluster id at index ${s} ${expected('a non-negative integer', v)}`);
    }
  }
  return values;
}

/** The distinct ids (non-negative integers), ascending. */
function uniqueSorted(values: Float64Array): number[] {
  let max = 0;
  for (let k = 0; k < values.length; k++) if (values[k]! > max) max = values[k]!;
  if (max < 1 << 24) {
    const seen = new Uint8Array(max + 1);
    for (let k = 0; k < values.length; k++) seen[values[k]!] = 1;
    const out: number[] = [];
    seen.forEach((flag, id) => {
      if (flag) out.push(id);
    });
    return out;
  }
  return [...new Set(values)].sort((x, y) => x - y);
}

/**
 * A phy cluster table: tab-separated, header row with `cluster_id` and a label column (the
 * first of `columns` found), CRLF or LF line ends.
 */
export function readLabelTable(file: string, columns: readonly string[]): Map<number, string> {
  const lines = readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .filter((l) => l.trim() !== '');
  const header = (lines[0] ?? '').split('\t').map((h) => h.trim());
  const idColumn = header.indexOf('cluster_id');
  const labelColumn = header.findIndex((h) => columns.includes(h));
  if (idColumn < 0 || labelColumn < 0) {
    throw new InputError(
      file,
      `header ${expected(`cluster_id and ${columns.join(' or ')} columns`, header.join('\t'))}`,
    );
  }
  const out = new Map<number, string>();
  for (let k = 1; k < lines.length; k++) {
    const cells = lines[k]!.split('\t').map((c) => c.trim());
    const id = Number(cells[idColumn]);
    if (!Number.isSafeInteger(id) || id < 0) {
      throw new InputError(file, `line ${k + 1}: cluster_id ${expected('a non-negative integer', cells[idColumn])}`);
    }
    out.set(id, cells[labelColumn] ?? '');
  }
  return out;
}

/**
 * The simple assignments of a params.py (`name = value`, one per line), without executing it.
 * String quotes are removed; other values are returned as written. Lines that are not simple
 * assignments (imports, comments, continuation lines) are ignored.
 */
export function parsePythonAssignments(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(raw);
    if (!m) continue;
    let value = stripComment(m[2]!);
    const quoted = /^[rRbBuU]?(['"])(.*)\1$/.exec(value);
    if (quoted) value = quoted[2]!;
    out.set(m[1]!, value);
  }
  return out;
}

/** Drops a trailing `# comment` that is not inside quotes. */
function stripComment(value: string): string {
  let quote: string | null = null;
  for (let k = 0; k < value.length; k++) {
    const c = value[k]!;
    if (quote) {
      if (c === '\\') k++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '#') return value.slice(0, k).trimEnd();
  }
  return value;
}
