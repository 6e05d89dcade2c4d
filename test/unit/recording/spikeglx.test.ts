// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseSpikeGlxMeta,
  sortingPositions,
  spikeGlxLayout,
  type RecordingLayout,
} from '../../../native/lib/index.js';
import { InputError } from '../../../proto/errors.js';
import {
  fourShankSites,
  metaText,
  np1ImroOnlyMeta,
  np1Meta,
  np1OldMeta,
  np24Meta,
  np2Meta,
  np3aMeta,
  type MetaLines,
} from './fixtures.js';

const layoutOf = (lines: MetaLines): RecordingLayout =>
  spikeGlxLayout(parseSpikeGlxMeta(metaText(lines), 'probe.ap.meta'));

/** Asserts an InputError naming the meta file and matching every pattern. */
function rejects(lines: MetaLines, ...patterns: RegExp[]): void {
  assert.throws(
    () => layoutOf(lines),
    (err: unknown) => {
      assert.ok(err instanceof InputError, `expected an InputError, got ${String(err)}`);
      assert.equal(err.file, 'probe.ap.meta');
      for (const p of patterns) assert.match(err.message, p);
      return true;
    },
  );
}

test('NP1.0 with ~snsGeomMap: 384 neural channels + sync, 30 kHz, 2.34375 µV/count, staggered sites', () => {
  const l = layoutOf(np1Meta(100));
  assert.equal(l.probeType, 'np1');
  assert.equal(l.probeTypeCode, 0);
  assert.equal(l.nSavedChannels, 385);
  assert.equal(l.neuralColumns.length, 384);
  assert.equal(l.neuralColumns[383], 383);
  assert.equal(l.syncColumn, 384);
  assert.equal(l.sampleRateHz, 30000);
  assert.equal(l.uvPerCount.length, 384);
  for (const v of l.uvPerCount) assert.equal(v, 2.34375);
  const g = l.geometry;
  assert.equal(g.source, 'snsGeomMap');
  assert.deepEqual(Array.from(g.xUm.subarray(0, 4)), [27, 59, 11, 43]);
  assert.deepEqual(Array.from(g.yUm.subarray(0, 4)), [0, 0, 20, 20]);
  assert.equal(g.yUm[383], 3820);
  assert.equal(g.used[191], 0, 'channel 191 is the NP1.0 reference site');
  assert.equal(g.used[190], 1);
  assert.equal(g.nShanks, 1);
  assert.deepEqual(l.problems, []);
});

test('NP1.0 geometry from ~snsShankMap (older SpikeGLX) and from ~imroTbl alone equals the geomMap one', () => {
  const fromGeom = layoutOf(np1Meta(100)).geometry;
  const fromShank = layoutOf(np1OldMeta(100));
  const fromImro = layoutOf(np1ImroOnlyMeta(100));
  assert.equal(fromShank.geometry.source, 'snsShankMap');
  assert.equal(fromImro.geometry.source, 'imroTbl');
  for (const g of [fromShank.geometry, fromImro.geometry]) {
    assert.deepEqual(g.xUm, fromGeom.xUm);
    assert.deepEqual(g.yUm, fromGeom.yUm);
    assert.deepEqual(g.used, fromGeom.used);
    assert.deepEqual(g.shank, fromGeom.shank);
  }
  // Gains come from the imro table (field 4) when imChan0apGain is absent.
  for (const v of fromImro.uvPerCount) assert.equal(v, 2.34375);
  assert.ok(fromImro.problems.some((p) => /derived from ~imroTbl/.test(p)));
});

test('NP1.0 imro bank 1 moves a channel up 384 electrodes; per-channel gains follow the imro table', () => {
  const m = np1ImroOnlyMeta(100);
  m['~imroTbl'] = m['~imroTbl']!.replace('(0 0 0 500 250 1)', '(0 1 0 250 250 1)');
  const l = layoutOf(m);
  // electrode 384: row 192 (even), column 0.
  assert.equal(l.geometry.xUm[0], 27);
  assert.equal(l.geometry.yUm[0], 3840);
  assert.equal(l.uvPerCount[0], 4.6875);
  assert.equal(l.uvPerCount[1], 2.34375);
});

test('phase 3A: 3-field imro header, no imDatPrb_type, no imMaxInt, reads as NP1.0', () => {
  const l = layoutOf(np3aMeta(100));
  assert.equal(l.probeType, 'np1');
  assert.match(l.probeName, /3A/);
  assert.equal(l.uvPerCount[0], 2.34375);
  assert.deepEqual(Array.from(l.geometry.xUm.subarray(0, 4)), [27, 59, 11, 43]);
  assert.equal(l.geometry.used[36], 0);
  assert.equal(l.geometry.used[379], 0);
  const imroOnly = np3aMeta(100);
  delete imroOnly['~snsShankMap'];
  const derived = layoutOf(imroOnly).geometry;
  assert.deepEqual(derived.xUm, l.geometry.xUm);
  assert.deepEqual(derived.yUm, l.geometry.yUm);
  assert.deepEqual(derived.used, l.geometry.used);
});

test('NP2.0 single-shank (2003): 3.0273 µV/count, unstaggered 15 µm rows, calibrated sample rate', () => {
  const l = layoutOf(np2Meta(100));
  assert.equal(l.probeType, 'np2');
  assert.equal(l.sampleRateHz, 30000.0521);
  assert.equal(l.syncColumn, 384);
  assert.ok(Math.abs(l.uvPerCount[0]! - 3.0273) < 1e-4);
  assert.equal(l.uvPerCount[0], (0.62 / 2048 / 100) * 1e6);
  assert.deepEqual(Array.from(l.geometry.xUm.subarray(0, 4)), [27, 59, 27, 59]);
  assert.deepEqual(Array.from(l.geometry.yUm.subarray(0, 4)), [0, 0, 15, 15]);
  assert.equal(l.geometry.shankPitchUm, 0);
});

test('NP2.0 gains: fixed 100 without imChan0apGain; prototype 21 uses 0.5 V / 8192 / 80', () => {
  const commercial = np2Meta(100);
  delete commercial['imChan0apGain'];
  assert.equal(layoutOf(commercial).uvPerCount[5], (0.62 / 2048 / 100) * 1e6);

  const prototype = np2Meta(100);
  delete prototype['imChan0apGain'];
  delete prototype['imMaxInt'];
  prototype['imDatPrb_type'] = '21';
  prototype['imAiRangeMax'] = '0.5';
  prototype['~imroTbl'] = prototype['~imroTbl']!.replace('(2003,384)', '(21,384)');
  delete prototype['~snsGeomMap'];
  const l = layoutOf(prototype);
  assert.ok(Math.abs(l.uvPerCount[0]! - 0.7629) < 1e-4);
  // The prototypes wire channel 127 to a reference site.
  assert.equal(l.geometry.used[127], 0);
  assert.equal(l.geometry.used[126], 1);
  assert.ok(l.problems.some((p) => /imMaxInt is missing; assumed 8192/.test(p)));
});

test('NP2.0 four-shank (2013): shank from the geomMap, x within the shank, 250 µm pitch in sorting positions', () => {
  const l = layoutOf(np24Meta(100));
  assert.equal(l.probeType, 'np2-4shank');
  assert.equal(l.geometry.nShanks, 4);
  assert.equal(l.geometry.shankPitchUm, 250);
  const g = l.geometry;
  // channel 48 is electrode 0 of shank 1; channel 96 is electrode 48 of shank 0 (row 24).
  assert.deepEqual([g.shank[48], g.xUm[48], g.yUm[48]], [1, 27, 0]);
  assert.deepEqual([g.shank[96], g.xUm[96], g.yUm[96]], [0, 27, 360]);
  assert.deepEqual([g.shank[383], g.xUm[383], g.yUm[383]], [3, 59, 705]);
  const pos = sortingPositions(g);
  assert.equal(pos.xUm[48], 277);
  assert.equal(pos.xUm[200], fourShankSites()[200]!.shank * 250 + g.xUm[200]!);
  assert.equal(pos.xUm[383], 750 + 59);
  assert.equal(pos.yUm[383], 705);
  assert.ok(Math.abs(l.uvPerCount[0]! - 3.0273) < 1e-4);

  const imroOnly = np24Meta(100);
  delete imroOnly['~snsGeomMap'];
  const derived = layoutOf(imroOnly).geometry;
  assert.deepEqual(derived.xUm, g.xUm);
  assert.deepEqual(derived.yUm, g.yUm);
  assert.deepEqual(derived.shank, g.shank);
  assert.equal(derived.shankPitchUm, 250);
});

test('a saved subset of channels: geometry and gains follow snsSaveChanSubset', () => {
  const m = np1ImroOnlyMeta(100);
  m['nSavedChans'] = '5';
  m['snsApLfSy'] = '4,0,1';
  m['snsSaveChanSubset'] = '10:12,200,768';
  m['~snsChanMap'] = '(384,384,1)(AP10;10:10)(AP11;11:11)(AP12;12:12)(AP200;200:200)(SY0;768:768)';
  m['~imroTbl'] = m['~imroTbl']!.replace('(200 0 0 500 250 1)', '(200 0 0 1000 250 1)');
  const l = layoutOf(m);
  assert.equal(l.neuralColumns.length, 4);
  assert.equal(l.syncColumn, 4);
  assert.deepEqual(Array.from(l.geometry.xUm), [11, 43, 27, 27]);
  assert.deepEqual(Array.from(l.geometry.yUm), [100, 100, 120, 2000]);
  assert.deepEqual(Array.from(l.uvPerCount), [2.34375, 2.34375, 2.34375, 1.171875]);
});

test('missing required keys are named', () => {
  for (const key of ['nSavedChans', 'imSampRate', 'snsApLfSy']) {
    const m = np1Meta(100);
    delete m[key];
    rejects(m, new RegExp(`missing key ${key}`));
  }
});

test('unparsable numbers are named with the value found', () => {
  rejects({ ...np1Meta(100), imSampRate: '30k' }, /imSampRate/, /"30k"/);
  rejects({ ...np1Meta(100), nSavedChans: '385.5' }, /nSavedChans/, /385\.5/);
  rejects({ ...np1Meta(100), snsApLfSy: '384,0' }, /snsApLfSy/, /3 comma-separated numbers/);
  rejects({ ...np1Meta(100), imAiRangeMax: '' }, /imAiRangeMax/);
});

test('channel counts that disagree name both numbers', () => {
  rejects({ ...np1Meta(100), nSavedChans: '386' }, /nSavedChans=386/, /adds up to 385/);
  const geom = np1Meta(100);
  geom['~snsGeomMap'] = geom['~snsGeomMap']!.replace(/\(0:43:3820:1\)$/, '');
  rejects(geom, /~snsGeomMap has 383 entries/, /384 AP channels/);
  const imro = np1Meta(100);
  imro['~imroTbl'] = imro['~imroTbl']!.replace('(0,384)', '(0,383)').replace('(383 0 0 500 250 1)', '');
  rejects(imro, /~imroTbl has 383 entries/, /384 AP channels were acquired/);
  const chanMap = np1Meta(100);
  chanMap['~snsChanMap'] = chanMap['~snsChanMap']!.replace('(SY0;768:768)', '');
  rejects(chanMap, /~snsChanMap has 384 entries but nSavedChans=385/);
  const all = np1Meta(100);
  delete all['acqApLfSy'];
  all['snsSaveChanSubset'] = 'all';
  all['~imroTbl'] = all['~imroTbl']!.replace('(0,384)', '(0,385)') + '(384 0 0 500 250 1)';
  rejects(all, /~imroTbl has 385 entries but snsApLfSy says the file holds 384 AP channels/);
  rejects({ ...np1Meta(100), snsSaveChanSubset: '0:382,768' }, /snsSaveChanSubset=0:382,768 lists 384 channels/);
});

test('unknown probe types are named', () => {
  rejects({ ...np1Meta(100), imDatPrb_type: '1100' }, /imDatPrb_type=1100/, /not supported/);
  const noType = np1Meta(100);
  delete noType['imDatPrb_type'];
  noType['~imroTbl'] = noType['~imroTbl']!.replace('(0,384)', '(1020,384)');
  rejects(noType, /~imroTbl header names probe type "1020"/);
  rejects({ ...np2Meta(100), imDatPrb_type: '0' }, /imDatPrb_type=0 is a Neuropixels 1.0/, /2003/);
});

test('other streams and odd values are refused', () => {
  rejects({ ...np1Meta(100), typeThis: 'nidq' }, /typeThis=nidq/);
  rejects({ ...np1Meta(100), snsApLfSy: '0,384,1' }, /no AP channels/);
  const gain = np1ImroOnlyMeta(100);
  gain['~imroTbl'] = gain['~imroTbl']!.replace('(5 0 0 500 250 1)', '(5 0 0 450 250 1)');
  rejects(gain, /AP gain of 450/);
  const shanks = np24Meta(100);
  shanks['~snsGeomMap'] = shanks['~snsGeomMap']!.replace('(NP2014,4,250,70)', '(NP2014,1,0,70)');
  rejects(shanks, /says 1 shank\(s\) but a Neuropixels 2.0 four-shank has 4/);
});

test('a meta without sync channel has syncColumn null', () => {
  const m = np1Meta(100);
  m['nSavedChans'] = '384';
  m['snsApLfSy'] = '384,0,0';
  m['snsSaveChanSubset'] = '0:383';
  m['~snsChanMap'] = m['~snsChanMap']!.replace('(SY0;768:768)', '');
  assert.equal(layoutOf(m).syncColumn, null);
});
