// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * SpikeGLX `.meta` files as text: one `key=value` per line, and keys starting with `~` holding
 * tables written as `(header)(entry)(entry)…`. This file splits the text and converts values on
 * request; what the values mean is decided in spikeglx.ts.
 */
import { readFile } from 'node:fs/promises';
import { InputError, expected } from '../../../proto/errors.js';

/** One `~key=(header)(entry)…` table, split into fields. */
export interface MetaTable {
  /** Header fields, split at commas: `(0,384)` → `['0', '384']`. */
  readonly header: readonly string[];
  /** Entry fields, split at spaces, colons and semicolons: `(AP0;0:0)` → `['AP0', '0', '0']`. */
  readonly entries: readonly (readonly string[])[];
}

/** A parsed `.meta` file. Tables are kept as text and split when asked for (see {@link metaTable}). */
export interface SpikeGlxMeta {
  /** The file it was read from; every error names it. */
  readonly path: string;
  /** Plain `key=value` lines. */
  readonly values: ReadonlyMap<string, string>;
  /** `~key=…` lines, keyed without the `~`, value text as written. */
  readonly tableTexts: ReadonlyMap<string, string>;
}

/** What a number read from a meta file must be. */
export type NumberKind = 'number' | 'positive number' | 'integer >= 0' | 'positive integer';

/** Reads and splits a `.meta` file. A missing, empty or garbled file is an {@link InputError}. */
export async function readSpikeGlxMeta(metaPath: string): Promise<SpikeGlxMeta> {
  let text: string;
  try {
    text = await readFile(metaPath, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      throw new InputError(metaPath, 'no such file (expected the SpikeGLX .meta of the recording)');
    if (code === 'EISDIR') throw new InputError(metaPath, 'is a folder, expected a SpikeGLX .meta file');
    throw new InputError(metaPath, `cannot be read: ${(err as Error).message}`, { cause: err });
  }
  return parseSpikeGlxMeta(text, metaPath);
}

const TABLE_NAMES = ['imroTbl', 'snsChanMap', 'snsShankMap', 'snsGeomMap', 'muxTbl'];

/** Splits the text of a `.meta` file; `metaPath` is only used in messages. */
export function parseSpikeGlxMeta(text: string, metaPath: string): SpikeGlxMeta {
  if (text.includes('\0')) throw new InputError(metaPath, 'is a binary file, expected SpikeGLX .meta text');
  const values = new Map<string, string>();
  const tableTexts = new Map<string, string>();
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    if (line.trim() === '') continue;
    const eq = line.indexOf('=');
    if (eq <= 0) {
      throw new InputError(
        metaPath,
        `line ${i + 1} is not a key=value line: ${JSON.stringify(clip(line))} (is this a SpikeGLX .meta file?)`,
      );
    }
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    const isTable = key.startsWith('~');
    const name = isTable ? key.slice(1) : key;
    const target = isTable ? tableTexts : values;
    if (target.has(name)) throw new InputError(metaPath, `key ${key} appears twice (again on line ${i + 1})`);
    target.set(name, value);
  }
  // Metas rewritten by IBL's tools carry the tables without their `~`.
  for (const name of TABLE_NAMES) {
    const v = values.get(name);
    if (v !== undefined && v.startsWith('(') && !tableTexts.has(name)) {
      tableTexts.set(name, v);
      values.delete(name);
    }
  }
  if (values.size === 0 && tableTexts.size === 0) {
    throw new InputError(metaPath, 'holds no key=value lines, expected SpikeGLX .meta text');
  }
  return { path: metaPath, values, tableTexts };
}

/** Shortens a value for an error message. */
export function clip(text: string, max = 80): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Parses a decimal number written in a meta file; `undefined` if it is not one. */
export function parseDecimal(text: string): number | undefined {
  const t = text.trim();
  if (!DECIMAL.test(t)) return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

function fits(n: number, kind: NumberKind): boolean {
  switch (kind) {
    case 'number':
      return true;
    case 'positive number':
      return n > 0;
    case 'integer >= 0':
      return Number.isSafeInteger(n) && n >= 0;
    case 'positive integer':
      return Number.isSafeInteger(n) && n > 0;
  }
}

/** Converts one field; errors name the key and the value found. */
export function toNumber(meta: SpikeGlxMeta, key: string, text: string, kind: NumberKind): number {
  const n = parseDecimal(text);
  if (n === undefined || !fits(n, kind)) {
    throw new InputError(meta.path, `${key}: ${expected(`a ${kind}`, clip(text))}`);
  }
  return n;
}

/** A key that must be present; its absence is an {@link InputError} naming the key. */
export function requiredValue(meta: SpikeGlxMeta, key: string, meaning: string): string {
  const v = meta.values.get(key);
  if (v === undefined) throw new InputError(meta.path, `missing key ${key} (${meaning})`);
  return v;
}

export function requiredNumber(meta: SpikeGlxMeta, key: string, kind: NumberKind, meaning: string): number {
  return toNumber(meta, key, requiredValue(meta, key, meaning), kind);
}

export function optionalNumber(meta: SpikeGlxMeta, key: string, kind: NumberKind): number | undefined {
  const v = meta.values.get(key);
  return v === undefined ? undefined : toNumber(meta, key, v, kind);
}

/** A comma-separated list of `length` numbers, e.g. `snsApLfSy=384,0,1`. */
export function numberList(meta: SpikeGlxMeta, key: string, text: string, length: number, kind: NumberKind): number[] {
  const parts = text.split(',');
  if (parts.length !== length) {
    throw new InputError(meta.path, `${key}: ${expected(`${length} comma-separated numbers`, clip(text))}`);
  }
  return parts.map((p) => toNumber(meta, key, p, kind));
}

/** Splits a `~` table, or returns `undefined` when the meta has none of that name. */
export function metaTable(meta: SpikeGlxMeta, name: string): MetaTable | undefined {
  const text = meta.tableTexts.get(name);
  if (text === undefined) return undefined;
  if (!text.startsWith('(') || !text.endsWith(')')) {
    throw new InputError(meta.path, `~${name}: ${expected('(header)(entry)… groups', clip(text))}`);
  }
  const groups = text.slice(1, -1).split(')(');
  for (const g of groups) {
    if (g.includes('(') || g.includes(')')) {
      throw new InputError(meta.path, `~${name}: unbalanced parentheses near ${JSON.stringify(clip(g))}`);
    }
  }
  const [header, ...entries] = groups;
  return {
    header: header!.split(',').map((f) => f.trim()),
    entries: entries.map((e) => e.trim().split(/[\s:;]+/)),
  };
}
