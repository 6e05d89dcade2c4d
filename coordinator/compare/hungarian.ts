// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * The linear assignment problem (what scipy's `linear_sum_assignment` solves): pick at most one
 * column per row and one row per column, as many pairs as the smaller side has, with the least
 * total cost. Solved by the Hungarian method in its shortest-augmenting-path form with dual
 * potentials: each row in turn is added by a Dijkstra-like search over reduced costs, so the
 * whole solve is O(r² · c) for r ≤ c.
 */

/**
 * Minimum-cost assignment of a (nRows, nCols) row-major cost matrix of finite numbers.
 *
 * @returns (nRows,) the column assigned to each row, or −1 for rows left without one (only when
 *   nRows > nCols).
 */
export function solveAssignment(cost: Float64Array, nRows: number, nCols: number): Int32Array {
  if (!Number.isInteger(nRows) || !Number.isInteger(nCols) || nRows < 0 || nCols < 0) {
    throw new RangeError(`solveAssignment: bad shape (${nRows}, ${nCols})`);
  }
  if (cost.length !== nRows * nCols) {
    throw new RangeError(`solveAssignment: ${cost.length} costs for a (${nRows}, ${nCols}) matrix`);
  }
  for (let k = 0; k < cost.length; k++) {
    if (!Number.isFinite(cost[k]!))
      throw new RangeError(`solveAssignment: cost ${cost[k]} at index ${k} is not finite`);
  }
  if (nRows <= nCols) return solveWide(cost, nRows, nCols);
  // More rows than columns: solve the transpose, where every column gets a row.
  const transposed = new Float64Array(cost.length);
  for (let r = 0; r < nRows; r++) {
    for (let c = 0; c < nCols; c++) transposed[c * nRows + r] = cost[r * nCols + c]!;
  }
  const rowOfCol = solveWide(transposed, nCols, nRows);
  const colOfRow = new Int32Array(nRows).fill(-1);
  rowOfCol.forEach((r, c) => (colOfRow[r] = c));
  return colOfRow;
}

/** The case nRows ≤ nCols: every row gets a column. */
function solveWide(cost: Float64Array, nRows: number, nCols: number): Int32Array {
  // Index 0 of the column arrays is a virtual column that holds the row being inserted, so that
  // the search starts from it and the augmenting path ends there.
  const rowPotential = new Float64Array(nRows + 1);
  const colPotential = new Float64Array(nCols + 1);
  /** 1-based row owning each column (0: free). */
  const owner = new Int32Array(nCols + 1);
  /** The column preceding each column on the shortest alternating path. */
  const previous = new Int32Array(nCols + 1);
  const slack = new Float64Array(nCols + 1);
  const visited = new Uint8Array(nCols + 1);

  for (let row = 1; row <= nRows; row++) {
    owner[0] = row;
    let col = 0;
    slack.fill(Infinity);
    visited.fill(0);
    // Grow a tree of tight edges until it reaches a free column.
    while (owner[col] !== 0) {
      visited[col] = 1;
      const from = owner[col]!;
      const base = (from - 1) * nCols;
      let step = Infinity;
      let next = 0;
      for (let c = 1; c <= nCols; c++) {
        if (visited[c]) continue;
        const reduced = cost[base + c - 1]! - rowPotential[from]! - colPotential[c]!;
        if (reduced < slack[c]!) {
          slack[c] = reduced;
          previous[c] = col;
        }
        if (slack[c]! < step) {
          step = slack[c]!;
          next = c;
        }
      }
      // Shift the potentials so the cheapest edge out of the tree becomes tight.
      for (let c = 0; c <= nCols; c++) {
        if (visited[c]) {
          rowPotential[owner[c]!]! += step;
          colPotential[c]! -= step;
        } else {
          slack[c]! -= step;
        }
      }
      col = next;
    }
    // Flip the alternating path back to the virtual column.
    while (col !== 0) {
      const before = previous[col]!;
      owner[col] = owner[before]!;
      col = before;
    }
  }
  const colOfRow = new Int32Array(nRows).fill(-1);
  for (let c = 1; c <= nCols; c++) if (owner[c]! > 0) colOfRow[owner[c]! - 1] = c - 1;
  return colOfRow;
}
