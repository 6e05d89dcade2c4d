// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * NumPy `.npy` files (NEP 1): versions 1.0 and 2.0 written and read, little-endian numeric dtypes,
 * C or Fortran order on read (Fortran arrays are transposed to C order), C order on write.
 */
import { readFileSync } from 'node:fs';
import { InputError, expected } from '../../proto/errors.js';
import { writeFileAtomic, writeFileAtomicStream } from './atomic.js';
import { float16Value } from './float16.js';

/** Little-endian numeric dtypes; '<f2' (float16) is held as its raw bit patterns in a Uint16Array (float16.ts). */
export type NpyDtype = '<i1' | '<u1' | '<i2' | '<u2' | '<i4' | '<u4' | '<i8' | '<u8' | '<f2' | '<f4' | '<f8' | '|b1';

export type NpyData =
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array
  | Float32Array
  | Float64Array;

export interface NpyArray<T extends NpyData = NpyData> {
  dtype: NpyDtype;
  shape: number[];
  /** Elements in C (row-major) order. */
  data: T;
}

/** Bytes per element of a dtype, and the typed-array view that holds its elements. */
export interface DtypeInfo {
  size: number;
  make: (buf: ArrayBuffer, offset: number, length: number) => NpyData;
}

const DTYPES: Record<NpyDtype, DtypeInfo> = {
  '<i1': { size: 1, make: (b, o, n) => new Int8Array(b, o, n) },
  '|b1': { size: 1, make: (b, o, n) => new Uint8Array(b, o, n) },
  '<u1': { size: 1, make: (b, o, n) => new Uint8Array(b, o, n) },
  '<i2': { size: 2, make: (b, o, n) => new Int16Array(b, o, n) },
  '<u2': { size: 2, make: (b, o, n) => new Uint16Array(b, o, n) },
  '<i4': { size: 4, make: (b, o, n) => new Int32Array(b, o, n) },
  '<u4': { size: 4, make: (b, o, n) => new Uint32Array(b, o, n) },
  '<i8': { size: 8, make: (b, o, n) => new BigInt64Array(b, o, n) },
  '<u8': { size: 8, make: (b, o, n) => new BigUint64Array(b, o, n) },
  '<f2': { size: 2, make: (b, o, n) => new Uint16Array(b, o, n) },
  '<f4': { size: 4, make: (b, o, n) => new Float32Array(b, o, n) },
  '<f8': { size: 8, make: (b, o, n) => new Float64Array(b, o, n) },
};

const ALIASES: Record<string, NpyDtype> = { '|i1': '<i1', '|u1': '<u1', '<b1': '|b1' };

/**
 * The table entry of `dtype` ('<f4', '|b1', ...), or undefined for a name it does not hold. The
 * one dtype table of the code base: run-folder records (record.ts) use it too.
 */
export function dtypeInfo(dtype: string): DtypeInfo | undefined {
  return Object.hasOwn(DTYPES, dtype) ? DTYPES[dtype as NpyDtype] : undefined;
}

/** The dtype that holds a typed array's elements. */
export function dtypeOf(data: NpyData): NpyDtype {
  if (data instanceof Int8Array) return '<i1';
  if (data instanceof Uint8Array) return '<u1';
  if (data instanceof Int16Array) return '<i2';
  if (data instanceof Uint16Array) return '<u2';
  if (data instanceof Int32Array) return '<i4';
  if (data instanceof Uint32Array) return '<u4';
  if (data instanceof BigInt64Array) return '<i8';
  if (data instanceof BigUint64Array) return '<u8';
  if (data instanceof Float32Array) return '<f4';
  return '<f8';
}

function shapeLiteral(shape: readonly number[]): string {
  if (shape.length === 0) return '()';
  if (shape.length === 1) return `(${shape[0]},)`;
  return `(${shape.join(', ')})`;
}

/** The header of an `.npy` file, padded so the data that follows starts on a 64-byte boundary. */
export function encodeNpyHeader(shape: readonly number[], dtype: NpyDtype): Buffer {
  const dict = `{'descr': '${dtype}', 'fortran_order': False, 'shape': ${shapeLiteral(shape)}, }`;
  let version = 1;
  let prefix = 10;
  let headerLen = Math.ceil((prefix + dict.length + 1) / 64) * 64 - prefix;
  if (headerLen > 0xffff) {
    version = 2;
    prefix = 12;
    headerLen = Math.ceil((prefix + dict.length + 1) / 64) * 64 - prefix;
  }
  const header = Buffer.alloc(prefix + headerLen, 0x20);
  header.write('\x93NUMPY', 0, 'latin1');
  header[6] = version;
  header[7] = 0;
  if (version === 1) header.writeUInt16LE(headerLen, 8);
  else header.writeUInt32LE(headerLen, 8);
  header.write(dict, prefix, 'latin1');
  header[header.length - 1] = 0x0a;
  return header;
}

function checkedParts(data: NpyData, shape: readonly number[], dtype: NpyDtype): [Buffer, Buffer] {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw new RangeError(`encodeNpy: shape ${shapeLiteral(shape)} holds ${count} elements, data has ${data.length}`);
  }
  if (DTYPES[dtype].size !== data.BYTES_PER_ELEMENT) {
    throw new RangeError(`encodeNpy: dtype ${dtype} does not match a ${data.constructor.name}`);
  }
  return [encodeNpyHeader(shape, dtype), Buffer.from(data.buffer, data.byteOffset, data.byteLength)];
}

/** Serialises an array; the header is padded so the data starts on a 64-byte boundary. */
export function encodeNpy(data: NpyData, shape: readonly number[], dtype: NpyDtype = dtypeOf(data)): Buffer {
  return Buffer.concat(checkedParts(data, shape, dtype));
}

/**
 * Writes an `.npy` file atomically (temporary name, then rename), without copying the data.
 * `dtype` defaults to the array's own; '<f2' takes a Uint16Array of float16 bit patterns.
 */
export function writeNpy(
  file: string,
  data: NpyData,
  shape: readonly number[] = [data.length],
  dtype: NpyDtype = dtypeOf(data),
): void {
  writeFileAtomic(file, checkedParts(data, shape, dtype));
}

/**
 * Writes an `.npy` file of `shape` and `dtype` atomically from chunks that `fill` hands to `write`
 * in C order (e.g. rows scanned from disk), so the array is never held whole. RangeError, and no
 * file, when a chunk's element size does not match `dtype` or the chunks do not add up to `shape`.
 */
export function writeNpyChunks(
  file: string,
  shape: readonly number[],
  dtype: NpyDtype,
  fill: (write: (chunk: NpyData) => void) => void,
): void {
  const count = shape.reduce((a, b) => a * b, 1);
  writeFileAtomicStream(file, (write) => {
    write(encodeNpyHeader(shape, dtype));
    let written = 0;
    fill((chunk) => {
      if (DTYPES[dtype].size !== chunk.BYTES_PER_ELEMENT) {
        throw new RangeError(`writeNpyChunks: dtype ${dtype} does not match a ${chunk.constructor.name} chunk`);
      }
      if (written + chunk.length > count) {
        throw new RangeError(`writeNpyChunks: shape ${shapeLiteral(shape)} holds ${count} elements, got more`);
      }
      write(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      written += chunk.length;
    });
    if (written !== count) {
      throw new RangeError(`writeNpyChunks: shape ${shapeLiteral(shape)} holds ${count} elements, got ${written}`);
    }
  });
}

function parseHeader(file: string, text: string): { dtype: NpyDtype; fortran: boolean; shape: number[] } {
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(text)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new InputError(file, `npy header ${expected("'descr', 'fortran_order' and 'shape'", text.trim())}`);
  }
  const dtype = (Object.hasOwn(ALIASES, descr) ? ALIASES[descr]! : descr) as NpyDtype;
  if (dtypeInfo(dtype) === undefined) {
    throw new InputError(file, `npy dtype ${expected('a little-endian numeric dtype such as <f4 or <u8', descr)}`);
  }
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => Number(s.replace(/L$/, '')));
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new InputError(file, `npy shape ${expected('non-negative integers', shapeText)}`);
  }
  return { dtype, fortran: fortran === 'True', shape };
}

/** Parses `.npy` bytes; `file` names the source in errors. */
export function decodeNpy(bytes: Uint8Array, file = '<buffer>'): NpyArray {
  const magic = Buffer.from(bytes.subarray(0, 6)).toString('latin1');
  if (bytes.length < 10 || magic !== '\x93NUMPY') throw new InputError(file, 'not an .npy file (bad magic string)');
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let prefix: number;
  let headerLen: number;
  if (major === 1) {
    prefix = 10;
    headerLen = view.getUint16(8, true);
  } else if (major === 2 || major === 3) {
    prefix = 12;
    headerLen = view.getUint32(8, true);
  } else {
    throw new InputError(file, `npy version ${expected('1, 2 or 3', major)}`);
  }
  const headerText = Buffer.from(bytes.subarray(prefix, prefix + headerLen)).toString(major === 3 ? 'utf8' : 'latin1');
  const { dtype, fortran, shape } = parseHeader(file, headerText);
  const info = DTYPES[dtype];
  const count = shape.reduce((a, b) => a * b, 1);
  const start = prefix + headerLen;
  const needed = count * info.size;
  if (bytes.length - start < needed) {
    throw new InputError(
      file,
      `npy data is truncated: shape ${shapeLiteral(shape)} needs ${needed} bytes, found ${bytes.length - start}`,
    );
  }
  // Copy into a fresh, aligned buffer: typed arrays need element-aligned offsets.
  const own = new ArrayBuffer(needed);
  new Uint8Array(own).set(bytes.subarray(start, start + needed));
  let data = info.make(own, 0, count);
  if (fortran && shape.length > 1) data = fortranToC(data, shape);
  return { dtype, shape, data };
}

function fortranToC(data: NpyData, shape: readonly number[]): NpyData {
  const out = new (data.constructor as new (n: number) => NpyData)(data.length);
  const nd = shape.length;
  const idx = new Array<number>(nd).fill(0);
  for (let cIndex = 0; cIndex < data.length; cIndex++) {
    let fIndex = 0;
    let stride = 1;
    for (let d = 0; d < nd; d++) {
      fIndex += idx[d]! * stride;
      stride *= shape[d]!;
    }
    (out as Float64Array)[cIndex] = (data as Float64Array)[fIndex]!;
    for (let d = nd - 1; d >= 0; d--) {
      idx[d]! += 1;
      if (idx[d]! < shape[d]!) break;
      idx[d] = 0;
    }
  }
  return out;
}

export function readNpy(file: string): NpyArray {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new InputError(file, `cannot read: ${(err as Error).message}`, { cause: err });
  }
  return decodeNpy(bytes, file);
}

/** Any integer or float npy data as float64 numbers (int64 values beyond 2^53 are rejected). */
export function toFloat64(arr: NpyArray, file = '<array>'): Float64Array {
  const out = new Float64Array(arr.data.length);
  if (arr.data instanceof BigInt64Array || arr.data instanceof BigUint64Array) {
    // Read the two 32-bit halves instead of one BigInt per element: ~50× faster for big spike arrays.
    const signed = arr.data instanceof BigInt64Array;
    const halves = new Uint32Array(arr.data.buffer, arr.data.byteOffset, arr.data.length * 2);
    for (let i = 0; i < out.length; i++) {
      const lo = halves[2 * i]!;
      const hiBits = halves[2 * i + 1]!;
      const hi = signed ? hiBits | 0 : hiBits;
      if (hi >= 0x200000 || hi < -0x200000) {
        throw new InputError(file, `value ${arr.data[i]} at index ${i} does not fit a float64 exactly`);
      }
      out[i] = hi * 4294967296 + lo;
    }
  } else if (arr.dtype === '<f2') {
    for (let i = 0; i < out.length; i++) out[i] = float16Value(arr.data[i] as number);
  } else {
    for (let i = 0; i < out.length; i++) out[i] = Number(arr.data[i]);
  }
  return out;
}
