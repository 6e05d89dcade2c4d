// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import {
  encodeParquet,
  streamParquet,
  writeParquet,
  type ParquetColumn,
} from '../../../coordinator/formats/parquet.js';
import { tmpDir } from '../../helpers/tmp.js';

function arrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

async function readBack(bytes: Uint8Array): Promise<Record<string, unknown>[]> {
  return (await parquetReadObjects({ file: arrayBuffer(bytes) })) as Record<string, unknown>[];
}

const COLUMNS: ParquetColumn[] = [
  { name: 'cluster_id', type: 'int64', values: [0, 1, 2, -3, 2 ** 40] },
  { name: 'amp', type: 'double', values: [1.5e-5, NaN, -0.25, Infinity, 0] },
  { name: 'n', type: 'int32', values: [0, -1, 2147483647, -2147483648, 7] },
  { name: 'bitwise_fail', type: 'uint8', values: [0, 1, 7, 255, 4] },
  { name: 'clusters', type: 'uint16', values: [0, 65535, 3, 40000, 1] },
  { name: 'amps', type: 'float', values: [0.5, -2, 1e-5, NaN, 3] },
  { name: 'ok', type: 'boolean', values: [true, false, false, true, true] },
  { name: 'ks2_label', type: 'string', values: ['good', 'mua', '', 'µV ünïcode', 'good'] },
];

test('hyparquet reads back every column type, values and names exactly', async () => {
  const rows = await readBack(encodeParquet(COLUMNS));
  assert.equal(rows.length, 5);
  assert.deepEqual(
    Object.keys(rows[0]!),
    COLUMNS.map((c) => c.name),
  );
  for (const column of COLUMNS) {
    const got = rows.map((r) => r[column.name]);
    const want = Array.from(column.values as ArrayLike<unknown>, (v) =>
      column.type === 'int64' ? BigInt(v as number) : column.type === 'float' ? Math.fround(v as number) : v,
    );
    assert.deepEqual(got, want, column.name);
  }
});

test('the footer declares one row group, REQUIRED columns, PLAIN pages and the logical types', () => {
  const bytes = encodeParquet(COLUMNS, { source: 'test' });
  assert.equal(bytes.subarray(0, 4).toString('ascii'), 'PAR1');
  assert.equal(bytes.subarray(-4).toString('ascii'), 'PAR1');
  const meta = parquetMetadata(arrayBuffer(bytes));
  assert.equal(meta.num_rows, 5n);
  assert.equal(meta.row_groups.length, 1);
  assert.deepEqual(
    meta.schema.slice(1).map((s) => [s.name, s.type, s.repetition_type]),
    [
      ['cluster_id', 'INT64', 'REQUIRED'],
      ['amp', 'DOUBLE', 'REQUIRED'],
      ['n', 'INT32', 'REQUIRED'],
      ['bitwise_fail', 'INT32', 'REQUIRED'],
      ['clusters', 'INT32', 'REQUIRED'],
      ['amps', 'FLOAT', 'REQUIRED'],
      ['ok', 'BOOLEAN', 'REQUIRED'],
      ['ks2_label', 'BYTE_ARRAY', 'REQUIRED'],
    ],
  );
  assert.equal(meta.schema[4]!.converted_type, 'UINT_8');
  assert.equal(meta.schema[5]!.converted_type, 'UINT_16');
  assert.equal(meta.schema[8]!.converted_type, 'UTF8');
  assert.deepEqual(meta.key_value_metadata, [{ key: 'source', value: 'test' }]);
  for (const chunk of meta.row_groups[0]!.columns) {
    assert.equal(chunk.meta_data!.codec, 'UNCOMPRESSED');
    assert.equal(chunk.meta_data!.num_values, 5n);
  }
});

test('many rows (list headers and varints past one byte), zero rows, and the file on disk', async () => {
  const n = 1000;
  const many: ParquetColumn[] = [
    { name: 'i', type: 'int64', values: Array.from({ length: n }, (_, i) => i) },
    { name: 'x', type: 'double', values: Float64Array.from({ length: n }, (_, i) => Math.sqrt(i)) },
    { name: 'b', type: 'boolean', values: Array.from({ length: n }, (_, i) => i % 3 === 0) },
  ];
  const rows = await readBack(encodeParquet(many));
  assert.equal(rows.length, n);
  assert.equal(rows[999]!['x'], Math.sqrt(999));
  assert.equal(rows[999]!['b'], true);
  assert.equal(rows[998]!['b'], false);

  const empty = await readBack(encodeParquet([{ name: 'a', type: 'double', values: [] }]));
  assert.equal(empty.length, 0);

  const { dir, cleanup } = tmpDir();
  try {
    const file = path.join(dir, 't.pqt');
    writeParquet(file, COLUMNS.slice(0, 2));
    const fromDisk = await readBack(readFileSync(file));
    assert.equal(fromDisk[1]!['cluster_id'], 1n);
  } finally {
    cleanup();
  }
});

test('bad tables are refused with the column named', () => {
  assert.throws(() => encodeParquet([]), /at least one column/);
  assert.throws(
    () =>
      encodeParquet([
        { name: 'a', type: 'double', values: [1, 2] },
        { name: 'b', type: 'double', values: [1] },
      ]),
    /column 'b': expected 2 rows/,
  );
  assert.throws(() => encodeParquet([{ name: 'u', type: 'uint8', values: [256] }]), /'u' \(uint8\) row 0/);
  assert.throws(() => encodeParquet([{ name: 'i', type: 'int32', values: [1.5] }]), /'i' \(int32\)/);
  assert.throws(
    () =>
      encodeParquet([
        { name: 'a', type: 'double', values: [1] },
        { name: 'a', type: 'double', values: [1] },
      ]),
    /repeated/,
  );
});

test("the streamed writer gives encodeParquet's bytes, over several chunks and for a row selection", async () => {
  // 150 001 rows: three chunks of the streamed encoder, the last one not a whole byte of booleans.
  const n = 150_001;
  const big = [-3, 2 ** 40, -(2 ** 53 - 1), 2 ** 53 - 1, 0, -1, 2 ** 32, -(2 ** 32)];
  const columns: ParquetColumn[] = [
    { name: 'times', type: 'double', values: Float64Array.from({ length: n }, (_, i) => i / 30000 + 1e-9 * (i % 7)) },
    { name: 'clusters', type: 'uint16', values: Uint32Array.from({ length: n }, (_, i) => (i * 7919) % 65536) },
    { name: 'amps', type: 'float', values: Float64Array.from({ length: n }, (_, i) => Math.sin(i) * 1e-4) },
    {
      name: 'samples',
      type: 'int64',
      values: Float64Array.from({ length: n }, (_, i) => (i < big.length ? big[i]! : (i % 2 ? -i : i) * 2 ** 20)),
    },
    { name: 'n', type: 'int32', values: Int32Array.from({ length: n }, (_, i) => (i % 2 ? -i : i)) },
    { name: 'ok', type: 'boolean', values: Array.from({ length: n }, (_, i) => i % 3 === 0 || i % 11 === 0) },
    { name: 'label', type: 'string', values: Array.from({ length: n }, (_, i) => (i % 5 ? 'good' : 'mµa')) },
  ];
  const streamed = (cols: ParquetColumn[], rows: ArrayLike<number> | null = null): Buffer => {
    const parts: Uint8Array[] = [];
    streamParquet(cols, (bytes) => parts.push(Uint8Array.from(bytes)), { k: 'v' }, rows);
    return Buffer.concat(parts);
  };
  assert.ok(streamed(columns).equals(encodeParquet(columns, { k: 'v' })), 'all rows');
  // int64 values are written as two 32-bit halves: the extremes read back as the BigInts they are.
  const extremes = await readBack(streamed([{ name: 'i', type: 'int64', values: big }]));
  assert.deepEqual(
    extremes.map((r) => r['i']),
    big.map((v) => BigInt(v)),
  );

  const rows = Int32Array.from({ length: n }, (_, i) => i).filter((i) => (i * 2654435761) % 97 < 60);
  const picked = columns.map((c): ParquetColumn => {
    const values = Array.from(rows, (r) => (c.values as ArrayLike<unknown>)[r]);
    return { ...c, values } as ParquetColumn;
  });
  assert.ok(streamed(columns, rows).equals(encodeParquet(picked, { k: 'v' })), 'selected rows');
  assert.ok(
    streamed(columns, new Int32Array(0)).equals(
      encodeParquet(
        picked.map((c) => ({ ...c, values: [] })),
        { k: 'v' },
      ),
    ),
    'no rows',
  );

  const { dir, cleanup } = tmpDir();
  try {
    const file = path.join(dir, 'sel.pqt');
    writeParquet(file, columns, { k: 'v' }, rows);
    assert.ok(readFileSync(file).equals(encodeParquet(picked, { k: 'v' })), 'on disk');
    // A value out of its type's range found while streaming: no file, no temporary left.
    const bad = path.join(dir, 'bad.pqt');
    const tooBig = Uint32Array.from({ length: n }, (_, i) => (i === n - 1 ? 70000 : 1));
    assert.throws(
      () => writeParquet(bad, [{ name: 'c', type: 'uint16', values: tooBig }]),
      /'c' \(uint16\) row 150000/,
    );
    assert.equal(existsSync(bad), false);
    assert.deepEqual(readdirSync(dir), ['sel.pqt']);
    assert.throws(() => writeParquet(bad, columns, {}, [0, n]), /row selection \[1\]/);
  } finally {
    cleanup();
  }
});
