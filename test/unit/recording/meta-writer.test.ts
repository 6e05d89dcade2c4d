// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spikeGlxLayout, spikeGlxMeta, type RecordingLayout } from '../../../native/lib/index.js';
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

/** The layout of a meta text, with some tables removed to force another geometry source. */
function layoutWithout(text: string, ...tables: string[]): RecordingLayout {
  const kept = text
    .split('\n')
    .filter((line) => !tables.some((t) => line.startsWith(`~${t}=`)))
    .join('\n');
  return spikeGlxLayout(parseSpikeGlxMeta(kept, 'sim.ap.meta'));
}

test('spikeGlxMeta round trip: the parser reads back channels, rate, gains and one geometry from all three tables', () => {
  const uv = { np1: 2.34375, np2: (0.62 / 2048 / 100) * 1e6, 'np2-4shank': (0.62 / 2048 / 100) * 1e6 };
  for (const probeType of ['np1', 'np2', 'np2-4shank'] as const) {
    for (const nChannels of [1, 32, 64, 384]) {
      const what = `${probeType} × ${nChannels}`;
      const text = spikeGlxMeta({ probeType, nChannels, sampleRateHz: 30000.5, nSamples: 1234, probeIndex: 2 });
      const l = layoutWithout(text);
      assert.equal(l.probeType, probeType, what);
      assert.equal(l.nSavedChannels, nChannels + 1, what);
      assert.equal(l.neuralColumns.length, nChannels, what);
      assert.equal(l.syncColumn, nChannels, what);
      assert.equal(l.sampleRateHz, 30000.5, what);
      assert.equal(l.declaredFileBytes, 1234 * (nChannels + 1) * 2, what);
      for (const v of l.uvPerCount) assert.equal(v, uv[probeType], what);
      assert.deepEqual(l.problems, [], what);
      assert.equal(l.geometry.source, 'snsGeomMap');
      const fromShankMap = layoutWithout(text, 'snsGeomMap');
      const fromImro = layoutWithout(text, 'snsGeomMap', 'snsShankMap');
      assert.equal(fromShankMap.geometry.source, 'snsShankMap');
      assert.equal(fromImro.geometry.source, 'imroTbl');
      for (const other of [fromShankMap.geometry, fromImro.geometry]) {
        for (const key of ['xUm', 'yUm', 'shank', 'used'] as const) {
          assert.deepEqual(other[key], l.geometry[key], `${what} ${key} from ${other.source}`);
        }
        assert.equal(other.shankPitchUm, l.geometry.shankPitchUm);
      }
    }
  }
});

test('spikeGlxMeta sites: bank 0 from the tip on one shank; equal blocks on four shanks', () => {
  const np1 = layoutWithout(spikeGlxMeta({ probeType: 'np1', nChannels: 4, sampleRateHz: 30000, nSamples: 1 }));
  assert.deepEqual(Array.from(np1.geometry.xUm), [27, 59, 11, 43]);
  assert.deepEqual(Array.from(np1.geometry.yUm), [0, 0, 20, 20]);
  const np1Full = layoutWithout(spikeGlxMeta({ probeType: 'np1', nChannels: 384, sampleRateHz: 30000, nSamples: 1 }));
  assert.equal(np1Full.geometry.used[191], 0);

  const four = layoutWithout(
    spikeGlxMeta({ probeType: 'np2-4shank', nChannels: 64, sampleRateHz: 30000, nSamples: 1 }),
  );
  assert.equal(four.geometry.nShanks, 4);
  assert.equal(four.geometry.shankPitchUm, 250);
  const perShank = [0, 0, 0, 0];
  for (const s of four.geometry.shank) perShank[s]!++;
  assert.deepEqual(perShank, [16, 16, 16, 16]);
  // channel 16 is the first site of shank 1: bottom-left.
  assert.deepEqual([four.geometry.shank[16], four.geometry.xUm[16], four.geometry.yUm[16]], [1, 27, 0]);
  assert.equal(four.geometry.yUm[15], 105);
});
