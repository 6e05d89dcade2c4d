// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deriveTemplates, whiteningInverse } from '../../../coordinator/export/derived.js';
import { validateSortingResult } from '../../../coordinator/export/validate.js';
import { jsMultiplyRows, jsTemplatePeakToPeak } from '../../helpers/js-export-linalg.js';
import { makeSortingFixture } from '../../helpers/sorting-fixture.js';

test('unwhitened templates skip zero channels without changing a bit', () => {
  const r = makeSortingFixture({ nChannels: 24, nTemplates: 7, seed: 5 });
  const dims = validateSortingResult(r);
  const { nTemplates: T, nt0, nChannels: C } = dims;
  // Each template on a few channels only (as the sorter's are), one template all zero; the row
  // count (7 · nt0) is not a multiple of four, so the row-by-row tail runs too.
  const wf = r.templates.waveforms;
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < nt0; i++) {
      for (let c = 0; c < C; c++) if (t === 3 || Math.abs(c - 3 * t) > 2) wf[(t * nt0 + i) * C + c] = 0;
    }
  }
  assert.ok((T * nt0) % 4 !== 0);
  const winv = whiteningInverse(r, dims);
  const got = deriveTemplates(r, dims, winv).unwhitenedCounts;
  // Plain product: each value a sum over k in order, from +0, every term included.
  const want = new Float64Array(T * nt0 * C);
  for (let row = 0; row < T * nt0; row++) {
    for (let c = 0; c < C; c++) {
      let s = 0;
      for (let k = 0; k < C; k++) s += wf[row * C + k]! * winv[k * C + c]!;
      want[row * C + c] = s;
    }
  }
  for (let i = 0; i < want.length; i++) assert.ok(Object.is(got[i], want[i]), `value ${i}: ${got[i]} vs ${want[i]}`);
});

test('the derived templates are those of the former TypeScript loops, bit for bit', () => {
  const r = makeSortingFixture({ nChannels: 32, nTemplates: 9, seed: 11 });
  const dims = validateSortingResult(r);
  const { nTemplates: T, nt0, nChannels: C } = dims;
  const wf = r.templates.waveforms;
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < nt0; i++) {
      for (let c = 0; c < C; c++) if (Math.abs(c - 3 * t) > 4) wf[(t * nt0 + i) * C + c] = 0;
    }
  }
  const winv = whiteningInverse(r, dims);
  const got = deriveTemplates(r, dims, winv);
  const unwhitened = jsMultiplyRows(wf, winv, T * nt0, C);
  const want = jsTemplatePeakToPeak(wf, unwhitened, r.probe.uvPerCount, T, nt0, C);
  const same = (a: ArrayLike<number>, b: ArrayLike<number>, what: string): void => {
    assert.equal(a.length, b.length);
    for (let i = 0; i < a.length; i++) assert.ok(Object.is(a[i], b[i]), `${what}[${i}]: ${a[i]} vs ${b[i]}`);
  };
  same(got.unwhitenedCounts, unwhitened, 'unwhitenedCounts');
  same(got.p2pCounts, want.p2pCounts, 'p2pCounts');
  same(got.p2pVolts, want.p2pVolts, 'p2pVolts');
  same(got.peakChannels, want.peakChannels, 'peakChannels');
  for (let t = 0; t < T; t++) {
    assert.equal(got.peakDepthsUm[t], r.probe.localPositionsUm[2 * got.peakChannels[t]! + 1]);
  }
});
