// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Checkpoint records of the run folder: one self-describing, versioned file holding a tree of
 * plain values (null, booleans, strings, numbers, arrays, objects) and typed arrays, reloaded
 * bit for bit.
 *
 * Layout (little-endian):
 *   0   8 bytes  magic "SSREC\0\0" + format version (1 byte)
 *   8   uint32   header length H (bytes of UTF-8 JSON, padded with spaces to a multiple of 8)
 *   12  uint32   reserved (0)
 *   16  H bytes  header: {"kind", "dataBytes", "sha256", "value"}; in "value" every typed array is
 *                {"$array": dtype, "offset": bytes into the data section, "length": elements}
 *                and every number JSON cannot carry exactly (NaN, ±Infinity, −0) is {"$number": text}
 *   16+H         data section: the typed arrays back to back, each starting on an 8-byte boundary
 * The SHA-256 of the data section detects a damaged file, which the reader refuses.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { InputError, expected } from '../../proto/errors.js';
import { writeFileAtomic, writeFileAtomicInBackground, type AtomicWriteOptions } from './atomic.js';
import { dtypeInfo, dtypeOf, type DtypeInfo, type NpyData } from './npy.js';

export const RECORD_VERSION = 1;
const MAGIC = Buffer.from('SSREC\0\0', 'latin1');
const PREFIX_BYTES = 16;

/** The typed arrays a record holds: those of an npy file. */
export type RecordArray = NpyData;

// A record names an array's dtype as npy does, without the byte-order character ('<f4' → 'f4'),
// so npy.ts's table is the one dtype ↔ typed-array map of the code base.
function recordDtype(a: RecordArray): string {
  return dtypeOf(a).slice(1);
}

/** The table entry of a record dtype name; only names a record can be written with (not npy's 'f2' bit patterns). */
function recordDtypeInfo(name: string): DtypeInfo | undefined {
  const info = dtypeInfo(`<${name}`);
  return info !== undefined && recordDtype(info.make(new ArrayBuffer(0), 0, 0)) === name ? info : undefined;
}

function isRecordArray(v: unknown): v is RecordArray {
  return ArrayBuffer.isView(v) && !(v instanceof DataView) && !(v instanceof Uint8ClampedArray);
}

/** Serialises `value` (typed arrays, plain values, arrays and objects of them) as record parts. */
export function encodeRecord(kind: string, value: unknown): Buffer[] {
  const blobs: Buffer[] = [];
  let dataBytes = 0;
  const hash = createHash('sha256');
  const pad = (n: number): void => {
    if (n > 0) {
      const z = Buffer.alloc(n);
      blobs.push(z);
      hash.update(z);
      dataBytes += n;
    }
  };
  const walk = (v: unknown, where: string): unknown => {
    if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
    if (typeof v === 'number') {
      if (!Number.isFinite(v) || Object.is(v, -0)) return { $number: Object.is(v, -0) ? '-0' : String(v) };
      return v;
    }
    if (isRecordArray(v)) {
      pad((8 - (dataBytes % 8)) % 8);
      const bytes = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
      const entry = { $array: recordDtype(v), offset: dataBytes, length: v.length };
      blobs.push(bytes);
      hash.update(bytes);
      dataBytes += bytes.length;
      return entry;
    }
    if (Array.isArray(v)) return v.map((x, i) => walk(x, `${where}[${i}]`));
    if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        if (k.startsWith('$'))
          throw new RangeError(`encodeRecord: key ${where}.${k} starts with '$', which is reserved`);
        if (x !== undefined) out[k] = walk(x, `${where}.${k}`);
      }
      return out;
    }
    throw new RangeError(`encodeRecord: ${where} is a ${typeof v} that a record cannot hold`);
  };
  const tree = walk(value, 'value');
  let header = Buffer.from(JSON.stringify({ kind, dataBytes, sha256: hash.digest('hex'), value: tree }), 'utf8');
  const headerBytes = Math.ceil(header.length / 8) * 8;
  header = Buffer.concat([header, Buffer.alloc(headerBytes - header.length, 0x20)]);
  const prefix = Buffer.alloc(PREFIX_BYTES);
  MAGIC.copy(prefix, 0);
  prefix[7] = RECORD_VERSION;
  prefix.writeUInt32LE(headerBytes, 8);
  return [prefix, header, ...blobs];
}

/** Parses record bytes; `file` names the source in errors. Typed arrays get their own buffers. */
export function decodeRecord(bytes: Uint8Array, file = '<buffer>'): { kind: string; value: unknown } {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < PREFIX_BYTES || !buf.subarray(0, 7).equals(MAGIC)) {
    throw new InputError(file, 'not a spikeshard checkpoint record (bad magic)');
  }
  if (buf[7] !== RECORD_VERSION)
    throw new InputError(file, `record version ${expected(String(RECORD_VERSION), buf[7])}`);
  const headerBytes = buf.readUInt32LE(8);
  if (PREFIX_BYTES + headerBytes > buf.length) {
    throw new InputError(file, `record header of ${headerBytes} bytes runs past the end of the file (${buf.length})`);
  }
  let header: { kind: string; dataBytes: number; sha256: string; value: unknown };
  try {
    header = JSON.parse(buf.subarray(PREFIX_BYTES, PREFIX_BYTES + headerBytes).toString('utf8')) as typeof header;
  } catch (err) {
    throw new InputError(file, `record header is not JSON: ${(err as Error).message}`, { cause: err });
  }
  const data = buf.subarray(PREFIX_BYTES + headerBytes);
  if (data.length !== header.dataBytes) {
    throw new InputError(file, `record data ${expected(`${header.dataBytes} bytes`, `${data.length} bytes`)}`);
  }
  const digest = createHash('sha256').update(data).digest('hex');
  if (digest !== header.sha256)
    throw new InputError(file, 'record data does not match its SHA-256: the file is damaged');
  const walk = (v: unknown): unknown => {
    if (v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) return v.map(walk);
    const o = v as Record<string, unknown>;
    if (typeof o['$number'] === 'string') return o['$number'] === '-0' ? -0 : Number(o['$number']);
    if (typeof o['$array'] === 'string') {
      const info = recordDtypeInfo(o['$array']);
      const offset = o['offset'] as number;
      const length = o['length'] as number;
      if (!info || offset + length * info.size > data.length) {
        throw new InputError(file, `record array ${JSON.stringify(o)} does not fit the data section`);
      }
      // Own, aligned storage: the file buffer's offsets need not be element-aligned.
      const own = new ArrayBuffer(length * info.size);
      new Uint8Array(own).set(data.subarray(offset, offset + length * info.size));
      return info.make(own, 0, length);
    }
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(o)) out[k] = walk(x);
    return out;
  };
  return { kind: header.kind, value: walk(header.value) };
}

/** Writes a record atomically (temporary sibling, fsync unless `sync: false`, rename). */
export function writeRecord(file: string, kind: string, value: unknown, options: AtomicWriteOptions = {}): void {
  writeFileAtomic(file, encodeRecord(kind, value), options);
}

/**
 * Encodes a record now (its SHA-256 included) and writes it atomically in the background; the
 * typed arrays of `value` must stay unchanged until the promise settles (they are not copied).
 */
export function writeRecordInBackground(
  file: string,
  kind: string,
  value: unknown,
  options: AtomicWriteOptions = {},
): Promise<void> {
  return writeFileAtomicInBackground(file, encodeRecord(kind, value), options);
}

/** Reads a record and checks its kind. */
export function readRecord(file: string, kind: string): unknown {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new InputError(file, `cannot read: ${(err as Error).message}`, { cause: err });
  }
  const r = decodeRecord(bytes, file);
  if (r.kind !== kind) throw new InputError(file, `record kind ${expected(kind, r.kind)}`);
  return r.value;
}

/** Where one typed array of a record lies in its file: absolute byte offset, dtype, elements. */
export interface RecordArrayLocation {
  byteOffset: number;
  dtype: string;
  length: number;
}

/**
 * Locates the typed arrays at the given top-level keys of a record's value from its header alone,
 * so that large arrays can be read in pieces later without loading the file. The data is not
 * checked against its SHA-256 here: callers locate records this process wrote or already read whole.
 */
export function locateRecordArrays(file: string, keys: readonly string[]): Record<string, RecordArrayLocation> {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw new InputError(file, `cannot read: ${(err as Error).message}`, { cause: err });
  }
  try {
    const prefix = Buffer.alloc(PREFIX_BYTES);
    if (readSync(fd, prefix, 0, PREFIX_BYTES, 0) !== PREFIX_BYTES || !prefix.subarray(0, 7).equals(MAGIC)) {
      throw new InputError(file, 'not a spikeshard checkpoint record (bad magic)');
    }
    const headerBytes = prefix.readUInt32LE(8);
    const header = Buffer.alloc(headerBytes);
    if (readSync(fd, header, 0, headerBytes, PREFIX_BYTES) !== headerBytes) {
      throw new InputError(file, `record header of ${headerBytes} bytes runs past the end of the file`);
    }
    const value = (JSON.parse(header.toString('utf8')) as { value: Record<string, unknown> }).value;
    const out: Record<string, RecordArrayLocation> = {};
    for (const key of keys) {
      const entry = value[key] as { $array?: string; offset?: number; length?: number } | undefined;
      if (typeof entry?.$array !== 'string' || recordDtypeInfo(entry.$array) === undefined) {
        throw new InputError(file, `record key "${key}" ${expected('a typed array', JSON.stringify(entry))}`);
      }
      out[key] = { byteOffset: PREFIX_BYTES + headerBytes + entry.offset!, dtype: entry.$array, length: entry.length! };
    }
    return out;
  } finally {
    closeSync(fd);
  }
}
