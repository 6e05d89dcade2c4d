// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Decoded wire bodies → engine requests. The wire layer has checked the array types; this checks
 * what the engine would otherwise misread (ranges, lengths of the per-probe arrays) and validates
 * the parameters against their table. Deeper shape checks happen in the native addon.
 */
import type {
  BatchSpan,
  DriftDetectRequest,
  MatchRequest,
  ProbeWork,
  SnippetsRequest,
  StatisticsRequest,
} from '../native/lib/index.js';
import { ParameterError, expected } from '../proto/errors.js';
import { resolveParams } from '../proto/params.js';
import type { StateCache } from './state-cache.js';

type Body = Record<string, unknown>;

function need(cond: boolean, what: string, got: unknown): void {
  if (!cond) throw new ParameterError(`request: ${expected(what, got)}`);
}

function sampleIndex(v: unknown, name: string): number {
  need(typeof v === 'number' && Number.isSafeInteger(v) && v >= 0, `${name} a sample index >= 0`, v);
  return v as number;
}

function work(body: Body): ProbeWork {
  const w = body['work'] as Body | null;
  need(w !== null && typeof w === 'object', 'work', w);
  const setup = (w as Body)['setup'] as Body | null;
  need(setup !== null && typeof setup === 'object', 'work.setup', setup);
  const n = (setup as Body)['nChannels'];
  need(typeof n === 'number' && n > 0, 'work.setup.nChannels > 0', n);
  for (const k of ['xUm', 'yUm', 'uvPerCount', 'used']) {
    const a = (setup as Body)[k] as ArrayLike<number> | null;
    need(a !== null && a.length === n, `work.setup.${k} of ${String(n)} values`, a?.length);
  }
  const recordingPath = (w as Body)['recordingPath'];
  need(typeof recordingPath === 'string' && recordingPath !== '', 'work.recordingPath', recordingPath);
  let given: unknown;
  try {
    given = JSON.parse((w as Body)['paramsJson'] as string);
  } catch {
    given = undefined;
  }
  need(given !== null && typeof given === 'object', 'work.paramsJson a JSON object', (w as Body)['paramsJson']);
  return {
    probe: (w as Body)['probe'] as string,
    recordingPath: recordingPath as string,
    allowPartialSample: (w as Body)['allowPartialSample'] === true,
    setup: setup as unknown as ProbeWork['setup'],
    params: resolveParams(given as Record<string, unknown>),
  };
}

function batch(body: Body): BatchSpan {
  const b = body['batch'] as Body | null;
  need(b !== null && typeof b === 'object', 'batch', b);
  const span = {
    index: sampleIndex((b as Body)['index'], 'batch.index'),
    ownStart: sampleIndex((b as Body)['ownStart'], 'batch.ownStart'),
    ownEnd: sampleIndex((b as Body)['ownEnd'], 'batch.ownEnd'),
    readStart: sampleIndex((b as Body)['readStart'], 'batch.readStart'),
    readEnd: sampleIndex((b as Body)['readEnd'], 'batch.readEnd'),
  };
  need(
    span.readStart <= span.ownStart && span.ownStart < span.ownEnd && span.ownEnd <= span.readEnd,
    'readStart <= ownStart < ownEnd <= readEnd',
    `${span.readStart}, ${span.ownStart}, ${span.ownEnd}, ${span.readEnd}`,
  );
  return span;
}

function channels(body: Body, n: number): SnippetsRequest['channels'] {
  return channelState(body['channels'] as Body | null, n);
}

function channelState(c: Body | null, n: number): SnippetsRequest['channels'] {
  need(c !== null && typeof c === 'object', 'channels', c);
  for (const k of ['labels', 'good', 'gains']) {
    const a = (c as Body)[k] as ArrayLike<number> | null;
    need(a !== null && a.length === n, `channels.${k} of ${n} values`, a?.length);
  }
  need((c as Body)['whitening'] !== null, 'channels.whitening', null);
  return c as unknown as SnippetsRequest['channels'];
}

export function statisticsRequest(body: Body): StatisticsRequest {
  const w = body['window'] as Body | null;
  need(w !== null && typeof w === 'object', 'window', w);
  const window = {
    readStart: sampleIndex((w as Body)['readStart'], 'window.readStart'),
    readEnd: sampleIndex((w as Body)['readEnd'], 'window.readEnd'),
    marginSamples: sampleIndex((w as Body)['marginSamples'], 'window.marginSamples'),
  };
  need(
    window.readStart < window.readEnd,
    'window.readStart < window.readEnd',
    `${window.readStart}, ${window.readEnd}`,
  );
  return { work: work(body), window };
}

export function snippetsRequest(body: Body): SnippetsRequest {
  const wk = work(body);
  return { work: wk, batch: batch(body), channels: channels(body, wk.setup.nChannels) };
}

export function driftDetectRequest(body: Body): DriftDetectRequest {
  const wk = work(body);
  const wTemp = body['wTemp'];
  need(wTemp instanceof Float32Array, 'wTemp', wTemp);
  return { work: wk, batch: batch(body), channels: channels(body, wk.setup.nChannels), wTemp: wTemp as Float32Array };
}

export function matchRequest(body: Body, cache: StateCache): MatchRequest {
  const wk = work(body);
  const channelsState = cache.resolve(
    'ChannelState',
    body['channels'] as Body | null,
    body['channelsDigest'] as string,
  );
  const model = cache.resolve('MatchModel', body['model'] as Body | null, body['modelDigest'] as string);
  const segments = (body['segments'] as Body[]).map((s) => ({
    batch: sampleIndex(s['batch'], 'segments.batch'),
    start: sampleIndex(s['start'], 'segments.start'),
    end: sampleIndex(s['end'], 'segments.end'),
  }));
  need(
    model !== null && model['model'] !== null && model['prototypes'] !== null,
    'model with templates and prototypes',
    model === null ? 'none' : 'an incomplete model',
  );
  const drift = body['drift'] as Body | null;
  if (drift !== null) {
    const nb = drift['nBatches'] as number;
    const nk = drift['nBlocks'] as number;
    need((drift['dshiftUm'] as Float64Array | null)?.length === nb * nk, `drift.dshiftUm of ${nb}×${nk}`, null);
    for (const s of segments) need(s.batch < nb, `segment batch < ${nb}`, s.batch);
  }
  return {
    work: wk,
    batch: batch(body),
    segments,
    channels: channelState(channelsState, wk.setup.nChannels),
    drift: drift as unknown as MatchRequest['drift'],
    model: model as unknown as MatchRequest['model'],
  };
}
