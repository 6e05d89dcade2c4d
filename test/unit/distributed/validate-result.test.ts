// SPDX-License-Identifier: GPL-3.0-or-later
/** Results from workers are validated before they enter a reduction: garbage is refused. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MatchModel } from '../../../native/lib/index.js';
import {
  GarbageResultError,
  validateDriftResult,
  validateExtractResult,
  validateLearnResult,
  validateSnippets,
  validateWindowStatistics,
} from '../../../coordinator/sort/validate-result.js';

const batch = { index: 1, ownStart: 1000, ownEnd: 2000, readStart: 900, readEnd: 2100 };
const nCh = 4;
const nT = 2;
const model = {
  model: {
    nTemplates: nT,
    nChannels: nCh,
    templateSamples: 61,
    troughSample: 20,
    rank: 3,
    nNeighbours: 4,
    temporal: new Float32Array(nT * 61 * 3),
    spatial: new Float32Array(nT * nCh * 3),
    meanAmplitude: new Float32Array(nT),
    peakChannel: new Int32Array(nT),
    neighbours: new Int32Array(nCh * 4),
  },
  crossCorrelation: null,
  similar: { nSimilar: 2, similar: Int32Array.of(0, 1, 1, 0) },
  pcs: { nPcs: 3, values: new Float32Array(61 * 3) },
  prototypes: { templateSamples: 61, nPrototypes: 6, values: new Float32Array(61 * 6) },
  neighbourhoods: new Int32Array(nCh * 4),
  nNeighbours: 4,
} satisfies MatchModel;

function extract(s: number) {
  return {
    samples: Float64Array.from({ length: s }, (_, i) => 1000 + 10 * i),
    templates: Int32Array.from({ length: s }, (_, i) => i % nT),
    amplitudes: new Float32Array(s),
    scores: new Float32Array(s),
    templateFeatures: new Float32Array(s * 2),
    pcFeatures: new Float32Array(s * 3 * 4),
    capped: false,
  };
}

const rejects = (f: () => unknown, pattern: RegExp) =>
  assert.throws(f, (e: unknown) => e instanceof GarbageResultError && pattern.test(e.message));

test('a well-formed extraction result passes and each kind of garbage is refused', () => {
  assert.equal(validateExtractResult(extract(5), batch, model).samples.length, 5);
  assert.equal(validateExtractResult(extract(0), batch, model).samples.length, 0);
  rejects(
    () => validateExtractResult({ ...extract(5), amplitudes: new Float32Array(4) }, batch, model),
    /amplitudes of 5/,
  );
  rejects(
    () => validateExtractResult({ ...extract(5), templates: Int32Array.of(0, 1, 2, 0, 1) }, batch, model),
    /templates in/,
  );
  rejects(
    () => validateExtractResult({ ...extract(5), pcFeatures: new Float32Array(5) }, batch, model),
    /pcFeatures of 60/,
  );
  rejects(
    () => validateExtractResult({ ...extract(2), samples: Float64Array.of(1000, 2000) }, batch, model),
    /\[1000, 2000\)/,
  );
  rejects(
    () => validateExtractResult({ ...extract(2), samples: Float64Array.of(1500, 1400) }, batch, model),
    /ascending/,
  );
  rejects(
    () => validateExtractResult({ ...extract(2), samples: Float64Array.of(1000.5, 1400) }, batch, model),
    /whole/,
  );
  rejects(() => validateExtractResult({ ...extract(2), scores: new Float64Array(2) }, batch, model), /Float32Array/);
  rejects(() => validateExtractResult({ ...extract(2), capped: null }, batch, model), /capped/);
});

test('learning results must match the model they were computed with', () => {
  const good = {
    nTemplates: nT,
    active: Int32Array.of(0),
    sums: new Float64Array(61 * nCh),
    counts: Int32Array.of(3, 0),
    proposals: new Float32Array(2 * 61 * nCh),
    proposalChannels: Int32Array.of(0, 3),
    proposalScores: new Float32Array(2),
    spikes: 3,
  };
  assert.equal(validateLearnResult(good, model).nTemplates, nT);
  rejects(() => validateLearnResult({ ...good, nTemplates: 3 }, model), /nTemplates 2/);
  rejects(() => validateLearnResult({ ...good, sums: new Float64Array(10) }, model), /sums of 244/);
  rejects(() => validateLearnResult({ ...good, active: Int32Array.of(1) }, model), /counts > 0/);
  rejects(() => validateLearnResult({ ...good, active: new Int32Array(0) }, model), /active of 1/);
  rejects(() => validateLearnResult({ ...good, active: undefined }, model), /active a Int32Array/);
  rejects(() => validateLearnResult({ ...good, counts: Int32Array.of(-1, 0) }, model), /counts >= 0/);
  rejects(() => validateLearnResult({ ...good, proposalChannels: Int32Array.of(0, 4) }, model), /proposal channels/);
  rejects(() => validateLearnResult({ ...good, proposalScores: new Float32Array(1) }, model), /proposalScores of 2/);
  rejects(() => validateLearnResult({ ...good, spikes: -1 }, model), /spikes a count/);
});

test('statistics, snippets and drift results are checked against the request', () => {
  const stats = { labels: Int32Array.of(0, 1, 2, 3), covariance: new Float64Array(16) };
  assert.equal(validateWindowStatistics(stats, 4).labels.length, 4);
  rejects(() => validateWindowStatistics(stats, 5), /labels of 5/);
  rejects(() => validateWindowStatistics({ ...stats, labels: Int32Array.of(0, 1, 2, 9) }, 4), /0\.\.3/);
  rejects(() => validateWindowStatistics({ ...stats, covariance: null }, 4), /nothing/);
  assert.equal(validateSnippets({ snippets: new Float32Array(122) }, 61).length, 122);
  rejects(() => validateSnippets({ snippets: new Float32Array(100) }, 61), /multiple of 61/);
  const drift = {
    histogram: new Float32Array(6),
    depthBins: 3,
    ampBins: 2,
    samples: Float64Array.of(1500),
    depthsUm: Float32Array.of(20),
    amplitudes: Float32Array.of(10),
  };
  const first = validateDriftResult(drift, batch, undefined);
  assert.equal(validateDriftResult(drift, batch, first).depthBins, 3);
  rejects(() => validateDriftResult({ ...drift, histogram: new Float32Array(5) }, batch, undefined), /histogram of 6/);
  rejects(() => validateDriftResult({ ...drift, depthBins: 2, histogram: new Float32Array(4) }, batch, first), /shape/);
  rejects(() => validateDriftResult({ ...drift, samples: Float64Array.of(5000) }, batch, undefined), /\[1000, 2000\)/);
  rejects(
    () => validateDriftResult({ ...drift, amplitudes: new Float32Array(0) }, batch, undefined),
    /amplitudes of 1/,
  );
});
