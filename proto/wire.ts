// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * The wire contract of proto/spikeshard.proto, loaded at run time with protobufjs (no generated
 * code to keep current). Messages are encoded from and decoded to plain objects shaped like the
 * engine's TypeScript interfaces: the schema is walked field by field, typed arrays become
 * ArrayRefs into a payload that travels in chunks of at most {@link CHUNK_BYTES}, and come back
 * as views of one exactly-reassembled buffer (bitwise the bytes that were sent).
 *
 * This module checks framing and array types only; what a value means (shapes, ranges) is checked
 * by the side that uses it (worker/ for requests, coordinator/ for results).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

/** Bumped with the package name (spikeshard.vN) on changes that old peers cannot read. */
export const API_VERSION = 1;
/** Largest chunk frame's payload, bytes (well under gRPC's 4 MiB default message limit). */
export const CHUNK_BYTES = 1 << 20;
/** Largest payload one message may announce: 1 GiB. */
export const MAX_PAYLOAD_BYTES = 1 << 30;
/** gRPC metadata key that carries the per-run secret. */
export const SECRET_METADATA_KEY = 'x-spikeshard-secret';
export const SERVICE_NAME = 'spikeshard.v1.Worker';

/** The body of an envelope: a request or a result. */
export type BodyKind =
  | 'statisticsRequest'
  | 'snippetsRequest'
  | 'driftDetectRequest'
  | 'matchRequest'
  | 'windowStatistics'
  | 'snippetsResult'
  | 'driftBatchResult'
  | 'learnBatchResult'
  | 'extractBatchResult';

/** The per-batch methods and the bodies they take and give. */
export const METHODS = {
  statistics: { path: `/${SERVICE_NAME}/Statistics`, request: 'statisticsRequest', result: 'windowStatistics' },
  snippets: { path: `/${SERVICE_NAME}/Snippets`, request: 'snippetsRequest', result: 'snippetsResult' },
  driftDetect: { path: `/${SERVICE_NAME}/DriftDetect`, request: 'driftDetectRequest', result: 'driftBatchResult' },
  learn: { path: `/${SERVICE_NAME}/Learn`, request: 'matchRequest', result: 'learnBatchResult' },
  extract: { path: `/${SERVICE_NAME}/Extract`, request: 'matchRequest', result: 'extractBatchResult' },
} as const satisfies Record<string, { path: string; request: BodyKind; result: BodyKind }>;
export type MethodName = keyof typeof METHODS;

export const UNARY_PATHS = {
  health: `/${SERVICE_NAME}/Health`,
  describe: `/${SERVICE_NAME}/Describe`,
} as const;

/** A malformed stream or message: the peer is broken (or not a spikeshard peer). */
export class WireError extends Error {
  override readonly name = 'WireError';
}

type Typed = Float32Array | Float64Array | Int32Array | Uint8Array | Int16Array;

const DTYPES = [
  { code: 1, ctor: Float32Array, name: 'float32' },
  { code: 2, ctor: Float64Array, name: 'float64' },
  { code: 3, ctor: Int32Array, name: 'int32' },
  { code: 4, ctor: Uint8Array, name: 'uint8' },
  { code: 5, ctor: Int16Array, name: 'int16' },
] as const;

/**
 * The element type of every array field, by `Message.field`: an array of another type is refused
 * when decoding, so a decoded value has the TypeScript type its interface names.
 */
const ARRAY_TYPES: Record<string, string> = {
  'ProbeSetup.xUm': 'float64',
  'ProbeSetup.yUm': 'float64',
  'ProbeSetup.uvPerCount': 'float64',
  'ProbeSetup.used': 'uint8',
  'LocalWhitening.indices': 'int32',
  'LocalWhitening.weights': 'float32',
  'LocalWhitening.dense': 'float64',
  'ChannelState.labels': 'int32',
  'ChannelState.good': 'uint8',
  'ChannelState.gains': 'float64',
  'DriftState.dshiftUm': 'float64',
  'DriftState.yBlockUm': 'float64',
  'TemplateModel.temporal': 'float32',
  'TemplateModel.spatial': 'float32',
  'TemplateModel.meanAmplitude': 'float32',
  'TemplateModel.peakChannel': 'int32',
  'TemplateModel.neighbours': 'int32',
  'SimilarTemplates.similar': 'int32',
  'TemporalPcs.values': 'float32',
  'ProposalPrototypes.values': 'float32',
  'MatchModel.crossCorrelation': 'float32',
  'MatchModel.neighbourhoods': 'int32',
  'DriftDetectRequest.wTemp': 'float32',
  'WindowStatistics.labels': 'int32',
  'WindowStatistics.covariance': 'float64',
  'SnippetsResult.snippets': 'float32',
  'DriftBatchResult.histogram': 'float32',
  'DriftBatchResult.samples': 'float64',
  'DriftBatchResult.depthsUm': 'float32',
  'DriftBatchResult.amplitudes': 'float32',
  'LearnBatchResult.active': 'int32',
  'LearnBatchResult.sums': 'float64',
  'LearnBatchResult.counts': 'int32',
  'LearnBatchResult.proposals': 'float32',
  'LearnBatchResult.proposalChannels': 'int32',
  'LearnBatchResult.proposalScores': 'float32',
  'ExtractBatchResult.samples': 'float64',
  'ExtractBatchResult.templates': 'int32',
  'ExtractBatchResult.amplitudes': 'float32',
  'ExtractBatchResult.scores': 'float32',
  'ExtractBatchResult.templateFeatures': 'float32',
  'ExtractBatchResult.pcFeatures': 'float32',
};

/** Finds proto/spikeshard.proto from this module, whether it runs from dist/proto or proto/. */
export function protoFile(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, 'proto', 'spikeshard.proto');
    if (existsSync(candidate)) return candidate;
    dir = path.dirname(dir);
  }
  throw new Error(`proto/spikeshard.proto not found above ${fileURLToPath(import.meta.url)}`);
}

interface Schema {
  root: protobuf.Root;
  frame: protobuf.Type;
  envelope: protobuf.Type;
  arrayRef: protobuf.Type;
  type: (name: string) => protobuf.Type;
}

let schema: Schema | undefined;

export function wireSchema(): Schema {
  if (schema) return schema;
  const root = protobuf.loadSync(protoFile());
  root.resolveAll();
  const type = (name: string) => root.lookupType(`spikeshard.v1.${name}`);
  schema = { root, frame: type('Frame'), envelope: type('Envelope'), arrayRef: type('ArrayRef'), type };
  for (const key of Object.keys(ARRAY_TYPES)) {
    const [msg, field] = key.split('.') as [string, string];
    if (type(msg).fields[field]?.resolvedType !== schema.arrayRef) throw new Error(`wire: ${key} is not an ArrayRef`);
  }
  return schema;
}

function isTyped(v: unknown): v is Typed {
  return DTYPES.some((d) => v instanceof d.ctor);
}

/** Collects arrays into the payload layout while a message is built. */
class PayloadWriter {
  readonly arrays: Typed[] = [];
  readonly offsets: number[] = [];
  bytes = 0;
  add(a: Typed): { dtype: number; offset: number; length: number } {
    const dtype = DTYPES.find((d) => a instanceof d.ctor)!;
    const offset = this.bytes;
    this.arrays.push(a);
    this.offsets.push(offset);
    this.bytes += Math.ceil(a.byteLength / 8) * 8;
    return { dtype: dtype.code, offset, length: a.length };
  }
}

function toWire(type: protobuf.Type, value: Record<string, unknown>, out: PayloadWriter, where: string) {
  const { arrayRef } = wireSchema();
  const msg: Record<string, unknown> = {};
  for (const field of type.fieldsArray) {
    const v = value[field.name];
    if (v === undefined || v === null) continue;
    const here = `${where}.${field.name}`;
    if (field.resolvedType === arrayRef) {
      if (!isTyped(v)) throw new WireError(`${here}: expected a typed array, got ${typeof v}`);
      msg[field.name] = out.add(v);
    } else if (field.resolvedType instanceof protobuf.Type) {
      const sub = field.resolvedType;
      if (field.repeated) {
        if (!Array.isArray(v)) throw new WireError(`${here}: expected an array`);
        msg[field.name] = v.map((e: Record<string, unknown>, i) => toWire(sub, e, out, `${here}[${i}]`));
      } else {
        msg[field.name] = toWire(sub, v as Record<string, unknown>, out, here);
      }
    } else {
      msg[field.name] = v;
    }
  }
  return msg;
}

function fromWire(type: protobuf.Type, msg: Record<string, unknown>, payload: Uint8Array, where: string) {
  const { arrayRef } = wireSchema();
  const value: Record<string, unknown> = {};
  for (const field of type.fieldsArray) {
    const v = msg[field.name];
    const here = `${where}.${field.name}`;
    if (field.resolvedType === arrayRef) {
      value[field.name] =
        v === null || v === undefined ? null : arrayOf(v as ArrayRefObject, payload, type, field, here);
    } else if (field.resolvedType instanceof protobuf.Type) {
      const sub = field.resolvedType;
      if (field.repeated) {
        value[field.name] = ((v as Record<string, unknown>[] | undefined) ?? []).map((e, i) =>
          fromWire(sub, e, payload, `${here}[${i}]`),
        );
      } else {
        value[field.name] =
          v === null || v === undefined ? null : fromWire(sub, v as Record<string, unknown>, payload, here);
      }
    } else {
      value[field.name] = v;
    }
  }
  return value;
}

interface ArrayRefObject {
  dtype: number;
  offset: number;
  length: number;
}

function arrayOf(ref: ArrayRefObject, payload: Uint8Array, type: protobuf.Type, field: protobuf.Field, here: string) {
  const dtype = DTYPES.find((d) => d.code === ref.dtype);
  if (!dtype) throw new WireError(`${here}: unknown dtype ${ref.dtype}`);
  const want = ARRAY_TYPES[`${type.name}.${field.name}`];
  if (want !== undefined && want !== dtype.name) throw new WireError(`${here}: expected ${want}, got ${dtype.name}`);
  const size = dtype.ctor.BYTES_PER_ELEMENT;
  const { offset, length } = ref;
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new WireError(`${here}: bad offset ${offset} or length ${length}`);
  }
  if (offset % 8 !== 0 || offset + length * size > payload.byteLength) {
    throw new WireError(
      `${here}: ${length} × ${size} bytes at ${offset} do not fit the payload of ${payload.byteLength}`,
    );
  }
  return new dtype.ctor(payload.buffer as ArrayBuffer, payload.byteOffset + offset, length);
}

/**
 * Content digest of a state message (hex SHA-256 of its encoding and its arrays' bytes): equal
 * digests mean equal state, bit for bit, so a worker may reuse a state it decoded before.
 */
export function stateDigest(typeName: 'ChannelState' | 'MatchModel', value: object): string {
  const type = wireSchema().type(typeName);
  const out = new PayloadWriter();
  const msg = toWire(type, value as Record<string, unknown>, out, typeName);
  const hash = createHash('sha256').update(type.encode(type.fromObject(msg)).finish());
  for (const a of out.arrays) hash.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  return hash.digest('hex');
}

/** A decoded Frame: either the envelope (first) or a payload chunk. */
export interface FrameMessage {
  envelope?: protobuf.Message | null;
  chunk?: Uint8Array | null;
}

export function serializeFrame(frame: FrameMessage): Buffer {
  const { frame: type } = wireSchema();
  return Buffer.from(type.encode(type.create(frame as Record<string, unknown>)).finish());
}

export function deserializeFrame(bytes: Buffer): FrameMessage {
  try {
    return wireSchema().frame.decode(bytes) as unknown as FrameMessage;
  } catch (err) {
    throw new WireError(`undecodable frame: ${(err as Error).message}`);
  }
}

/**
 * The frames of one message: the envelope (with its body's arrays as ArrayRefs), then the payload
 * in chunks of at most `chunkBytes`. Chunks are views of one buffer built here.
 */
export function encodeFrames(kind: BodyKind, body: object, chunkBytes = CHUNK_BYTES): FrameMessage[] {
  const { envelope, type } = wireSchema();
  const bodyType = type(kind.charAt(0).toUpperCase() + kind.slice(1));
  const out = new PayloadWriter();
  const msg = toWire(bodyType, body as Record<string, unknown>, out, kind);
  const env = envelope.fromObject({ apiVersion: API_VERSION, payloadBytes: out.bytes, [kind]: msg });
  const frames: FrameMessage[] = [{ envelope: env }];
  const payload = new Uint8Array(out.bytes);
  out.arrays.forEach((a, i) => payload.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), out.offsets[i]));
  for (let at = 0; at < payload.byteLength; at += chunkBytes) {
    frames.push({ chunk: payload.subarray(at, Math.min(payload.byteLength, at + chunkBytes)) });
  }
  return frames;
}

/** Reassembles one message from its frames, checking the framing as it goes. */
export class FrameAssembler {
  private kind: BodyKind | null = null;
  private body: Record<string, unknown> | null = null;
  private payload: Uint8Array | null = null;
  private received = 0;

  constructor(private readonly maxChunkBytes = CHUNK_BYTES) {}

  push(frame: FrameMessage): void {
    if (frame.envelope) {
      if (this.kind !== null) throw new WireError('a second envelope in one message');
      const env = wireSchema().envelope.toObject(frame.envelope, {
        longs: Number,
        enums: Number,
        defaults: true,
        oneofs: true,
        bytes: Array,
      });
      if (env['apiVersion'] !== API_VERSION) {
        throw new WireError(`API version ${String(env['apiVersion'])}, this side speaks ${API_VERSION}`);
      }
      const kind = env['body'] as BodyKind | undefined;
      if (!kind) throw new WireError('an envelope without a body');
      const bytes = env['payloadBytes'] as number;
      if (!Number.isSafeInteger(bytes) || bytes < 0 || bytes > MAX_PAYLOAD_BYTES) {
        throw new WireError(`payload of ${bytes} bytes announced (limit ${MAX_PAYLOAD_BYTES})`);
      }
      this.kind = kind;
      this.body = env[kind] as Record<string, unknown>;
      this.payload = new Uint8Array(bytes);
    } else if (frame.chunk) {
      if (this.payload === null) throw new WireError('a chunk before the envelope');
      const c = frame.chunk;
      if (c.byteLength > this.maxChunkBytes)
        throw new WireError(`a chunk of ${c.byteLength} bytes (limit ${this.maxChunkBytes})`);
      if (this.received + c.byteLength > this.payload.byteLength) {
        throw new WireError(`more payload than the ${this.payload.byteLength} bytes announced`);
      }
      this.payload.set(c, this.received);
      this.received += c.byteLength;
    } else {
      throw new WireError('an empty frame');
    }
  }

  /** The decoded body; throws unless exactly the announced payload arrived. */
  finish(): { kind: BodyKind; value: Record<string, unknown> } {
    if (this.kind === null || this.body === null || this.payload === null) throw new WireError('no envelope');
    if (this.received !== this.payload.byteLength) {
      throw new WireError(`payload of ${this.received} bytes, ${this.payload.byteLength} announced`);
    }
    const bodyType = wireSchema().type(this.kind.charAt(0).toUpperCase() + this.kind.slice(1));
    return { kind: this.kind, value: fromWire(bodyType, this.body, this.payload, this.kind) };
  }
}

export interface UnaryCodec {
  serialize: (value: object) => Buffer;
  deserialize: (bytes: Buffer) => Record<string, unknown>;
}

/** Unary messages (health, describe) as plain objects. */
export function unaryCodec(
  typeName: 'HealthRequest' | 'HealthResponse' | 'DescribeRequest' | 'DescribeResponse',
): UnaryCodec {
  return {
    serialize: (value: object): Buffer => {
      const t = wireSchema().type(typeName);
      return Buffer.from(t.encode(t.fromObject(value as Record<string, unknown>)).finish());
    },
    deserialize: (bytes: Buffer): Record<string, unknown> => {
      const t = wireSchema().type(typeName);
      return t.toObject(t.decode(bytes), { longs: Number, defaults: true });
    },
  };
}
