// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * What a SpikeGLX `.ap.meta` says about its `.ap.bin`: the columns, the probe, where each
 * channel sits and how counts convert to µV (formats.md §1). Every inconsistency that would
 * make the sort wrong is an {@link InputError}; findings that do not are returned as problems.
 */
import { InputError } from '../../../proto/errors.js';
import type { ProbeGeometry } from './geometry.js';
import type { RecordingLayout } from './layout.js';
import {
  clip,
  metaTable,
  numberList,
  optionalNumber,
  requiredNumber,
  requiredValue,
  toNumber,
  type MetaTable,
  type SpikeGlxMeta,
} from './meta-file.js';
import {
  electrodePositionUm,
  electrodesPerShank,
  KNOWN_TYPE_CODES,
  probeModelOfTypeCode,
  referenceChannels,
  sitePositionUm,
  typeCodeOfImroHeader,
  type ProbeModel,
} from './probe-table.js';

/** AP gains an NP1.0 channel can be set to. */
const NP1_AP_GAINS = [50, 125, 250, 500, 1000, 1500, 2000, 3000];

const SUPPORTED =
  `supported: ${KNOWN_TYPE_CODES.join(', ')} ` +
  '(0 = NP1.0, 21/2003/2004 = NP2.0 single-shank, 24/2013/2014 = NP2.0 four-shank)';

interface Probe {
  model: ProbeModel;
  /** Phase 3A probes: 3-field imro header, no `imDatPrb_type`, their own reference sites. */
  phase3A: boolean;
}

/** The probe model from `imDatPrb_type`, or from the imro table when the meta predates that key. */
function detectProbe(meta: SpikeGlxMeta, imro: MetaTable | undefined): Probe {
  const imroHeaderModel = (): { model: ProbeModel; phase3A: boolean } | undefined => {
    if (imro === undefined) return undefined;
    if (imro.header.length === 3) return { model: probeModelOfTypeCode(0)!, phase3A: true };
    const field = imro.header[0] ?? '';
    const code = typeCodeOfImroHeader(field);
    const model = code === undefined ? undefined : probeModelOfTypeCode(code);
    if (model === undefined) {
      throw new InputError(
        meta.path,
        `~imroTbl header names probe type ${JSON.stringify(clip(field))}: not supported (${SUPPORTED})`,
      );
    }
    return { model, phase3A: false };
  };
  const typeText = meta.values.get('imDatPrb_type');
  if (typeText === undefined) {
    const fromImro = imroHeaderModel();
    if (fromImro === undefined) {
      throw new InputError(meta.path, 'has neither imDatPrb_type nor ~imroTbl, so the probe type is unknown');
    }
    return fromImro;
  }
  const code = toNumber(meta, 'imDatPrb_type', typeText, 'integer >= 0');
  const model = probeModelOfTypeCode(code);
  if (model === undefined) {
    throw new InputError(meta.path, `imDatPrb_type=${typeText}: probe type not supported (${SUPPORTED})`);
  }
  const fromImro = imroHeaderModel();
  if (fromImro !== undefined && fromImro.model.type !== model.type) {
    throw new InputError(
      meta.path,
      `imDatPrb_type=${typeText} is a ${model.name} but the ~imroTbl header (${imro!.header.join(',')}) is for a ${fromImro.model.name}`,
    );
  }
  return { model, phase3A: false };
}

/** Expands `snsSaveChanSubset` (`all` or `0:383,768`) into acquisition channel indices. */
function savedAcquisitionChannels(meta: SpikeGlxMeta, nSaved: number): number[] | null {
  const text = meta.values.get('snsSaveChanSubset');
  if (text === undefined || text.trim() === 'all') return null;
  const out: number[] = [];
  for (const part of text.split(',')) {
    const range = part.split(':');
    if (range.length > 2)
      throw new InputError(meta.path, `snsSaveChanSubset: cannot read the range ${JSON.stringify(part)}`);
    const first = toNumber(meta, 'snsSaveChanSubset', range[0]!, 'integer >= 0');
    const last = range.length === 2 ? toNumber(meta, 'snsSaveChanSubset', range[1]!, 'integer >= 0') : first;
    if (last < first) throw new InputError(meta.path, `snsSaveChanSubset: range ${part} runs backwards`);
    for (let c = first; c <= last && out.length <= nSaved; c++) out.push(c);
  }
  if (out.length !== nSaved) {
    throw new InputError(
      meta.path,
      `snsSaveChanSubset=${clip(text)} lists ${out.length > nSaved ? 'more than ' + nSaved : out.length} channels but nSavedChans=${nSaved}`,
    );
  }
  return out;
}

interface ImroEntry {
  shank: number;
  /** Electrode index within the shank. */
  electrode: number;
  /** NP1.0 only: the AP gain field. */
  apGain: number | null;
}

/** Reads the imro table into entries indexed by acquisition channel. */
function imroEntries(meta: SpikeGlxMeta, imro: MetaTable, probe: Probe, nAcquiredAp: number | undefined): ImroEntry[] {
  const { model } = probe;
  const key = '~imroTbl';
  const declared = toNumber(meta, `${key} header`, imro.header[imro.header.length - 1] ?? '', 'integer >= 0');
  if (declared !== imro.entries.length) {
    throw new InputError(
      meta.path,
      `${key} header says ${declared} channels but the table has ${imro.entries.length} entries`,
    );
  }
  if (nAcquiredAp !== undefined && imro.entries.length !== nAcquiredAp) {
    throw new InputError(
      meta.path,
      `${key} has ${imro.entries.length} entries but acqApLfSy says ${nAcquiredAp} AP channels were acquired`,
    );
  }
  const minFields = model.type === 'np1' ? 5 : model.type === 'np2' ? 4 : 5;
  const out: ImroEntry[] = new Array<ImroEntry>(imro.entries.length);
  for (const [i, fields] of imro.entries.entries()) {
    const what = `${key} entry ${i} (${fields.join(' ')})`;
    if (fields.length < minFields) {
      throw new InputError(meta.path, `${what}: expected at least ${minFields} fields for a ${model.name}`);
    }
    const num = (j: number): number => toNumber(meta, what, fields[j]!, 'integer >= 0');
    const channel = num(0);
    if (channel >= out.length || out[channel] !== undefined) {
      throw new InputError(meta.path, `${what}: channel ${channel} is out of range or listed twice`);
    }
    let entry: ImroEntry;
    if (model.type === 'np1') {
      // (channel bank ref apGain lfGain [hpf]); banks are as long as the table (384; 276 on some 3A).
      entry = { shank: 0, electrode: num(1) * declared + channel, apGain: num(3) };
    } else if (model.type === 'np2') {
      entry = { shank: 0, electrode: num(3), apGain: null }; // (channel bankMask ref electrode)
    } else {
      entry = { shank: num(1), electrode: num(4), apGain: null }; // (channel shank bank ref electrode)
    }
    if (entry.shank >= model.nShanks || entry.electrode >= electrodesPerShank(model)) {
      throw new InputError(
        meta.path,
        `${what}: shank ${entry.shank}, electrode ${entry.electrode} does not exist on a ${model.name}`,
      );
    }
    out[channel] = entry;
  }
  return out;
}

function geometryFromGeomMap(meta: SpikeGlxMeta, table: MetaTable, model: ProbeModel, nAp: number): ProbeGeometry {
  const key = '~snsGeomMap';
  if (table.header.length !== 4) {
    throw new InputError(
      meta.path,
      `${key} header (${table.header.join(',')}): expected (partNumber,nShanks,shankPitch,shankWidth)`,
    );
  }
  const nShanks = toNumber(meta, `${key} header nShanks`, table.header[1]!, 'positive integer');
  const shankPitchUm = toNumber(meta, `${key} header shank pitch`, table.header[2]!, 'number');
  if (nShanks !== model.nShanks) {
    throw new InputError(meta.path, `${key} says ${nShanks} shank(s) but a ${model.name} has ${model.nShanks}`);
  }
  if (nShanks > 1 && !(shankPitchUm > 0)) {
    throw new InputError(
      meta.path,
      `${key} header gives shank pitch ${table.header[2]} µm for a ${nShanks}-shank probe`,
    );
  }
  checkEntryCount(meta, key, table.entries.length, nAp);
  const g = newGeometry(nAp, nShanks, nShanks > 1 ? shankPitchUm : 0, 'snsGeomMap');
  for (const [i, fields] of table.entries.entries()) {
    const what = `${key} entry ${i} (${fields.join(':')})`;
    if (fields.length !== 4) throw new InputError(meta.path, `${what}: expected shank:x:z:used`);
    g.shank[i] = toShank(meta, what, fields[0]!, nShanks);
    g.xUm[i] = toNumber(meta, what, fields[1]!, 'number');
    g.yUm[i] = toNumber(meta, what, fields[2]!, 'number');
    g.used[i] = toUsed(meta, what, fields[3]!);
  }
  return g;
}

function geometryFromShankMap(meta: SpikeGlxMeta, table: MetaTable, model: ProbeModel, nAp: number): ProbeGeometry {
  const key = '~snsShankMap';
  if (table.header.length !== 3) {
    throw new InputError(meta.path, `${key} header (${table.header.join(',')}): expected (nShanks,nColumns,nRows)`);
  }
  const nShanks = toNumber(meta, `${key} header nShanks`, table.header[0]!, 'positive integer');
  if (nShanks !== model.nShanks) {
    throw new InputError(meta.path, `${key} says ${nShanks} shank(s) but a ${model.name} has ${model.nShanks}`);
  }
  checkEntryCount(meta, key, table.entries.length, nAp);
  const g = newGeometry(nAp, nShanks, model.shankPitchUm, 'snsShankMap');
  for (const [i, fields] of table.entries.entries()) {
    const what = `${key} entry ${i} (${fields.join(':')})`;
    if (fields.length !== 4) throw new InputError(meta.path, `${what}: expected shank:column:row:used`);
    g.shank[i] = toShank(meta, what, fields[0]!, nShanks);
    const column = toNumber(meta, what, fields[1]!, 'integer >= 0');
    const row = toNumber(meta, what, fields[2]!, 'integer >= 0');
    if (column >= model.columnsPerShank) {
      throw new InputError(
        meta.path,
        `${what}: column ${column}, but a ${model.name} has ${model.columnsPerShank} columns`,
      );
    }
    const p = sitePositionUm(model, column, row);
    g.xUm[i] = p.xUm;
    g.yUm[i] = p.yUm;
    g.used[i] = toUsed(meta, what, fields[3]!);
  }
  return g;
}

function geometryFromImro(
  imro: ImroEntry[],
  probe: Probe,
  apAcquired: readonly number[],
  problems: string[],
): ProbeGeometry {
  const { model } = probe;
  const g = newGeometry(apAcquired.length, model.nShanks, model.shankPitchUm, 'imroTbl');
  const references = referenceChannels(model, probe.phase3A);
  for (const [i, acq] of apAcquired.entries()) {
    const e = imro[acq]!;
    const p = electrodePositionUm(model, e.electrode);
    g.xUm[i] = p.xUm;
    g.yUm[i] = p.yUm;
    g.shank[i] = e.shank;
    g.used[i] = references.includes(acq) ? 0 : 1;
  }
  problems.push('the meta has neither ~snsGeomMap nor ~snsShankMap; site positions were derived from ~imroTbl');
  if (probe.phase3A)
    problems.push('phase 3A reference sites are not known without ~snsShankMap; all sites count as used');
  return g;
}

function newGeometry(
  n: number,
  nShanks: number,
  shankPitchUm: number,
  source: ProbeGeometry['source'],
): ProbeGeometry & { xUm: Float64Array; yUm: Float64Array; shank: Int32Array; used: Uint8Array } {
  return {
    xUm: new Float64Array(n),
    yUm: new Float64Array(n),
    shank: new Int32Array(n),
    used: new Uint8Array(n),
    nShanks,
    shankPitchUm,
    source,
  };
}

function checkEntryCount(meta: SpikeGlxMeta, key: string, entries: number, nAp: number): void {
  if (entries !== nAp) {
    throw new InputError(
      meta.path,
      `${key} has ${entries} entries but snsApLfSy says the file holds ${nAp} AP channels (one entry per saved AP channel expected)`,
    );
  }
}

function toShank(meta: SpikeGlxMeta, what: string, text: string, nShanks: number): number {
  const s = toNumber(meta, what, text, 'integer >= 0');
  if (s >= nShanks) throw new InputError(meta.path, `${what}: shank ${s} on a ${nShanks}-shank probe`);
  return s;
}

function toUsed(meta: SpikeGlxMeta, what: string, text: string): number {
  if (text !== '0' && text !== '1')
    throw new InputError(meta.path, `${what}: used flag ${JSON.stringify(text)}, expected 0 or 1`);
  return Number(text);
}

/** µV per count of each neural channel: imAiRangeMax / imMaxInt / gain · 1e6. */
function gains(
  meta: SpikeGlxMeta,
  probe: Probe,
  imro: ImroEntry[] | undefined,
  apAcquired: readonly number[],
  problems: string[],
): Float64Array {
  const { model } = probe;
  let rangeV = optionalNumber(meta, 'imAiRangeMax', 'positive number');
  if (rangeV === undefined) {
    rangeV = model.adcRangeV;
    problems.push(`imAiRangeMax is missing; assumed ${rangeV} V, the ${model.name} default`);
  }
  let maxInt = optionalNumber(meta, 'imMaxInt', 'positive integer');
  if (maxInt === undefined) {
    maxInt = model.maxInt;
    // Older NP1.0 metas never had imMaxInt; for NP2.0 its absence is worth a word.
    if (model.type !== 'np1') problems.push(`imMaxInt is missing; assumed ${maxInt}, the ${model.name} default`);
  }
  const chan0Gain = optionalNumber(meta, 'imChan0apGain', 'positive number');
  const out = new Float64Array(apAcquired.length);
  for (const [i, acq] of apAcquired.entries()) {
    let gain: number;
    if (model.type === 'np1') {
      const fromImro = imro?.[acq]?.apGain;
      if (fromImro !== undefined && fromImro !== null) {
        if (!NP1_AP_GAINS.includes(fromImro)) {
          throw new InputError(
            meta.path,
            `~imroTbl gives channel ${acq} an AP gain of ${fromImro}; expected one of ${NP1_AP_GAINS.join(', ')}`,
          );
        }
        gain = fromImro;
      } else if (chan0Gain !== undefined) {
        gain = chan0Gain;
      } else {
        throw new InputError(meta.path, 'has neither ~imroTbl nor imChan0apGain, so the NP1.0 gain is unknown');
      }
    } else {
      gain = chan0Gain ?? model.fixedApGain!;
    }
    out[i] = (rangeV / maxInt / gain) * 1e6;
  }
  return out;
}

/** Interprets a parsed `.ap.meta`. */
export function spikeGlxLayout(meta: SpikeGlxMeta): RecordingLayout {
  const problems: string[] = [];
  const typeThis = meta.values.get('typeThis');
  if (typeThis !== undefined && typeThis !== 'imec') {
    throw new InputError(meta.path, `typeThis=${typeThis}: not a probe stream (expected typeThis=imec, an .ap.meta)`);
  }
  const nSaved = requiredNumber(meta, 'nSavedChans', 'positive integer', 'the number of columns in the .bin');
  const sampleRateHz = requiredNumber(meta, 'imSampRate', 'positive number', 'the AP sample rate in Hz');
  const apLfSyText = requiredValue(meta, 'snsApLfSy', 'the AP, LF and sync column counts, e.g. 384,0,1');
  const [nAp, nLf, nSy] = numberList(meta, 'snsApLfSy', apLfSyText, 3, 'integer >= 0') as [number, number, number];
  if (nAp + nLf + nSy !== nSaved) {
    throw new InputError(meta.path, `nSavedChans=${nSaved} but snsApLfSy=${apLfSyText} adds up to ${nAp + nLf + nSy}`);
  }
  if (nAp === 0) {
    throw new InputError(
      meta.path,
      `snsApLfSy=${apLfSyText}: the file holds no AP channels (an LF file? give the .ap.bin)`,
    );
  }
  if (nLf > 0) problems.push(`snsApLfSy=${apLfSyText}: the ${nLf} LF columns in this file are not sorted`);

  const acqText = meta.values.get('acqApLfSy');
  const nAcquiredAp = acqText === undefined ? undefined : numberList(meta, 'acqApLfSy', acqText, 3, 'integer >= 0')[0];
  const subset = savedAcquisitionChannels(meta, nSaved);
  // AP columns come first in the file, in acquisition order.
  const apAcquired: number[] = [];
  for (let k = 0; k < nAp; k++) apAcquired.push(subset === null ? k : subset[k]!);
  if (nAcquiredAp !== undefined) {
    const beyond = apAcquired.find((c) => c >= nAcquiredAp);
    if (beyond !== undefined) {
      throw new InputError(
        meta.path,
        `snsSaveChanSubset saves channel ${beyond} among the ${nAp} AP columns, but acqApLfSy says ${nAcquiredAp} AP channels were acquired`,
      );
    }
  }

  const chanMap = metaTable(meta, 'snsChanMap');
  if (chanMap !== undefined && chanMap.entries.length !== nSaved) {
    throw new InputError(meta.path, `~snsChanMap has ${chanMap.entries.length} entries but nSavedChans=${nSaved}`);
  }

  const imroTable = metaTable(meta, 'imroTbl');
  const probe = detectProbe(meta, imroTable);
  const imro = imroTable === undefined ? undefined : imroEntries(meta, imroTable, probe, nAcquiredAp);
  if (imro !== undefined) {
    const missing = apAcquired.find((c) => c >= imro.length);
    if (missing !== undefined) {
      throw new InputError(meta.path, `~imroTbl has ${imro.length} entries but the file saves AP channel ${missing}`);
    }
    if (subset === null && nAcquiredAp === undefined && imro.length !== nAp) {
      throw new InputError(
        meta.path,
        `~imroTbl has ${imro.length} entries but snsApLfSy says the file holds ${nAp} AP channels (all saved)`,
      );
    }
  }

  const geomMap = metaTable(meta, 'snsGeomMap');
  const shankMap = metaTable(meta, 'snsShankMap');
  let geometry: ProbeGeometry;
  if (geomMap !== undefined) geometry = geometryFromGeomMap(meta, geomMap, probe.model, nAp);
  else if (shankMap !== undefined) geometry = geometryFromShankMap(meta, shankMap, probe.model, nAp);
  else if (imro !== undefined) geometry = geometryFromImro(imro, probe, apAcquired, problems);
  else
    throw new InputError(meta.path, 'has no ~snsGeomMap, ~snsShankMap or ~imroTbl, so the site positions are unknown');

  const uvPerCount = gains(meta, probe, imro, apAcquired, problems);

  let syncColumn: number | null = null;
  if (nSy > 0) {
    syncColumn = nSaved - nSy;
    if (nSy > 1)
      problems.push(`snsApLfSy=${apLfSyText}: ${nSy} sync columns; column ${syncColumn} is read as the sync channel`);
  }

  return {
    probeType: probe.model.type,
    probeTypeCode: probe.model.typeCode,
    probeName: probe.phase3A ? 'Neuropixels 1.0 phase 3A' : probe.model.name,
    nSavedChannels: nSaved,
    neuralColumns: Int32Array.from({ length: nAp }, (_, k) => k),
    syncColumn,
    sampleRateHz,
    uvPerCount,
    geometry,
    declaredFileBytes: optionalNumber(meta, 'fileSizeBytes', 'integer >= 0'),
    problems,
  };
}
