// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * `spikeshard sort` as a library call: every probe of a session in one job, their rounds
 * interleaved over one executor; a phy folder and an ALF collection per probe. The output folder
 * is a run folder (run-folder.ts): a run started again on it resumes where the last one stopped.
 *
 * Output folder:
 *   run.json                 inputs, resolved parameters, versions, digest, results per probe
 *   .run/<probe>/            checkpoints: finished batches and the global state after each round
 *   <probe>/phy/             phy folder (params.py points at the raw .bin)
 *   alf/<probeNN>/           IBL ALF collection (with IBL's waveforms.* unless iblWaveformsPerCluster is 0)
 *   <probe>/.ibl-waveforms.tmp/  only while a probe's IBL waveforms are cut and exported
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import {
  describeHeapPolicy,
  discoverSession,
  fixMmapThreshold,
  inspectRecording,
  loadCpuBinding,
  type RecordingInfo,
} from '../../native/lib/index.js';
import { ParameterError } from '../../proto/errors.js';
import { memoryFields, type Logger } from '../../proto/log.js';
import type { SortParams } from '../../proto/params.js';
import { writeAlf } from '../export/alf.js';
import { extractIblWaveforms, type IblWaveforms } from '../export/ibl-waveforms.js';
import { writePhy } from '../export/phy.js';
import type { SortingResult } from '../formats/sorting-result.js';
import { planBatches } from '../plan/batch-plan.js';
import { writeRunReport } from '../report/report.js';
import { VERSION } from '../version.js';
import { splitMemoryBudget } from '../postprocess/splits.js';
import { assembleSorting } from './assemble.js';
import type { BatchExecutor } from './executor.js';
import type { BackendRequest, NativeCudaBinding } from '../../native/lib/index.js';
import { chooseExecutor, iblOnCudaNote, type DistributedOptions } from './choose-executor.js';
import { LocalExecutor } from './local-executor.js';
import { runEngine } from './pipeline.js';
import {
  CHECKPOINT_DIR,
  Checkpoints,
  RUN_FOLDER_VERSION,
  describeDifferences,
  fingerprint,
  lockRunFolder,
  readManifest,
  removeEarlierRun,
  runDigest,
  runEntries,
  sweepTemporaries,
  writeManifest,
  type ProbeSummary,
  type RunManifest,
} from './run-folder.js';
import { Slots } from './slots.js';

export type { ProbeSummary } from './run-folder.js';

/**
 * Per probe (`<probe>/.ibl-waveforms.tmp/`): IBL's waveform traces while they are cut, until the
 * ALF collection links them; '.tmp', so that a resumed run's sweep of temporaries removes it.
 */
const WAVEFORM_SCRATCH_DIR = '.ibl-waveforms.tmp';
/** The splits' cluster-ordered copy of the PC rows (coordinator/formats/cluster-rows.ts). */
const SPLIT_SCRATCH_DIR = '.splits.tmp';

export interface SortOptions {
  /** A recording (.bin/.meta/.json) or a session folder. */
  recording: string;
  outDir: string;
  params: SortParams;
  /** CPU threads for the in-process executor; 0 = all cores. */
  threads: number;
  /** Delete an earlier run in `outDir` and start over (else it is resumed, if it is of the same inputs). */
  fresh: boolean;
  allowPartialSample: boolean;
  /** Only these probes (labels); all when empty. */
  probes: string[];
  /** Worker options; absent = the in-process executor. */
  distributed?: DistributedOptions;
  /** Seconds between learning's state records (0: every round). @default LEARNING_CHECKPOINT_S (pipeline.ts) */
  learningCheckpointS?: number | undefined;
  /** `--backend`: resolved in process, passed on to local workers. @default 'cpu' */
  backend?: BackendRequest;
}

/** A probe is complete when run.json lists its result and both its output folders exist. */
function isComplete(manifest: Partial<RunManifest>, label: string): ProbeSummary | undefined {
  const r = manifest.results?.find((x) => x.probe === label);
  return r !== undefined && existsSync(r.phy) && existsSync(r.alf) ? r : undefined;
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
  const heap = fixMmapThreshold();
  log.debug({ mmapThresholdBytes: heap.mmapThresholdBytes }, `C heap: mmap threshold ${describeHeapPolicy(heap)}`);
  const infos: RecordingInfo[] = [];
  for (const probe of probes)
    infos.push(await inspectRecording(probe, { allowPartialSample: options.allowPartialSample }));
  // Checks that need only the metadata come before anything is written; so does the environment's.
  for (const info of infos) planBatches(info.nSamples, options.params.batchSamples, options.params.haloSamples);
  splitMemoryBudget();
  const labels = infos.map((i) => i.probeLabel);
  const outDir = path.resolve(options.outDir);
  const versions = { spikeshard: VERSION, core: loadCpuBinding().describe().coreVersion };
  const inputs = infos.map(fingerprint);
  const digest = runDigest(inputs, options.params, versions);

  // Held from the first look at the folder to the last write, so two sorts never share a folder.
  const unlock = lockRunFolder(outDir, log);
  try {
    let earlier = readManifest(outDir);
    if (options.fresh) {
      removeEarlierRun(outDir, labels, log);
      earlier = null;
    } else if (earlier !== null) {
      if (earlier.digest !== digest) {
        const diffs = describeDifferences(earlier, { inputs, params: options.params, versions });
        throw new ParameterError(
          `${outDir} holds a run of another recording or other parameters (${diffs.join('; ') || 'run.json differs'}); ` +
            'pass --fresh to delete it and start over, or choose another output folder',
        );
      }
    } else {
      const leftovers = runEntries(outDir, labels);
      if (leftovers.length > 0) {
        throw new ParameterError(
          `${outDir} holds ${leftovers.join(', ')} but no run.json, so it cannot be resumed; ` +
            'pass --fresh to delete them and start over, or choose another output folder',
        );
      }
    }

    if (earlier !== null && labels.every((l) => isComplete(earlier, l) !== undefined)) {
      log.info({ outDir }, `the run in ${outDir} is complete; nothing to do (pass --fresh to sort again)`);
      return labels.map((l) => isComplete(earlier, l)!);
    }

    mkdirSync(outDir, { recursive: true });
    // A killed run may have left temporary files and half-written output folders: never read, removed.
    const swept = [CHECKPOINT_DIR, 'alf', ...labels].reduce((n, d) => n + sweepTemporaries(path.join(outDir, d)), 0);
    if (swept > 0) log.info({ swept }, `removed ${swept} temporary files left by an interrupted run`);
    const now = new Date().toISOString();
    const run: RunManifest =
      earlier !== null
        ? ({ ...earlier, resumedAt: [...(earlier.resumedAt ?? []), now] } as RunManifest)
        : {
            runFolder: RUN_FOLDER_VERSION,
            digest,
            runId: randomUUID(),
            startedAt: now,
            resumedAt: [],
            recording: path.resolve(options.recording),
            versions,
            inputs,
            params: options.params,
            results: [],
          };
    if (earlier !== null)
      log.info({ outDir, startedAt: run.startedAt }, `resuming the run started at ${run.startedAt}`);
    writeManifest(outDir, run);

    const exec =
      executor ??
      (await chooseExecutor(
        options.distributed,
        options.recording,
        outDir,
        options.threads,
        log,
        options.backend ?? 'cpu',
      ));
    const slots = new Slots(() => exec.concurrency);
    let iblNoted = false;
    const noteIblOnCuda = (): void => {
      // The in-process engine says it itself; workers say it only in their own logs. Workers may
      // join during the run, so this is asked again after each probe's rounds.
      if (iblNoted || exec instanceof LocalExecutor) return;
      const note = iblOnCudaNote(options.params.preprocessing, exec.backendSummary?.('ks25').backends ?? []);
      if (note === undefined) return;
      iblNoted = true;
      log.warn({ preprocessing: 'ibl', backend: 'cuda' }, note);
    };
    noteIblOnCuda();
    const sortProbe = async (info: RecordingInfo): Promise<ProbeSummary> => {
      const plog = log.child({ probe: info.probeLabel });
      const done = isComplete(run, info.probeLabel);
      if (done !== undefined) {
        plog.info(`${info.probeLabel}: complete in the run folder`);
        return done;
      }
      plog.info(`sorting ${info.probeLabel}: ${info.nChannels} channels, ${info.durationS.toFixed(1)} s`);
      const checkpoints = new Checkpoints(path.join(outDir, CHECKPOINT_DIR, info.probeLabel), plog);
      const engine = await runEngine(info, info.binPath, options.params, exec, plog, options.allowPartialSample, {
        checkpoints,
        slots,
        ...(options.learningCheckpointS !== undefined ? { learningCheckpointS: options.learningCheckpointS } : {}),
      });
      noteIblOnCuda();
      exec.releaseBuffers?.();
      const t0 = performance.now();
      // Next to the outputs (the same file system, so the ALF collection links the traces file);
      // what an interrupted run left there is stale.
      const waveformDir = path.join(outDir, info.probeLabel, WAVEFORM_SCRATCH_DIR);
      rmSync(waveformDir, { recursive: true, force: true });
      const splitDir = path.join(outDir, info.probeLabel, SPLIT_SCRATCH_DIR);
      const phyDir = path.join(outDir, info.probeLabel, 'phy');
      let result: SortingResult;
      let alfDir: string;
      // Post-processing and export read the feature rows from the engine's checkpoint records.
      try {
        const steps: Record<string, number> = {};
        result = await assembleSorting(
          engine,
          info,
          options.params,
          plog,
          { spikeshard: VERSION, runId: run.runId, params: options.params },
          steps,
          {
            threads: options.threads,
            scratchDir: splitDir,
            onStep: (step) => plog.debug({ step, ...memoryFields() }, `post-processing: ${step} done`),
          },
        );
        engine.timings['postprocess'] = (performance.now() - t0) / 1000;
        const stepList = Object.entries(steps)
          .map(([step, s]) => `${step} ${s.toFixed(1)} s`)
          .join(', ');
        plog.info(
          { stage: 'postprocess', steps, ...memoryFields() },
          `post-processing done in ${engine.timings['postprocess'].toFixed(1)} s: ${stepList}`,
        );
        const waveforms = await iblWaveforms(
          result,
          waveformDir,
          options.params,
          engine.timings,
          plog,
          exec instanceof LocalExecutor ? exec.waveformDevice : undefined,
        );
        mkdirSync(path.dirname(phyDir), { recursive: true });
        const t1 = performance.now();
        if (result.templates.count === 0) {
          plog.warn(`no units found on ${info.probeLabel}: its phy folder and ALF collection are written empty`);
        }
        // The folder is this run's (same digest, or fresh): outputs of an interrupted export are replaced.
        writePhy(phyDir, result, { overwrite: true });
        plog.debug({ step: 'phy', ...memoryFields() }, 'export: phy folder written');
        alfDir = writeAlf(path.join(outDir, 'alf'), result, {
          runId: run.runId,
          overwrite: true,
          ...(waveforms !== undefined ? { waveforms } : {}),
        });
        engine.timings['export'] = (performance.now() - t1) / 1000;
      } finally {
        engine.features.close();
        rmSync(waveformDir, { recursive: true, force: true });
        rmSync(splitDir, { recursive: true, force: true });
      }
      const summary: ProbeSummary = {
        probe: info.probeLabel,
        clusters: result.templates.count,
        good: result.templates.labels.filter((l) => l === 'good').length,
        spikes: result.spikes.samples.length,
        phy: phyDir,
        alf: alfDir,
        timings: engine.timings,
        ...(exec.backendSummary ? { backend: exec.backendSummary(options.params.preprocessing) } : {}),
      };
      run.results = [...run.results.filter((r) => r.probe !== summary.probe), summary].sort(
        (a, b) => labels.indexOf(a.probe) - labels.indexOf(b.probe),
      );
      writeManifest(outDir, run);
      plog.info(
        { ...summary, ...memoryFields() },
        `${info.probeLabel}: ${summary.clusters} clusters (${summary.good} good), ${summary.spikes} spikes`,
      );
      return summary;
    };
    try {
      // Probes run side by side and share the executor through `slots`; each probe's result is
      // its own deterministic function, so sorting it alone gives the same bytes.
      const alreadyComplete = infos.every((info) => isComplete(run, info.probeLabel) !== undefined);
      const settled = await Promise.allSettled(infos.map(sortProbe));
      const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (failed) throw failed.reason;
      const summaries = settled.map((s) => (s as PromiseFulfilledResult<ProbeSummary>).value);
      if (!alreadyComplete || !existsSync(path.join(outDir, 'report.html'))) writeReport(outDir, log);
      return summaries;
    } finally {
      await exec.close();
    }
  } finally {
    unlock();
  }
}

/**
 * IBL's waveform datasets of `result` (`params.iblWaveformsPerCluster` per cluster; undefined when
 * 0), cut from the raw recording with IBL's own preprocessing whatever `params.preprocessing` is,
 * as ibllib cuts them from the raw file after any sorter. Runs in this process: on the GPU of the
 * in-process engine when it runs on CUDA (`cuda`; bitwise the CPU's result, a device error fails
 * the sort), otherwise on the CPU (also in a distributed sort); its seconds go to
 * `timings.waveforms`. The traces file is written into `dir`, with a float32 scratch file beside
 * it while it runs.
 */
async function iblWaveforms(
  result: SortingResult,
  dir: string,
  params: SortParams,
  timings: Record<string, number>,
  log: Logger,
  cuda?: Pick<NativeCudaBinding, 'destripeCutWaveformsAsync'>,
): Promise<IblWaveforms | undefined> {
  const perCluster = params.iblWaveformsPerCluster;
  if (perCluster === 0) {
    log.info(
      'waveforms: not extracted (--ibl-waveforms-per-cluster 0): the ALF collection has no waveforms.* datasets',
    );
    return undefined;
  }
  const t0 = performance.now();
  const parts: Record<string, number> = {};
  const w = await extractIblWaveforms(result, dir, {
    maxPerCluster: perCluster,
    timings: parts,
    ...(cuda !== undefined ? { cuda } : {}),
  });
  const seconds = (performance.now() - t0) / 1000;
  timings['waveforms'] = seconds;
  const extracted = w.table.sample.reduce((n, s) => (Number.isNaN(s) ? n : n + 1), 0);
  log.info(
    {
      stage: 'waveforms',
      seconds,
      device: cuda !== undefined ? 'cuda' : 'cpu',
      clusters: w.clusterIds.length,
      waveforms: extracted,
      channels: w.nChannels,
      parts,
      ...memoryFields(),
    },
    `waveforms done in ${seconds.toFixed(1)} s: ${extracted} IBL waveforms of ${w.clusterIds.length} clusters ` +
      `(up to ${perCluster} each, ${w.nChannels} channels × ${w.lengthSamples} samples; IBL preprocessing on the ${cuda !== undefined ? 'GPU (CUDA)' : 'CPU'})`,
  );
  return w;
}

/**
 * The sorting outputs are complete when this runs; a report that cannot be drawn must not turn a
 * finished sort into a failed one, and `spikeshard report` can redo it.
 */
function writeReport(outDir: string, log: Logger): void {
  try {
    log.info(`report: ${writeRunReport(outDir)}`);
  } catch (err) {
    log.warn({ err }, `the QC report could not be written (${String(err)}); retry with: spikeshard report ${outDir}`);
  }
}
