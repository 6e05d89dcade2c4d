// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * `spikeshard sort` as a library call: every probe of a session, one after the other, through an
 * executor; a phy folder and an ALF collection per probe.
 *
 * Output folder:
 *   run.json                 inputs, resolved parameters, versions, timings per probe
 *   <probe>/phy/             phy folder (params.py points at the raw .bin)
 *   alf/<probeNN>/           IBL ALF collection
 */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { discoverSession, inspectRecording, loadCpuBinding } from '../../native/lib/index.js';
import { ParameterError } from '../../proto/errors.js';
import type { Logger } from '../../proto/log.js';
import type { SortParams } from '../../proto/params.js';
import { writeAlf } from '../export/alf.js';
import { writePhy } from '../export/phy.js';
import { writeFileAtomic } from '../formats/atomic.js';
import { planBatches } from '../plan/batch-plan.js';
import { writeRunReport } from '../report/report.js';
import { VERSION } from '../version.js';
import { assembleSorting } from './assemble.js';
import type { BatchExecutor } from './executor.js';
import { LocalExecutor } from './local-executor.js';
import { runEngine } from './pipeline.js';

export interface SortOptions {
  /** A recording (.bin/.meta/.json) or a session folder. */
  recording: string;
  outDir: string;
  params: SortParams;
  /** CPU threads for the in-process executor; 0 = all cores. */
  threads: number;
  overwrite: boolean;
  allowPartialSample: boolean;
  /** Only these probes (labels); all when empty. */
  probes: string[];
}

export interface ProbeSummary {
  probe: string;
  clusters: number;
  good: number;
  spikes: number;
  phy: string;
  alf: string;
  timings: Record<string, number>;
}

export async function runSort(options: SortOptions, log: Logger, executor?: BatchExecutor): Promise<ProbeSummary[]> {
  const session = await discoverSession(options.recording);
  for (const p of session.problems) log.warn(p);
  let probes = session.probes;
  if (options.probes.length > 0) {
    probes = probes.filter((p) => options.probes.includes(p.label));
    if (probes.length === 0) {
      throw new ParameterError(
        `--probe ${options.probes.join(',')}: no such probe; found ${session.probes.map((p) => p.label).join(', ')}`,
      );
    }
  }
  const infos = [];
  for (const probe of probes)
    infos.push(await inspectRecording(probe, { allowPartialSample: options.allowPartialSample }));
  // Checks that need only the metadata come before anything is written.
  for (const info of infos) planBatches(info.nSamples, options.params.batchSamples, options.params.haloSamples);
  if (existsSync(options.outDir) && readdirSync(options.outDir).length > 0 && !options.overwrite) {
    throw new ParameterError(
      `output folder ${options.outDir} exists and is not empty; choose another or pass --overwrite`,
    );
  }
  mkdirSync(options.outDir, { recursive: true });
  const runId = randomUUID();
  const run = {
    spikeshard: VERSION,
    coreVersion: loadCpuBinding().describe().coreVersion,
    runId,
    startedAt: new Date().toISOString(),
    recording: path.resolve(options.recording),
    probes: infos.map((i) => ({
      label: i.probeLabel,
      bin: i.binPath,
      type: i.probeType,
      channels: i.nChannels,
      samples: i.nSamples,
    })),
    params: options.params,
    results: [] as ProbeSummary[],
  };
  writeFileAtomic(path.join(options.outDir, 'run.json'), JSON.stringify(run, null, 2) + '\n');
  const exec = executor ?? new LocalExecutor(options.threads);
  try {
    for (const info of infos) {
      const plog = log.child({ probe: info.probeLabel });
      plog.info(`sorting ${info.probeLabel}: ${info.nChannels} channels, ${info.durationS.toFixed(1)} s`);
      const engine = await runEngine(info, info.binPath, options.params, exec, plog, options.allowPartialSample);
      const t0 = performance.now();
      const result = assembleSorting(engine, info, options.params, plog, {
        spikeshard: VERSION,
        runId,
        params: options.params,
      });
      engine.timings['postprocess'] = (performance.now() - t0) / 1000;
      const phyDir = path.join(options.outDir, info.probeLabel, 'phy');
      mkdirSync(path.dirname(phyDir), { recursive: true });
      const t1 = performance.now();
      if (result.templates.count === 0) {
        plog.warn(`no units found on ${info.probeLabel}: its phy folder and ALF collection are written empty`);
      }
      writePhy(phyDir, result, { overwrite: options.overwrite });
      const alfDir = writeAlf(path.join(options.outDir, 'alf'), result, { runId, overwrite: options.overwrite });
      engine.timings['export'] = (performance.now() - t1) / 1000;
      const summary: ProbeSummary = {
        probe: info.probeLabel,
        clusters: result.templates.count,
        good: result.templates.labels.filter((l) => l === 'good').length,
        spikes: result.spikes.samples.length,
        phy: phyDir,
        alf: alfDir,
        timings: engine.timings,
      };
      run.results.push(summary);
      writeFileAtomic(path.join(options.outDir, 'run.json'), JSON.stringify(run, null, 2) + '\n');
      plog.info(
        { ...summary },
        `${info.probeLabel}: ${summary.clusters} clusters (${summary.good} good), ${summary.spikes} spikes`,
      );
    }
  } finally {
    await exec.close();
  }
  if (run.results.length > 0) log.info(`report: ${writeRunReport(options.outDir)}`);
  return run.results;
}
