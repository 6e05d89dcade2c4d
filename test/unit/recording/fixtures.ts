// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Meta fixtures written like real SpikeGLX files (keys, order and table syntax as SpikeGLX
 * writes them). The long tables are produced by small loops over the values a real file lists.
 */
import { writeFileSync } from 'node:fs';

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** NP1.0 geomMap x for electrodes 0, 1, 2, 3 (staggered rows), repeating every two rows. */
const NP1_X = [27, 59, 11, 43];

/** Lines of a meta as an object, so that tests can drop or change single keys. */
export type MetaLines = Record<string, string>;

export function metaText(lines: MetaLines): string {
  return (
    Object.entries(lines)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n') + '\n'
  );
}

/** An NP1.0 (3B2) AP meta as written by SpikeGLX 20230411: 384 AP + sync, with ~snsGeomMap. */
export function np1Meta(nSamples: number): MetaLines {
  return {
    acqApLfSy: '384,384,1',
    appVersion: '20230411',
    fileCreateTime: '2023-08-14T17:42:44',
    fileName: 'D:/data/run_g0/run_g0_imec0/run_g0_t0.imec0.ap.bin',
    fileSHA1: '08A68FB620449C6BC322A1709042AD1BB84B5C4D',
    fileSizeBytes: String(nSamples * 385 * 2),
    fileTimeSecs: String(nSamples / 30000),
    firstSample: '373138',
    gateMode: 'Immediate',
    imAiRangeMax: '0.6',
    imAiRangeMin: '-0.6',
    imChan0apGain: '500',
    imDatPrb_dock: '1',
    imDatPrb_pn: 'PRB_1_4_0480_1_C',
    imDatPrb_port: '3',
    imDatPrb_slot: '4',
    imDatPrb_sn: '20097916182',
    imDatPrb_type: '0',
    imMaxInt: '512',
    imSampRate: '30000',
    nSavedChans: '385',
    snsApLfSy: '384,0,1',
    snsSaveChanSubset: '0:383,768',
    typeThis: 'imec',
    userNotes: '',
    '~imroTbl':
      '(0,384)' +
      range(384)
        .map((c) => `(${c} 0 0 500 250 1)`)
        .join(''),
    '~snsChanMap':
      '(384,384,1)' +
      range(384)
        .map((c) => `(AP${c};${c}:${c})`)
        .join('') +
      '(SY0;768:768)',
    '~snsGeomMap':
      '(PRB_1_4_0480_1_C,1,0,70)' +
      range(384)
        .map((c) => `(0:${NP1_X[c % 4]}:${Math.floor(c / 2) * 20}:${c === 191 ? 0 : 1})`)
        .join(''),
  };
}

/** An NP1.0 meta from an older SpikeGLX (2019–2022): ~snsShankMap instead of ~snsGeomMap. */
export function np1OldMeta(nSamples: number): MetaLines {
  const m = np1Meta(nSamples);
  delete m['~snsGeomMap'];
  delete m['imChan0apGain'];
  m['appVersion'] = '20190919';
  m['~snsShankMap'] =
    '(1,2,480)' +
    range(384)
      .map((c) => `(0:${c % 2}:${Math.floor(c / 2)}:${c === 191 ? 0 : 1})`)
      .join('');
  return m;
}

/** An NP1.0 meta with only the imro table to say where the sites are. */
export function np1ImroOnlyMeta(nSamples: number): MetaLines {
  const m = np1OldMeta(nSamples);
  delete m['~snsShankMap'];
  return m;
}

/** The channels a phase 3A shank map marks unused (reference sites), as in real 3A metas. */
const PHASE_3A_REFERENCES = [36, 75, 112, 151, 188, 227, 264, 303, 340, 379];

/** A phase 3A meta: 3-field imro header with serial number, no imDatPrb_type, no imMaxInt. */
export function np3aMeta(nSamples: number): MetaLines {
  return {
    acqApLfSy: '384,384,1',
    appVersion: '20190413',
    fileSizeBytes: String(nSamples * 385 * 2),
    imAiRangeMax: '0.6',
    imAiRangeMin: '-0.6',
    imProbeOpt: '3',
    imProbeSN: '641251510',
    imSampRate: '30000',
    nSavedChans: '385',
    snsApLfSy: '384,0,1',
    snsSaveChanSubset: '0:383,768',
    typeEnabled: 'imec',
    typeThis: 'imec',
    '~imroTbl':
      '(641251510,3,384)' +
      range(384)
        .map((c) => `(${c} 0 0 500 250)`)
        .join(''),
    '~snsChanMap':
      '(384,384,1)' +
      range(384)
        .map((c) => `(AP${c};${c}:${c})`)
        .join('') +
      '(SY0;768:768)',
    '~snsShankMap':
      '(1,2,480)' +
      range(384)
        .map((c) => `(0:${c % 2}:${Math.floor(c / 2)}:${PHASE_3A_REFERENCES.includes(c) ? 0 : 1})`)
        .join(''),
  };
}

/** An NP2.0 single-shank (2003) meta: gain from imChan0apGain, imMaxInt 2048. */
export function np2Meta(nSamples: number): MetaLines {
  return {
    acqApLfSy: '384,0,1',
    appVersion: '20230905',
    fileSizeBytes: String(nSamples * 385 * 2),
    imAiRangeMax: '0.62',
    imAiRangeMin: '-0.62',
    imChan0apGain: '100',
    imDatPrb_pn: 'NP2003',
    imDatPrb_type: '2003',
    imMaxInt: '2048',
    imSampRate: '30000.0521',
    nSavedChans: '385',
    snsApLfSy: '384,0,1',
    snsSaveChanSubset: '0:384',
    typeThis: 'imec',
    '~imroTbl':
      '(2003,384)' +
      range(384)
        .map((c) => `(${c} 1 0 ${c})`)
        .join(''),
    '~snsChanMap':
      '(384,0,1)' +
      range(384)
        .map((c) => `(AP${c};${c}:${c})`)
        .join('') +
      '(SY0;384:384)',
    '~snsGeomMap':
      '(NP2003,1,0,70)' +
      range(384)
        .map((c) => `(0:${c % 2 === 0 ? 27 : 59}:${Math.floor(c / 2) * 15}:1)`)
        .join(''),
  };
}

/**
 * The electrode (shank, electrode-on-shank) of each channel in an NP2.0 four-shank imro that
 * reads the bottom 96 electrodes of every shank: channels come in blocks of 48, in the order
 * shank 0, 1, 0, 1, 2, 3, 2, 3 (as in real "bottom channels" imro files).
 */
export function fourShankSites(): Array<{ shank: number; electrode: number }> {
  const blocks = [
    [0, 0],
    [1, 0],
    [0, 48],
    [1, 48],
    [2, 0],
    [3, 0],
    [2, 48],
    [3, 48],
  ];
  return range(384).map((c) => {
    const [shank, first] = blocks[Math.floor(c / 48)]!;
    return { shank: shank!, electrode: first! + (c % 48) };
  });
}

/** An NP2.0 four-shank (2013, part NP2014) meta with ~snsGeomMap. */
export function np24Meta(nSamples: number): MetaLines {
  const sites = fourShankSites();
  return {
    acqApLfSy: '384,0,1',
    appVersion: '20230905',
    fileSizeBytes: String(nSamples * 385 * 2),
    imAiRangeMax: '0.62',
    imAiRangeMin: '-0.62',
    imChan0apGain: '100',
    imDatPrb_pn: 'NP2014',
    imDatPrb_type: '2013',
    imMaxInt: '2048',
    imSampRate: '30000',
    nSavedChans: '385',
    snsApLfSy: '384,0,1',
    snsSaveChanSubset: '0:384',
    typeThis: 'imec',
    '~imroTbl': '(2013,384)' + sites.map((s, c) => `(${c} ${s.shank} 0 0 ${s.electrode})`).join(''),
    '~snsChanMap':
      '(384,0,1)' +
      range(384)
        .map((c) => `(AP${c};${c}:${c})`)
        .join('') +
      '(SY0;384:384)',
    '~snsGeomMap':
      '(NP2014,4,250,70)' +
      sites
        .map((s) => `(${s.shank}:${s.electrode % 2 === 0 ? 27 : 59}:${Math.floor(s.electrode / 2) * 15}:1)`)
        .join(''),
  };
}

/** The int16 value written at (sample t, column c): distinct, signed, easy to recompute. */
export function sampleValue(t: number, c: number): number {
  return ((t * 389 + c * 7919) % 65536) - 32768;
}

/** Writes a .bin of `nSamples` × `nSaved` int16 values from {@link sampleValue}, plus `extraBytes`. */
export function writeBin(path: string, nSamples: number, nSaved: number, extraBytes = 0): void {
  const data = new Int16Array(nSamples * nSaved);
  for (let t = 0; t < nSamples; t++) for (let c = 0; c < nSaved; c++) data[t * nSaved + c] = sampleValue(t, c);
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  writeFileSync(path, extraBytes > 0 ? Buffer.concat([bytes, Buffer.alloc(extraBytes, 7)]) : bytes);
}

/** Writes `<base>.meta` and `<base>.bin`. */
export function writeSpikeGlx(base: string, lines: MetaLines, nSamples: number, nSaved = 385, extraBytes = 0): void {
  writeFileSync(`${base}.meta`, metaText(lines));
  writeBin(`${base}.bin`, nSamples, nSaved, extraBytes);
}
