// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PARAMS, cliFlag, defaultParams, paramHelp, resolveParams, type ParamName } from '../../../proto/params.js';
import { ParameterError } from '../../../proto/errors.js';

test('defaults satisfy their own ranges', () => {
  assert.deepEqual(resolveParams({}), defaultParams());
});

test('out-of-range, wrong-kind and unknown parameters name the parameter', () => {
  assert.throws(
    () => resolveParams({ highpassHz: -1 }),
    (e: unknown) =>
      e instanceof ParameterError && /highpassHz: expected a value in \[10, 5000\] Hz, got -1/.test(e.message),
  );
  assert.throws(() => resolveParams({ batchSamples: 1.5 }), /batchSamples: expected an integer/);
  assert.throws(() => resolveParams({ driftCorrection: 'yes' }), /driftCorrection: expected true or false/);
  assert.throws(() => resolveParams({ commonReference: 'mean' }), /one of median, none/);
  assert.throws(() => resolveParams({ nope: 1 }), /unknown parameter "nope"/);
});

test('cross-parameter rules are enforced', () => {
  assert.throws(
    () => resolveParams({ extractThreshold: 9 }),
    /extractThreshold \(9\) must not exceed learnThreshold \(6\)/,
  );
  assert.throws(() => resolveParams({ haloSamples: 5000, batchSamples: 8000 }), /haloSamples/);
});

test('every parameter has a flag and a help line with its default', () => {
  for (const name of Object.keys(PARAMS) as ParamName[]) {
    assert.match(cliFlag(name), /^--[a-z][a-z-]*$/);
    assert.match(paramHelp(name), /default/);
  }
  assert.equal(cliFlag('batchSamples'), '--batch-samples');
});
