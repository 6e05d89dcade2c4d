// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * The export's former TypeScript linear algebra (coordinator/export/pinv.ts and derived.ts before
 * they called the native core), kept as the reference the native kernels must equal bit for bit
 * and as the "before" of test/bench/export-linalg-bench.ts.
 */

export interface JsPseudoInverse {
  inverse: Float64Array;
  singularValues: Float64Array;
  rank: number;
  tolerance: number;
}

const EPS = 2 ** -52;
const MAX_SWEEPS = 80;

/** Pseudo-inverse of the row-major (rows, cols) matrix `a` (tol = (rcond ?? max(rows, cols)·eps)·σ_max). */
export function jsPseudoInverse(a: Float64Array, rows: number, cols: number, rcond?: number): JsPseudoInverse {
  if (a.length !== rows * cols) {
    throw new RangeError(`pseudoInverse: a (${rows}, ${cols}) matrix has ${rows * cols} elements, got ${a.length}`);
  }
  if (rows >= cols) return tallPseudoInverse(a, rows, cols, rcond);
  // More columns than rows cannot all become orthogonal; pinv(A) = pinv(Aᵀ)ᵀ.
  const tall = tallPseudoInverse(transpose(a, rows, cols), cols, rows, rcond);
  return { ...tall, inverse: transpose(tall.inverse, rows, cols) };
}

function transpose(a: Float64Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c]!;
  return out;
}

function tallPseudoInverse(a: Float64Array, rows: number, cols: number, rcond: number | undefined): JsPseudoInverse {
  // Columns of A (the vectors being orthogonalised) and of V, each stored contiguously.
  const u = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) u[c * rows + r] = a[r * cols + c]!;
  const v = new Float64Array(cols * cols);
  for (let c = 0; c < cols; c++) v[c * cols + c] = 1;
  const norms = new Float64Array(cols);
  // Columns count as orthogonal once their cosine is at rounding level for a dot product of
  // `rows` terms; a tighter bound only chases rounding noise for many more sweeps.
  const orthogonal = Math.sqrt(rows) * EPS;

  let converged = false;
  for (let sweep = 0; sweep < MAX_SWEEPS && !converged; sweep++) {
    // Recomputed every sweep: updating them through rotations alone would let rounding drift in.
    for (let c = 0; c < cols; c++) norms[c] = dot(u, c * rows, c * rows, rows);
    // A column below rounding level of the largest one is numerically zero (far under the final
    // tolerance); its direction is noise that further rotations could never settle.
    const negligible = (EPS * EPS * norms.reduce((m, x) => Math.max(m, x), 0)) / 4;
    converged = true;
    for (let p = 0; p < cols - 1; p++) {
      for (let q = p + 1; q < cols; q++) {
        const alpha = norms[p]!;
        const beta = norms[q]!;
        if (alpha <= negligible || beta <= negligible) continue;
        const gamma = dot(u, p * rows, q * rows, rows);
        if (Math.abs(gamma) <= orthogonal * Math.sqrt(alpha * beta)) continue;
        converged = false;
        // The rotation that zeroes the (p, q) entry of UᵀU, taking the smaller angle.
        const zeta = (beta - alpha) / (2 * gamma);
        const t = (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const cs = 1 / Math.sqrt(1 + t * t);
        const sn = cs * t;
        rotate(u, p * rows, q * rows, rows, cs, sn);
        rotate(v, p * cols, q * cols, cols, cs, sn);
        norms[p] = alpha - t * gamma;
        norms[q] = beta + t * gamma;
      }
    }
  }
  if (!converged) throw new Error(`pseudoInverse: Jacobi SVD did not converge in ${MAX_SWEEPS} sweeps`);

  const sigma = new Float64Array(cols);
  for (let c = 0; c < cols; c++) sigma[c] = Math.sqrt(dot(u, c * rows, c * rows, rows));
  const sigmaMax = sigma.reduce((m, s) => Math.max(m, s), 0);
  const tolerance = (rcond ?? Math.max(rows, cols) * EPS) * sigmaMax;

  // A = Σ_j u_j v_jᵀ with u_j = σ_j · (unit left vector), so A⁺ = Σ_j v_j u_jᵀ / σ_j².
  const inverse = new Float64Array(cols * rows);
  let rank = 0;
  for (let j = 0; j < cols; j++) {
    const s = sigma[j]!;
    if (!(s > tolerance)) continue;
    rank++;
    const w = 1 / (s * s);
    for (let i = 0; i < cols; i++) {
      const vij = v[j * cols + i]! * w;
      if (vij === 0) continue;
      const row = i * rows;
      for (let k = 0; k < rows; k++) inverse[row + k]! += vij * u[j * rows + k]!;
    }
  }
  const singularValues = Float64Array.from(sigma).sort().reverse();
  return { inverse, singularValues, rank, tolerance };
}

function dot(x: Float64Array, a: number, b: number, n: number): number {
  let s = 0;
  for (let k = 0; k < n; k++) s += x[a + k]! * x[b + k]!;
  return s;
}

function rotate(x: Float64Array, a: number, b: number, n: number, cs: number, sn: number): void {
  for (let k = 0; k < n; k++) {
    const xa = x[a + k]!;
    const xb = x[b + k]!;
    x[a + k] = cs * xa - sn * xb;
    x[b + k] = sn * xa + cs * xb;
  }
}

/** (rows, n) = a (rows, n) · b (n, n), four rows at a time, skipping the k where all four a values are 0. */
export function jsMultiplyRows(a: Float32Array, b: Float64Array, rows: number, n: number): Float64Array {
  const out = new Float64Array(rows * n);
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const o0 = r * n;
    const o1 = o0 + n;
    const o2 = o1 + n;
    const o3 = o2 + n;
    for (let k = 0; k < n; k++) {
      const x0 = a[o0 + k]!;
      const x1 = a[o1 + k]!;
      const x2 = a[o2 + k]!;
      const x3 = a[o3 + k]!;
      if (x0 === 0 && x1 === 0 && x2 === 0 && x3 === 0) continue;
      const bk = k * n;
      for (let c = 0; c < n; c++) {
        const w = b[bk + c]!;
        out[o0 + c]! += x0 * w;
        out[o1 + c]! += x1 * w;
        out[o2 + c]! += x2 * w;
        out[o3 + c]! += x3 * w;
      }
    }
  }
  for (; r < rows; r++) {
    const o = r * n;
    for (let k = 0; k < n; k++) {
      const x = a[o + k]!;
      if (x === 0) continue;
      const bk = k * n;
      for (let c = 0; c < n; c++) out[o + c]! += x * b[bk + c]!;
    }
  }
  return out;
}

function peakToPeak(x: ArrayLike<number>, start: number, stride: number, n: number): number {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = x[start + i * stride]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return hi - lo;
}

export interface JsTemplatePeakToPeak {
  p2pCounts: Float64Array;
  p2pVolts: Float64Array;
  peakChannels: Int32Array;
}

/** deriveTemplates' former per-template loops over (T, nt0, C) whitened and unwhitened templates. */
export function jsTemplatePeakToPeak(
  wf: Float32Array,
  unwhitenedCounts: Float64Array,
  uvPerCount: Float64Array,
  T: number,
  nt0: number,
  C: number,
): JsTemplatePeakToPeak {
  const p2pCounts = new Float64Array(T);
  const p2pVolts = new Float64Array(T);
  const peakChannels = new Int32Array(T);
  for (let t = 0; t < T; t++) {
    const base = t * nt0 * C;
    let bestWhitened = -1;
    for (let c = 0; c < C; c++) {
      const whitened = peakToPeak(wf, base + c, C, nt0);
      if (whitened > bestWhitened) {
        bestWhitened = whitened;
        peakChannels[t] = c;
      }
      const counts = peakToPeak(unwhitenedCounts, base + c, C, nt0);
      p2pCounts[t] = Math.max(p2pCounts[t]!, counts);
      p2pVolts[t] = Math.max(p2pVolts[t]!, counts * uvPerCount[c]! * 1e-6);
    }
  }
  return { p2pCounts, p2pVolts, peakChannels };
}
