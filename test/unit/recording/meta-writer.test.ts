// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spikeGlxMeta } from '../../../native/lib/index.js';
import { metaTable, parseSpikeGlxMeta } from '../../../native/lib/recording/meta-file.js';
import { ParameterError } from '../../../proto/errors.js';

test('spikeGlxMeta writes nSavedChans = nChannels + 1 and tables with one entry per saved channel', () => {
  for (const probeType of ['np1', 'np2', 'np2-4shank'] as const) {
    const text = spikeGlxMeta({ probeType, nChannels: 32, sampleRateHz: 30000, nSamples: 3000, probeIndex: 1 });
    const meta = parseSpikeGlxMeta(text, 'x.meta');
    assert.equal(meta.values.get('nSavedChans'), '33');
    assert.equal(meta.values.get('snsApLfSy'), '32,0,1');
    assert.equal(meta.values.get('fileSizeBytes'), String(3000 * 33 * 2));
    assert.equal(meta.values.get('typeThis'), 'imec');
    assert.equal(metaTable(meta, 'imroTbl')!.entries.length, 384);
    assert.equal(metaTable(meta, 'snsChanMap')!.entries.length, 33);
    assert.equal(metaTable(meta, 'snsGeomMap')!.entries.length, 32);
    assert.equal(metaTable(meta, 'snsShankMap')!.entries.length, 32);
  }
});

test('spikeGlxMeta rejects impossible options with a ParameterError naming the option', () => {
  const base = { probeType: 'np1', nChannels: 32, sampleRateHz: 30000, nSamples: 10 } as const;
  assert.throws(
    () => spikeGlxMeta({ ...base, nChannels: 385 }),
    (e: unknown) => {
      return e instanceof ParameterError && /nChannels/.test(e.message) && /385/.test(e.message);
    },
  );
  assert.throws(() => spikeGlxMeta({ ...base, sampleRateHz: 0 }), ParameterError);
  assert.throws(() => spikeGlxMeta({ ...base, userNotes: 'two\nlines' }), ParameterError);
});
