// SPDX-License-Identifier: GPL-3.0-or-later
/** A bare gRPC client of the worker service, for tests that talk to a worker directly. */
import * as grpc from '@grpc/grpc-js';
import {
  FrameAssembler,
  METHODS,
  SECRET_METADATA_KEY,
  UNARY_PATHS,
  deserializeFrame,
  encodeFrames,
  serializeFrame,
  unaryCodec,
  type FrameMessage,
  type MethodName,
} from '../../proto/wire.js';

export interface CallOutcome {
  code: grpc.status;
  details: string;
  value: Record<string, unknown> | null;
}

function metadataFor(secret: string | null): grpc.Metadata {
  const m = new grpc.Metadata();
  if (secret !== null) m.set(SECRET_METADATA_KEY, secret);
  return m;
}

export class WorkerClient {
  readonly client: grpc.Client;
  constructor(address: string) {
    this.client = new grpc.Client(address, grpc.credentials.createInsecure());
  }

  health(secret: string | null): Promise<CallOutcome> {
    return this.unary('health', secret);
  }

  describe(secret: string | null): Promise<CallOutcome> {
    return this.unary('describe', secret);
  }

  private unary(which: 'health' | 'describe', secret: string | null): Promise<CallOutcome> {
    const a = unaryCodec(which === 'health' ? 'HealthRequest' : 'DescribeRequest');
    const b = unaryCodec(which === 'health' ? 'HealthResponse' : 'DescribeResponse');
    return new Promise((resolve) => {
      this.client.makeUnaryRequest(
        UNARY_PATHS[which],
        a.serialize,
        b.deserialize,
        {},
        metadataFor(secret),
        { deadline: Date.now() + 10_000 },
        (err, value) =>
          resolve(
            err
              ? { code: err.code, details: err.details, value: null }
              : { code: grpc.status.OK, details: '', value: value ?? null },
          ),
      );
    });
  }

  /** Sends `frames` (by default the encoded body) on one stream and collects the answer. */
  call(method: MethodName, secret: string | null, body: object, frames?: FrameMessage[]): Promise<CallOutcome> {
    return new Promise((resolve) => {
      const call = this.client.makeBidiStreamRequest(
        METHODS[method].path,
        serializeFrame,
        deserializeFrame,
        metadataFor(secret),
        { deadline: Date.now() + 30_000 },
      );
      const assembler = new FrameAssembler();
      call.on('data', (f: FrameMessage) => assembler.push(f));
      call.on('error', () => undefined);
      call.on('status', (s: grpc.StatusObject) => {
        if (s.code !== grpc.status.OK) return resolve({ code: s.code, details: s.details, value: null });
        resolve({ code: s.code, details: s.details, value: assembler.finish().value });
      });
      for (const f of frames ?? encodeFrames(METHODS[method].request, body)) call.write(f);
      call.end();
    });
  }

  close(): void {
    this.client.close();
  }
}
