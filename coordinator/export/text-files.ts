// SPDX-License-Identifier: GPL-3.0-or-later
/** The text files shared by the phy folder and the ALF collection: params.py and per-cluster TSVs. */
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { SortingResult } from '../formats/sorting-result.js';

/** A Python string literal holding `s` (single quotes, escapes for quotes, backslashes and controls). */
export function pythonString(s: string): string {
  let out = "'";
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (ch === '\\' || ch === "'") out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return out + "'";
}

/** A Python float literal (`30000.0`, `2.5e-06`). */
export function pythonFloat(x: number): string {
  if (!Number.isFinite(x)) throw new RangeError(`pythonFloat: ${x} has no Python literal`);
  const s = String(x);
  return /[.e]/.test(s) ? s : `${s}.0`;
}

/**
 * The raw file as seen from `folder`: a relative path when one exists (so the folder and the
 * recording can move together), the absolute path otherwise (another drive on Windows). A
 * relative `datPath` is taken from the working directory.
 */
export function datPathFrom(folder: string, datPath: string): string {
  const absolute = path.resolve(datPath);
  const relative = path.relative(path.resolve(folder), absolute);
  return path.isAbsolute(relative) ? absolute : relative.split(path.sep).join('/');
}

/** phy's params.py for a folder that will live at `folder`. */
export function paramsPy(result: SortingResult, folder: string): string {
  return [
    `dat_path = ${pythonString(datPathFrom(folder, result.datPath))}`,
    `n_channels_dat = ${result.nChannelsDat}`,
    `dtype = 'int16'`,
    `offset = 0`,
    `sample_rate = ${pythonFloat(result.sampleRateHz)}`,
    `hp_filtered = False`,
    `template_scaling = 20.0`,
    '',
  ].join('\n');
}

/** A `cluster_id\t<column>` TSV with one row per cluster, LF line endings. */
export function clusterTsv(column: string, values: readonly string[]): string {
  return [`cluster_id\t${column}`, ...values.map((v, j) => `${j}\t${v}`), ''].join('\n');
}

/** `%.1f` as Python and MATLAB print it (NaN → 'nan'). */
export function fixed1(x: number): string {
  return Number.isNaN(x) ? 'nan' : x.toFixed(1);
}

// uuid.uuid5(uuid.NAMESPACE_URL, 'https://spikeshard/alf/clusters'): the namespace of cluster UUIDs.
const URL_NAMESPACE = '6ba7b811-9dad-11d1-80b4-00c04fd430c8';
const CLUSTER_NAMESPACE = uuid5(URL_NAMESPACE, 'https://spikeshard/alf/clusters');

/** RFC 4122 name-based UUID (version 5, SHA-1) of `name` in `namespace`. */
export function uuid5(namespace: string, name: string): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  if (ns.length !== 16) throw new RangeError(`uuid5: namespace ${JSON.stringify(namespace)} is not a UUID`);
  const hash = createHash('sha1').update(ns).update(name, 'utf8').digest().subarray(0, 16);
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * Reproducible cluster UUIDs: uuid5(CLUSTER_NAMESPACE, `${runId}/${collection}/${clusterIndex}`),
 * so the same run written twice gives the same UUIDs, and two probes or runs never share one.
 */
export function clusterUuids(runId: string, collection: string, nClusters: number): string[] {
  return Array.from({ length: nClusters }, (_, j) => uuid5(CLUSTER_NAMESPACE, `${runId}/${collection}/${j}`));
}
