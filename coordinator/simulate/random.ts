// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Deterministic random numbers for planning a simulation. Each purpose gets its own stream keyed
 * by (seed, labels…), so adding a new random feature never shifts the numbers of existing ones.
 */

/** 32-bit finaliser (MurmurHash3's fmix32): a bijective mixer of one word. */
function fmix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A 32-bit key for (seed, labels…); numbers must be integers in [0, 2^53). */
export function streamKey(seed: number, ...labels: Array<string | number>): number {
  let h = fmix32(seed >>> 0) ^ fmix32(Math.floor(seed / 4294967296) + 0x9e3779b9);
  for (const label of labels) {
    if (typeof label === 'number') {
      h = fmix32(h ^ fmix32(label >>> 0));
      h = fmix32(h ^ fmix32(Math.floor(label / 4294967296) + 0x7f4a7c15));
    } else {
      for (let i = 0; i < label.length; i++) h = fmix32(Math.imul(h ^ label.charCodeAt(i), 0x01000193));
      h = fmix32(h ^ label.length);
    }
  }
  return h >>> 0;
}

/** xoshiro128** (Blackman & Vigna) on 32-bit words, seeded through fmix32 from a stream key. */
export class Random {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spare: number | undefined;

  /** The stream for (seed, labels…). */
  constructor(seed: number, ...labels: Array<string | number>) {
    const key = streamKey(seed, ...labels);
    this.s0 = fmix32(key + 0x9e3779b9);
    this.s1 = fmix32(key + 0x3c6ef372);
    this.s2 = fmix32(key + 0xdaa66d2b);
    this.s3 = fmix32(key + 0x78dde6e4);
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** Uniform 32-bit unsigned integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextU32() >>> 5;
    const lo = this.nextU32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform in [lo, hi). */
  between(lo: number, hi: number): number {
    return lo + (hi - lo) * this.uniform();
  }

  /** Uniform integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal (Box–Muller; the second value of each pair is kept). */
  normal(): number {
    if (this.spare !== undefined) {
      const v = this.spare;
      this.spare = undefined;
      return v;
    }
    const r = Math.sqrt(-2 * Math.log(1 - this.uniform()));
    const theta = 2 * Math.PI * this.uniform();
    this.spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  /** Log-normal with the given median and σ of the log. */
  logNormal(median: number, sigmaLn: number): number {
    return median * Math.exp(sigmaLn * this.normal());
  }

  /** Exponential with the given rate (mean 1/rate). */
  exponential(rate: number): number {
    return -Math.log(1 - this.uniform()) / rate;
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.uniform() < p;
  }

  /** An element chosen with probability proportional to its weight. */
  weighted<T>(items: ReadonlyArray<readonly [T, number]>): T {
    let total = 0;
    for (const [, w] of items) total += w;
    let u = this.uniform() * total;
    for (const [item, w] of items) {
      if (u < w) return item;
      u -= w;
    }
    return items[items.length - 1]![0];
  }

  /** Fisher–Yates shuffle in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.below(i + 1);
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
