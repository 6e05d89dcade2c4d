// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Writes SpikeGLX `.ap.meta` text for simulated recordings, shaped like the files SpikeGLX
 * (≥ 2023) writes, so that a simulated recording goes through exactly the reader real data does.
 */
import { ParameterError, expected } from '../../../proto/errors.js';
import {
  defaultProbeModel,
  electrodePositionUm,
  referenceChannels,
  type ProbeModel,
  type ProbeType,
} from './probe-table.js';

/** What the meta describes. */
export interface SpikeGlxMetaOptions {
  probeType: ProbeType;
  /** Neural (AP) channels saved, 1 to 384; the file has one more column, the sync channel. */
  nChannels: number;
  sampleRateHz: number;
  /** Samples in the `.bin` (fileSizeBytes = nSamples · (nChannels + 1) · 2). */
  nSamples: number;
  /** The N of `imecN`. @default 0 */
  probeIndex?: number;
  /** @default 0 */
  firstSample?: number;
  /** NP1.0 AP gain written into the imro table. @default 500 */
  apGain?: number;
  /** Written as `fileName=`. @default `sim_g0_t0.imec<probeIndex>.ap.bin` */
  fileName?: string;
  /** Written as `fileCreateTime=`; fixed by default so that the output is reproducible. */
  fileCreateTime?: string;
  /** @default 'simulated by spikeshard' */
  userNotes?: string;
}

/** Acquisition channels of one probe (AP); SpikeGLX's imro table always lists all of them. */
const ACQUIRED_AP = 384;

interface Site {
  shank: number;
  /** Electrode index within the shank. */
  electrode: number;
}

/**
 * The electrode behind each of the 384 acquisition channels. Single-shank probes use bank 0
 * (electrode = channel). Four-shank probes put the first `nChannels` in equal blocks at the
 * bottom of the four shanks, as a user's imro would for a simulated tetrode-like spread, and
 * park the unsaved channels above them.
 */
function sites(model: ProbeModel, nChannels: number): Site[] {
  const out: Site[] = [];
  if (model.nShanks === 1) {
    for (let c = 0; c < ACQUIRED_AP; c++) out.push({ shank: 0, electrode: c });
    return out;
  }
  const perShank = Math.ceil(nChannels / model.nShanks);
  for (let c = 0; c < ACQUIRED_AP; c++) {
    if (c < nChannels) {
      out.push({ shank: Math.floor(c / perShank), electrode: c % perShank });
    } else {
      const k = c - nChannels;
      out.push({ shank: k % model.nShanks, electrode: perShank + Math.floor(k / model.nShanks) });
    }
  }
  return out;
}

function checkOptions(o: SpikeGlxMetaOptions): void {
  const fail = (name: string, what: string, got: unknown): never => {
    throw new ParameterError(`spikeGlxMeta ${name}: ${expected(what, got)}`);
  };
  if (o.probeType !== 'np1' && o.probeType !== 'np2' && o.probeType !== 'np2-4shank') {
    fail('probeType', "'np1', 'np2' or 'np2-4shank'", o.probeType);
  }
  if (!Number.isInteger(o.nChannels) || o.nChannels < 1 || o.nChannels > ACQUIRED_AP) {
    fail('nChannels', `an integer from 1 to ${ACQUIRED_AP}`, o.nChannels);
  }
  if (!(Number.isFinite(o.sampleRateHz) && o.sampleRateHz > 0))
    fail('sampleRateHz', 'a positive number', o.sampleRateHz);
  if (!Number.isSafeInteger(o.nSamples) || o.nSamples < 0) fail('nSamples', 'an integer >= 0', o.nSamples);
  const probeIndex = o.probeIndex ?? 0;
  if (!Number.isSafeInteger(probeIndex) || probeIndex < 0) fail('probeIndex', 'an integer >= 0', probeIndex);
  const firstSample = o.firstSample ?? 0;
  if (!Number.isSafeInteger(firstSample) || firstSample < 0) fail('firstSample', 'an integer >= 0', firstSample);
  const np1Gains = [50, 125, 250, 500, 1000, 1500, 2000, 3000];
  if (o.apGain !== undefined && (o.probeType !== 'np1' || !np1Gains.includes(o.apGain))) {
    fail('apGain', `one of ${np1Gains.join(', ')} (NP1.0 only)`, o.apGain);
  }
  for (const name of ['fileName', 'fileCreateTime', 'userNotes'] as const) {
    const text = o[name];
    if (text !== undefined && /[\r\n]/.test(text)) fail(name, 'a single line', text);
  }
}

/**
 * The text of a SpikeGLX `.ap.meta` for a recording of the first `nChannels` channels of a
 * probe plus its sync channel (nSavedChans = nChannels + 1), keys in SpikeGLX's order.
 */
export function spikeGlxMeta(options: SpikeGlxMetaOptions): string {
  checkOptions(options);
  const model = defaultProbeModel(options.probeType);
  const { nChannels, sampleRateHz, nSamples } = options;
  const probeIndex = options.probeIndex ?? 0;
  const apGain = options.apGain ?? 500;
  const isNp1 = model.type === 'np1';
  const nSaved = nChannels + 1;
  // NP1.0 acquires AP, LF and sync (768 = SY); NP2.0 acquires AP and sync (384 = SY).
  const syncAcquired = isNp1 ? 2 * ACQUIRED_AP : ACQUIRED_AP;
  const acqApLfSy = isNp1 ? `${ACQUIRED_AP},${ACQUIRED_AP},1` : `${ACQUIRED_AP},0,1`;
  const layout = sites(model, nChannels);

  let imroTbl: string;
  if (isNp1) {
    imroTbl = `(0,${ACQUIRED_AP})` + layout.map((_, c) => `(${c} 0 0 ${apGain} 250 1)`).join('');
  } else if (model.nShanks === 1) {
    imroTbl = `(${model.typeCode},${ACQUIRED_AP})` + layout.map((s, c) => `(${c} 1 0 ${s.electrode})`).join('');
  } else {
    imroTbl =
      `(${model.typeCode},${ACQUIRED_AP})` + layout.map((s, c) => `(${c} ${s.shank} 0 0 ${s.electrode})`).join('');
  }

  const saved = layout.slice(0, nChannels);
  const chanMapHeader = isNp1 ? `(${ACQUIRED_AP},${ACQUIRED_AP},1)` : `(${ACQUIRED_AP},0,1)`;
  const snsChanMap =
    chanMapHeader + saved.map((_, c) => `(AP${c};${c}:${c})`).join('') + `(SY0;${syncAcquired}:${syncAcquired})`;
  const references = referenceChannels(model, false);
  const used = (channel: number): number => (references.includes(channel) ? 0 : 1);
  const snsShankMap =
    `(${model.nShanks},${model.columnsPerShank},${model.rowsPerShank})` +
    saved
      .map((s, c) => {
        const col = s.electrode % model.columnsPerShank;
        const row = Math.floor(s.electrode / model.columnsPerShank);
        return `(${s.shank}:${col}:${row}:${used(c)})`;
      })
      .join('');
  const snsGeomMap =
    `(${model.partNumber},${model.nShanks},${model.shankPitchUm},${model.shankWidthUm})` +
    saved
      .map((s, c) => {
        const p = electrodePositionUm(model, s.electrode);
        return `(${s.shank}:${p.xUm}:${p.yUm}:${used(c)})`;
      })
      .join('');

  const values: Record<string, string> = {
    acqApLfSy,
    appVersion: '20230905',
    fileCreateTime: options.fileCreateTime ?? '2024-01-01T00:00:00',
    fileName: options.fileName ?? `sim_g0_t0.imec${probeIndex}.ap.bin`,
    fileSizeBytes: String(nSamples * nSaved * 2),
    fileTimeSecs: String(nSamples / sampleRateHz),
    firstSample: String(options.firstSample ?? 0),
    gateMode: 'Immediate',
    imAiRangeMax: String(model.adcRangeV),
    imAiRangeMin: String(-model.adcRangeV),
    imChan0apGain: String(isNp1 ? apGain : model.fixedApGain),
    imDatPrb_dock: '1',
    imDatPrb_pn: model.partNumber,
    imDatPrb_port: String(probeIndex + 1),
    imDatPrb_slot: '2',
    imDatPrb_sn: String(18_000_000_000 + probeIndex),
    imDatPrb_type: String(model.typeCode),
    imMaxInt: String(model.maxInt),
    imSampRate: String(sampleRateHz),
    nDataDirs: '1',
    nSavedChans: String(nSaved),
    snsApLfSy: `${nChannels},0,1`,
    snsSaveChanSubset: `${nChannels === 1 ? '0' : `0:${nChannels - 1}`},${syncAcquired}`,
    trigMode: 'Immediate',
    typeImEnabled: '1',
    typeNiEnabled: '0',
    typeObEnabled: '0',
    typeThis: 'imec',
    userNotes: options.userNotes ?? 'simulated by spikeshard',
  };
  if (isNp1) values['imChan0lfGain'] = '250';
  const tables: Record<string, string> = { imroTbl, snsChanMap, snsGeomMap, snsShankMap };

  const byAscii = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  const lines = Object.keys(values)
    .sort(byAscii)
    .map((k) => `${k}=${values[k]}`);
  for (const k of Object.keys(tables).sort(byAscii)) lines.push(`~${k}=${tables[k]}`);
  return lines.join('\n') + '\n';
}
