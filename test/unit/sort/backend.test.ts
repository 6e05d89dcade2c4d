// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * The backend choice end to end, without a GPU: `--backend` parsing and its errors, auto's
 * fallback, the engine's dispatch to an injected CUDA binding (a fake whose kernels are the CPU's,
 * counting calls: the outputs must be the CPU path's bytes), run.json's record, the worker's
 * Describe.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import {
  BatchEngine,
  discoverSession,
  engineBackend,
  inspectRecording,
  loadCpuBinding,
  loadCudaBinding,
  type NativeCudaBinding,
  type NativeCudaDevice,
} from '../../../native/lib/index.js';
import type { Logger } from '../../../proto/log.js';
import { silentLogger } from '../../../proto/log.js';
import { defaultParams } from '../../../proto/params.js';
import { iblOnCudaNote } from '../../../coordinator/sort/choose-executor.js';
import type { BatchExecutor } from '../../../coordinator/sort/executor.js';
import { LocalExecutor } from '../../../coordinator/sort/local-executor.js';
import { probeSetup } from '../../../coordinator/sort/pipeline.js';
import { runSort } from '../../../coordinator/sort/run-sort.js';
import { startWorker } from '../../../worker/server.js';
import { IBL_WAVEFORM_FILES } from '../../helpers/alf-waveforms.js';
import { runCli } from '../../helpers/cli.js';
import { diagonalChannels } from '../../helpers/diagonal-channels.js';
import { tmpDir } from '../../helpers/tmp.js';
import { WorkerClient } from '../../helpers/worker-client.js';

interface FakeCalls {
  preprocessShiftBatch: number;
  preprocessShiftMatchBatch: number;
  /** Shifted blocks (whole-block matrix or pieces). */
  fusedKriging: number;
  /** Of those, blocks shifted per stretch (several owners). */
  pieces: number;
  matchBatch: number;
  /** IBL waveform chunks sent to the device. */
  destripeCutWaveforms: number;
}

type ShiftArgs = Parameters<NativeCudaBinding['preprocessShiftBatch']>[0];

/**
 * A "CUDA binding" whose kernels are the CPU binding's, counting calls. 'fused': with
 * preprocessShiftMatchBatch (compact sums as the device's) and matchBatch; 'match': matchBatch
 * only; 'none': preprocessing only.
 */
function fakeCuda(mode: 'fused' | 'match' | 'none'): { binding: NativeCudaBinding; calls: FakeCalls } {
  const cpu = loadCpuBinding();
  const calls: FakeCalls = {
    preprocessShiftBatch: 0,
    preprocessShiftMatchBatch: 0,
    fusedKriging: 0,
    pieces: 0,
    matchBatch: 0,
    destripeCutWaveforms: 0,
  };
  const shifted = (args: ShiftArgs): Float32Array => {
    const { krigingMatrix, krigingPieces, ...rest } = args;
    const out = cpu.preprocessBatch(rest);
    const c = args.nChannels;
    if (krigingMatrix !== null) {
      calls.fusedKriging++;
      cpu.driftApplyKriging(out, c, krigingMatrix, out);
    } else if (krigingPieces) {
      calls.fusedKriging++;
      if (krigingPieces.rowStart.length > 1) calls.pieces++;
      krigingPieces.rowStart.forEach((from, i) => {
        const view = out.subarray(from * c, krigingPieces.rowEnd[i]! * c);
        cpu.driftApplyKriging(view, c, krigingPieces.matrices.subarray(i * c * c, (i + 1) * c * c), view);
      });
    }
    return out;
  };
  const binding = {
    preprocessShiftBatch(args: ShiftArgs): Float32Array {
      calls.preprocessShiftBatch++;
      return shifted(args);
    },
    deviceMemory: () => ({ bytesInUse: 12345, maxBytes: 2 ** 33 }),
    destripeCutWaveformsAsync(args: Parameters<NativeCudaBinding['destripeCutWaveformsAsync']>[0]) {
      calls.destripeCutWaveforms++;
      const out = new Float32Array(args.nWaves * args.nRows * args.length);
      cpu.cutWaveforms({ ...args, block: cpu.destripeBatch(args).data, out });
      return Promise.resolve(out);
    },
    ...(mode !== 'none'
      ? {
          matchBatch(...args: Parameters<typeof cpu.matchBatch>) {
            calls.matchBatch++;
            return cpu.matchBatch(...args);
          },
        }
      : {}),
    ...(mode === 'fused'
      ? {
          preprocessShiftMatchBatch(
            batch: ShiftArgs,
            model: Parameters<typeof cpu.matchBatch>[3],
            options: Parameters<typeof cpu.matchBatch>[4],
            returnResidual: boolean,
          ) {
            calls.preprocessShiftMatchBatch++;
            const r = cpu.matchBatch(shifted(batch), batch.nSamples, batch.nChannels, model, options);
            let snippetTemplates: Int32Array | null = null;
            let snippetSums = r.snippetSums;
            if (r.snippetSums && r.snippetCounts) {
              const size = model.templateSamples * batch.nChannels;
              snippetTemplates = Int32Array.from(Array.from(r.snippetCounts).flatMap((n, j) => (n > 0 ? [j] : [])));
              const full = r.snippetSums;
              snippetSums = new Float64Array(snippetTemplates.length * size);
              snippetTemplates.forEach((j, k) => snippetSums!.set(full.subarray(j * size, (j + 1) * size), k * size));
            }
            return { ...r, residual: returnResidual ? r.residual : null, snippetTemplates, snippetSums };
          },
        }
      : {}),
  };
  return { binding: binding as unknown as NativeCudaBinding, calls };
}

function digests(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of readdirSync(dir).sort()) {
    if (f.endsWith('.npy') || f.endsWith('.tsv'))
      out[f] = createHash('sha1')
        .update(readFileSync(path.join(dir, f)))
        .digest('hex');
  }
  return out;
}

/** A logger that keeps every message (level: text). */
function recordingLogger(lines: string[]): Logger {
  const at =
    (level: string) =>
    (a: unknown, b?: string): void => {
      lines.push(`${level}: ${typeof a === 'string' ? a : (b ?? '')}`);
    };
  const log = { info: at('info'), warn: at('warn'), debug: at('debug'), error: at('error'), trace: at('trace') };
  return { ...log, child: () => recordingLogger(lines), bindings: () => ({}) } as unknown as Logger;
}

/** A logger that keeps the fields object of every message. */
function fieldsLogger(fields: unknown[]): Logger {
  const at = (a: unknown): void => {
    if (typeof a === 'object') fields.push(a);
  };
  const log = { info: at, warn: at, debug: at, error: at, trace: at };
  return { ...log, child: () => fieldsLogger(fields), bindings: () => ({}) } as unknown as Logger;
}

const cudaLoad = loadCudaBinding();
const noGpu = cudaLoad.ok ? 'a CUDA device is present here' : false;

test('--backend cuda without a usable GPU exits 4 naming the loader reason', { skip: noGpu }, () => {
  if (cudaLoad.ok) return;
  const { dir, cleanup } = tmpDir('spikeshard-backend-');
  try {
    const sim = path.join(dir, 'sim');
    assert.equal(runCli(['simulate', sim, '--channels', '8', '--seconds', '3', '--units', '2']).status, 0);
    const r = runCli(['sort', sim, '--out', path.join(dir, 'out'), '--backend', 'cuda']);
    assert.equal(r.status, 4, r.stderr);
    assert.ok(r.stderr.includes(cudaLoad.reason), r.stderr);
    const w = runCli(['worker', '--listen', '127.0.0.1:0', '--data-root', dir, '--backend', 'cuda'], {
      env: { SPIKESHARD_SECRET: 'x' },
    });
    assert.equal(w.status, 4, w.stderr);
    assert.ok(w.stderr.includes(cudaLoad.reason), w.stderr);
  } finally {
    cleanup();
  }
});

test('--backend takes only cpu, cuda or auto', () => {
  const r = runCli(['sort', 'nothing', '--out', 'nowhere', '--backend', 'gpu']);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /--backend/);
  assert.match(r.stderr, /cpu, cuda, auto|"cpu", "cuda", "auto"|cpu/);
});

test(
  'auto falls back to the CPU with the reason logged, and run.json records it (workers: with ibl)',
  { timeout: 120_000 },
  async () => {
    const { dir, cleanup } = tmpDir('spikeshard-backend-');
    try {
      const sim = path.join(dir, 'sim');
      assert.equal(runCli(['simulate', sim, '--channels', '16', '--seconds', '4', '--units', '3']).status, 0);
      const out = path.join(dir, 'out');
      const r = runCli(['sort', sim, '--out', out, '--backend', 'auto']);
      assert.equal(r.status, 0, r.stderr);
      const run = JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8')) as {
        results: Array<{ backend?: { backends: string[]; reason?: string; matching?: string } }>;
      };
      const backend = run.results[0]!.backend!;
      if (cudaLoad.ok) {
        assert.deepEqual(backend.backends, ['cuda']);
      } else {
        assert.match(r.stderr, /backend: cpu \(auto requested; CUDA backend unavailable/);
        assert.ok(r.stderr.includes(cudaLoad.reason));
        assert.deepEqual(backend.backends, ['cpu']);
        assert.equal(backend.matching, 'cpu');
        assert.match(backend.reason ?? '', /auto requested/);
      }
      // Local workers get --backend and resolve it themselves; run.json lists what they reported,
      // and that ibl preprocessing ran on their CPU (said in the log once when they have a GPU).
      const wout = path.join(dir, 'out-w');
      const w = runCli(['sort', sim, '--out', wout, '--backend', 'auto', '--workers', '1', '--preprocessing', 'ibl']);
      assert.equal(w.status, 0, w.stderr);
      const wrun = JSON.parse(readFileSync(path.join(wout, 'run.json'), 'utf8')) as typeof run;
      assert.deepEqual(wrun.results[0]!.backend, { backends: [cudaLoad.ok ? 'cuda' : 'cpu'], preprocessing: 'cpu' });
      const noted = (w.stderr.match(/--preprocessing ibl has no CUDA version/g) ?? []).length;
      assert.equal(noted, cudaLoad.ok ? 1 : 0, w.stderr);
      for (const file of IBL_WAVEFORM_FILES) assert.ok(existsSync(path.join(wout, 'alf', 'probe00', file)), file);
      // Workers that report a GPU (an executor that is not the in-process one): the sort says it once.
      const local = new LocalExecutor(1);
      const gpuWorkers: BatchExecutor = {
        concurrency: 1,
        statistics: local.statistics.bind(local),
        snippets: local.snippets.bind(local),
        driftDetect: local.driftDetect.bind(local),
        learn: local.learn.bind(local),
        extract: local.extract.bind(local),
        close: local.close.bind(local),
        backendSummary: (p) => ({ backends: ['cuda'], ...(p === 'ibl' ? { preprocessing: 'cpu' } : {}) }),
      };
      const lines: string[] = [];
      const params = { ...defaultParams(), preprocessing: 'ibl' as const, iblWaveformsPerCluster: 8 };
      const options = { recording: sim, params, threads: 1, fresh: true, allowPartialSample: false, probes: [] };
      await runSort({ ...options, outDir: path.join(dir, 'out-g') }, recordingLogger(lines), gpuWorkers);
      const grun = JSON.parse(readFileSync(path.join(dir, 'out-g', 'run.json'), 'utf8')) as typeof run;
      assert.deepEqual(grun.results[0]!.backend, { backends: ['cuda'], preprocessing: 'cpu' });
      assert.equal(
        lines.filter((l) => /^warn: --preprocessing ibl has no CUDA version/.test(l)).length,
        1,
        lines.join('\n'),
      );
    } finally {
      cleanup();
    }
  },
);

test(
  'the engine sends preprocessing, shift and matching to an injected CUDA binding: same bytes as the CPU',
  { timeout: 300_000 },
  async () => {
    const { dir, cleanup } = tmpDir('spikeshard-backend-');
    try {
      const sim = path.join(dir, 'sim');
      const s = runCli(['simulate', sim, '--channels', '16', '--seconds', '8', '--units', '4', '--drift', '20']);
      assert.equal(s.status, 0, s.stderr);
      // Two learning rounds of two batches: the last round gives no births, so templates need a
      // round before it (learning and extraction then match with templates on every path).
      const params = { ...defaultParams(), learningRoundBatches: 2 };
      const sort = async (name: string, executor: LocalExecutor) => {
        const outDir = path.join(dir, name);
        await runSort(
          { recording: sim, outDir, params, threads: 0, fresh: true, allowPartialSample: false, probes: [] },
          silentLogger(),
          executor,
        );
        const run = JSON.parse(readFileSync(path.join(outDir, 'run.json'), 'utf8')) as {
          results: Array<{ backend: Record<string, unknown> }>;
        };
        return { digests: digests(path.join(outDir, 'imec0', 'phy')), backend: run.results[0]!.backend };
      };
      const cpu = await sort('cpu', new LocalExecutor(0));
      assert.ok(Object.keys(cpu.digests).length >= 15);
      assert.deepEqual(cpu.backend['backends'], ['cpu']);

      const full = fakeCuda('fused');
      const fields: unknown[] = [];
      const viaCuda = await sort(
        'cuda',
        new LocalExecutor(0, { backend: 'cuda', cuda: full.binding, reason: 'fake' }, fieldsLogger(fields)),
      );
      assert.deepEqual(viaCuda.digests, cpu.digests);
      // The later rounds' first batches were read ahead with their kriging matrices (learning's
      // pipeline fill), and the bytes above are still the CPU's.
      const phases = fields.find((f) => typeof f === 'object' && f !== null && 'seconds' in f) as
        { seconds: Record<string, number> } | undefined;
      assert.ok(phases !== undefined && 'prefetch.kriging' in phases.seconds, JSON.stringify(phases));
      assert.ok(full.calls.preprocessShiftBatch > 5, JSON.stringify(full.calls));
      // Learning and extraction took the fused entry, never the block path's matchBatch.
      assert.ok(full.calls.preprocessShiftMatchBatch >= 2, JSON.stringify(full.calls));
      assert.equal(full.calls.matchBatch, 0, JSON.stringify(full.calls));
      // Drift correction ran on the device, blocks whose halos have other owners' shifts included.
      assert.ok(full.calls.fusedKriging > 0 && full.calls.pieces > 0, JSON.stringify(full.calls));
      // IBL's waveforms were cut through the device entry, with the CPU's bytes.
      assert.ok(full.calls.destripeCutWaveforms > 0, JSON.stringify(full.calls));
      const traces = (name: string) =>
        createHash('sha1')
          .update(readFileSync(path.join(dir, name, 'alf', 'probe00', 'waveforms.traces.npy')))
          .digest('hex');
      assert.equal(traces('cuda'), traces('cpu'));
      assert.deepEqual(viaCuda.backend, {
        backends: ['cuda'],
        preprocessing: 'cuda',
        matching: 'cuda',
        reason: 'fake',
        gpuMemoryBytes: 12345,
      });

      const matchOnly = fakeCuda('match');
      const viaMatch = await sort(
        'cuda-match',
        new LocalExecutor(0, { backend: 'cuda', cuda: matchOnly.binding, reason: 'fake' }),
      );
      assert.deepEqual(viaMatch.digests, cpu.digests);
      assert.ok(matchOnly.calls.matchBatch > 0, JSON.stringify(matchOnly.calls));
      assert.equal(viaMatch.backend['matching'], 'cuda');

      const noMatch = fakeCuda('none');
      const cpuMatch = await sort(
        'cuda-cpu-match',
        new LocalExecutor(0, { backend: 'cuda', cuda: noMatch.binding, reason: 'fake' }),
      );
      assert.deepEqual(cpuMatch.digests, cpu.digests);
      assert.equal(noMatch.calls.matchBatch, 0);
      assert.ok(noMatch.calls.preprocessShiftBatch > 5);
      assert.equal(cpuMatch.backend['matching'], 'cpu');
    } finally {
      cleanup();
    }
  },
);

test(
  'with ibl preprocessing the engine says once that preprocessing runs on the CPU',
  { timeout: 60_000 },
  async () => {
    const { dir, cleanup } = tmpDir('spikeshard-backend-');
    try {
      const sim = path.join(dir, 'sim');
      assert.equal(runCli(['simulate', sim, '--channels', '16', '--seconds', '2', '--units', '2']).status, 0);
      const info = await inspectRecording((await discoverSession(sim)).probes[0]!);
      const setup = probeSetup(info);
      const channels = diagonalChannels(setup, 1);
      const batch = { index: 0, ownStart: 1000, ownEnd: 30_000, readStart: 0, readEnd: 31_000 };
      const request = (preprocessing: 'ks25' | 'ibl') => ({
        work: {
          probe: 'imec0',
          recordingPath: info.binPath,
          allowPartialSample: false,
          setup,
          params: { ...defaultParams(), preprocessing },
        },
        batch,
        channels,
      });
      const lines: string[] = [];
      const fake = fakeCuda('fused');
      const engine = new BatchEngine({
        threads: 1,
        backend: engineBackend({ backend: 'cuda', cuda: fake.binding }),
        log: recordingLogger(lines),
      });
      const reference = new BatchEngine({ threads: 1 });
      try {
        // Either both give the same snippets or both the same error (an addon built before the
        // destriping kernels lacks them): the ibl request must take the CPU path in both.
        const settle = (p: Promise<Float32Array>) =>
          p.then(
            (value) => ({ value }),
            (err: unknown) => ({ error: String(err) }),
          );
        for (const p of ['ibl', 'ibl', 'ks25'] as const) {
          assert.deepEqual(await settle(engine.snippets(request(p))), await settle(reference.snippets(request(p))));
        }
        assert.equal(fake.calls.preprocessShiftBatch, 1);
        assert.equal(lines.filter((l) => /ibl has no CUDA version/.test(l)).length, 1, lines.join('\n'));
        assert.deepEqual(engine.describeBackend('ibl'), { backend: 'cuda', preprocessing: 'cpu', matching: 'cuda' });
      } finally {
        await engine.close();
        await reference.close();
      }
    } finally {
      cleanup();
    }
  },
);

test('ibl preprocessing on CUDA workers is said, never refused: only when a worker has a GPU', () => {
  const note = iblOnCudaNote('ibl', ['cpu', 'cuda']);
  assert.match(note ?? '', /--preprocessing ibl has no CUDA version: .* on their CPU, matching pursuit on the GPU/);
  assert.equal(iblOnCudaNote('ibl', ['cuda']), note);
  assert.equal(iblOnCudaNote('ibl', ['cpu']), undefined);
  assert.equal(iblOnCudaNote('ibl', []), undefined);
  assert.equal(iblOnCudaNote('ks25', ['cuda']), undefined);
});

test("the worker's Describe and register file report the backend it runs", { timeout: 60_000 }, async () => {
  const { dir, cleanup } = tmpDir('spikeshard-backend-');
  const secret = 'describe-secret';
  const device: NativeCudaDevice = {
    available: true,
    reason: '',
    deviceCount: 1,
    name: 'Fake GPU',
    totalMemoryBytes: 2 ** 34,
    freeMemoryBytes: 2 ** 34,
    computeCapability: '9.0',
    multiprocessors: 4,
    driverVersion: 13000,
    runtimeVersion: 13000,
    maxContextBytes: 2 ** 33,
  };
  const cpuWorker = await startWorker(
    { listen: '127.0.0.1:0', dataRoots: [dir], secret, threads: 1, version: 'test' },
    silentLogger(),
  );
  const gpuWorker = await startWorker(
    {
      listen: '127.0.0.1:0',
      dataRoots: [dir],
      secret,
      threads: 1,
      version: 'test',
      backend: { backend: 'cuda', reason: 'fake', cuda: fakeCuda('fused').binding, device },
    },
    silentLogger(),
  );
  try {
    const a = await new WorkerClient(cpuWorker.address).describe(secret);
    assert.equal(a.value?.['backend'], 'cpu', a.details);
    const b = await new WorkerClient(gpuWorker.address).describe(secret);
    assert.equal(b.value?.['backend'], 'cuda', b.details);
    assert.match(String(b.value?.['device']), /Fake GPU/);
  } finally {
    await cpuWorker.close();
    await gpuWorker.close();
    cleanup();
  }
});
