// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * `npm run test:gpu`: CPU vs CUDA matching pursuit (matchBatch) on the same inputs: random models
 * with planted spikes, a realistic model (384 channels, 250 templates, a 65 600 + 2 × 1024 batch)
 * and the fused preprocess → shift → match chain. The CUDA kernels repeat the CPU's float and
 * double operations in its order without FMA, so the spike lists must be identical and every value
 * is expected bitwise equal; the asserted tolerance (relative to the largest |CPU value|, 1e-5)
 * only leaves room for rounding, and every comparison logs its bitwise mismatch count.
 * Without a usable CUDA device every test is skipped with the loader's reason.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadCpuBinding } from '../../native/lib/load.js';
import { cudaMatchBatch, cudaPreprocessShiftBatch, cudaPreprocessShiftMatchBatch } from '../../native/lib/backend.js';
import {
  DEFAULT_MATCH_OPTIONS,
  matchBatch,
  rawMatchOptions,
  templateCorrelations,
  type MatchOptions,
  type MatchResult,
  type TemplateModel,
} from '../../native/lib/matching.js';
import { krigingMatrix, randomModel, rawBlock, testPcs as pcs } from './gpu-fixture.js';
import { cpuPreprocessShift, cudaUnderTest, plantedBatch, preprocessInputs } from './gpu-builders.js';

const { skip, gpu } = cudaUnderTest();
const cpu = loadCpuBinding();
/** Max relative error of amplitudes, scores, snippet sums, features and residual (docs/cuda.md). */
const valueTolerance = 1e-5;

type Values = Float32Array | Float64Array | null;

function valueDifference(a: Values, b: Values): { maxRel: number; mismatches: number } {
  if (a === null || b === null) {
    assert.equal(a, b, 'one backend returned null');
    return { maxRel: 0, mismatches: 0 };
  }
  assert.equal(a.length, b.length, 'lengths differ');
  let maxAbs = 0;
  let scale = 0;
  let mismatches = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    maxAbs = Math.max(maxAbs, Math.abs(x - y));
    scale = Math.max(scale, Math.abs(x));
    if (!Object.is(x, y)) mismatches++;
  }
  return { maxRel: scale > 0 ? maxAbs / scale : maxAbs, mismatches };
}

type AnyResult = Omit<MatchResult, 'residual'> & {
  residual: Float32Array | null;
  snippetTemplates?: Int32Array | null;
};

/**
 * The fused entry's compact snippet sums back in the CPU's layout (zero rows for the templates
 * without spikes), after checking the compaction: exactly the templates with counts > 0, ascending,
 * one row each.
 */
function fullSums(name: string, r: AnyResult, rowSize: number): AnyResult {
  if (r.snippetTemplates === undefined) return r;
  if (r.snippetTemplates === null || r.snippetSums === null || r.snippetCounts === null) {
    assert.equal(r.snippetSums, null, `${name}: sums without their template list`);
    return r;
  }
  const counts = r.snippetCounts;
  const touched = Array.from(counts).flatMap((n, j) => (n > 0 ? [j] : []));
  assert.deepEqual(Array.from(r.snippetTemplates), touched, `${name}: snippetTemplates are not the touched templates`);
  assert.equal(r.snippetSums.length, touched.length * rowSize, `${name}: compact sums length`);
  const full = new Float64Array(counts.length * rowSize);
  touched.forEach((j, k) => full.set(r.snippetSums!.subarray(k * rowSize, (k + 1) * rowSize), j * rowSize));
  return { ...r, snippetSums: full };
}

/** Identical spike lists, values within valueTolerance; logs the bitwise mismatch counts. */
function compareResults(name: string, c: AnyResult, fused: AnyResult, residual = true): void {
  const rowSize =
    c.snippetSums !== null && c.snippetCounts !== null && c.snippetCounts.length > 0
      ? c.snippetSums.length / c.snippetCounts.length
      : 0;
  const g = fullSums(name, fused, rowSize);
  assert.deepEqual(Array.from(g.sample), Array.from(c.sample), `${name}: spike samples differ`);
  assert.deepEqual(Array.from(g.templateId), Array.from(c.templateId), `${name}: spike templates differ`);
  assert.equal(g.spikesFound, c.spikesFound, `${name}: spikesFound`);
  assert.equal(g.iterations, c.iterations, `${name}: iterations`);
  assert.equal(g.capped, c.capped, `${name}: capped`);
  assert.deepEqual(
    g.snippetCounts === null ? null : Array.from(g.snippetCounts),
    c.snippetCounts === null ? null : Array.from(c.snippetCounts),
    `${name}: snippet counts`,
  );
  const parts: [string, Values, Values][] = [
    ['amplitude', c.amplitude, g.amplitude],
    ['score', c.score, g.score],
    ['snippetSums', c.snippetSums, g.snippetSums],
    ['templateFeatures', c.templateFeatures, g.templateFeatures],
    ['pcFeatures', c.pcFeatures, g.pcFeatures],
  ];
  if (residual) parts.push(['residual', c.residual, g.residual]);
  const notes: string[] = [];
  for (const [part, a, b] of parts) {
    const d = valueDifference(a, b);
    notes.push(`${part} ${d.mismatches} differ (rel ${d.maxRel.toExponential(1)})`);
    assert.ok(d.maxRel <= valueTolerance, `${name}: ${part}: max relative error ${d.maxRel} above ${valueTolerance}`);
  }
  console.log(
    `# match ${name}: ${c.sample.length} spikes (${c.spikesFound} found, ${c.iterations} iterations); ${notes.join(', ')}`,
  );
}

test('matchBatch on planted spikes: identical spikes with and without cross-correlations', { skip }, () => {
  const nChannels = 64;
  const nSamples = 8192;
  const m = randomModel(12, nChannels, 16, 5);
  const corr = templateCorrelations(m, { nSimilarMax: 6, threads: 0 });
  const { samples, planted } = plantedBatch(m, nSamples, 40, 6);
  const batch = { samples, nSamples, nChannels, haloSamples: 256, ownSamples: nSamples - 512 };
  const base: MatchOptions = {
    ...DEFAULT_MATCH_OPTIONS,
    similarTemplates: { nSimilar: corr.nSimilar, similar: corr.similar },
    pcs: pcs(),
  };
  for (const [name, options] of [
    ['planted, cross-correlations', { ...base, crossCorrelation: corr.crossCorrelation }],
    ['planted, recomputed projections', base],
    ['planted, threshold 3, no features', { ...DEFAULT_MATCH_OPTIONS, threshold: 3, learnThreshold: 4 }],
  ] as const) {
    const c = matchBatch(batch, m, options);
    const g = cudaMatchBatch(gpu(), batch, m, options);
    compareResults(name, c, g);
  }
  // The test data must exercise the pursuit: most planted spikes are found.
  const found = matchBatch(batch, m, base);
  assert.ok(found.spikesFound >= planted.length / 2, `only ${found.spikesFound} of ${planted.length} planted found`);
});

test('matchBatch edge cases: cap, no iterations, no templates', { skip }, () => {
  const nChannels = 32;
  const nSamples = 2048;
  const m = randomModel(5, nChannels, 8, 7);
  const { samples } = plantedBatch(m, nSamples, 20, 8);
  const batch = { samples, nSamples, nChannels, haloSamples: 0, ownSamples: nSamples };
  const capped = { ...DEFAULT_MATCH_OPTIONS, maxSpikes: 3 };
  const c = matchBatch(batch, m, capped);
  assert.ok(c.capped, 'the CPU run should hit the cap');
  compareResults('capped at 3', c, cudaMatchBatch(gpu(), batch, m, capped));
  const none = { ...DEFAULT_MATCH_OPTIONS, innerIterations: 0 };
  compareResults('0 iterations', matchBatch(batch, m, none), cudaMatchBatch(gpu(), batch, m, none));
  const empty: TemplateModel = {
    ...m,
    nTemplates: 0,
    temporal: new Float32Array(0),
    spatial: new Float32Array(0),
    meanAmplitude: new Float32Array(0),
    peakChannel: new Int32Array(0),
  };
  compareResults(
    'no templates',
    matchBatch(batch, empty, DEFAULT_MATCH_OPTIONS),
    cudaMatchBatch(gpu(), batch, empty, DEFAULT_MATCH_OPTIONS),
  );
  const bad = Float32Array.from(samples);
  bad[77] = Number.NaN;
  assert.throws(() => cudaMatchBatch(gpu(), { ...batch, samples: bad }, m, DEFAULT_MATCH_OPTIONS), RangeError);
});

test('matchBatch on a realistic model (384 ch, 250 templates, 67 648 samples) and repeat', { skip }, () => {
  const nChannels = 384;
  const nSamples = 65600 + 2 * 1024;
  const m = randomModel(250, nChannels, 32, 9);
  const corr = templateCorrelations(m, { nSimilarMax: 32, threads: 0 });
  const { samples } = plantedBatch(m, nSamples, 400, 10);
  const batch = { samples, nSamples, nChannels, haloSamples: 1024, ownSamples: 65600 };
  const options: MatchOptions = {
    ...DEFAULT_MATCH_OPTIONS,
    similarTemplates: { nSimilar: corr.nSimilar, similar: corr.similar },
    pcs: pcs(),
    crossCorrelation: corr.crossCorrelation,
  };
  const c = matchBatch(batch, m, options);
  const g = cudaMatchBatch(gpu(), batch, m, options);
  compareResults('realistic 384 × 67 648, F = 250', c, g);
  const again = cudaMatchBatch(gpu(), batch, m, options);
  compareResults('realistic, second GPU run', g, again);
  const d = valueDifference(g.residual, again.residual);
  assert.equal(d.mismatches, 0, 'two GPU runs differ');
});

test('preprocessShiftMatchBatch equals CPU preprocessing + kriging + matchBatch', { skip }, () => {
  const nChannels = 384;
  const rowStride = 385;
  const nSamples = 65600 + 2 * 1024;
  const raw = rawBlock(nSamples, nChannels, rowStride, 41);
  const inputs = preprocessInputs(nChannels, 32, 50, 42);
  const { kriging, preprocessOptions } = inputs;
  const { white, shifted } = cpuPreprocessShift(cpu, inputs, raw, nSamples, rowStride);
  const m = randomModel(250, nChannels, 32, 45);
  const corr = templateCorrelations(m, { nSimilarMax: 32, threads: 0 });
  const halo = { haloSamples: 1024, ownSamples: 65600 };
  const options: MatchOptions = {
    ...DEFAULT_MATCH_OPTIONS,
    similarTemplates: { nSimilar: corr.nSimilar, similar: corr.similar },
    crossCorrelation: corr.crossCorrelation,
  };
  /** The fused entry on `raw` with this test's preprocessing, halo and model. */
  const fused = (shift: Parameters<typeof cudaPreprocessShiftMatchBatch>[3], o: MatchOptions, residual: boolean) =>
    cudaPreprocessShiftMatchBatch(
      gpu(),
      { data: raw, nChannels, rowStride },
      preprocessOptions,
      shift,
      halo,
      m,
      o,
      residual,
    );
  const c = matchBatch({ samples: shifted, nSamples, nChannels, ...halo }, m, options);
  const g = fused(kriging, options, true);
  compareResults('fused preprocess → shift → match', c, g);
  const noResidual = fused(kriging, options, false);
  assert.equal(noResidual.residual, null);
  compareResults('fused, residual not returned', c, noResidual, false);

  // A block whose stretches have different owners: rows [500, 1024) with one matrix, the own
  // samples with another, the rest unshifted (the engine's halo case), against the CPU per stretch.
  const stretches = [
    { from: 500, to: 1024, matrix: krigingMatrix(nChannels, 46) },
    { from: 1024, to: 1024 + 65600, matrix: kriging },
  ];
  const pieced = Float32Array.from(white);
  for (const p of stretches) {
    const view = pieced.subarray(p.from * nChannels, p.to * nChannels);
    cpu.driftApplyKriging(view, nChannels, p.matrix, view);
  }
  const block = cudaPreprocessShiftBatch(gpu(), { data: raw, nChannels, rowStride }, preprocessOptions, stretches);
  const blockDiff = valueDifference(pieced, block.data);
  console.log(`# preprocessShiftBatch with 2 kriging pieces and unshifted rows: ${blockDiff.mismatches} values differ`);
  assert.ok(blockDiff.maxRel <= valueTolerance, `kriging pieces: max relative error ${blockDiff.maxRel}`);
  const learning: MatchOptions = { ...options, threshold: 6, learnThreshold: 6, snippetSums: true };
  const cp = matchBatch({ samples: pieced, nSamples, nChannels, ...halo }, m, learning);
  const gp = fused(stretches, learning, true);
  console.log(
    `# fused, kriging pieces: ${gp.snippetTemplates?.length ?? 0} of ${m.nTemplates} templates got snippet sums`,
  );
  compareResults('fused with kriging pieces, compact snippet sums', cp, gp);
  const again = fused(stretches, learning, true);
  assert.equal(valueDifference(gp.snippetSums, again.snippetSums).mismatches, 0, 'two GPU runs differ (sums)');
  assert.equal(valueDifference(gp.residual, again.residual).mismatches, 0, 'two GPU runs differ (residual)');
  assert.throws(
    () =>
      cudaPreprocessShiftBatch(gpu(), { data: raw, nChannels, rowStride }, preprocessOptions, [
        stretches[1]!,
        stretches[0]!,
      ]),
    RangeError,
  );
});

test('matchBatch argument errors: the CUDA binding throws the CPU binding’s errors (shared parser)', { skip }, () => {
  const nChannels = 16;
  const nSamples = 512;
  const m = randomModel(3, nChannels, 8, 21);
  const samples = new Float32Array(nSamples * nChannels);
  const options = rawMatchOptions({ haloSamples: 0, ownSamples: nSamples }, DEFAULT_MATCH_OPTIONS);
  const calls: Array<[string, unknown[]]> = [
    ['samples of another type', [new Float64Array(nSamples * nChannels), nSamples, nChannels, m, options]],
    ['samples too short', [samples.subarray(1), nSamples, nChannels, m, options]],
    ['nSamples not an integer', [samples, 1.5, nChannels, m, options]],
    ['model channels', [samples, nSamples / 2, nChannels * 2, m, options]],
    ['too few samples', [samples.subarray(0, 10 * nChannels), 10, nChannels, m, options]],
    ['threshold a string', [samples, nSamples, nChannels, m, { ...options, threshold: '6' }]],
    ['own samples beyond the batch', [samples, nSamples, nChannels, m, { ...options, ownSamples: nSamples + 1 }]],
    ['model not an object', [samples, nSamples, nChannels, [1, 2], options]],
    ['four arguments', [samples, nSamples, nChannels, m]],
  ];
  const outcome = (f: () => unknown): string => {
    try {
      f();
      return 'no error';
    } catch (err) {
      return `${(err as Error).name}: ${(err as Error).message}`;
    }
  };
  type Loose = (...args: unknown[]) => unknown;
  for (const [name, args] of calls) {
    const c = outcome(() => (cpu.matchBatch as Loose)(...args));
    const g = outcome(() => (gpu().matchBatch as Loose)(...args));
    assert.notEqual(c, 'no error', `${name}: the CPU binding accepted it`);
    assert.equal(g, c, name);
  }
});
