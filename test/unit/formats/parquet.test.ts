// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { encodeParquet, writeParquet, type ParquetColumn } from '../../../coordinator/formats/parquet.js';
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
