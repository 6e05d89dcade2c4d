// SPDX-License-Identifier: GPL-3.0-or-later
/** States sent once per worker: digests follow content bit for bit; a worker's cache checks and forgets. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ParameterError } from '../../../proto/errors.js';
import { stateDigest } from '../../../proto/wire.js';
import { StateCache, StateMissError } from '../../../worker/state-cache.js';

function channels(weight: number) {
  return {
    labels: Int32Array.of(0, 0, 1),
    good: Uint8Array.of(1, 1, 0),
    gains: Float64Array.of(2.34, 2.34, 0),
    whitening: {
      nChannels: 3,
      nNearest: 2,
      epsilon: 1e-3,
      indices: Int32Array.of(0, 1, 1, 0, 2, 1),
      weights: Float32Array.of(weight, 0.5, 1, 0.5, 1, 0),
      dense: new Float64Array(9),
    },
  };
}

test('the digest of a state changes with any bit of it and not with anything else', () => {
  const a = stateDigest('ChannelState', channels(1));
  assert.equal(stateDigest('ChannelState', channels(1)), a);
  assert.equal(stateDigest('ChannelState', { ...channels(1), unrelated: 5 }), a);
  assert.notEqual(stateDigest('ChannelState', channels(Math.fround(1 + 2 ** -23))), a);
  const c = channels(1);
  c.whitening.epsilon = 1e-3 + 1e-18;
  assert.notEqual(stateDigest('ChannelState', c), a);
});

test('a worker remembers states by digest, checks what it is sent and evicts the oldest', () => {
  const cache = new StateCache(2);
  const s1 = channels(1);
  const d1 = stateDigest('ChannelState', s1);
  assert.throws(() => cache.resolve('ChannelState', null, d1), StateMissError);
  assert.equal(cache.resolve('ChannelState', s1, d1), s1);
  assert.equal(cache.resolve('ChannelState', null, d1), s1);
  assert.throws(() => cache.resolve('ChannelState', channels(2), d1), ParameterError);
  assert.equal(cache.resolve('ChannelState', null, ''), null);
  const s2 = channels(2);
  const s3 = channels(3);
  cache.resolve('ChannelState', s2, stateDigest('ChannelState', s2));
  cache.resolve('ChannelState', s3, stateDigest('ChannelState', s3));
  assert.throws(() => cache.resolve('ChannelState', null, d1), StateMissError);
  assert.equal(cache.resolve('ChannelState', null, stateDigest('ChannelState', s3)), s3);
});
