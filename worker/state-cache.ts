// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * States (channel state, template model) a worker decoded before, by content digest, so that a
 * round's requests need not carry them again. Only a cache: a miss is answered NOT_FOUND and the
 * coordinator re-sends the state; a state that arrives is checked against its digest first.
 */
import { ParameterError } from '../proto/errors.js';
import { stateDigest } from '../proto/wire.js';

/** The request names a state this worker does not hold (gRPC NOT_FOUND). */
export class StateMissError extends Error {
  override readonly name = 'StateMissError';
}

export class StateCache {
  private readonly entries = new Map<string, Record<string, unknown>>();
  constructor(private readonly maxEntries = 6) {}

  /**
   * The state of a request: the one it carries (checked against `digest` and remembered), or the
   * one remembered under `digest` when it carries none.
   */
  resolve(
    typeName: 'ChannelState' | 'MatchModel',
    carried: Record<string, unknown> | null,
    digest: string,
  ): Record<string, unknown> | null {
    if (carried !== null) {
      if (digest === '') return carried;
      const actual = stateDigest(typeName, carried);
      if (actual !== digest) throw new ParameterError(`${typeName}: digest ${digest} sent, content has ${actual}`);
      this.entries.delete(digest);
      this.entries.set(digest, carried);
      while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
      return carried;
    }
    if (digest === '') return null;
    const hit = this.entries.get(digest);
    if (!hit) throw new StateMissError(`${typeName} ${digest} is not cached here; send it`);
    this.entries.delete(digest);
    this.entries.set(digest, hit);
    return hit;
  }
}
