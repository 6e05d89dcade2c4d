// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { decodeRecord, encodeRecord, readRecord, writeRecord } from '../../../coordinator/formats/record.js';
import { InputError } from '../../../proto/errors.js';
import { tmpDir } from '../../helpers/tmp.js';

const odd = new Float64Array([0.1, -0, NaN, Infinity, -Infinity, 5e-324, Number.MAX_VALUE]);

function sample(): unknown {
  return {
    n: 3,
    nsp: [0.1 + 0.2, -0, NaN, 1e300],
    flag: true,
    name: 'imec0',
    none: null,
    odd,
    f32: Float32Array.from([1.5, -2.25, 3e-40]),
    nested: {
      ints: Int32Array.from([-1, 2, 2147483647]),
      bytes: Uint8Array.from([1, 2, 3]),
      empty: new Float32Array(0),
    },
    list: [new Float64Array([1, 2]), null, Int16Array.from([-32768, 32767])],
    big: BigInt64Array.from([-(2n ** 62n), 7n]),
  };
}

function bitsEqual(a: unknown, b: unknown, where = 'value'): void {
  if (ArrayBuffer.isView(a)) {
    assert.ok(ArrayBuffer.isView(b), where);
    assert.equal(b.constructor, a.constructor, where);
    assert.deepEqual(
      Buffer.from(b.buffer, b.byteOffset, b.byteLength),
      Buffer.from(a.buffer, a.byteOffset, a.byteLength),
      where,
    );
  } else if (Array.isArray(a)) {
    assert.ok(Array.isArray(b), where);
    assert.equal(b.length, a.length, where);
    a.forEach((x, i) => bitsEqual(x, (b as unknown[])[i], `${where}[${i}]`));
  } else if (a !== null && typeof a === 'object') {
    const o = b as Record<string, unknown>;
    assert.deepEqual(Object.keys(o).sort(), Object.keys(a).sort(), where);
    for (const [k, x] of Object.entries(a)) bitsEqual(x, o[k], `${where}.${k}`);
  } else {
    assert.ok(Object.is(a, b), `${where}: ${String(a)} vs ${String(b)}`);
  }
}

test('records reload typed arrays and numbers bit for bit, NaN and −0 included', () => {
  const value = sample();
  const bytes = Buffer.concat(encodeRecord('test/kind', value));
  const back = decodeRecord(bytes);
  assert.equal(back.kind, 'test/kind');
  bitsEqual(value, back.value);
  // Typed arrays start on 8-byte boundaries of the data section, so a reader can map them in place.
  const headerBytes = bytes.readUInt32LE(8);
  assert.equal(headerBytes % 8, 0);
  assert.equal(bytes[7], 1);
});

test('a record written to disk is read back and its kind checked', () => {
  const { dir, cleanup } = tmpDir('spikeshard-record-');
  try {
    const file = path.join(dir, 'a.rec');
    writeRecord(file, 'extraction/batch', { samples: Float64Array.from([10, 20]) });
    bitsEqual({ samples: Float64Array.from([10, 20]) }, readRecord(file, 'extraction/batch'));
    assert.throws(() => readRecord(file, 'drift/state'), /record kind expected drift\/state/);
  } finally {
    cleanup();
  }
});

test('damaged, truncated and foreign records are refused with the file named', () => {
  const { dir, cleanup } = tmpDir('spikeshard-record-');
  try {
    const file = path.join(dir, 'b.rec');
    writeRecord(file, 'k', { x: Float32Array.from([1, 2, 3, 4]) });
    const good = readFileSync(file);
    const flipped = Buffer.from(good);
    flipped.writeUInt8(flipped.readUInt8(flipped.length - 2) ^ 1, flipped.length - 2);
    writeFileSync(file, flipped);
    assert.throws(
      () => readRecord(file, 'k'),
      (e: unknown) => e instanceof InputError && /SHA-256/.test(e.message),
    );
    writeFileSync(file, good.subarray(0, good.length - 4));
    assert.throws(() => readRecord(file, 'k'), /expected 16 bytes, got "?12 bytes/);
    writeFileSync(file, 'not a record at all');
    assert.throws(() => readRecord(file, 'k'), /bad magic/);
    assert.throws(() => encodeRecord('k', { $x: 1 }), /reserved/);
    assert.throws(() => encodeRecord('k', { f: () => 1 }), /cannot hold/);
  } finally {
    cleanup();
  }
});

test('the record format on disk is pinned: every dtype name and byte', () => {
  const value = {
    i1: Int8Array.from([-1, 2]),
    u1: Uint8Array.from([255]),
    i2: Int16Array.from([-32768]),
    u2: Uint16Array.from([65535]),
    i4: Int32Array.from([-7]),
    u4: Uint32Array.from([4294967295]),
    f4: Float32Array.from([0.5]),
    f8: Float64Array.from([-0, NaN]),
    i8: BigInt64Array.from([-5n]),
    u8: BigUint64Array.from([2n ** 64n - 1n]),
    x: 0.1,
  };
  const bytes = Buffer.concat(encodeRecord('golden', value));
  const header = JSON.parse(bytes.subarray(16, 16 + bytes.readUInt32LE(8)).toString('utf8')) as {
    value: Record<string, { $array?: string }>;
  };
  for (const name of Object.keys(value).filter((k) => k !== 'x')) assert.equal(header.value[name]!.$array, name);
  // Digest of the bytes written before the dtype table moved to npy.ts: a run folder written by
  // either version resumes with the other.
  assert.equal(
    createHash('sha256').update(bytes).digest('hex'),
    '1040f8cb82f660a676d17343f0989ca34cdb1117506a266a619c08335a94387b',
  );
  bitsEqual(value, decodeRecord(bytes).value);
  // Names a record never writes are refused, not mapped to some array type.
  const headerBytes = bytes.readUInt32LE(8);
  for (const bad of ['b1', 'f2', 'constructor', '<f4']) {
    const forged = JSON.parse(bytes.subarray(16, 16 + headerBytes).toString('utf8')) as typeof header;
    forged.value['f4']!.$array = bad;
    let text = Buffer.from(JSON.stringify(forged), 'utf8');
    text = Buffer.concat([text, Buffer.alloc((8 - (text.length % 8)) % 8, 0x20)]);
    const prefix = Buffer.from(bytes.subarray(0, 16));
    prefix.writeUInt32LE(text.length, 8);
    const record = Buffer.concat([prefix, text, bytes.subarray(16 + headerBytes)]);
    assert.throws(() => decodeRecord(record), /does not fit the data section/, bad);
  }
});
