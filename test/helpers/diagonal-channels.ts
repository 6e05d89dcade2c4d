// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Engine tests' channel state for a small simulated probe: every channel good, the probe's own
 * gains, and a diagonal whitening (each channel scaled by `weight`, no neighbours mixed in), so a
 * batch goes through the engine's preprocessing without a statistics round first.
 */
import type { ChannelState } from '../../native/lib/index.js';

export function diagonalChannels(
  setup: { nChannels: number; uvPerCount: ArrayLike<number> },
  weight: number,
): ChannelState {
  const n = setup.nChannels;
  return {
    labels: new Int32Array(n),
    good: new Uint8Array(n).fill(1),
    gains: Float64Array.from(setup.uvPerCount),
    whitening: {
      nChannels: n,
      nNearest: 1,
      epsilon: 0,
      indices: Int32Array.from({ length: n }, (_, c) => c),
      weights: new Float32Array(n).fill(weight),
      dense: new Float64Array(n * n),
    },
  };
}
