// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assembleSorting } from '../../../coordinator/sort/assemble.js';
import { NT0, RANK } from '../../../coordinator/sort/learning.js';
import { resolveParams } from '../../../proto/params.js';
import { silentLogger } from '../../../proto/log.js';
import { syntheticEngineOutput } from '../../bench/postprocess-bench.js';

test('assembled templates are temporal × spatial summed over the rank (NaN kept), similarity 1 on the diagonal', async () => {
  const { out, info } = syntheticEngineOutput({
    nChannels: 24,
    nTemplates: 12,
    nSpikes: 12_000,
    durationS: 30,
    seed: 3,
    nSimilar: 8,
    nNeighbours: 8,
  });
  const { temporal, spatial } = out.model;
  const C = out.model.nChannels;
  // Templates live on 8 of 24 channels (the rest of their spatial factors are 0); one template's
  // temporal factor holds a NaN, which must reach every channel, zero spatial factors included.
  assert.ok(spatial.some((v) => v === 0));
  temporal[(3 * NT0 + 7) * RANK + 1] = NaN;
  const result = await assembleSorting(out, info, resolveParams(), silentLogger(), {}, null, { scratchDir: null });
  const { count, waveforms, similarity } = result.templates;
  assert.ok(count > 0);
  // Each kept cluster's template is its origin's: find it by the waveform at the peak.
  let nanRows = 0;
  for (let k = 0; k < count; k++) {
    const got = waveforms.subarray(k * NT0 * C, (k + 1) * NT0 * C);
    let match = -1;
    for (let j = 0; j < out.model.nTemplates && match < 0; j++) {
      let same = true;
      for (let t = 0; t < NT0 && same; t++) {
        for (let ch = 0; ch < C && same; ch++) {
          let v = 0;
          for (let r = 0; r < RANK; r++) v += temporal[(j * NT0 + t) * RANK + r]! * spatial[(j * C + ch) * RANK + r]!;
          if (!Object.is(Math.fround(v), got[t * C + ch])) same = false;
        }
      }
      if (same) match = j;
    }
    assert.ok(match >= 0, `cluster ${k}'s template is no template's temporal × spatial`);
    if (match === 3) {
      nanRows++;
      for (let ch = 0; ch < C; ch++) assert.ok(Number.isNaN(got[7 * C + ch]), `channel ${ch} of the NaN sample`);
    }
  }
  assert.ok(nanRows > 0, 'template 3 was kept');
  for (let a = 0; a < count; a++) {
    assert.equal(similarity[a * count + a], 1);
    for (let b = 0; b < count; b++) assert.ok(similarity[a * count + b]! <= 1);
  }
  result.spikes.features.close();
});
