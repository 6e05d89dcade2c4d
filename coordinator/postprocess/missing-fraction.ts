// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * How much of a cluster lies below the detection threshold, from the shape of its amplitude
 * distribution (the "amplitude cut-off" of Hill, Mehta & Kleinfeld 2011): a neuron detected in
 * full has a roughly symmetric amplitude distribution whose lower tail dies out above the
 * smallest detected amplitude; a cluster made of noise or of background units just above
 * threshold piles up at that smallest amplitude.
 *
 * Such noise clusters pass the refractory test of the cut-off: matching pursuit reports at most
 * one spike per ±2 ms peak window, which empties the central bins of any cluster's
 * auto-correlogram, and a few hundred spikes give too few coincidences to see that the gap ends
 * before a real refractory period would (2–3 ms). The amplitude distribution tells them apart.
 */

/**
 * Estimated fraction of a cluster's spikes missing below its smallest detected amplitude
 * (0 … 0.5). The amplitude histogram (√n bins, 10–60, from the minimum to the 99th percentile;
 * lightly smoothed) is mirrored about its mode: the mass above the bin where the upper flank
 * falls to the height of the lowest bin stands for the unseen mass below the minimum. A
 * histogram whose mode is its lowest bin is cut at its peak: 0.5. Returns 0.5 for fewer than
 * 10 spikes, too few to tell.
 *
 * @param amplitudes spike amplitudes of one cluster (any unit, larger = bigger spike)
 */
export function missingFraction(amplitudes: ArrayLike<number>): number {
  const n = amplitudes.length;
  if (n < 10) return 0.5;
  const sorted = Float64Array.from(amplitudes).sort();
  const lo = sorted[0]!;
  const hi = sorted[Math.ceil(0.99 * (n - 1))]!;
  if (!(hi > lo)) return 0.5;
  const nBins = Math.max(10, Math.min(60, Math.round(Math.sqrt(n))));
  const width = (hi - lo) / nBins;
  const raw = new Float64Array(nBins);
  let above = 0;
  for (const v of sorted) {
    if (v > hi) above++;
    else raw[Math.min(nBins - 1, Math.floor((v - lo) / width))]! += 1;
  }
  const h = new Float64Array(nBins);
  for (let i = 0; i < nBins; i++)
    h[i] = (2 * raw[i]! + raw[Math.max(0, i - 1)]! + raw[Math.min(nBins - 1, i + 1)]!) / 4;
  let mode = 0;
  for (let i = 1; i < nBins; i++) if (h[i]! > h[mode]!) mode = i;
  if (mode === 0) return 0.5;
  let g = mode;
  while (g < nBins - 1 && h[g]! > h[0]!) g++;
  let missing = above + 0.5 * raw[g]!;
  for (let i = g + 1; i < nBins; i++) missing += raw[i]!;
  return Math.min(0.5, missing / (n + missing));
}
