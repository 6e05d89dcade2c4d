// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { metaTable, parseSpikeGlxMeta, readSpikeGlxMeta } from '../../../native/lib/index.js';
import { InputError } from '../../../proto/errors.js';
import { tmpDir } from '../../helpers/tmp.js';

test('key=value lines and ~ tables are split into fields', () => {
  const meta = parseSpikeGlxMeta(
    'imSampRate=30000\r\nuserNotes=\n\n~snsChanMap=(2,0,1)(AP0;0:0)(AP1;1:1)(SY0;2:2)\n~imroTbl=(0,2)(0 0 0 500 250 1)(1 1 0 250 250 1)\n',
    'x.meta',
  );
  assert.equal(meta.values.get('imSampRate'), '30000');
  assert.equal(meta.values.get('userNotes'), '');
  assert.deepEqual(metaTable(meta, 'snsChanMap'), {
    header: ['2', '0', '1'],
    entries: [
      ['AP0', '0', '0'],
      ['AP1', '1', '1'],
      ['SY0', '2', '2'],
    ],
  });
  assert.deepEqual(metaTable(meta, 'imroTbl')!.entries[1], ['1', '1', '0', '250', '250', '1']);
  assert.equal(metaTable(meta, 'snsGeomMap'), undefined);
  assert.equal(parseSpikeGlxMeta('\uFEFFnSavedChans=3\n', 'x.meta').values.get('nSavedChans'), '3');
  // IBL's rewritten metas drop the `~` of the tables.
  const ibl = parseSpikeGlxMeta('snsShankMap=(1,2,480)(0:0:0:1)\nimroFile=\n', 'x.meta');
  assert.deepEqual(metaTable(ibl, 'snsShankMap')!.entries, [['0', '0', '0', '1']]);
  assert.equal(ibl.values.has('snsShankMap'), false);
});

function rejects(text: string, pattern: RegExp): void {
  assert.throws(
    () => parseSpikeGlxMeta(text, '/data/x.ap.meta'),
    (e: unknown) => e instanceof InputError && e.file === '/data/x.ap.meta' && pattern.test(e.message),
  );
}

test('empty, garbled and binary files are InputErrors naming the file', () => {
  rejects('', /no key=value lines/);
  rejects('\n\n', /no key=value lines/);
  rejects('nSavedChans=385\nthis is not a meta line\n', /line 2 is not a key=value line/);
  rejects('a\0b=c', /binary file/);
  rejects('imSampRate=1\nimSampRate=2\n', /imSampRate appears twice/);
});

test('malformed tables are InputErrors naming the table', () => {
  const meta = parseSpikeGlxMeta('~imroTbl=(0,384)(0 0 0 500 250 1\n~snsGeomMap=0,1\n', 'x.meta');
  assert.throws(() => metaTable(meta, 'imroTbl'), /~imroTbl/);
  assert.throws(() => metaTable(meta, 'snsGeomMap'), /~snsGeomMap/);
});

test('a missing .meta is an InputError naming it', async () => {
  const { dir, cleanup } = tmpDir();
  try {
    const missing = path.join(dir, 'nothing.ap.meta');
    await assert.rejects(readSpikeGlxMeta(missing), (e: unknown) => {
      return e instanceof InputError && e.file === missing && /no such file/.test(e.message);
    });
    const ok = path.join(dir, 'ok.ap.meta');
    writeFileSync(ok, 'nSavedChans=385\n');
    assert.equal((await readSpikeGlxMeta(ok)).values.get('nSavedChans'), '385');
  } finally {
    cleanup();
  }
});
