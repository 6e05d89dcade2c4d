// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { decodeNpy } from '../../../coordinator/formats/npy.js';
import { encodeNpz } from '../../../coordinator/formats/npz.js';

test('npz: stored ZIP members <name>.npy with CRC-32, central directory and end record', () => {
  const a = Int16Array.from([1, -1, 300, -1]);
  const b = Float64Array.from([0.5]);
  const bytes = Buffer.concat(
    encodeNpz([
      { name: 'channels', data: a, shape: [2, 2] },
      { name: 'x', data: b, shape: [1] },
    ]),
  );
  // First local header at 0: signature, version 2.0, stored, sizes equal, name.
  assert.equal(bytes.readUInt32LE(0), 0x04034b50);
  assert.equal(bytes.readUInt16LE(8), 0);
  const size = bytes.readUInt32LE(18);
  assert.equal(bytes.readUInt32LE(22), size);
  assert.equal(bytes.toString('latin1', 30, 30 + 12), 'channels.npy');
  const body = bytes.subarray(42, 42 + size);
  assert.equal(zlib.crc32(body), bytes.readUInt32LE(14));
  const npy = decodeNpy(body);
  assert.deepEqual(npy.shape, [2, 2]);
  assert.deepEqual(npy.data, a);
  // End record: 2 entries; the central directory starts where the members end and lists both.
  const end = bytes.length - 22;
  assert.equal(bytes.readUInt32LE(end), 0x06054b50);
  assert.equal(bytes.readUInt16LE(end + 10), 2);
  const central = bytes.readUInt32LE(end + 16);
  assert.equal(central + bytes.readUInt32LE(end + 12), end);
  assert.equal(bytes.readUInt32LE(central), 0x02014b50);
  assert.equal(bytes.readUInt32LE(central + 42), 0, 'first member at offset 0');
  // Fixed timestamps: the same arrays give the same bytes.
  assert.deepEqual(
    Buffer.concat(
      encodeNpz([
        { name: 'channels', data: a, shape: [2, 2] },
        { name: 'x', data: b, shape: [1] },
      ]),
    ),
    bytes,
  );
  assert.throws(() => encodeNpz([{ name: '../x', data: b, shape: [1] }]), /member name/);
  assert.throws(
    () =>
      encodeNpz([
        { name: 'x', data: b, shape: [1] },
        { name: 'x', data: b, shape: [1] },
      ]),
    /member name/,
  );
});
