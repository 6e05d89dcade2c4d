// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Spike trains of one sorting (ground truth or tested) in the layout the match counting sweeps
 * over: every spike of every unit in one array, ordered by (sample, unit index), the order
 * SpikeInterface's spike vector has. The order of simultaneous spikes matters: the counting is
 * greedy, so a different tie order can change a count by one.
 */

/** All spikes of a sorting, sorted by (sample, unit index). */
export interface SpikeTrains {
  /** Unit ids, ascending; a unit's index is its position here. */
  unitIds: readonly number[];
  /** (U,) spikes per unit. */
  counts: Float64Array;
  /** (S,) sample index of each spike (integers), ascending. */
  samples: Float64Array;
  /** (S,) index into unitIds of each spike. */
  units: Int32Array;
}

/**
 * Builds the sorted spike trains. `unitIds` lists every unit (units without spikes included, in
 * any order; they are sorted here); every entry of `spikeUnitIds` must be one of them, and
 * `samples` must hold integers.
 */
export function buildSpikeTrains(
  unitIds: readonly number[],
  samples: Float64Array,
  spikeUnitIds: ArrayLike<number>,
): SpikeTrains {
  if (samples.length !== spikeUnitIds.length) {
    throw new RangeError(`spike trains: ${samples.length} samples but ${spikeUnitIds.length} unit ids`);
  }
  const ids = [...unitIds].sort((a, b) => a - b);
  for (let k = 1; k < ids.length; k++) {
    if (ids[k] === ids[k - 1]) throw new RangeError(`spike trains: unit id ${ids[k]} is listed twice`);
  }
  const indexOf = unitIndexLookup(ids);
  const nSpikes = samples.length;
  const units = new Int32Array(nSpikes);
  const counts = new Float64Array(ids.length);
  let sorted = true;
  for (let s = 0; s < nSpikes; s++) {
    const t = samples[s]!;
    if (!Number.isSafeInteger(t)) throw new RangeError(`spike trains: sample ${t} of spike ${s} is not an integer`);
    const u = indexOf(spikeUnitIds[s]!);
    if (u < 0) throw new RangeError(`spike trains: spike ${s} has unit id ${spikeUnitIds[s]}, not a listed unit`);
    units[s] = u;
    counts[u]! += 1;
    if (s > 0 && (t < samples[s - 1]! || (t === samples[s - 1]! && u < units[s - 1]!))) sorted = false;
  }
  if (sorted) return { unitIds: ids, counts, samples: Float64Array.from(samples), units };
  if (isNonDecreasing(samples)) {
    // The usual case (phy, ALF): in time order already, only simultaneous spikes out of unit order.
    const out = { samples: Float64Array.from(samples), units };
    sortTiesByUnit(out.samples, out.units);
    return { unitIds: ids, counts, ...out };
  }
  const order = sortBySampleThenUnit(samples, units, ids.length);
  return { unitIds: ids, counts, samples: order.samples, units: order.units };
}

/**
 * The trains restricted to the units in `keepIds` (ids absent from the trains are ignored), still
 * sorted: dropping spikes and renumbering units in the same order keeps (sample, unit) order.
 */
export function selectUnits(trains: SpikeTrains, keepIds: readonly number[]): SpikeTrains {
  const keep = new Set(keepIds);
  const newIndex = new Int32Array(trains.unitIds.length).fill(-1);
  const unitIds: number[] = [];
  const keptCounts: number[] = [];
  trains.unitIds.forEach((id, k) => {
    if (keep.has(id)) {
      newIndex[k] = unitIds.length;
      unitIds.push(id);
      keptCounts.push(trains.counts[k]!);
    }
  });
  let n = 0;
  for (let s = 0; s < trains.units.length; s++) if (newIndex[trains.units[s]!]! >= 0) n++;
  const samples = new Float64Array(n);
  const units = new Int32Array(n);
  for (let s = 0, k = 0; s < trains.units.length; s++) {
    const u = newIndex[trains.units[s]!]!;
    if (u >= 0) {
      samples[k] = trains.samples[s]!;
      units[k++] = u;
    }
  }
  return { unitIds, counts: Float64Array.from(keptCounts), samples, units };
}

function isNonDecreasing(samples: Float64Array): boolean {
  for (let s = 1; s < samples.length; s++) if (samples[s]! < samples[s - 1]!) return false;
  return true;
}

/** Insertion sort of each run of equal samples by unit index (runs are a few spikes long). */
function sortTiesByUnit(samples: Float64Array, units: Int32Array): void {
  for (let s = 1; s < samples.length; s++) {
    const u = units[s]!;
    let k = s;
    while (k > 0 && samples[k - 1] === samples[s] && units[k - 1]! > u) {
      units[k] = units[k - 1]!;
      k--;
    }
    units[k] = u;
  }
}

/** Maps a unit id to its index (−1 if absent): a dense table when the ids are compact, else a Map. */
function unitIndexLookup(sortedIds: readonly number[]): (id: number) => number {
  const n = sortedIds.length;
  if (n === 0) return () => -1;
  const lo = sortedIds[0]!;
  const hi = sortedIds[n - 1]!;
  if (Number.isSafeInteger(lo) && Number.isSafeInteger(hi) && hi - lo < 1 << 24) {
    const table = new Int32Array(hi - lo + 1).fill(-1);
    sortedIds.forEach((id, k) => (table[id - lo] = k));
    return (id) => (Number.isInteger(id) && id >= lo && id <= hi ? table[id - lo]! : -1);
  }
  const map = new Map(sortedIds.map((id, k) => [id, k] as const));
  return (id) => map.get(id) ?? -1;
}

/**
 * Sorts by (sample, unit) through one combined float key per spike, so the sort is the engine's
 * native numeric sort rather than a comparator call per comparison (seconds for millions).
 */
function sortBySampleThenUnit(
  samples: Float64Array,
  units: Int32Array,
  nUnits: number,
): { samples: Float64Array; units: Int32Array } {
  const n = samples.length;
  const keys = new Float64Array(n);
  // Keys stay below 2^52 so that decoding them below is exact.
  const limit = 2 ** 52 / Math.max(nUnits, 1);
  for (let s = 0; s < n; s++) {
    const t = samples[s]!;
    if (Math.abs(t) >= limit) {
      throw new RangeError(`spike trains: sample ${t} is too large to sort with ${nUnits} units (limit ${limit})`);
    }
    keys[s] = t * nUnits + units[s]!;
  }
  keys.sort();
  const outSamples = new Float64Array(n);
  const outUnits = new Int32Array(n);
  for (let s = 0; s < n; s++) {
    const key = keys[s]!;
    let t = Math.floor(key / nUnits);
    let u = key - t * nUnits;
    if (u < 0) {
      t -= 1;
      u += nUnits;
    } else if (u >= nUnits) {
      t += 1;
      u -= nUnits;
    }
    outSamples[s] = t;
    outUnits[s] = u;
  }
  return { samples: outSamples, units: outUnits };
}

/**
 * SpikeInterface's match count matrix (`make_match_count_matrix`, ground truth first, without
 * symmetrisation): one sweep over both sorted trains; a ground-truth spike and a tested spike
 * match when |t1 − t2| ≤ deltaFrames. Per unit pair, a spike counts at most once on the
 * ground-truth side and is not re-used by the very next match on the tested side (the last
 * matched spike of each side is remembered per pair); bursts can still let a tested spike count
 * twice, so the counts are finally clipped to the tested unit's spike count.
 *
 * Cost: O(S1 · k + U1 · U2) where k is the number of tested spikes within ±deltaFrames of a
 * ground-truth spike; the window moves forward only.
 *
 * @returns (U1, U2) row-major match counts.
 */
export function countMatches(gt: SpikeTrains, tested: SpikeTrains, deltaFrames: number): Float64Array {
  if (!Number.isInteger(deltaFrames) || deltaFrames < 0) {
    throw new RangeError(`countMatches: deltaFrames must be a non-negative integer, got ${deltaFrames}`);
  }
  const n1 = gt.unitIds.length;
  const n2 = tested.unitIds.length;
  const counts = new Float64Array(n1 * n2);
  if (gt.samples.length > 0x7fffffff || tested.samples.length > 0x7fffffff) {
    throw new RangeError('countMatches: more than 2^31 − 1 spikes in one sorting');
  }
  const lastGtSpike = new Int32Array(n1 * n2).fill(-1);
  const lastTestedSpike = new Int32Array(n1 * n2).fill(-1);
  const t1 = gt.samples;
  const u1 = gt.units;
  const t2 = tested.samples;
  const u2 = tested.units;
  const nTested = t2.length;
  let windowStart = 0;
  for (let i = 0; i < t1.length; i++) {
    const frame = t1[i]!;
    while (windowStart < nTested && t2[windowStart]! < frame - deltaFrames) windowStart++;
    const rowBase = u1[i]! * n2;
    for (let j = windowStart; j < nTested; j++) {
      if (t2[j]! > frame + deltaFrames) break;
      const pair = rowBase + u2[j]!;
      if (lastGtSpike[pair] !== i && lastTestedSpike[pair] !== j) {
        lastGtSpike[pair] = i;
        lastTestedSpike[pair] = j;
        counts[pair]! += 1;
      }
    }
  }
  for (let a = 0; a < n1; a++) {
    for (let b = 0; b < n2; b++) {
      const k = a * n2 + b;
      if (counts[k]! > tested.counts[b]!) counts[k] = tested.counts[b]!;
    }
  }
  return counts;
}
