// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Checks of every result a worker returns, before it enters a reduction: types, lengths and
 * ranges that the request fixes. A result that fails is garbage: the worker that sent it loses the
 * batch (and is marked dead), and the batch goes elsewhere.
 */
import type {
  BatchSpan,
  DriftBatchResult,
  ExtractBatchResult,
  LearnBatchResult,
  MatchModel,
  WindowStatistics,
} from '../../native/lib/index.js';
import { expected } from '../../proto/errors.js';

/** A worker's result that cannot be right. */
export class GarbageResultError extends Error {
  override readonly name = 'GarbageResultError';
}

type Body = Record<string, unknown>;

function check(cond: boolean, what: string, got: unknown): void {
  if (!cond) throw new GarbageResultError(expected(what, got));
}

function typed<T>(v: unknown, ctor: new (n: number) => T, name: string, length?: number): T {
  check(v instanceof ctor, `${name} a ${ctor.name}`, v === null ? 'nothing' : typeof v);
  if (length !== undefined)
    check((v as { length: number }).length === length, `${name} of ${length} values`, (v as { length: number }).length);
  return v as T;
}

function count(v: unknown, name: string): number {
  check(typeof v === 'number' && Number.isSafeInteger(v) && v >= 0, `${name} a count`, v);
  return v as number;
}

/** Absolute sample times: whole numbers in [start, end), ascending if `sorted`. */
function samplesIn(samples: Float64Array, start: number, end: number, name: string, sorted: boolean): void {
  let prev = -Infinity;
  for (const s of samples) {
    check(Number.isInteger(s) && s >= start && s < end, `${name} whole samples in [${start}, ${end})`, s);
    if (sorted) check(s >= prev, `${name} ascending`, s);
    prev = s;
  }
}

export function validateWindowStatistics(v: Body, nChannels: number): WindowStatistics {
  const labels = typed(v['labels'], Int32Array, 'labels', nChannels);
  for (const l of labels) check(l >= 0 && l <= 3, 'labels in 0..3', l);
  const covariance = typed(v['covariance'], Float64Array, 'covariance', nChannels * nChannels);
  return { labels, covariance };
}

export function validateSnippets(v: Body, snippetSamples: number): Float32Array {
  const s = typed(v['snippets'], Float32Array, 'snippets');
  check(s.length % snippetSamples === 0, `snippets a multiple of ${snippetSamples} values`, s.length);
  return s;
}

export function validateDriftResult(
  v: Body,
  batch: BatchSpan,
  previous: DriftBatchResult | undefined,
): DriftBatchResult {
  const depthBins = count(v['depthBins'], 'depthBins');
  const ampBins = count(v['ampBins'], 'ampBins');
  if (previous)
    check(
      depthBins === previous.depthBins && ampBins === previous.ampBins,
      'the histogram shape of the other batches',
      `${depthBins}×${ampBins}`,
    );
  const histogram = typed(v['histogram'], Float32Array, 'histogram', depthBins * ampBins);
  const samples = typed(v['samples'], Float64Array, 'samples');
  const depthsUm = typed(v['depthsUm'], Float32Array, 'depthsUm', samples.length);
  const amplitudes = typed(v['amplitudes'], Float32Array, 'amplitudes', samples.length);
  samplesIn(samples, batch.ownStart, batch.ownEnd, 'samples', false);
  return { histogram, depthBins, ampBins, samples, depthsUm, amplitudes };
}

export function validateLearnResult(v: Body, model: MatchModel): LearnBatchResult {
  const m = model.model;
  const nTemplates = count(v['nTemplates'], 'nTemplates');
  check(nTemplates === m.nTemplates, `nTemplates ${m.nTemplates}`, nTemplates);
  const perTemplate = m.templateSamples * m.nChannels;
  const counts = typed(v['counts'], Int32Array, 'counts', nTemplates > 0 ? nTemplates : 0);
  for (const c of counts) check(c >= 0, 'counts >= 0', c);
  // Sums come only for the templates with spikes: `active` lists exactly those, ascending.
  const active = typed(v['active'], Int32Array, 'active', counts.filter((c) => c > 0).length);
  active.forEach((j, k) =>
    check(
      j >= 0 && j < nTemplates && counts[j]! > 0 && (k === 0 || j > active[k - 1]!),
      'active: the templates with counts > 0, ascending',
      j,
    ),
  );
  const sums = typed(v['sums'], Float64Array, 'sums', active.length * perTemplate);
  const proposalChannels = typed(v['proposalChannels'], Int32Array, 'proposalChannels');
  const n = proposalChannels.length;
  for (const c of proposalChannels) check(c >= 0 && c < m.nChannels, `proposal channels in [0, ${m.nChannels})`, c);
  const proposals = typed(
    v['proposals'],
    Float32Array,
    'proposals',
    n * model.prototypes.templateSamples * m.nChannels,
  );
  const proposalScores = typed(v['proposalScores'], Float32Array, 'proposalScores', n);
  const spikes = count(v['spikes'], 'spikes');
  return { nTemplates, active, sums, counts, proposals, proposalChannels, proposalScores, spikes };
}

export function validateExtractResult(v: Body, batch: BatchSpan, model: MatchModel): ExtractBatchResult {
  const m = model.model;
  const samples = typed(v['samples'], Float64Array, 'samples');
  const s = samples.length;
  samplesIn(samples, batch.ownStart, batch.ownEnd, 'samples', true);
  const templates = typed(v['templates'], Int32Array, 'templates', s);
  for (const t of templates) check(t >= 0 && t < m.nTemplates, `templates in [0, ${m.nTemplates})`, t);
  const amplitudes = typed(v['amplitudes'], Float32Array, 'amplitudes', s);
  const scores = typed(v['scores'], Float32Array, 'scores', s);
  const nSimilar = model.similar?.nSimilar ?? 0;
  const templateFeatures = typed(v['templateFeatures'], Float32Array, 'templateFeatures', s * nSimilar);
  const nPcs = model.pcs?.nPcs ?? 0;
  const pcFeatures = typed(v['pcFeatures'], Float32Array, 'pcFeatures', s * nPcs * model.nNeighbours);
  check(typeof v['capped'] === 'boolean', 'capped a boolean', v['capped']);
  return { samples, templates, amplitudes, scores, templateFeatures, pcFeatures, capped: v['capped'] as boolean };
}
