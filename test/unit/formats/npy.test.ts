// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  decodeNpy,
  encodeNpy,
  readNpy,
  writeNpy,
  writeNpyChunks,
  toFloat64,
} from '../../../coordinator/formats/npy.js';
import { InputError } from '../../../proto/errors.js';
import { hasNumpy, python } from '../../helpers/python.js';
import { tmpDir } from '../../helpers/tmp.js';

test('round trip keeps dtype, shape and values for every dtype', () => {
  const cases = [
    new Int8Array([-1, 2]),
    new Uint8Array([1, 255]),
    new Int16Array([-32768, 7]),
    new Uint16Array([65535, 1]),
    new Int32Array([-5, 6]),
    new Uint32Array([4e9, 1]),
    new BigInt64Array([-3n, 1n << 40n]),
    new BigUint64Array([1n << 63n, 0n]),
    new Float32Array([1.5, -2.25]),
    new Float64Array([Math.PI, -0]),
  ];
  for (const data of cases) {
    const back = decodeNpy(encodeNpy(data, [2, 1]));
    assert.deepEqual(back.shape, [2, 1]);
    assert.equal(back.data.constructor, data.constructor);
    assert.deepEqual(Array.from(back.data as ArrayLike<unknown>), Array.from(data as ArrayLike<unknown>));
  }
});

test('the data starts on a 64-byte boundary and the header ends with a newline', () => {
  const buf = encodeNpy(new Float32Array(6), [2, 3]);
  const headerLen = buf.readUInt16LE(8);
  assert.equal((10 + headerLen) % 64, 0);
  assert.equal(buf[10 + headerLen - 1], 0x0a);
  assert.match(buf.subarray(10, 10 + headerLen).toString('latin1'), /'shape': \(2, 3\)/);
});

test('an array written in chunks has the bytes of the array written whole; a short or long one leaves no file', () => {
  const { dir, cleanup } = tmpDir();
  try {
    const data = Float32Array.from({ length: 7 * 3 }, (_, i) => i * 0.5 - 3);
    writeNpy(path.join(dir, 'whole.npy'), data, [7, 3]);
    writeNpyChunks(path.join(dir, 'chunks.npy'), [7, 3], '<f4', (write) => {
      for (const [a, b] of [
        [0, 6],
        [6, 6],
        [6, 15],
        [15, 21],
      ] as const)
        write(data.subarray(a, b));
    });
    assert.deepEqual(readFileSync(path.join(dir, 'chunks.npy')), readFileSync(path.join(dir, 'whole.npy')));
    assert.throws(
      () => writeNpyChunks(path.join(dir, 'short.npy'), [7, 3], '<f4', (write) => write(data.subarray(3))),
      /holds 21 elements, got 18/,
    );
    assert.throws(
      () => writeNpyChunks(path.join(dir, 'long.npy'), [2, 3], '<f4', (write) => write(data)),
      /holds 6 elements, got more/,
    );
    assert.throws(
      () => writeNpyChunks(path.join(dir, 'dtype.npy'), [7, 3], '<f8', (write) => write(data)),
      /dtype <f8 does not match a Float32Array/,
    );
    assert.deepEqual(readdirSync(dir).sort(), ['chunks.npy', 'whole.npy']);
  } finally {
    cleanup();
  }
});

test('1-d and scalar shapes use Python tuple syntax', () => {
  assert.match(encodeNpy(new Int32Array(5), [5]).toString('latin1', 0, 80), /'shape': \(5,\)/);
  assert.match(encodeNpy(new Int32Array(1), []).toString('latin1', 0, 80), /'shape': \(\)/);
});

test('a header over 65535 bytes switches to version 2', () => {
  const shape = new Array<number>(30000).fill(1);
  const buf = encodeNpy(new Uint8Array(1), shape);
  assert.equal(buf[6], 2);
  const back = decodeNpy(buf);
  assert.equal(back.shape.length, 30000);
});

test('Fortran-order input is returned in C order', () => {
  const dict = "{'descr': '<i4', 'fortran_order': True, 'shape': (2, 3), }";
  const headerLen = Math.ceil((10 + dict.length + 1) / 64) * 64 - 10;
  const header = Buffer.alloc(10 + headerLen, 0x20);
  header.write('\x93NUMPY', 0, 'latin1');
  header[6] = 1;
  header.writeUInt16LE(headerLen, 8);
  header.write(dict, 10, 'latin1');
  header[header.length - 1] = 0x0a;
  // column-major bytes of [[1,2,3],[4,5,6]]
  const body = Buffer.from(new Int32Array([1, 4, 2, 5, 3, 6]).buffer);
  const back = decodeNpy(Buffer.concat([header, body]));
  assert.deepEqual(Array.from(back.data as Int32Array), [1, 2, 3, 4, 5, 6]);
});

test('bad files give InputError naming the file', () => {
  const { dir, cleanup } = tmpDir();
  try {
    const bad = path.join(dir, 'bad.npy');
    writeFileSync(bad, 'hello world');
    assert.throws(
      () => readNpy(bad),
      (e: unknown) => e instanceof InputError && e.message.includes('bad.npy'),
    );
    const truncated = path.join(dir, 'short.npy');
    writeFileSync(truncated, encodeNpy(new Float64Array(10), [10]).subarray(0, 100));
    assert.throws(() => readNpy(truncated), /truncated/);
    assert.throws(() => readNpy(path.join(dir, 'missing.npy')), /missing\.npy: cannot read/);
  } finally {
    cleanup();
  }
});

test('toFloat64 converts int64 and rejects values beyond 2^53', () => {
  const ok = toFloat64(decodeNpy(encodeNpy(new BigUint64Array([5n, 7n]), [2])));
  assert.deepEqual(Array.from(ok), [5, 7]);
  assert.throws(() => toFloat64(decodeNpy(encodeNpy(new BigUint64Array([1n << 60n]), [1]))), /does not fit/);
});

test(
  'numpy reads what we write and we read what numpy writes',
  { skip: !hasNumpy() && 'python3 with numpy not available' },
  () => {
    const { dir, cleanup } = tmpDir();
    try {
      const ours = path.join(dir, 'ours.npy');
      writeNpy(ours, new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
      const desc = python(
        `import numpy as np; a=np.load(${JSON.stringify(ours)}, mmap_mode='r'); print(a.dtype, a.shape, a[1,2])`,
      );
      assert.equal(desc.trim(), 'float32 (2, 3) 6.0');
      const theirs = path.join(dir, 'theirs.npy');
      python(
        `import numpy as np; np.save(${JSON.stringify(theirs)}, np.asfortranarray(np.arange(12, dtype='<u8').reshape(3, 4)))`,
      );
      const back = readNpy(theirs);
      assert.deepEqual(back.shape, [3, 4]);
      assert.deepEqual(
        Array.from(toFloat64(back)),
        Array.from({ length: 12 }, (_, i) => i),
      );
    } finally {
      cleanup();
    }
  },
);
