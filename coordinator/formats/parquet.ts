// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * A small Parquet writer for flat tables (ALF's `*.pqt` files): one row group, one PLAIN-encoded
 * data page (v1) per column, no compression, every column REQUIRED (so no definition or repetition
 * levels). The footer is Thrift compact protocol, written field by field below. Written from the
 * Apache Parquet format specification (parquet.thrift) and the Thrift compact protocol
 * specification; readers (pyarrow, pandas, hyparquet) need nothing more.
 */
import { writeFileAtomicStream } from './atomic.js';

/** A column of a table: its name, its Parquet type and one value per row. */
export type ParquetColumn =
  | { name: string; type: 'double'; values: ArrayLike<number> }
  /** 32-bit float (values rounded to float32). */
  | { name: string; type: 'float'; values: ArrayLike<number> }
  | { name: string; type: 'int32'; values: ArrayLike<number> }
  /** INT32 annotated as an unsigned 8-bit integer (pandas' uint8). */
  | { name: string; type: 'uint8'; values: ArrayLike<number> }
  /** INT32 annotated as an unsigned 16-bit integer (pandas' uint16). */
  | { name: string; type: 'uint16'; values: ArrayLike<number> }
  | { name: string; type: 'int64'; values: ArrayLike<number> | BigInt64Array }
  | { name: string; type: 'boolean'; values: ArrayLike<boolean> }
  | { name: string; type: 'string'; values: readonly string[] };

// parquet.thrift enums.
const TYPE = { BOOLEAN: 0, INT32: 1, INT64: 2, FLOAT: 4, DOUBLE: 5, BYTE_ARRAY: 6 } as const;
const REQUIRED = 0;
const CONVERTED_UTF8 = 0;
const CONVERTED_UINT_8 = 11;
const CONVERTED_UINT_16 = 12;
const ENCODING_PLAIN = 0;
const ENCODING_RLE = 3;
const CODEC_UNCOMPRESSED = 0;
const PAGE_DATA = 0;

// Thrift compact protocol type ids.
const T_BOOL_TRUE = 1;
const T_BOOL_FALSE = 2;
const T_BYTE = 3;
const T_I32 = 5;
const T_I64 = 6;
const T_BINARY = 8;
const T_LIST = 9;
const T_STRUCT = 12;

/** Bytes of a Thrift compact-protocol message, written forwards. */
class CompactWriter {
  private readonly bytes: number[] = [];
  // Last field id of each open struct: field headers carry the id as a delta from it.
  private readonly lastField: number[] = [0];

  result(): Buffer {
    return Buffer.from(this.bytes);
  }

  private varint(value: bigint): void {
    let v = value;
    while (v >= 0x80n) {
      this.bytes.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.bytes.push(Number(v));
  }

  private zigzag(value: bigint): void {
    this.varint(value >= 0n ? value << 1n : (-value << 1n) - 1n);
  }

  private fieldHeader(id: number, type: number): void {
    const delta = id - this.lastField[this.lastField.length - 1]!;
    if (delta > 0 && delta <= 15) {
      this.bytes.push((delta << 4) | type);
    } else {
      this.bytes.push(type);
      this.zigzag(BigInt(id));
    }
    this.lastField[this.lastField.length - 1] = id;
  }

  i32(id: number, value: number): this {
    this.fieldHeader(id, T_I32);
    this.zigzag(BigInt(value));
    return this;
  }

  i64(id: number, value: number | bigint): this {
    this.fieldHeader(id, T_I64);
    this.zigzag(BigInt(value));
    return this;
  }

  i8(id: number, value: number): this {
    this.fieldHeader(id, T_BYTE);
    this.bytes.push(value & 0xff);
    return this;
  }

  bool(id: number, value: boolean): this {
    this.fieldHeader(id, value ? T_BOOL_TRUE : T_BOOL_FALSE);
    return this;
  }

  string(id: number, value: string): this {
    this.fieldHeader(id, T_BINARY);
    const utf8 = Buffer.from(value, 'utf8');
    this.varint(BigInt(utf8.length));
    for (const b of utf8) this.bytes.push(b);
    return this;
  }

  /** A struct field; `fill` writes its fields. */
  struct(id: number, fill: (w: this) => void): this {
    this.fieldHeader(id, T_STRUCT);
    this.structBody(fill);
    return this;
  }

  private structBody(fill: (w: this) => void): void {
    this.lastField.push(0);
    fill(this);
    this.bytes.push(0); // stop
    this.lastField.pop();
  }

  private listHeader(id: number, size: number, elementType: number): void {
    this.fieldHeader(id, T_LIST);
    if (size < 15) {
      this.bytes.push((size << 4) | elementType);
    } else {
      this.bytes.push(0xf0 | elementType);
      this.varint(BigInt(size));
    }
  }

  listI32(id: number, values: readonly number[]): this {
    this.listHeader(id, values.length, T_I32);
    for (const v of values) this.zigzag(BigInt(v));
    return this;
  }

  listString(id: number, values: readonly string[]): this {
    this.listHeader(id, values.length, T_BINARY);
    for (const v of values) {
      const utf8 = Buffer.from(v, 'utf8');
      this.varint(BigInt(utf8.length));
      for (const b of utf8) this.bytes.push(b);
    }
    return this;
  }

  listStruct<T>(id: number, items: readonly T[], fill: (w: this, item: T) => void): this {
    this.listHeader(id, items.length, T_STRUCT);
    for (const item of items) this.structBody((w) => fill(w, item));
    return this;
  }

  /** The top-level struct of a message (FileMetaData, PageHeader). */
  message(fill: (w: this) => void): Buffer {
    this.structBody(fill);
    return this.result();
  }
}

function physicalType(column: ParquetColumn): number {
  switch (column.type) {
    case 'double':
      return TYPE.DOUBLE;
    case 'float':
      return TYPE.FLOAT;
    case 'int32':
    case 'uint8':
    case 'uint16':
      return TYPE.INT32;
    case 'int64':
      return TYPE.INT64;
    case 'boolean':
      return TYPE.BOOLEAN;
    case 'string':
      return TYPE.BYTE_ARRAY;
  }
}

function checkInteger(column: ParquetColumn, value: number, lo: number, hi: number, row: number): void {
  if (!Number.isInteger(value) || value < lo || value > hi) {
    throw new RangeError(
      `parquet column '${column.name}' (${column.type}) row ${row}: expected an integer in [${lo}, ${hi}], got ${value}`,
    );
  }
}

/** Rows encoded at a time by the streaming writer (a multiple of 8: boolean bits stay whole bytes). */
const CHUNK_ROWS = 1 << 16;

const TWO_32 = 4294967296;

/**
 * PLAIN encoding (little-endian, lengths before byte arrays) of the column's rows `first…end−1`,
 * or of the rows `rows[first…end−1]` when a selection is given. `first` is a multiple of 8 for
 * booleans, whose bits are packed from the first row.
 */
function plainValues(column: ParquetColumn, rows: ArrayLike<number> | null, first: number, end: number): Buffer {
  const n = end - first;
  const at = (i: number): number => (rows === null ? first + i : rows[first + i]!);
  switch (column.type) {
    case 'double': {
      const out = Buffer.alloc(8 * n);
      for (let i = 0; i < n; i++) out.writeDoubleLE(column.values[at(i)]!, 8 * i);
      return out;
    }
    case 'float': {
      const out = Buffer.alloc(4 * n);
      for (let i = 0; i < n; i++) out.writeFloatLE(column.values[at(i)]!, 4 * i);
      return out;
    }
    case 'int32':
    case 'uint8':
    case 'uint16': {
      const [lo, hi] =
        column.type === 'uint8' ? [0, 0xff] : column.type === 'uint16' ? [0, 0xffff] : [-0x80000000, 0x7fffffff];
      const out = Buffer.alloc(4 * n);
      for (let i = 0; i < n; i++) {
        const row = at(i);
        checkInteger(column, column.values[row]!, lo, hi, row);
        out.writeInt32LE(column.values[row]!, 4 * i);
      }
      return out;
    }
    case 'int64': {
      const out = Buffer.alloc(8 * n);
      const values = column.values;
      for (let i = 0; i < n; i++) {
        const row = at(i);
        const v = values[row]!;
        if (typeof v === 'bigint') {
          out.writeBigInt64LE(v, 8 * i);
        } else {
          checkInteger(column, v, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, row);
          // Two's complement as two 32-bit halves (v = hi · 2³² + lo, 0 ≤ lo < 2³²): the same
          // bytes as writeBigInt64LE(BigInt(v)), without a BigInt per value.
          const high = Math.floor(v / TWO_32);
          out.writeUInt32LE(v - high * TWO_32, 8 * i);
          out.writeInt32LE(high, 8 * i + 4);
        }
      }
      return out;
    }
    case 'boolean': {
      const out = Buffer.alloc(Math.ceil(n / 8));
      for (let i = 0; i < n; i++) if (column.values[at(i)]) out[i >> 3]! |= 1 << (i & 7);
      return out;
    }
    case 'string': {
      const parts = Array.from({ length: n }, (_, i) => Buffer.from(column.values[at(i)]!, 'utf8'));
      const out = Buffer.alloc(parts.reduce((sum, p) => sum + 4 + p.length, 0));
      let offset = 0;
      for (const p of parts) {
        out.writeUInt32LE(p.length, offset);
        p.copy(out, offset + 4);
        offset += 4 + p.length;
      }
      return out;
    }
  }
}

/** Bytes of the PLAIN encoding of `nRows` rows of `column` (`rows`: the selection, if any). */
function plainLength(column: ParquetColumn, rows: ArrayLike<number> | null, nRows: number): number {
  switch (column.type) {
    case 'double':
    case 'int64':
      return 8 * nRows;
    case 'float':
    case 'int32':
    case 'uint8':
    case 'uint16':
      return 4 * nRows;
    case 'boolean':
      return Math.ceil(nRows / 8);
    case 'string': {
      let bytes = 0;
      for (let i = 0; i < nRows; i++)
        bytes += 4 + Buffer.byteLength(column.values[rows === null ? i : rows[i]!]!, 'utf8');
      return bytes;
    }
  }
}

/** Throws a RangeError unless every column has `nRows` values and a distinct, non-empty name. */
function checkColumns(columns: readonly ParquetColumn[]): number {
  if (columns.length === 0) throw new RangeError('parquet: a table needs at least one column');
  const nRows = columns[0]!.values.length;
  const names = new Set<string>();
  for (const c of columns) {
    if (c.values.length !== nRows) {
      throw new RangeError(
        `parquet column '${c.name}': expected ${nRows} rows (as '${columns[0]!.name}'), got ${c.values.length}`,
      );
    }
    if (c.name === '' || names.has(c.name)) throw new RangeError(`parquet column name '${c.name}': empty or repeated`);
    names.add(c.name);
  }
  return nRows;
}

const MAGIC = Buffer.from('PAR1', 'ascii');

/** The data page header of a column of `nRows` values in `dataLength` bytes. */
function pageHeader(nRows: number, dataLength: number): Buffer {
  return new CompactWriter().message((w) => {
    w.i32(1, PAGE_DATA)
      .i32(2, dataLength)
      .i32(3, dataLength)
      .struct(5, (d) => {
        d.i32(1, nRows).i32(2, ENCODING_PLAIN).i32(3, ENCODING_RLE).i32(4, ENCODING_RLE);
      });
  });
}

interface ColumnChunk {
  column: ParquetColumn;
  /** Byte offset of the column's page header in the file. */
  pageOffset: number;
  /** Bytes of the page header and the values. */
  size: number;
}

/** The file's end: the footer (FileMetaData), its length and the magic. */
function fileEnd(
  columns: readonly ParquetColumn[],
  chunks: readonly ColumnChunk[],
  nRows: number,
  keyValue: Record<string, string>,
): Buffer[] {
  const totalBytes = chunks.reduce((sum, c) => sum + c.size, 0);
  const footer = new CompactWriter().message((w) => {
    w.i32(1, 1);
    const schema: Array<ParquetColumn | null> = [null, ...columns];
    w.listStruct(2, schema, (s, column) => {
      if (column === null) {
        s.string(4, 'schema').i32(5, columns.length);
        return;
      }
      s.i32(1, physicalType(column)).i32(3, REQUIRED).string(4, column.name);
      if (column.type === 'string') {
        s.i32(6, CONVERTED_UTF8).struct(10, (l) => l.struct(1, () => {}));
      } else if (column.type === 'uint8' || column.type === 'uint16') {
        const [converted, bits] = column.type === 'uint8' ? [CONVERTED_UINT_8, 8] : [CONVERTED_UINT_16, 16];
        s.i32(6, converted).struct(10, (l) => l.struct(10, (i) => i.i8(1, bits).bool(2, false)));
      }
    });
    w.i64(3, nRows);
    w.listStruct(4, [0], (rg) => {
      rg.listStruct(1, chunks, (cc, chunk) => {
        cc.i64(2, chunk.pageOffset).struct(3, (m) => {
          m.i32(1, physicalType(chunk.column))
            .listI32(2, [ENCODING_PLAIN, ENCODING_RLE])
            .listString(3, [chunk.column.name])
            .i32(4, CODEC_UNCOMPRESSED)
            .i64(5, nRows)
            .i64(6, chunk.size)
            .i64(7, chunk.size)
            .i64(9, chunk.pageOffset);
        });
      });
      rg.i64(2, totalBytes).i64(3, nRows).i64(5, MAGIC.length).i64(6, totalBytes);
    });
    const kv = Object.entries(keyValue);
    if (kv.length > 0) w.listStruct(5, kv, (e, [k, v]) => e.string(1, k).string(2, v));
    w.string(6, 'spikeshard parquet writer');
  });
  const length = Buffer.alloc(4);
  length.writeUInt32LE(footer.length);
  return [footer, length, MAGIC];
}

/**
 * The bytes of a Parquet file holding `columns` (all of the same length) as one row group, built
 * whole in memory (small tables; see writeParquet for large ones). `keyValue` goes into the
 * footer's key/value metadata (e.g. provenance).
 */
export function encodeParquet(columns: readonly ParquetColumn[], keyValue: Record<string, string> = {}): Buffer {
  const nRows = checkColumns(columns);
  const parts: Buffer[] = [MAGIC];
  let offset = MAGIC.length;
  const chunks: ColumnChunk[] = [];
  for (const column of columns) {
    const data = plainValues(column, null, 0, nRows);
    const header = pageHeader(nRows, data.length);
    chunks.push({ column, pageOffset: offset, size: header.length + data.length });
    parts.push(header, data);
    offset += header.length + data.length;
  }
  parts.push(...fileEnd(columns, chunks, nRows, keyValue));
  return Buffer.concat(parts);
}

/**
 * Hands the bytes of the Parquet file of `columns` to `write` piece by piece, in order, each
 * column's values encoded CHUNK_ROWS rows at a time: the same bytes as encodeParquet of the
 * selected rows, while only one chunk is encoded at once. `rows`, when given, selects the rows
 * of every column (indices into the columns' values, in the order written), so a table of a
 * subset of spikes needs no copy of its columns.
 */
export function streamParquet(
  columns: readonly ParquetColumn[],
  write: (bytes: Uint8Array) => void,
  keyValue: Record<string, string> = {},
  rows: ArrayLike<number> | null = null,
): void {
  const nValues = checkColumns(columns);
  if (rows !== null) {
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      if (!(Number.isInteger(r) && r >= 0 && r < nValues)) {
        throw new RangeError(`parquet row selection [${i}]: expected a row index in [0, ${nValues}), got ${r}`);
      }
    }
  }
  const nRows = rows === null ? nValues : rows.length;
  write(MAGIC);
  let offset = MAGIC.length;
  const chunks: ColumnChunk[] = [];
  for (const column of columns) {
    const dataLength = plainLength(column, rows, nRows);
    const header = pageHeader(nRows, dataLength);
    write(header);
    let written = 0;
    for (let first = 0; first < nRows; first += CHUNK_ROWS) {
      const data = plainValues(column, rows, first, Math.min(nRows, first + CHUNK_ROWS));
      write(data);
      written += data.length;
    }
    if (written !== dataLength) {
      throw new Error(`parquet column '${column.name}': encoded ${written} bytes, expected ${dataLength}`);
    }
    chunks.push({ column, pageOffset: offset, size: header.length + dataLength });
    offset += header.length + dataLength;
  }
  for (const part of fileEnd(columns, chunks, nRows, keyValue)) write(part);
}

/**
 * Writes `columns` (or their rows `rows`, see streamParquet) as a Parquet file at `file`
 * (atomically: temporary name, fsync, rename), streamed: a table of millions of rows is never
 * held encoded in memory. On a RangeError (a value that does not fit its type) no file is left.
 */
export function writeParquet(
  file: string,
  columns: readonly ParquetColumn[],
  keyValue: Record<string, string> = {},
  rows: ArrayLike<number> | null = null,
): void {
  writeFileAtomicStream(file, (write) => streamParquet(columns, write, keyValue, rows));
}
