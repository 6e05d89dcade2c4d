// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * The distributed executor: the same requests as the in-process one, sent over gRPC to a pool of
 * workers (docs/distributed.md). Every request has a deadline and a bounded number of attempts;
 * a worker that fails a call, times out or returns a result that does not validate is marked dead
 * and its batch goes to another worker; dead workers are probed again, and workers that register
 * in the worker folder during the run join it. Results are what the worker computed, bit for bit,
 * so the pipeline's reductions (in batch order) give the in-process executor's output.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import {
  ownerSegments,
  type ChannelState,
  type DriftBatchResult,
  type DriftState,
  type ExtractBatchResult,
  type LearnBatchResult,
  type MatchModel,
  type ProbeWork,
  type WindowStatistics,
} from '../../native/lib/index.js';
import { RunError } from '../../proto/errors.js';
import type { Logger } from '../../proto/log.js';
import {
  API_VERSION,
  FrameAssembler,
  METHODS,
  SECRET_METADATA_KEY,
  UNARY_PATHS,
  WireError,
  deserializeFrame,
  encodeFrames,
  serializeFrame,
  stateDigest,
  unaryCodec,
  type FrameMessage,
  type MethodName,
} from '../../proto/wire.js';
import type { Batch } from '../plan/batch-plan.js';
import type { BatchExecutor, ProbeTask, RunBackend, StatisticsWindow } from './executor.js';
import { NT0 } from './learning.js';
import {
  GarbageResultError,
  validateDriftResult,
  validateExtractResult,
  validateLearnResult,
  validateSnippets,
  validateWindowStatistics,
} from './validate-result.js';

export interface GrpcExecutorOptions {
  secret: string;
  /** Workers known up front (HOST:PORT). */
  addresses: readonly string[];
  /** A folder where workers register (worker-*.json, CONTRACT.md); watched during the run. */
  workerDir?: string | undefined;
  /** Deadline of one request, s. @default 600 */
  requestTimeoutS?: number;
  /** The run fails when no worker has been alive for this long, s. @default 120 */
  noWorkerTimeoutS?: number;
  /** Attempts per request before the run fails. @default 5 */
  maxAttempts?: number;
  /** How often dead workers are probed and the worker folder read, s. @default 2 */
  probeIntervalS?: number;
  /** Largest payload chunk sent, bytes (tests make it small). */
  chunkBytes?: number;
  /** Called by close(), after the clients are closed (e.g. stopping local workers). */
  onClose?: () => Promise<void>;
}

/** What a worker told describe(). */
export interface WorkerDescription {
  version: string;
  backend: string;
  device: string;
  threads: number;
  memoryBytes: number;
  slots: number;
  pid: number;
  hostname: string;
}

/** Traffic and fault counters of a run. */
export interface GrpcExecutorStats {
  requests: number;
  retries: number;
  bytesSent: number;
  bytesReceived: number;
  workersJoined: number;
  workersLost: number;
  /** Wall time with at least one request in flight (the rounds), s; the rest of a sort is global steps. */
  roundSeconds: number;
}

interface WorkerHandle {
  address: string;
  client: grpc.Client;
  alive: boolean;
  slots: number;
  busy: number;
  description: WorkerDescription | null;
  lastError: string;
  probing: boolean;
  /** Digests of the states this worker was last sent (oldest first). */
  states: string[];
}

/** A request: whole, and (learning, extraction) without the states named by `digests`. */
interface Outgoing {
  full: object;
  lean?: object;
  digests: string[];
}

/** States remembered per worker; the worker keeps a few more (worker/state-cache.ts). */
const STATES_PER_WORKER = 4;

/** An error the worker says is the request's own (the same on every worker): not the worker's fault. */
function isRequestError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === grpc.status.INVALID_ARGUMENT || code === grpc.status.FAILED_PRECONDITION;
}

function describeError(err: unknown): string {
  const e = err as { code?: number; details?: string; message?: string };
  if (typeof e.code === 'number' && e.code in grpc.status) {
    return `${grpc.status[e.code]}: ${e.details ?? e.message ?? ''}`;
  }
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class GrpcExecutor implements BatchExecutor {
  private readonly workers = new Map<string, WorkerHandle>();
  /** Every backend a worker of this run reported in Describe. */
  private readonly backendsSeen = new Set<string>();
  private readonly ignoredRegistrations = new Set<string>();
  private readonly metadata = new grpc.Metadata();
  private readonly waiters = new Set<() => void>();
  private timer: NodeJS.Timeout | null = null;
  private noneAliveSince: number | null = null;
  private closed = false;
  private readonly requestTimeoutMs: number;
  private readonly noWorkerTimeoutMs: number;
  private readonly maxAttempts: number;
  private readonly counters: GrpcExecutorStats = {
    requests: 0,
    retries: 0,
    bytesSent: 0,
    bytesReceived: 0,
    workersJoined: 0,
    workersLost: 0,
    roundSeconds: 0,
  };
  private inFlight = 0;
  private busySince = 0;
  private readonly serialize = (f: FrameMessage): Buffer => {
    const b = serializeFrame(f);
    this.counters.bytesSent += b.length;
    return b;
  };
  private readonly deserialize = (b: Buffer): FrameMessage => {
    this.counters.bytesReceived += b.length;
    return deserializeFrame(b);
  };

  private constructor(
    private readonly options: GrpcExecutorOptions,
    private readonly log: Logger,
  ) {
    this.metadata.set(SECRET_METADATA_KEY, options.secret);
    this.requestTimeoutMs = (options.requestTimeoutS ?? 600) * 1000;
    this.noWorkerTimeoutMs = (options.noWorkerTimeoutS ?? 120) * 1000;
    this.maxAttempts = options.maxAttempts ?? 5;
  }

  /** Connects to the known workers and starts watching; a run with none alive yet waits for them (bounded). */
  static async connect(options: GrpcExecutorOptions, log: Logger): Promise<GrpcExecutor> {
    const ex = new GrpcExecutor(options, log);
    await Promise.all(options.addresses.map((a) => ex.probe(ex.handle(a))));
    await ex.discover();
    const intervalMs = (options.probeIntervalS ?? 2) * 1000;
    ex.timer = setInterval(() => void ex.housekeeping(), intervalMs);
    ex.timer.unref();
    const alive = [...ex.workers.values()].filter((w) => w.alive);
    log.info({ workers: alive.map((w) => w.address) }, `distributed mode: ${alive.length} worker(s) ready`);
    return ex;
  }

  /** Requests to keep in flight: one per slot of every live worker (at least 1). */
  get concurrency(): number {
    let n = 0;
    for (const w of this.workers.values()) if (w.alive) n += w.slots;
    return Math.max(1, n);
  }

  stats(): GrpcExecutorStats {
    return { ...this.counters };
  }

  /** The backends the workers reported; ibl preprocessing runs on their CPU whatever the backend. */
  backendSummary(preprocessing: 'ks25' | 'ibl' = 'ks25'): RunBackend {
    return { backends: [...this.backendsSeen].sort(), ...(preprocessing === 'ibl' ? { preprocessing: 'cpu' } : {}) };
  }

  liveWorkers(): Array<{ address: string; description: WorkerDescription | null }> {
    return [...this.workers.values()]
      .filter((w) => w.alive)
      .map((w) => ({ address: w.address, description: w.description }));
  }

  private handle(address: string): WorkerHandle {
    let w = this.workers.get(address);
    if (!w) {
      const client = new grpc.Client(address, grpc.credentials.createInsecure(), {
        'grpc.max_receive_message_length': 4 << 20,
        'grpc.max_send_message_length': 4 << 20,
        // Reconnect quickly after a worker restarts on the same address.
        'grpc.initial_reconnect_backoff_ms': 200,
        'grpc.max_reconnect_backoff_ms': 2000,
      });
      w = {
        address,
        client,
        alive: false,
        slots: 1,
        busy: 0,
        description: null,
        lastError: 'not probed yet',
        probing: false,
        states: [],
      };
      this.workers.set(address, w);
    }
    return w;
  }

  private unary(
    w: WorkerHandle,
    path: string,
    req: 'HealthRequest' | 'DescribeRequest',
    res: 'HealthResponse' | 'DescribeResponse',
  ) {
    const a = unaryCodec(req);
    const b = unaryCodec(res);
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      w.client.makeUnaryRequest(
        path,
        a.serialize,
        b.deserialize,
        {},
        this.metadata,
        { deadline: Date.now() + 5_000 },
        (err, value) => (err ? reject(err) : value ? resolve(value) : reject(new Error('no response'))),
      );
    });
  }

  /** Health and describe; a worker that answers both (with our API version) is alive. */
  private async probe(w: WorkerHandle): Promise<boolean> {
    if (w.probing || this.closed) return w.alive;
    w.probing = true;
    try {
      const health = await this.unary(w, UNARY_PATHS.health, 'HealthRequest', 'HealthResponse');
      if (health['serving'] !== true || health['apiVersion'] !== API_VERSION) {
        throw new Error(`not serving API version ${API_VERSION} (health: ${JSON.stringify(health)})`);
      }
      const d = await this.unary(w, UNARY_PATHS.describe, 'DescribeRequest', 'DescribeResponse');
      w.description = {
        version: String(d['version']),
        backend: String(d['backend']),
        device: String(d['device']),
        threads: Number(d['threads']),
        memoryBytes: Number(d['memoryBytes']),
        slots: Math.max(1, Number(d['slots']) || 1),
        pid: Number(d['pid']),
        hostname: String(d['hostname']),
      };
      w.slots = w.description.slots;
      this.backendsSeen.add(w.description.backend);
      if (!w.alive) {
        w.alive = true;
        this.counters.workersJoined++;
        this.noneAliveSince = null;
        this.log.info(
          { worker: w.address, ...w.description },
          `worker ${w.address} joined (${w.description.backend}, ${w.description.threads} threads, ${w.description.device})`,
        );
        this.wake();
      }
      return true;
    } catch (err) {
      w.lastError = describeError(err);
      return false;
    } finally {
      w.probing = false;
    }
  }

  private markDead(w: WorkerHandle, why: string): void {
    w.lastError = why;
    w.states = [];
    if (!w.alive) return;
    w.alive = false;
    this.counters.workersLost++;
    this.log.warn(
      { worker: w.address, reason: why },
      `worker ${w.address} lost (${why}); its batches go to the others`,
    );
    this.wake();
  }

  /** New registrations in the worker folder. */
  private async discover(): Promise<void> {
    const dir = this.options.workerDir;
    if (dir === undefined || this.closed) return;
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return; // the folder may not exist yet: workers create it when they register
    }
    for (const name of names) {
      if (!/^worker-.*\.json$/.test(name)) continue;
      const file = path.join(dir, name);
      let address: unknown;
      try {
        address = (JSON.parse(await readFile(file, 'utf8')) as { address?: unknown }).address;
      } catch {
        continue; // being written, or removed meanwhile
      }
      if (typeof address !== 'string' || this.workers.get(address)?.alive) continue;
      const w = this.handle(address);
      if (!(await this.probe(w)) && !this.ignoredRegistrations.has(file)) {
        this.ignoredRegistrations.add(file);
        this.log.warn(
          { file, address, reason: w.lastError },
          `${file}: worker ${address} does not answer; ignored for now`,
        );
      }
    }
  }

  private async housekeeping(): Promise<void> {
    await this.discover();
    await Promise.all([...this.workers.values()].filter((w) => !w.alive).map((w) => this.probe(w)));
  }

  private wake(): void {
    for (const f of [...this.waiters]) f();
  }

  /** A live worker with a free slot (preferring one that has not failed this request); waits, within bounds. */
  private async acquire(avoid: ReadonlySet<string>): Promise<WorkerHandle> {
    for (;;) {
      if (this.closed) throw new RunError('the executor was closed');
      const free = [...this.workers.values()].filter((w) => w.alive && w.busy < w.slots);
      const pick = free.find((w) => !avoid.has(w.address)) ?? free[0];
      if (pick) {
        pick.busy++;
        return pick;
      }
      const anyAlive = [...this.workers.values()].some((w) => w.alive);
      if (anyAlive) this.noneAliveSince = null;
      else {
        this.noneAliveSince ??= Date.now();
        if (Date.now() - this.noneAliveSince > this.noWorkerTimeoutMs) throw this.noWorkersError();
      }
      await new Promise<void>((resolve) => {
        const done = () => {
          this.waiters.delete(done);
          clearTimeout(t);
          resolve();
        };
        const t = setTimeout(done, 250);
        this.waiters.add(done);
      });
    }
  }

  private noWorkersError(): RunError {
    const known = [...this.workers.values()].map((w) => `${w.address} (${w.lastError})`);
    const where = [
      this.options.addresses.length > 0 ? `--worker-addresses ${this.options.addresses.join(',')}` : '',
      this.options.workerDir !== undefined ? `--worker-dir ${this.options.workerDir}` : '',
    ]
      .filter((s) => s !== '')
      .join(', ');
    return new RunError(
      `no live worker for ${this.noWorkerTimeoutMs / 1000} s (${where}); workers seen: ${known.length > 0 ? known.join('; ') : 'none'}. ` +
        'Start workers (spikeshard worker ...) and run the same command again to resume.',
    );
  }

  private release(w: WorkerHandle): void {
    w.busy--;
    this.wake();
  }

  /** One attempt: the request's frames out, the result's frames in, on one stream. */
  private invoke(w: WorkerHandle, method: MethodName, frames: readonly FrameMessage[]) {
    return new Promise<{ kind: string; value: Record<string, unknown> }>((resolve, reject) => {
      const call = w.client.makeBidiStreamRequest(
        METHODS[method].path,
        this.serialize,
        this.deserialize,
        this.metadata,
        {
          deadline: Date.now() + this.requestTimeoutMs,
        },
      );
      const assembler = new FrameAssembler();
      let settled = false;
      const settle = (err: Error | null, value?: { kind: string; value: Record<string, unknown> }) => {
        if (settled) return;
        settled = true;
        if (err) {
          call.cancel();
          reject(err);
        } else resolve(value!);
      };
      call.on('data', (f: FrameMessage) => {
        try {
          assembler.push(f);
        } catch (err) {
          settle(err as Error);
        }
      });
      call.on('error', (err) => settle(err));
      call.on('status', (s: grpc.StatusObject) => {
        if (s.code !== grpc.status.OK) return settle(Object.assign(new Error(s.details), s));
        try {
          settle(null, assembler.finish());
        } catch (err) {
          settle(err as Error);
        }
      });
      for (const f of frames) call.write(f);
      call.end();
    });
  }

  /** Sends one request until a worker returns a result that validates, within the attempt budget. */
  private async request<R>(
    method: MethodName,
    what: string,
    message: Outgoing,
    validate: (value: Record<string, unknown>) => R,
  ): Promise<R> {
    this.counters.requests++;
    if (this.inFlight++ === 0) this.busySince = performance.now();
    try {
      return await this.attempts(method, what, message, validate);
    } finally {
      if (--this.inFlight === 0) this.counters.roundSeconds += (performance.now() - this.busySince) / 1000;
    }
  }

  /** The request's frames for one worker: without the states it holds (by digest), else whole. */
  private framesFor(
    method: MethodName,
    message: Outgoing,
    w: WorkerHandle,
    cache: Partial<Record<'full' | 'lean', FrameMessage[]>>,
  ) {
    const kind = METHODS[method].request;
    if (message.lean && message.digests.every((d) => w.states.includes(d))) {
      return { lean: true, frames: (cache.lean ??= encodeFrames(kind, message.lean, this.options.chunkBytes)) };
    }
    return { lean: false, frames: (cache.full ??= encodeFrames(kind, message.full, this.options.chunkBytes)) };
  }

  /** One worker's answer; a worker that lost a state it was thought to hold gets the request again with it. */
  private async send(
    method: MethodName,
    message: Outgoing,
    w: WorkerHandle,
    cache: Partial<Record<'full' | 'lean', FrameMessage[]>>,
  ) {
    let sent = this.framesFor(method, message, w, cache);
    let answer;
    try {
      answer = await this.invoke(w, method, sent.frames);
    } catch (err) {
      if (!sent.lean || (err as { code?: unknown }).code !== grpc.status.NOT_FOUND) throw err;
      w.states = w.states.filter((d) => !message.digests.includes(d));
      sent = this.framesFor(method, message, w, cache);
      answer = await this.invoke(w, method, sent.frames);
    }
    if (!sent.lean && message.digests.length > 0) {
      w.states = [...w.states.filter((d) => !message.digests.includes(d)), ...message.digests].slice(
        -STATES_PER_WORKER,
      );
    }
    return answer;
  }

  private async attempts<R>(
    method: MethodName,
    what: string,
    message: Outgoing,
    validate: (value: Record<string, unknown>) => R,
  ): Promise<R> {
    const failedOn = new Set<string>();
    const cache: Partial<Record<'full' | 'lean', FrameMessage[]>> = {};
    let last = '';
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      if (attempt > 1) {
        this.counters.retries++;
        await sleep(Math.min(5_000, 100 * 2 ** (attempt - 2)));
      }
      const w = await this.acquire(failedOn);
      try {
        const { kind, value } = await this.send(method, message, w, cache);
        if (kind !== METHODS[method].result) throw new WireError(`expected a ${METHODS[method].result}, got a ${kind}`);
        return validate(value);
      } catch (err) {
        last = `${w.address}: ${describeError(err)}`;
        failedOn.add(w.address);
        if (isRequestError(err)) {
          this.log.warn(
            { worker: w.address, method, reason: last },
            `${what} refused by ${w.address}: ${describeError(err)}`,
          );
        } else {
          const garbage = err instanceof GarbageResultError || err instanceof WireError;
          this.markDead(w, garbage ? `garbage result for ${what}: ${describeError(err)}` : describeError(err));
        }
      } finally {
        this.release(w);
      }
    }
    throw new RunError(`${what} failed ${this.maxAttempts} times; last: ${last}`);
  }

  /** Learning and extraction requests: channels and model by digest when the worker holds them. */
  private matchMessage(
    task: ProbeTask,
    batch: Batch,
    channels: ChannelState,
    drift: DriftState | null,
    model: MatchModel,
  ): Outgoing {
    const base = { work: this.work(task), batch, segments: ownerSegments(task.batches, batch), drift };
    const channelsDigest = stateDigest('ChannelState', channels);
    const modelDigest = stateDigest('MatchModel', model);
    return {
      full: { ...base, channels, model, channelsDigest, modelDigest },
      lean: { ...base, channels: null, model: null, channelsDigest, modelDigest },
      digests: [channelsDigest, modelDigest],
    };
  }

  private work(task: ProbeTask): ProbeWork & { paramsJson: string } {
    return {
      probe: task.probe,
      recordingPath: task.recordingPath,
      allowPartialSample: task.allowPartialSample,
      setup: task.setup,
      params: task.params,
      paramsJson: JSON.stringify(task.params),
    };
  }

  statistics(task: ProbeTask, window: StatisticsWindow): Promise<WindowStatistics> {
    return this.request(
      'statistics',
      `${task.probe} statistics window at ${window.readStart}`,
      { full: { work: this.work(task), window }, digests: [] },
      (v) => validateWindowStatistics(v, task.setup.nChannels),
    );
  }

  snippets(task: ProbeTask, batch: Batch, channels: ChannelState): Promise<Float32Array> {
    return this.request(
      'snippets',
      `${task.probe} batch ${batch.index} (snippets)`,
      { full: { work: this.work(task), batch, channels }, digests: [] },
      (v) => validateSnippets(v, NT0),
    );
  }

  /** The first drift result of each probe: every other batch's histogram has its shape. */
  private readonly driftShape = new Map<string, DriftBatchResult>();

  async driftDetect(
    task: ProbeTask,
    batch: Batch,
    channels: ChannelState,
    wTemp: Float32Array,
  ): Promise<DriftBatchResult> {
    const r = await this.request(
      'driftDetect',
      `${task.probe} batch ${batch.index} (drift)`,
      { full: { work: this.work(task), batch, channels, wTemp }, digests: [] },
      (v) => validateDriftResult(v, batch, this.driftShape.get(task.probe)),
    );
    if (!this.driftShape.has(task.probe)) this.driftShape.set(task.probe, r);
    return r;
  }

  learn(
    task: ProbeTask,
    batch: Batch,
    channels: ChannelState,
    drift: DriftState | null,
    model: MatchModel,
  ): Promise<LearnBatchResult> {
    const message = this.matchMessage(task, batch, channels, drift, model);
    return this.request('learn', `${task.probe} batch ${batch.index} (learning)`, message, (v) =>
      validateLearnResult(v, model),
    );
  }

  extract(
    task: ProbeTask,
    batch: Batch,
    channels: ChannelState,
    drift: DriftState | null,
    model: MatchModel,
  ): Promise<ExtractBatchResult> {
    const message = this.matchMessage(task, batch, channels, drift, model);
    return this.request('extract', `${task.probe} batch ${batch.index} (extraction)`, message, (v) =>
      validateExtractResult(v, batch, model),
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.wake();
    const s = this.counters;
    this.log.info(
      { ...s },
      `distributed mode: ${s.requests} requests, ${s.retries} retries, ${(s.bytesSent / 2 ** 20).toFixed(1)} MiB sent, ${(s.bytesReceived / 2 ** 20).toFixed(1)} MiB received`,
    );
    for (const w of this.workers.values()) w.client.close();
    if (this.options.onClose) await this.options.onClose();
  }
}
