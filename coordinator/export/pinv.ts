// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Moore–Penrose pseudo-inverse by a one-sided Jacobi SVD (Hestenes' method).
 *
 * Why this method: the whitening matrix can be close to singular (channels outside the brain or
 * dead channels carry almost no weight), so inverting it by elimination would blow up rounding
 * noise into huge entries. The one-sided Jacobi SVD works on A itself (never on AᵀA, which would
 * square the condition number), computes small singular values to high relative accuracy, and
 * lets us drop the directions that are numerically null, exactly as `numpy.linalg.pinv` and
 * MATLAB's `pinv` do: singular values ≤ tol are treated as zero, with the MATLAB default
 * tol = max(rows, cols) · eps · σ_max.
 */

export interface PseudoInverse {
  /** (cols, rows) row-major pseudo-inverse. */
  inverse: Float64Array;
  /** Singular values, descending. */
  singularValues: Float64Array;
  /** Number of singular values above the tolerance. */
  rank: number;
  /** The cut-off used: singular values at or below it were treated as zero. */
  tolerance: number;
}

const EPS = 2 ** -52;
const MAX_SWEEPS = 80;

/**
 * Pseudo-inverse of the row-major (rows, cols) matrix `a`. `rcond`, when given, replaces the
 * default relative cut-off (tol = rcond · σ_max).
 */
export function pseudoInverse(a: Float64Array, rows: number, cols: number, rcond?: number): PseudoInverse {
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

function tallPseudoInverse(a: Float64Array, rows: number, cols: number, rcond: number | undefined): PseudoInverse {
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
