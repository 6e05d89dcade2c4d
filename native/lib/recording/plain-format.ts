// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * The plain format for recordings not made with SpikeGLX: `X.bin` (int16, little-endian,
 * sample-major) described by `X.json` (docs/recording-formats.md).
 */
import { readFile } from 'node:fs/promises';
import { InputError, expected } from '../../../proto/errors.js';
import type { ProbeGeometry } from './geometry.js';
import type { RecordingLayout } from './layout.js';
import { defaultProbeModel, type ProbeType } from './probe-table.js';

/** The `.json` of a plain-format recording, as written by the user. */
export interface PlainRecordingDescription {
  sampleRateHz: number;
  nSavedChannels: number;
  channels: Array<{ column: number; xUm: number; yUm: number; shank?: number; used?: boolean }>;
  uvPerCount: number | number[];
  syncColumn: number | null;
  shankPitchUm?: number;
  probeType?: ProbeType;
}

const TOP_KEYS = [
  'sampleRateHz',
  'nSavedChannels',
  'channels',
  'uvPerCount',
  'syncColumn',
  'shankPitchUm',
  'probeType',
];
const REQUIRED_KEYS = ['sampleRateHz', 'nSavedChannels', 'channels', 'uvPerCount', 'syncColumn'];
const CHANNEL_KEYS = ['column', 'xUm', 'yUm', 'shank', 'used'];

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads and checks a plain-format `.json`. */
export async function readPlainLayout(jsonPath: string): Promise<RecordingLayout> {
  let text: string;
  try {
    text = await readFile(jsonPath, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new InputError(jsonPath, 'no such file (expected the .json describing the .bin)');
    throw new InputError(jsonPath, `cannot be read: ${(err as Error).message}`, { cause: err });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new InputError(jsonPath, `is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  return plainLayout(value, jsonPath);
}

/** Checks a parsed plain-format description; every error names the key at fault. */
export function plainLayout(value: unknown, jsonPath: string): RecordingLayout {
  const fail = (key: string, what: string, got: unknown): never => {
    throw new InputError(jsonPath, `${key}: ${expected(what, got)}`);
  };
  if (!isRecord(value)) fail('top level', 'an object', Array.isArray(value) ? 'an array' : value);
  const doc = value as Record<string, unknown>;
  for (const key of Object.keys(doc)) {
    if (!TOP_KEYS.includes(key)) fail(key, `no unknown keys (known: ${TOP_KEYS.join(', ')})`, key);
  }
  for (const key of REQUIRED_KEYS) {
    if (!(key in doc)) throw new InputError(jsonPath, `missing key "${key}"`);
  }

  const sampleRateHz = doc['sampleRateHz'];
  if (typeof sampleRateHz !== 'number' || !(sampleRateHz > 0) || !Number.isFinite(sampleRateHz)) {
    fail('sampleRateHz', 'a positive number (Hz)', sampleRateHz);
  }
  const nSaved = doc['nSavedChannels'];
  if (typeof nSaved !== 'number' || !Number.isSafeInteger(nSaved) || nSaved < 1) {
    fail('nSavedChannels', 'a positive integer (int16 columns per sample in the .bin)', nSaved);
  }
  const nSavedChannels = nSaved as number;
  const isColumn = (c: unknown): c is number =>
    typeof c === 'number' && Number.isInteger(c) && c >= 0 && c < nSavedChannels;

  const syncColumn = doc['syncColumn'];
  if (syncColumn !== null && !isColumn(syncColumn)) {
    fail('syncColumn', `null or a column from 0 to ${nSavedChannels - 1}`, syncColumn);
  }

  const channels = doc['channels'];
  if (!Array.isArray(channels) || channels.length === 0) fail('channels', 'a non-empty array', channels);
  const list = channels as unknown[];
  const n = list.length;
  const neuralColumns = new Int32Array(n);
  const geometry = {
    xUm: new Float64Array(n),
    yUm: new Float64Array(n),
    shank: new Int32Array(n),
    used: new Uint8Array(n),
  };
  const seen = new Map<number, number>();
  for (const [i, ch] of list.entries()) {
    const at = `channels[${i}]`;
    if (!isRecord(ch)) fail(at, 'an object {column, xUm, yUm, shank}', ch);
    const c = ch as Record<string, unknown>;
    for (const key of Object.keys(c)) {
      if (!CHANNEL_KEYS.includes(key)) fail(`${at}.${key}`, `no unknown keys (known: ${CHANNEL_KEYS.join(', ')})`, key);
    }
    if (!isColumn(c['column'])) fail(`${at}.column`, `a column from 0 to ${nSavedChannels - 1}`, c['column']);
    const column = c['column'] as number;
    if (seen.has(column)) fail(`${at}.column`, `a column not already used by channels[${seen.get(column)}]`, column);
    if (column === syncColumn) fail(`${at}.column`, 'a column other than syncColumn', column);
    seen.set(column, i);
    neuralColumns[i] = column;
    for (const key of ['xUm', 'yUm'] as const) {
      const v = c[key];
      if (typeof v !== 'number' || !Number.isFinite(v)) fail(`${at}.${key}`, 'a number (µm)', v);
      geometry[key][i] = v as number;
    }
    const shank = c['shank'] ?? 0;
    if (typeof shank !== 'number' || !Number.isInteger(shank) || shank < 0)
      fail(`${at}.shank`, 'an integer >= 0', shank);
    geometry.shank[i] = shank as number;
    const used = c['used'] ?? true;
    if (typeof used !== 'boolean') fail(`${at}.used`, 'true or false', used);
    geometry.used[i] = used ? 1 : 0;
  }

  const nShanks = Math.max(...geometry.shank) + 1;
  let shankPitchUm = 0;
  const pitch = doc['shankPitchUm'];
  if (pitch !== undefined) {
    if (typeof pitch !== 'number' || !(pitch >= 0) || !Number.isFinite(pitch))
      fail('shankPitchUm', 'a number >= 0 (µm)', pitch);
    shankPitchUm = pitch as number;
  }
  if (nShanks > 1 && !(shankPitchUm > 0)) {
    fail('shankPitchUm', `a positive number (µm), needed because the channels use ${nShanks} shanks`, pitch);
  }

  const uv = doc['uvPerCount'];
  const uvPerCount = new Float64Array(n);
  const isGain = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;
  if (Array.isArray(uv)) {
    if (uv.length !== n)
      fail('uvPerCount', `a number or an array of ${n} numbers (one per channel)`, `${uv.length} numbers`);
    for (const [i, v] of (uv as unknown[]).entries()) {
      if (!isGain(v)) fail(`uvPerCount[${i}]`, 'a positive number (µV per count)', v);
      uvPerCount[i] = v as number;
    }
  } else {
    if (!isGain(uv)) fail('uvPerCount', 'a positive number (µV per count) or an array of them', uv);
    uvPerCount.fill(uv as number);
  }

  let probeType: ProbeType | 'custom' = 'custom';
  let probeName = 'custom probe';
  const type = doc['probeType'];
  if (type !== undefined) {
    if (type !== 'np1' && type !== 'np2' && type !== 'np2-4shank')
      fail('probeType', "'np1', 'np2' or 'np2-4shank'", type);
    probeType = type as ProbeType;
    probeName = defaultProbeModel(probeType).name;
  }

  const problems: string[] = [];
  const ignored = nSavedChannels - n - (syncColumn === null ? 0 : 1);
  if (ignored > 0)
    problems.push(
      `${ignored} of the ${nSavedChannels} columns ${ignored === 1 ? 'is' : 'are'} neither a channel nor syncColumn and ` +
        `${ignored === 1 ? 'is' : 'are'} ignored`,
    );

  const probeGeometry: ProbeGeometry = { ...geometry, nShanks, shankPitchUm, source: 'json' };
  return {
    probeType,
    probeTypeCode: null,
    probeName,
    nSavedChannels,
    neuralColumns,
    syncColumn: syncColumn as number | null,
    sampleRateHz: sampleRateHz as number,
    uvPerCount,
    geometry: probeGeometry,
    declaredFileBytes: undefined,
    problems,
  };
}
