// SPDX-License-Identifier: GPL-3.0-or-later
/** `spikeshard info REC`: what spikeshard sees in a recording, before any sorting. */
import type { Command } from 'commander';
import { InputError } from '../../../proto/errors.js';
import {
  discoverSession,
  geometryExtent,
  inspectRecording,
  type RecordingInfo,
  type Session,
} from '../../../native/lib/index.js';
import { formatDuration } from '../../progress.js';
import type { CliContext } from '../main.js';

export interface InfoOptions {
  json?: boolean;
  allowPartialSample?: boolean;
}

/** The probes of a session, described; every probe is tried before the first failure is raised. */
export async function describeSession(
  target: string,
  options: { allowPartialSample: boolean },
): Promise<{ session: Session; probes: RecordingInfo[]; failures: InputError[] }> {
  const session = await discoverSession(target);
  const probes: RecordingInfo[] = [];
  const failures: InputError[] = [];
  for (const probe of session.probes) {
    try {
      probes.push(await inspectRecording(probe, options));
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      failures.push(err);
    }
  }
  return { session, probes, failures };
}

function number(v: number, digits = 6): string {
  return String(Number(v.toPrecision(digits)));
}

function bytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]} (${n} bytes)`;
}

function gainText(uvPerCount: Float64Array): string {
  let min = Infinity;
  let max = -Infinity;
  for (const v of uvPerCount) {
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  return min === max ? number(min) : `${number(min)} to ${number(max)} (varies by channel)`;
}

/** The text block `info` prints for one probe. */
export function infoText(info: RecordingInfo): string {
  const g = info.geometry;
  const extent = geometryExtent(g);
  let used = 0;
  for (const u of g.used) used += u;
  const type =
    info.probeTypeCode !== null
      ? ` (${info.probeType}, imDatPrb_type ${info.probeTypeCode})`
      : info.probeType === 'custom'
        ? ''
        : ` (${info.probeType})`;
  const shanks = g.nShanks === 1 ? '1 shank' : `${g.nShanks} shanks ${number(g.shankPitchUm)} µm apart`;
  const sync = info.syncColumn === null ? 'no sync' : '1 sync';
  const syncAt = info.syncColumn === null ? '' : `; sync is column ${info.syncColumn}`;
  const duration =
    info.durationS >= 60
      ? `${info.durationS.toFixed(3)} s = ${formatDuration(info.durationS)}`
      : `${info.durationS.toFixed(3)} s`;
  const lines = [
    `${info.probeLabel}: ${info.probeName}${type}`,
    `  data         ${info.binPath}`,
    `  described by ${info.metaPath} (${info.format})`,
    `  channels     ${info.nChannels} neural + ${sync} (${info.nSavedChannels} saved${syncAt})`,
    `  sample rate  ${number(info.sampleRateHz, 10)} Hz`,
    `  duration     ${duration} (${info.nSamples} samples)`,
    info.compressed === undefined
      ? `  file size    ${bytes(info.fileBytes)}`
      : `  file size    ${bytes(info.compressed.cbinBytes)} mtscomp (${info.compressed.nChunks} chunks, ` +
        `${bytes(info.fileBytes)} decompressed; ${info.compressed.chPath})`,
    `  µV/count     ${gainText(info.uvPerCount)}`,
    `  geometry     ${shanks}; x ${number(extent.xMinUm)} to ${number(extent.xMaxUm)} µm, ` +
      `y ${number(extent.yMinUm)} to ${number(extent.yMaxUm)} µm; ${used} of ${info.nChannels} sites used ` +
      `(from ${g.source === 'json' ? 'the .json' : `~${g.source}`})`,
  ];
  if (info.problems.length === 0) lines.push('  problems     none');
  else info.problems.forEach((p, i) => lines.push(`  ${i === 0 ? 'problems    ' : '            '} - ${p}`));
  return lines.join('\n');
}

/** The JSON object `info --json` prints for one probe. */
export function infoJson(info: RecordingInfo): Record<string, unknown> {
  const g = info.geometry;
  return {
    label: info.probeLabel,
    format: info.format,
    binPath: info.binPath,
    metaPath: info.metaPath,
    compressed: info.compressed ?? null,
    probeType: info.probeType,
    probeTypeCode: info.probeTypeCode,
    probeName: info.probeName,
    nSavedChannels: info.nSavedChannels,
    nChannels: info.nChannels,
    syncColumn: info.syncColumn,
    sampleRateHz: info.sampleRateHz,
    nSamples: info.nSamples,
    durationS: info.durationS,
    fileBytes: info.fileBytes,
    uvPerCount: Array.from(info.uvPerCount),
    geometry: {
      nShanks: g.nShanks,
      shankPitchUm: g.shankPitchUm,
      source: g.source,
      extentUm: geometryExtent(g),
      channels: Array.from(info.neuralColumns, (column, i) => ({
        column,
        xUm: g.xUm[i],
        yUm: g.yUm[i],
        shank: g.shank[i],
        used: g.used[i] === 1,
      })),
    },
    problems: info.problems,
  };
}

export function registerInfo(program: Command, ctx: CliContext): void {
  program
    .command('info')
    .description(
      'describe the recordings of a session: probes, channels, sample rate, duration, gains, geometry, problems',
    )
    .argument('<recording>', 'an .ap.bin or .ap.meta, a plain-format .bin or .json, or a session folder')
    .option('--json', 'print a JSON array with one object per probe')
    .option('--allow-partial-sample', 'accept a .bin whose size is not a whole number of samples (uses the whole ones)')
    .action(async (target: string, options: InfoOptions) => {
      const { session, probes, failures } = await describeSession(target, {
        allowPartialSample: options.allowPartialSample ?? false,
      });
      if (options.json) {
        for (const p of session.problems) ctx.log().warn({ root: session.root }, p);
        ctx.stdout(JSON.stringify(probes.map(infoJson)));
      } else {
        const blocks = probes.map(infoText);
        if (session.problems.length > 0) {
          blocks.push(['also found in the session:', ...session.problems.map((p) => `  - ${p}`)].join('\n'));
        }
        if (blocks.length > 0) ctx.stdout(blocks.join('\n\n'));
      }
      if (failures.length === 1) throw failures[0]!;
      if (failures.length > 1) {
        throw new InputError(
          session.root,
          `${failures.length} of ${session.probes.length} recordings cannot be used:\n` +
            failures.map((f) => `  - ${f.message}`).join('\n'),
        );
      }
    });
}
