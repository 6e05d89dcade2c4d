// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * The gRPC worker: answers health and describe, and runs one per-batch request per call through
 * the engine. Every call must carry the run's secret; every file a request names must lie under
 * the data roots. It writes nothing (its caller may write a registration file).
 */
import os from 'node:os';
import * as grpc from '@grpc/grpc-js';
import {
  BatchEngine,
  describeCudaDevice,
  engineBackend,
  loadCpuBinding,
  type BackendChoice,
} from '../native/lib/index.js';
import { InputError, ParameterError } from '../proto/errors.js';
import type { Logger } from '../proto/log.js';
import {
  API_VERSION,
  CHUNK_BYTES,
  FrameAssembler,
  METHODS,
  SECRET_METADATA_KEY,
  UNARY_PATHS,
  WireError,
  deserializeFrame,
  encodeFrames,
  serializeFrame,
  unaryCodec,
  type FrameMessage,
  type MethodName,
} from '../proto/wire.js';
import { PathRefusedError, checkFiles, resolveRoots, secretMatches } from './access.js';
import { driftDetectRequest, matchRequest, snippetsRequest, statisticsRequest } from './requests.js';
import { StateCache, StateMissError } from './state-cache.js';

export interface WorkerOptions {
  /** HOST:PORT; port 0 picks a free one. */
  listen: string;
  dataRoots: readonly string[];
  secret: string;
  /** Native threads; 0 = all cores. */
  threads: number;
  /** A chooseBackend result; default the CPU. */
  backend?: BackendChoice;
  /** spikeshard version, for describe. */
  version: string;
  /** Largest payload chunk this worker sends, bytes (tests make it small). @default CHUNK_BYTES */
  chunkBytes?: number;
}

export interface RunningWorker {
  /** The bound HOST:PORT (the port chosen when 0 was asked for). */
  address: string;
  port: number;
  /** Stops accepting calls, waits up to `graceMs` for those in flight, then drops them. */
  close(graceMs?: number): Promise<void>;
}

/** Maps an error to the gRPC status the coordinator acts on (docs/distributed.md, Faults). */
export function statusFor(err: unknown): grpc.status {
  if (err instanceof PathRefusedError) return grpc.status.PERMISSION_DENIED;
  if (err instanceof StateMissError) return grpc.status.NOT_FOUND;
  if (
    err instanceof WireError ||
    err instanceof ParameterError ||
    err instanceof TypeError ||
    err instanceof RangeError
  ) {
    return grpc.status.INVALID_ARGUMENT;
  }
  if (err instanceof InputError) return grpc.status.FAILED_PRECONDITION;
  return grpc.status.INTERNAL;
}

function frameMethod(path: string): grpc.MethodDefinition<FrameMessage, FrameMessage> {
  return {
    path,
    requestStream: true,
    responseStream: true,
    requestSerialize: serializeFrame,
    requestDeserialize: deserializeFrame,
    responseSerialize: serializeFrame,
    responseDeserialize: deserializeFrame,
  };
}

function unaryMethod(
  path: string,
  req: 'HealthRequest' | 'DescribeRequest',
  res: 'HealthResponse' | 'DescribeResponse',
): grpc.MethodDefinition<object, object> {
  const a = unaryCodec(req);
  const b = unaryCodec(res);
  return {
    path,
    requestStream: false,
    responseStream: false,
    requestSerialize: a.serialize,
    requestDeserialize: a.deserialize,
    responseSerialize: b.serialize,
    responseDeserialize: b.deserialize,
  };
}

/** The service as grpc-js sees it; the coordinator's client uses the same method paths. */
export function workerServiceDefinition(): grpc.ServiceDefinition {
  return {
    Health: unaryMethod(UNARY_PATHS.health, 'HealthRequest', 'HealthResponse'),
    Describe: unaryMethod(UNARY_PATHS.describe, 'DescribeRequest', 'DescribeResponse'),
    Statistics: frameMethod(METHODS.statistics.path),
    Snippets: frameMethod(METHODS.snippets.path),
    DriftDetect: frameMethod(METHODS.driftDetect.path),
    Learn: frameMethod(METHODS.learn.path),
    Extract: frameMethod(METHODS.extract.path),
  };
}

async function writeAll(call: grpc.ServerDuplexStream<FrameMessage, FrameMessage>, frames: FrameMessage[]) {
  for (const f of frames) {
    if (!call.write(f)) await new Promise<void>((resolve) => call.once('drain', () => resolve()));
  }
}

export async function startWorker(options: WorkerOptions, log: Logger): Promise<RunningWorker> {
  if (options.secret === '') throw new ParameterError('the worker needs a non-empty secret');
  if (options.dataRoots.length === 0) throw new ParameterError('the worker needs at least one --data-root');
  const roots = await resolveRoots(options.dataRoots);
  const choice = options.backend ?? { backend: 'cpu', reason: 'cpu requested' };
  const engine = new BatchEngine({
    threads: options.threads,
    authorize: (files) => checkFiles(files, roots),
    backend: engineBackend(choice),
    log,
  });
  const native = loadCpuBinding().describe();
  const cpuDevice = (cpus: os.CpuInfo[]) =>
    `${cpus[0]?.model.trim() ?? 'unknown CPU'} (${native.hardwareThreads} hardware threads)`;
  const gpuDevice = choice.device ? describeCudaDevice(choice.device) : null;
  const chunkBytes = options.chunkBytes ?? CHUNK_BYTES;
  const states = new StateCache();

  const authorized = (metadata: grpc.Metadata): boolean => {
    const v = metadata.get(SECRET_METADATA_KEY)[0];
    return secretMatches(v, options.secret);
  };
  const refuse = { code: grpc.status.UNAUTHENTICATED, details: 'missing or wrong run secret' };

  const run = async (method: MethodName, body: Record<string, unknown>): Promise<object> => {
    switch (method) {
      case 'statistics':
        return engine.statistics(statisticsRequest(body));
      case 'snippets':
        return { snippets: await engine.snippets(snippetsRequest(body)) };
      case 'driftDetect':
        return engine.driftDetect(driftDetectRequest(body));
      case 'learn':
        return engine.learn(matchRequest(body, states));
      case 'extract':
        return engine.extract(matchRequest(body, states));
    }
  };

  const frameHandler = (method: MethodName) => (call: grpc.ServerDuplexStream<FrameMessage, FrameMessage>) => {
    if (!authorized(call.metadata)) {
      log.warn({ peer: call.getPeer(), method }, 'refused a call without the run secret');
      call.emit('error', refuse);
      return;
    }
    const assembler = new FrameAssembler();
    let failed = false;
    const fail = (err: unknown) => {
      if (failed) return;
      failed = true;
      const code = statusFor(err);
      const details = err instanceof Error ? err.message : String(err);
      if (code === grpc.status.INTERNAL) log.error({ err, method }, `${method} failed: ${details}`);
      else if (code === grpc.status.NOT_FOUND) log.debug({ method }, details);
      else log.warn({ method, code }, `${method} refused: ${details}`);
      call.emit('error', { code, details });
    };
    call.on('data', (frame: FrameMessage) => {
      if (failed) return;
      try {
        assembler.push(frame);
      } catch (err) {
        fail(err);
      }
    });
    call.on('error', () => undefined);
    call.on('end', () => {
      if (failed) return;
      void (async () => {
        const { kind, value } = assembler.finish();
        const spec = METHODS[method];
        if (kind !== spec.request) throw new WireError(`${method} takes a ${spec.request}, got a ${kind}`);
        const t0 = performance.now();
        const result = await run(method, value);
        log.debug({ method, seconds: (performance.now() - t0) / 1000 }, `${method} done`);
        await writeAll(call, encodeFrames(spec.result, result, chunkBytes));
        call.end();
      })().catch(fail);
    });
  };

  const server = new grpc.Server({
    'grpc.max_receive_message_length': 2 * CHUNK_BYTES + (1 << 16),
    'grpc.max_send_message_length': 2 * CHUNK_BYTES + (1 << 16),
  });
  server.addService(workerServiceDefinition(), {
    Health: (call: grpc.ServerUnaryCall<object, object>, callback: grpc.sendUnaryData<object>) => {
      if (!authorized(call.metadata)) return callback(refuse);
      callback(null, { serving: true, apiVersion: API_VERSION });
    },
    Describe: (call: grpc.ServerUnaryCall<object, object>, callback: grpc.sendUnaryData<object>) => {
      if (!authorized(call.metadata)) return callback(refuse);
      const cpus = os.cpus();
      const threads = options.threads > 0 ? options.threads : native.defaultThreads;
      callback(null, {
        apiVersion: API_VERSION,
        version: options.version,
        coreVersion: String(native.coreVersion),
        backend: choice.backend,
        device: gpuDevice !== null ? `${gpuDevice}; ${cpuDevice(cpus)}` : cpuDevice(cpus),
        threads,
        memoryBytes: os.totalmem(),
        slots: 1,
        pid: process.pid,
        hostname: os.hostname(),
      });
    },
    Statistics: frameHandler('statistics'),
    Snippets: frameHandler('snippets'),
    DriftDetect: frameHandler('driftDetect'),
    Learn: frameHandler('learn'),
    Extract: frameHandler('extract'),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(options.listen, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(new ParameterError(`--listen ${options.listen}: ${err.message}`)) : resolve(p),
    ),
  );
  const host = options.listen.slice(0, options.listen.lastIndexOf(':'));
  const address = `${host}:${port}`;
  log.info(
    { address, dataRoots: roots, threads: options.threads, backend: choice.backend },
    `worker listening on ${address}`,
  );
  return {
    address,
    port,
    close: async (graceMs = 5_000) => {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      await engine.close();
    },
  };
}
