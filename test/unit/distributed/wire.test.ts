// SPDX-License-Identifier: GPL-3.0-or-later
/** The wire codec: arrays larger than a chunk come back bitwise; broken framing is refused. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FrameAssembler,
  WireError,
  deserializeFrame,
  encodeFrames,
  serializeFrame,
  wireSchema,
  type FrameMessage,
} from '../../../proto/wire.js';

function roundTrip(frames: FrameMessage[], maxChunk?: number) {
  const a = new FrameAssembler(maxChunk);
  for (const f of frames) a.push(deserializeFrame(serializeFrame(f)));
  return a.finish();
}

function bytesOf(a: ArrayBufferView): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

test('the schema loads and every array field is an ArrayRef', () => {
  const s = wireSchema();
  assert.ok(s.type('MatchRequest').fields['model']);
  assert.equal(s.type('ExtractBatchResult').fields['pcFeatures']?.resolvedType, s.arrayRef);
});

test('arrays larger than the chunk size round-trip bitwise (NaN payloads, −0, odd lengths)', () => {
  const n = 10_007;
  const covariance = new Float64Array(n);
  for (let i = 0; i < n; i++) covariance[i] = Math.sin(i) * 1e6 + i / 7;
  covariance[3] = -0;
  covariance[5] = Infinity;
  // A NaN with a payload: must come back with the same bits, not canonicalised.
  const bits = new DataView(covariance.buffer);
  bits.setUint32(8 * 7, 0x00000001, true);
  bits.setUint32(8 * 7 + 4, 0x7ff80000 | 0x1234, true);
  const labels = Int32Array.from({ length: 13 }, (_, i) => i % 4);
  const chunk = 1000; // the payload is ~80 kB, so ~80 chunks, none aligned to an array boundary
  const frames = encodeFrames('windowStatistics', { labels, covariance }, chunk);
  assert.ok(frames.length > 80, `frames: ${frames.length}`);
  for (const f of frames.slice(1)) assert.ok(f.chunk!.byteLength <= chunk);
  const { kind, value } = roundTrip(frames, chunk);
  assert.equal(kind, 'windowStatistics');
  assert.ok(value['labels'] instanceof Int32Array);
  assert.ok(value['covariance'] instanceof Float64Array);
  assert.ok(bytesOf(value['labels']).equals(bytesOf(labels)));
  assert.ok(bytesOf(value['covariance']).equals(bytesOf(covariance)));
});

test('every element type, nested messages, repeated fields, nulls and 64-bit sample indices survive', () => {
  const setup = {
    nChannels: 3,
    sampleRateHz: 30000.5,
    xUm: Float64Array.of(1, 2, 3),
    yUm: Float64Array.of(4, 5, 6),
    uvPerCount: Float64Array.of(0.1, 0.2, 0.3),
    used: Uint8Array.of(1, 0, 1),
  };
  const body = {
    work: {
      probe: 'imec1',
      recordingPath: '/data/x.ap.bin',
      allowPartialSample: true,
      setup,
      paramsJson: '{"seed":3}',
    },
    batch: {
      index: 7,
      ownStart: 2 ** 40,
      ownEnd: 2 ** 40 + 65_600,
      readStart: 2 ** 40 - 1024,
      readEnd: 2 ** 40 + 66_624,
    },
    segments: [
      { batch: 6, start: 2 ** 40 - 65_600, end: 2 ** 40 },
      { batch: 7, start: 2 ** 40, end: 2 ** 40 + 65_600 },
    ],
    channels: null,
    drift: null,
    model: {
      model: null,
      crossCorrelation: null,
      deriveCrossCorrelation: true,
      similar: { nSimilar: 2, similar: Int32Array.of(0, 1, 1, 0) },
      pcs: null,
      prototypes: { templateSamples: 61, nPrototypes: 1, values: new Float32Array(61).fill(0.5) },
      neighbourhoods: Int32Array.of(0, 1, 2),
      nNeighbours: 1,
    },
  };
  const { value } = roundTrip(encodeFrames('matchRequest', body, 64), 64);
  const work = value['work'] as Record<string, unknown>;
  assert.equal(work['probe'], 'imec1');
  assert.equal(work['allowPartialSample'], true);
  assert.deepEqual((work['setup'] as Record<string, unknown>)['used'], setup.used);
  assert.deepEqual(value['batch'], body.batch);
  assert.deepEqual(value['segments'], body.segments);
  assert.equal(value['drift'], null);
  const model = value['model'] as Record<string, unknown>;
  assert.equal(model['crossCorrelation'], null);
  assert.equal(model['deriveCrossCorrelation'], true);
  assert.equal(model['pcs'], null);
  assert.deepEqual((model['similar'] as Record<string, unknown>)['similar'], body.model.similar.similar);
});

test('broken streams are refused', () => {
  const frames = encodeFrames('snippetsResult', { snippets: new Float32Array(1000) }, 1024);
  assert.throws(() => new FrameAssembler().push(frames[1]!), WireError); // chunk first
  const short = new FrameAssembler();
  for (const f of frames.slice(0, -1)) short.push(f);
  assert.throws(() => short.finish(), /payload of/);
  const long = new FrameAssembler();
  for (const f of frames) long.push(f);
  assert.throws(() => long.push(frames[1]!), /more payload/);
  const twice = new FrameAssembler();
  twice.push(frames[0]!);
  assert.throws(() => twice.push(frames[0]!), /second envelope/);
});

test('an array of the wrong element type is refused', () => {
  // snippets must be float32: a float64 array in its place is a peer bug, not data to convert.
  const frames = encodeFrames('snippetsResult', { snippets: new Float64Array(4) });
  const a = new FrameAssembler();
  for (const f of frames) a.push(f);
  assert.throws(() => a.finish(), /expected float32, got float64/);
});

test('a chunk over the limit is refused', () => {
  const frames = encodeFrames('snippetsResult', { snippets: new Float32Array(1000) }, 4000);
  const a = new FrameAssembler(1024);
  a.push(frames[0]!);
  assert.throws(() => a.push(frames[1]!), /a chunk of 4000 bytes/);
});
