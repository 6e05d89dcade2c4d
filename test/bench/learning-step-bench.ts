// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * `npm run bench:learning-step -- [options]`: the host work of one learning round (the global step
 * between two rounds of batches), on a synthetic template state, each piece timed. Prints a table
 * of seconds per piece and peak RSS; asserts nothing.
 *
 *   npm run bench:learning-step -- [--templates 400] [--channels 384] [--batches 8] [--active 0.7]
 *                                  [--proposals 40] [--threads 0] [--seed 1] [--repeat 1] [--full]
 *                                  [--batch-records] [--extraction-spikes 7000] [--dir DIR] [--json FILE]
 *
 * --batch-records: also time saving and removing each batch's result as a checkpoint record, which
 * the learning loop did until it kept only the per-round state.
 * --extraction-spikes: spikes in the extraction batch record timed at the end (7 000: a 384-channel
 * NP1 batch of the 10-minute sort, ~4 MB of features), saved with and without fsync.
 * --full: 1 230 templates (what a 10-minute 384-channel NP1 sort holds mid-learning). The default
 * (400 templates) runs in about a minute on a 2-core machine.
 *
 * The synthetic state: templates with a trough at nt0min on their peak channel's 32 neighbours of an
 * NP1-like probe (two columns per row pair, 20 µm rows), random spike counts; each batch result has
 * `--active` of the templates with spikes (float64 snippet sums on every channel, as the matcher
 * returns them) and `--proposals` residual proposals (as a round with ~330 births yields). The
 * pieces are the pipeline's own functions, called as its learning loop calls them; the checkpoint
 * pieces write to a Checkpoints folder under --dir (default: a temporary folder, removed at the end).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  templateCorrelations,
  zeroLagSimilarity,
  type ExtractBatchResult,
  type LearnBatchResult,
  type TemplateModel,
} from '../../native/lib/index.js';
import {
  NT0,
  NT0MIN,
  addBirths,
  applyBatchStatistics,
  factorize,
  selectModelTemplates,
  selectTemplates,
  triage,
  type TemplateState,
} from '../../coordinator/sort/learning.js';
import { Checkpoints } from '../../coordinator/sort/run-folder.js';
import { encodeRecord } from '../../coordinator/formats/record.js';
import { silentLogger } from '../../proto/log.js';
import { learnedLikeTemporal, staggeredNeighbourhoods } from '../helpers/learning-fixture.js';
import { rng } from '../helpers/uniform.js';

const { values } = parseArgs({
  options: {
    templates: { type: 'string', default: '400' },
    channels: { type: 'string', default: '384' },
    batches: { type: 'string', default: '8' },
    active: { type: 'string', default: '0.7' },
    proposals: { type: 'string', default: '40' },
    threads: { type: 'string', default: '0' },
    seed: { type: 'string', default: '1' },
    repeat: { type: 'string', default: '1' },
    full: { type: 'boolean', default: false },
    'batch-records': { type: 'boolean', default: false },
    'extraction-spikes': { type: 'string', default: '7000' },
    dir: { type: 'string', default: '' },
    json: { type: 'string', default: '' },
  },
});

const nTemplates = values.full ? 1230 : Number(values.templates);
const nChannels = Number(values.channels);
const nBatches = Number(values.batches);
const activeFraction = Number(values.active);
const nProposals = Number(values.proposals);
const repeats = Math.max(1, Number(values.repeat));
const nNeighbours = Math.min(32, nChannels);

const uniform = rng(Number(values.seed));

const neighbourhoods = staggeredNeighbourhoods(nChannels, nNeighbours);

/** Temporal shapes: a trough at nt0min, its derivative and a slow wave (like learned PCs). */
const initialTemporal = learnedLikeTemporal();

/** A localised waveform on `peak`'s neighbourhood, amplitude `amp` (whitened units), with a little noise. */
function waveform(peak: number, amp: number, out: Float64Array | Float32Array): void {
  const width = 0.6 + 0.6 * uniform();
  for (let i = 0; i < nNeighbours; i++) {
    const c = neighbourhoods[peak * nNeighbours + i]!;
    // Random per-channel weights: two templates on one peak channel are rarely duplicates.
    const fall = Math.exp(-i / 6) * (0.2 + 1.6 * uniform());
    for (let t = 0; t < NT0; t++) {
      const s = (t - NT0MIN) * width;
      out[t * nChannels + c] = -amp * fall * Math.exp(-(s * s) / 8) + 0.3 * amp * fall * Math.exp(-((s - 6) ** 2) / 30);
    }
  }
}

function syntheticState(): TemplateState {
  const state: TemplateState = { nChannels, dWU: [], nsp: [], temporal: [] };
  for (let j = 0; j < nTemplates; j++) {
    const d = new Float64Array(NT0 * nChannels);
    waveform(Math.floor(uniform() * nChannels), 8 + 22 * uniform(), d);
    for (let i = 0; i < d.length; i++) d[i] = d[i]! + 0.05 * (uniform() - 0.5);
    state.dWU.push(d);
    state.nsp.push(uniform() < 0.25 ? 0.02 : 5 + 50 * uniform());
    state.temporal.push(null);
  }
  return state;
}

function syntheticBatch(f: number): LearnBatchResult {
  const size = NT0 * nChannels;
  const active = Int32Array.from(Array.from({ length: f }, (_, j) => j).filter(() => uniform() < activeFraction));
  const counts = new Int32Array(f);
  for (const j of active) counts[j] = 1 + Math.floor(uniform() * 200);
  const sums = new Float64Array(active.length * size);
  // Cheap varied values: the pieces timed here do not depend on them.
  let x = uniform();
  for (let i = 0; i < sums.length; i++) {
    x = x * 3.9 * (1 - x);
    sums[i] = 10 * x - 5;
  }
  const proposals = new Float32Array(nProposals * size);
  const proposalChannels = new Int32Array(nProposals);
  const proposalScores = new Float32Array(nProposals);
  for (let i = 0; i < nProposals; i++) {
    const peak = Math.floor(uniform() * nChannels);
    proposalChannels[i] = peak;
    proposalScores[i] = 100 * uniform();
    waveform(peak, 10 + 20 * uniform(), proposals.subarray(i * size, (i + 1) * size));
  }
  return { nTemplates: f, active, sums, counts, proposals, proposalChannels, proposalScores, spikes: 0 };
}

/** One extraction batch's result as the pipeline checkpoints it (32 similar templates, 3 PCs × 32 channels). */
function syntheticExtraction(spikes: number): ExtractBatchResult {
  const fill = (a: Float32Array): Float32Array => a.map(() => uniform() - 0.5);
  return {
    samples: Float64Array.from({ length: spikes }, (_, i) => 1000 + i * 9),
    templates: Int32Array.from({ length: spikes }, () => Math.floor(uniform() * 700)),
    amplitudes: fill(new Float32Array(spikes)),
    scores: fill(new Float32Array(spikes)),
    templateFeatures: fill(new Float32Array(spikes * 32)),
    pcFeatures: fill(new Float32Array(spikes * 3 * 32)),
    capped: false,
  };
}

const rows = new Map<string, number[]>();
function timed<T>(label: string, f: () => T): T {
  const t0 = performance.now();
  const r = f();
  const s = (performance.now() - t0) / 1000;
  rows.set(label, [...(rows.get(label) ?? []), s]);
  return r;
}

const dir = values.dir || mkdtempSync(path.join(os.tmpdir(), 'spikeshard-learnbench-'));
const cp = new Checkpoints(path.join(dir, '.run', 'imec0'), silentLogger());
const triageOptions = { minNsp: 0.04 * 2, maxSimilarity: 0.9, amplitudeGap: 4 * Math.sqrt(10) };
const info = { templates: nTemplates, channels: nChannels, batches: nBatches, active: activeFraction };
console.log(`learning step bench: ${JSON.stringify(info)}, proposals/batch ${nProposals}, threads ${values.threads}`);

let templatesAfterTriage = 0;
let born = 0;
try {
  for (let rep = 0; rep < repeats; rep++) {
    const state = syntheticState();
    // The previous round's factorisation, so that the timed one is warm-started as in the loop.
    factorize(state, neighbourhoods, nNeighbours, initialTemporal);
    let model: TemplateModel = timed('factorize', () => factorize(state, neighbourhoods, nNeighbours, initialTemporal));
    timed('  of which zeroLagSimilarity', () => zeroLagSimilarity(model));
    const keep = timed('triage', () => triage(state, model, triageOptions));
    // As triageAndSelect: the survivors' rows of the model (no second factorisation).
    timed('select the survivors', () => {
      selectTemplates(state, keep);
      model = selectModelTemplates(model, keep);
    });
    templatesAfterTriage = state.dWU.length;
    timed('templateCorrelations (nSimilarMax 1)', () =>
      templateCorrelations(model, { nSimilarMax: 1, threads: Number(values.threads) }),
    );
    const results = Array.from({ length: nBatches }, () => syntheticBatch(state.dWU.length));
    const roundKey = 'learning/round-00000';
    if (values['batch-records']) {
      timed(`save ${nBatches} batch records`, () => {
        results.forEach((r, i) => cp.save(`${roundKey}/batch-${String(i).padStart(5, '0')}`, r));
      });
    }
    timed(`applyBatchStatistics × ${nBatches}`, () => {
      results.forEach((r, i) => applyBatchStatistics(state, r, Math.exp(-1 / (20 + i))));
    });
    born = timed('addBirths', () =>
      addBirths(state, results, {
        pcs: initialTemporal,
        nPcs: 3,
        neighbourhoods,
        nNeighbours,
        initialNsp: 0.08,
        maxTemplates: 6 * nChannels,
      }),
    );
    timed('  of which encode (SHA-256)', () =>
      encodeRecord('learning/state', { roundsDone: 1, visited: nBatches, state }),
    );
    timed('save learning/state, blocking', () =>
      cp.saveUnsynced('learning/state', { roundsDone: 1, visited: nBatches, state }),
    );
    // As the learning loop saves it: hashed on the main thread, written while the next round runs.
    const written = timed('save learning/state, in the background', () =>
      cp.saveUnsyncedInBackground('learning/state', { roundsDone: 1, visited: nBatches, state }),
    );
    const t0 = performance.now();
    await written;
    rows.set(' (its write, overlapped)', [
      ...(rows.get(' (its write, overlapped)') ?? []),
      (performance.now() - t0) / 1000,
    ]);
    if (values['batch-records']) timed('remove batch records', () => cp.remove(roundKey));
    const extraction = syntheticExtraction(Number(values['extraction-spikes']));
    timed('extraction batch record, fsync', () =>
      cp.save(`extraction/batch-${String(2 * rep).padStart(5, '0')}`, extraction),
    );
    timed('extraction batch record, no fsync', () =>
      cp.saveUnsynced(`extraction/batch-${String(2 * rep + 1).padStart(5, '0')}`, extraction),
    );
  }
} finally {
  if (!values.dir) rmSync(dir, { recursive: true, force: true });
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
let total = 0;
const table: Record<string, number> = {};
console.log(`templates after triage ${templatesAfterTriage}, born ${born}`);
console.log('piece'.padEnd(40) + 'seconds');
for (const [label, xs] of rows) {
  const s = median(xs);
  table[label] = s;
  // Indented pieces are parts of the next piece (timed apart to see what it costs) or overlapped
  // with other work, the blocking save is what the background one replaced, and the extraction
  // record is one batch of another stage: none adds to the round's total.
  if (!label.startsWith(' ') && !label.startsWith('extraction') && !label.endsWith('blocking')) total += s;
  console.log(label.padEnd(40) + s.toFixed(3));
}
console.log('total (the round)'.padEnd(40) + total.toFixed(3));
const rssMb = process.resourceUsage().maxRSS / 1024;
console.log(`peak RSS ${rssMb.toFixed(0)} MB`);
if (values.json) writeFileSync(values.json, JSON.stringify({ ...info, table, total, rssMb }, null, 2) + '\n');
