// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * The run report as one self-contained HTML file: tables written here, plots drawn in the browser
 * on <canvas> by a small inline script from inline JSON. No external resource of any kind (no
 * fonts, scripts, styles or images fetched), so the file works offline and can be mailed around.
 */
import type { ProbeReport, RunReport } from './report-data.js';

const CHANNEL_LABELS = ['good', 'dead', 'noisy', 'outside'];

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

function fmt(x: number, digits = 1): string {
  return Number.isFinite(x) ? x.toFixed(digits) : '–';
}

function probeSummary(p: ProbeReport): string {
  const good = p.units.ksLabels.filter((l) => l === 'good').length;
  const channelCounts = CHANNEL_LABELS.map((name, k) => `${p.channels.labels.filter((l) => l === k).length} ${name}`);
  const totalS = p.timings.reduce((s, [, v]) => s + v, 0);
  const noise = (p.channels.noiseUv ?? []).filter((v, c) => p.channels.labels[c] === 0 && Number.isFinite(v));
  const sortedNoise = [...noise].sort((a, b) => a - b);
  const medianNoise = sortedNoise.length > 0 ? sortedNoise[Math.floor(sortedNoise.length / 2)]! : NaN;
  const rows: Array<[string, string]> = [
    ['ALF collection', escapeHtml(p.collection)],
    ['spikes', `${p.nSpikes} (from ${fmt(p.durationS)} s between first and last spike)`],
    ['units', `${p.units.depthsUm.length} (${good} good, ${p.units.depthsUm.length - good} mua)`],
    ['channels', `${p.channels.labels.length}: ${channelCounts.join(', ')}`],
    [
      'median noise of good channels',
      p.channels.noiseUv === null ? 'not in this collection' : `${fmt(medianNoise)} µV`,
    ],
    ['sorting time', p.timings.length === 0 ? 'not recorded' : `${fmt(totalS)} s`],
  ];
  return `<table class="kv">${rows.map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join('')}</table>`;
}

function timingsTable(p: ProbeReport): string {
  if (p.timings.length === 0) return '<p class="note">run.json records no timings for this probe.</p>';
  const total = p.timings.reduce((s, [, v]) => s + v, 0);
  const rows = p.timings
    .map(
      ([stage, s]) => `<tr><td>${escapeHtml(stage)}</td><td>${fmt(s, 2)}</td><td>${fmt((100 * s) / total)}</td></tr>`,
    )
    .join('');
  return (
    `<table class="grid"><tr><th>stage</th><th>s</th><th>%</th></tr>${rows}` +
    `<tr><th>total</th><th>${fmt(total, 2)}</th><th>100.0</th></tr></table>`
  );
}

function probeSection(p: ProbeReport, index: number): string {
  const id = (name: string): string => `p${index}-${name}`;
  return `
<section>
<h2>${escapeHtml(p.label)}</h2>
${probeSummary(p)}
<figure class="wide"><canvas id="${id('driftmap')}" width="1120" height="460"></canvas>
<figcaption>Drift map: every ${p.spikes.timesS.length < p.nSpikes ? `${Math.ceil(p.nSpikes / p.spikes.timesS.length)}th` : ''} spike at its time and depth, darker for larger amplitudes; red lines: each drift block's centre depth plus its estimated shift.</figcaption></figure>
<div class="row">
<figure><canvas id="${id('drift')}" width="550" height="320"></canvas><figcaption>Drift estimate per depth block (µm) over time.</figcaption></figure>
<figure><canvas id="${id('timings')}" width="550" height="320"></canvas><figcaption>Time per stage (s).</figcaption></figure>
</div>
<div class="row">
<figure><canvas id="${id('channels')}" width="550" height="440"></canvas><figcaption>Channels by depth: noise (µV RMS, implied by the whitening), coloured by label.</figcaption></figure>
<figure><canvas id="${id('units')}" width="550" height="440"></canvas><figcaption>Units by depth and mean amplitude (µV); green good, orange mua; area grows with the firing rate.</figcaption></figure>
</div>
<div class="row">
<figure><canvas id="${id('rates')}" width="550" height="440"></canvas><figcaption>Firing rate of each unit (Hz, log scale) by depth.</figcaption></figure>
<figure class="table">${timingsTable(p)}</figure>
</div>
</section>`;
}

// The browser side: a tiny plotting kit on 2D canvases. Kept dependency-free on purpose.
const SCRIPT = String.raw`
'use strict';
const DATA = JSON.parse(document.getElementById('report-data').textContent);
const LABEL_COLOURS = ['#2b8a3e', '#868e96', '#e8590c', '#1c7ed6'];
const LABEL_NAMES = ['good', 'dead', 'noisy', 'outside'];
const PALETTE = ['#c92a2a', '#1971c2', '#2f9e44', '#f08c00', '#7048e8', '#0c8599', '#d6336c', '#5c940d'];

function finite(v) { return typeof v === 'number' && isFinite(v); }
function extent(values, pad) {
  let lo = Infinity, hi = -Infinity;
  for (const v of values) if (finite(v)) { if (v < lo) lo = v; if (v > hi) hi = v; }
  if (lo === Infinity) return [0, 1];
  if (lo === hi) { lo -= 1; hi += 1; }
  const p = (hi - lo) * (pad || 0.03);
  return [lo - p, hi + p];
}
function ticks(lo, hi, n) {
  const raw = (hi - lo) / n, mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
  const out = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-9 * step; t += step) out.push(+t.toPrecision(12));
  return out;
}
function axes(id, xlim, ylim, opts) {
  const canvas = document.getElementById(id);
  const ctx = canvas.getContext('2d');
  const m = { l: 64, r: 14, t: 28, b: 44 };
  const w = canvas.width - m.l - m.r, h = canvas.height - m.t - m.b;
  const X = (x) => m.l + ((x - xlim[0]) / (xlim[1] - xlim[0])) * w;
  const Y = (y) => m.t + h - ((y - ylim[0]) / (ylim[1] - ylim[0])) * h;
  ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.font = '12px sans-serif'; ctx.fillStyle = '#222'; ctx.strokeStyle = '#ccc'; ctx.lineWidth = 1;
  ctx.textAlign = 'center';
  for (const t of ticks(xlim[0], xlim[1], 7)) {
    ctx.beginPath(); ctx.moveTo(X(t), m.t); ctx.lineTo(X(t), m.t + h); ctx.stroke();
    ctx.fillText(opts.xfmt ? opts.xfmt(t) : String(t), X(t), m.t + h + 16);
  }
  ctx.textAlign = 'right';
  for (const t of ticks(ylim[0], ylim[1], 6)) {
    ctx.beginPath(); ctx.moveTo(m.l, Y(t)); ctx.lineTo(m.l + w, Y(t)); ctx.stroke();
    ctx.fillText(String(t), m.l - 6, Y(t) + 4);
  }
  ctx.strokeStyle = '#222'; ctx.strokeRect(m.l, m.t, w, h);
  ctx.textAlign = 'center'; ctx.fillText(opts.xlabel, m.l + w / 2, canvas.height - 8);
  ctx.font = 'bold 13px sans-serif'; ctx.fillText(opts.title, m.l + w / 2, 18);
  ctx.save(); ctx.font = '12px sans-serif'; ctx.translate(14, m.t + h / 2); ctx.rotate(-Math.PI / 2);
  ctx.fillText(opts.ylabel, 0, 0); ctx.restore();
  ctx.save(); ctx.beginPath(); ctx.rect(m.l, m.t, w, h); ctx.clip();
  return { ctx, X, Y, done: () => ctx.restore() };
}
function legend(ctx, items, x, y) {
  ctx.font = '12px sans-serif'; ctx.textAlign = 'left';
  items.forEach(([colour, text], i) => {
    ctx.fillStyle = colour; ctx.fillRect(x, y + i * 16 - 9, 10, 10);
    ctx.fillStyle = '#222'; ctx.fillText(text, x + 14, y + i * 16);
  });
}
function empty(id, text) {
  const canvas = document.getElementById(id), ctx = canvas.getContext('2d');
  ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.fillStyle = '#666'; ctx.font = '14px sans-serif'; ctx.textAlign = 'center';
  ctx.fillText(text, canvas.width / 2, canvas.height / 2);
}

function driftMap(id, p) {
  const s = p.spikes, d = p.drift;
  const chY = p.channels.yUm;
  const xlim = extent(s.timesS.concat(d.timesS));
  const ylim = extent(chY.length ? chY : s.depthsUm);
  const a = axes(id, xlim, ylim, { title: 'Drift map', xlabel: 'time (s)', ylabel: 'depth (µm)' });
  const logs = s.ampsUv.filter(finite).map((v) => Math.log10(Math.max(v, 1e-3))).sort((x, y) => x - y);
  const lo = logs.length ? logs[Math.floor(0.05 * (logs.length - 1))] : 0;
  const hi = logs.length ? logs[Math.floor(0.95 * (logs.length - 1))] : 1;
  for (let i = 0; i < s.timesS.length; i++) {
    if (!finite(s.depthsUm[i])) continue;
    const f = finite(s.ampsUv[i]) ? Math.min(1, Math.max(0, (Math.log10(Math.max(s.ampsUv[i], 1e-3)) - lo) / (hi - lo || 1))) : 0.5;
    const g = Math.round(200 - 190 * f);
    a.ctx.fillStyle = 'rgb(' + g + ',' + g + ',' + g + ')';
    a.ctx.fillRect(a.X(s.timesS[i]) - 1, a.Y(s.depthsUm[i]) - 1, 2, 2);
  }
  a.ctx.strokeStyle = 'rgba(224,49,49,0.9)'; a.ctx.lineWidth = 1.5;
  d.depthsUm.forEach((depth, k) => {
    a.ctx.beginPath();
    d.timesS.forEach((t, b) => {
      const y = a.Y(depth + (d.um[b][k] || 0));
      if (b === 0) a.ctx.moveTo(a.X(t), y); else a.ctx.lineTo(a.X(t), y);
    });
    a.ctx.stroke();
  });
  a.done();
}

function driftLines(id, p) {
  const d = p.drift;
  if (d.timesS.length === 0) return empty(id, 'no drift estimate');
  const all = [].concat(...d.um);
  const a = axes(id, extent(d.timesS), extent(all.concat([0])), { title: 'Drift estimate', xlabel: 'time (s)', ylabel: 'shift (µm)' });
  d.depthsUm.forEach((depth, k) => {
    a.ctx.strokeStyle = PALETTE[k % PALETTE.length]; a.ctx.lineWidth = 1.5; a.ctx.beginPath();
    d.timesS.forEach((t, b) => { const y = a.Y(d.um[b][k]); if (b === 0) a.ctx.moveTo(a.X(t), y); else a.ctx.lineTo(a.X(t), y); });
    a.ctx.stroke();
  });
  a.done();
  if (d.depthsUm.length <= 8) legend(a.ctx, d.depthsUm.map((v, k) => [PALETTE[k % PALETTE.length], 'block at ' + v + ' µm']), 76, 46);
}

function channels(id, p) {
  const c = p.channels;
  const hasNoise = Array.isArray(c.noiseUv);
  const xs = hasNoise ? c.noiseUv : c.xUm;
  const a = axes(id, extent(xs.concat(hasNoise ? [0] : [])), extent(c.yUm), {
    title: hasNoise ? 'Channel noise and labels' : 'Channel labels', xlabel: hasNoise ? 'noise (µV RMS)' : 'x (µm)', ylabel: 'depth (µm)',
  });
  for (let i = 0; i < c.yUm.length; i++) {
    a.ctx.fillStyle = LABEL_COLOURS[c.labels[i]] || '#000';
    a.ctx.beginPath(); a.ctx.arc(a.X(xs[i]), a.Y(c.yUm[i]), 3, 0, 2 * Math.PI); a.ctx.fill();
  }
  a.done();
  legend(a.ctx, LABEL_NAMES.map((n, k) => [LABEL_COLOURS[k], n + ' (' + c.labels.filter((l) => l === k).length + ')']), 76, 46);
}

function units(id, p) {
  const u = p.units;
  if (u.depthsUm.length === 0) return empty(id, 'no units');
  const a = axes(id, extent(u.ampsUv.concat([0])), extent(p.channels.yUm.length ? p.channels.yUm : u.depthsUm), {
    title: 'Units by depth and amplitude', xlabel: 'mean amplitude (µV)', ylabel: 'depth (µm)',
  });
  for (let j = 0; j < u.depthsUm.length; j++) {
    if (!finite(u.ampsUv[j]) || !finite(u.depthsUm[j])) continue;
    a.ctx.fillStyle = u.ksLabels[j] === 'good' ? 'rgba(43,138,62,0.75)' : 'rgba(232,89,12,0.75)';
    const r = 2 + 2 * Math.sqrt(Math.max(0, u.firingRatesHz[j] || 0));
    a.ctx.beginPath(); a.ctx.arc(a.X(u.ampsUv[j]), a.Y(u.depthsUm[j]), Math.min(r, 14), 0, 2 * Math.PI); a.ctx.fill();
  }
  a.done();
}

function rates(id, p) {
  const u = p.units;
  const logs = u.firingRatesHz.map((r) => (finite(r) && r > 0 ? Math.log10(r) : NaN));
  if (!logs.some(finite)) return empty(id, 'no firing rates');
  const a = axes(id, extent(logs, 0.08), extent(p.channels.yUm.length ? p.channels.yUm : u.depthsUm), {
    title: 'Firing rates by depth', xlabel: 'firing rate (Hz)', ylabel: 'depth (µm)',
    xfmt: (t) => { const v = Math.pow(10, t); return v >= 1 ? String(+v.toPrecision(3)) : v.toPrecision(2); },
  });
  for (let j = 0; j < logs.length; j++) {
    if (!finite(logs[j]) || !finite(u.depthsUm[j])) continue;
    a.ctx.fillStyle = u.ksLabels[j] === 'good' ? '#2b8a3e' : '#e8590c';
    a.ctx.fillRect(a.X(logs[j]) - 3, a.Y(u.depthsUm[j]) - 3, 6, 6);
  }
  a.done();
}

function timings(id, p) {
  const t = p.timings;
  if (t.length === 0) return empty(id, 'no timings recorded');
  const canvas = document.getElementById(id), ctx = canvas.getContext('2d');
  ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, canvas.width, canvas.height);
  const max = Math.max(...t.map(([, s]) => s), 1e-9);
  const left = 130, right = 70, top = 30, rowH = Math.min(26, (canvas.height - top - 10) / t.length);
  ctx.font = 'bold 13px sans-serif'; ctx.fillStyle = '#222'; ctx.textAlign = 'center';
  ctx.fillText('Time per stage', canvas.width / 2, 18);
  ctx.font = '12px sans-serif';
  t.forEach(([stage, s], i) => {
    const y = top + i * rowH;
    const w = ((canvas.width - left - right) * s) / max;
    ctx.fillStyle = PALETTE[i % PALETTE.length]; ctx.fillRect(left, y + 3, Math.max(1, w), rowH - 6);
    ctx.fillStyle = '#222'; ctx.textAlign = 'right'; ctx.fillText(stage, left - 6, y + rowH / 2 + 4);
    ctx.textAlign = 'left'; ctx.fillText(s.toFixed(2) + ' s', left + Math.max(1, w) + 4, y + rowH / 2 + 4);
  });
}

DATA.probes.forEach((p, i) => {
  const id = (name) => 'p' + i + '-' + name;
  driftMap(id('driftmap'), p);
  driftLines(id('drift'), p);
  timings(id('timings'), p);
  channels(id('channels'), p);
  units(id('units'), p);
  rates(id('rates'), p);
});
document.body.setAttribute('data-rendered', 'yes');
`;

const STYLE = `
body { font-family: sans-serif; margin: 20px; color: #222; background: #f8f9fa; }
h1 { font-size: 22px; margin: 0 0 6px; } h2 { font-size: 18px; border-bottom: 1px solid #ccc; padding-bottom: 4px; }
section { background: #fff; padding: 12px 16px; margin: 16px 0; border: 1px solid #dee2e6; }
table { border-collapse: collapse; font-size: 13px; }
table.kv th { text-align: left; padding: 2px 12px 2px 0; font-weight: 600; }
table.grid td, table.grid th { border: 1px solid #dee2e6; padding: 3px 8px; text-align: right; }
table.grid td:first-child { text-align: left; }
.row { display: flex; gap: 16px; flex-wrap: wrap; }
figure { margin: 8px 0; } figcaption { font-size: 12px; color: #555; max-width: 1120px; }
canvas { border: 1px solid #dee2e6; display: block; }
.note, .meta { font-size: 13px; color: #555; }
`;

/** The report of `run` as a complete HTML document (UTF-8). */
export function renderReport(run: RunReport): string {
  // '<' is escaped so that no string in the data can close the script element.
  const json = JSON.stringify(run).replace(/</g, '\\u003c');
  const meta = [
    ['run folder', run.runFolder],
    ['run id', run.runId ?? '–'],
    ['started', run.startedAt ?? '–'],
    ['spikeshard', run.version ?? '–'],
    ['recording', run.recording ?? '–'],
  ]
    .map(([k, v]) => `<tr><th>${k}</th><td>${escapeHtml(v!)}</td></tr>`)
    .join('');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>spikeshard report: ${escapeHtml(run.probes.map((p) => p.label).join(', '))}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>spikeshard sorting report</h1>
<table class="kv meta">${meta}</table>
${run.probes.map((p, i) => probeSection(p, i)).join('\n')}
<script type="application/json" id="report-data">${json}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
