// SPDX-License-Identifier: GPL-3.0-or-later
/** Where each neural channel sits on the probe. */

/** Which part of the input the positions came from. */
export type GeometrySource = 'snsGeomMap' | 'snsShankMap' | 'imroTbl' | 'json';

/**
 * Site positions, one entry per neural channel in channel order. Coordinates follow SpikeGLX:
 * `xUm` from the left edge of the channel's shank, `yUm` = 0 at the bottom electrode row.
 */
export interface ProbeGeometry {
  readonly xUm: Float64Array;
  readonly yUm: Float64Array;
  /** 0-based shank index. */
  readonly shank: Int32Array;
  /** 1 for a recording site, 0 for a reference or otherwise unused site (Kilosort's `connected`). */
  readonly used: Uint8Array;
  readonly nShanks: number;
  /** Distance between the left edges of neighbouring shanks; 0 on single-shank probes. */
  readonly shankPitchUm: number;
  readonly source: GeometrySource;
}

/** Positions in one plane for the sorter: x + shank · shankPitchUm, y unchanged. */
export function sortingPositions(geometry: ProbeGeometry): { xUm: Float64Array; yUm: Float64Array } {
  const n = geometry.xUm.length;
  const xUm = new Float64Array(n);
  for (let i = 0; i < n; i++) xUm[i] = geometry.xUm[i]! + geometry.shank[i]! * geometry.shankPitchUm;
  return { xUm, yUm: Float64Array.from(geometry.yUm) };
}

/** The smallest box holding every site, in sorting positions (µm). */
export interface GeometryExtent {
  xMinUm: number;
  xMaxUm: number;
  yMinUm: number;
  yMaxUm: number;
}

export function geometryExtent(geometry: ProbeGeometry): GeometryExtent {
  const { xUm, yUm } = sortingPositions(geometry);
  let xMinUm = Infinity;
  let xMaxUm = -Infinity;
  let yMinUm = Infinity;
  let yMaxUm = -Infinity;
  for (let i = 0; i < xUm.length; i++) {
    xMinUm = Math.min(xMinUm, xUm[i]!);
    xMaxUm = Math.max(xMaxUm, xUm[i]!);
    yMinUm = Math.min(yMinUm, yUm[i]!);
    yMaxUm = Math.max(yMaxUm, yUm[i]!);
  }
  return { xMinUm, xMaxUm, yMinUm, yMaxUm };
}
