// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { openRecording, plainLayout, sortingPositions } from '../../../native/lib/index.js';
import { InputError } from '../../../proto/errors.js';
import { tmpDir } from '../../helpers/tmp.js';
import { sampleValue, writeBin } from './fixtures.js';

/** Five columns: channels in columns 3, 1, 0 (in that order), sync in column 2, column 4 unused. */
const description = {
  sampleRateHz: 20000,
  nSavedChannels: 5,
  channels: [
    { column: 3, xUm: 0, yUm: 0, shank: 0 },
    { column: 1, xUm: 20, yUm: 0, shank: 1 },
    { column: 0, xUm: 0, yUm: 25, shank: 1, used: false },
  ],
  uvPerCount: [0.195, 0.195, 0.2],
  syncColumn: 2,
  shankPitchUm: 200,
};

test('a plain .bin + .json reads its channels in the listed order and its sync column', async () => {
  const { dir, cleanup } = tmpDir();
  try {
    const base = path.join(dir, 'tetrodes');
    writeBin(`${base}.bin`, 40, 5);
    writeFileSync(`${base}.json`, JSON.stringify(description));
    for (const p of [`${base}.bin`, `${base}.json`]) {
      const rec = await openRecording(p);
      try {
        const i = rec.info;
        assert.equal(i.format, 'raw');
        assert.equal(i.metaPath, `${base}.json`);
        assert.equal(i.probeLabel, 'tetrodes');
        assert.equal(i.probeType, 'custom');
        assert.equal(i.nChannels, 3);
        assert.equal(i.nSamples, 40);
        assert.equal(i.sampleRateHz, 20000);
        assert.deepEqual(Array.from(i.neuralColumns), [3, 1, 0]);
        assert.deepEqual(Array.from(i.uvPerCount), [0.195, 0.195, 0.2]);
        assert.deepEqual(Array.from(i.geometry.used), [1, 1, 0]);
        assert.deepEqual(Array.from(sortingPositions(i.geometry).xUm), [0, 220, 200]);
        assert.ok(i.problems.some((p) => /1 of the 5 columns/.test(p)));
        const data = await rec.read(7, 10);
        const want: number[] = [];
        for (let t = 7; t < 10; t++) want.push(sampleValue(t, 3), sampleValue(t, 1), sampleValue(t, 0));
        assert.deepEqual(Array.from(data), want);
        assert.deepEqual(
          Array.from(await rec.readSync(7, 10)),
          [7, 8, 9].map((t) => sampleValue(t, 2)),
        );
      } finally {
        await rec.close();
      }
    }
  } finally {
    cleanup();
  }
});

function rejects(doc: unknown, ...patterns: RegExp[]): void {
  assert.throws(
    () => plainLayout(doc, '/d/x.json'),
    (e: unknown) => {
      assert.ok(e instanceof InputError, String(e));
      assert.equal(e.file, '/d/x.json');
      for (const p of patterns) assert.match(e.message, p);
      return true;
    },
  );
}

test('invalid descriptions name the key at fault', () => {
  rejects([], /top level/);
  const without = (key: string): Record<string, unknown> => {
    const d: Record<string, unknown> = { ...description };
    delete d[key];
    return d;
  };
  for (const key of ['sampleRateHz', 'nSavedChannels', 'channels', 'uvPerCount', 'syncColumn']) {
    rejects(without(key), new RegExp(`missing key "${key}"`));
  }
  rejects({ ...description, sampleRate: 1 }, /sampleRate:/, /no unknown keys/);
  rejects({ ...description, sampleRateHz: '30000' }, /sampleRateHz/, /"30000"/);
  rejects({ ...description, nSavedChannels: 2.5 }, /nSavedChannels/);
  rejects({ ...description, syncColumn: 5 }, /syncColumn/, /0 to 4/);
  rejects({ ...description, channels: [] }, /channels/);
  rejects({ ...description, channels: [{ column: 9, xUm: 0, yUm: 0 }] }, /channels\[0\]\.column/);
  rejects({ ...description, channels: [{ column: 2, xUm: 0, yUm: 0 }] }, /other than syncColumn/);
  rejects(
    {
      ...description,
      channels: [
        { column: 0, xUm: 0, yUm: 0 },
        { column: 0, xUm: 1, yUm: 0 },
      ],
    },
    /channels\[1\]\.column/,
    /channels\[0\]/,
  );
  rejects({ ...description, channels: [{ column: 0, xUm: 'a', yUm: 0 }] }, /channels\[0\]\.xUm/);
  rejects({ ...description, channels: [{ column: 0, x: 0, yUm: 0 }] }, /channels\[0\]\.x/);
  rejects({ ...description, uvPerCount: [1, 2] }, /uvPerCount/, /3 numbers/);
  rejects({ ...description, uvPerCount: -1 }, /uvPerCount/);
  rejects({ ...description, shankPitchUm: undefined }, /shankPitchUm/, /2 shanks/);
  rejects({ ...description, probeType: 'np3' }, /probeType/);
});

test('uvPerCount may be one number; probeType names a Neuropixels family', () => {
  const l = plainLayout(
    { ...description, uvPerCount: 2.34375, probeType: 'np1', syncColumn: null, shankPitchUm: 250 },
    'x.json',
  );
  assert.deepEqual(Array.from(l.uvPerCount), [2.34375, 2.34375, 2.34375]);
  assert.equal(l.probeType, 'np1');
  assert.equal(l.syncColumn, null);
  assert.equal(l.geometry.shankPitchUm, 250);
  assert.ok(l.problems.some((p) => /2 of the 5 columns/.test(p)));
});

test('a .json that is not JSON is an InputError', async () => {
  const { dir, cleanup } = tmpDir();
  try {
    writeBin(path.join(dir, 'a.bin'), 4, 5);
    writeFileSync(path.join(dir, 'a.json'), '{ nope');
    await assert.rejects(openRecording(path.join(dir, 'a.bin')), /a\.json: is not valid JSON/);
  } finally {
    cleanup();
  }
});
